"""GapLens' own exceptions. The API maps them to HTTP answers in one place (service/api/app.py)."""

from __future__ import annotations


class GapLensError(Exception):
    """Base class: every error we raise on purpose."""

    status_code = 500


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
