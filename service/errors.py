"""GapLens' own exceptions. The API maps them to HTTP answers in one place (service/app.py)."""

from __future__ import annotations


class GapLensError(Exception):
    """Base class: every error we raise on purpose."""

    status_code = 500

    @property
    def headers(self) -> dict[str, str]:
        """Extra HTTP headers the answer carries (Retry-After, WWW-Authenticate)."""
        return {}


class BadInput(GapLensError):
    """The user's file or request cannot be processed; the message says why."""

    status_code = 422


class EmptyFile(BadInput):
    """An upload with zero bytes."""

    status_code = 400


class NotAPdf(BadInput):
    """Bytes that do not start like a PDF."""

    status_code = 415


class FileTooLarge(BadInput):
    """Bigger than the configured upload limit."""

    status_code = 413


class EncryptedPdf(BadInput):
    """A PDF that needs a password to open."""


class CorruptPdf(BadInput):
    """A PDF that the parser cannot read."""


class PdfTooComplex(BadInput):
    """A PDF that needs more pages, memory or time to read than the limits allow (a PDF bomb)."""

    status_code = 413


class NoTextLayer(BadInput):
    """A PDF without extractable text, such as a scan."""


class NotSections(BadInput):
    """A .json report that is not a list of {"title", "text"} sections."""

    status_code = 415


class BadManifest(BadInput):
    """A batch manifest that cannot be read: missing columns, bad values, missing files."""


class NotFound(GapLensError):
    """An id that names nothing in the store."""

    status_code = 404


class UnknownName(GapLensError):
    """A registry lookup with a name that is not registered."""

    status_code = 400


class Unauthorized(GapLensError):
    """No API key, or one that is unknown or revoked."""

    status_code = 401

    @property
    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": "Bearer"}


class Forbidden(GapLensError):
    """A valid key that may not do this (an admin-only action)."""

    status_code = 403


class TooManyRequests(GapLensError):
    """A limit on requests or queued jobs is reached; ``retry_after`` says when to try again."""

    status_code = 429

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = max(1, retry_after)

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class JobTimeout(GapLensError):
    """A report took longer than the per-report processing limit."""

    status_code = 503


class ServiceBusy(TooManyRequests):
    """Every slot for reading PDFs is taken, whoever asks; ``retry_after`` says when to try again."""

    status_code = 503


class StorageUnavailable(GapLensError):
    """Something the store kept on disk is gone or cannot be read (a lost or damaged data folder)."""

    status_code = 503


class StoreInUse(GapLensError):
    """A second serving process on one SQLite file."""

    status_code = 503
