"""Checks every request passes before a route sees it: its size, Host, where a write comes from, NUL bytes.

A pure ASGI middleware, so a refused request costs nothing but its headers.

- **Body size.** A body is counted as it streams in and cut off at its route's limit (uploads: the
  upload limit plus the form around the file; classify: 4 MiB; anything else 1 MiB), so a 300 MB body
  is never parsed nor written to disk. A Content-Length over the limit is refused before reading.
  (FastAPI's own ``max_body_size`` answers a Content-Length over the limit in plain text, which is
  why this is done here.)
- **Cross-site writes.** A browser tells where a request comes from (``Sec-Fetch-Site``, ``Origin``,
  ``Referer``). A POST, PUT, PATCH or DELETE that a browser sends from another site is refused with 403:
  this is what stops login CSRF and cross-site form uploads, whatever the cookie's SameSite does. API
  clients send none of these headers and are not affected.
- **Host in local mode.** Local mode needs no credential, so it answers only to loopback names: a DNS
  rebinding page (evil.example resolving to 127.0.0.1) sends ``Host: evil.example`` and is refused.
- **NUL bytes** in the path or query are refused once here for every route (PostgreSQL cannot store
  them, and no sector, company or query contains one).
"""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
UPLOAD_PATHS = frozenset({"/v1/reports", "/upload"})
MAX_BODY_BYTES = 2**20
# 200,000 characters of classify text, even written as \uXXXX escapes, fit in 4 MiB of JSON.
MAX_CLASSIFY_BYTES = 4 * 2**20
FORM_OVERHEAD_BYTES = 2**20
# Where the request's body limit is kept, for the error message (service/app.py).
BODY_LIMIT_SCOPE_KEY = "gaplens.body_limit"


def host_name(host: str) -> str:
    """``127.0.0.1:8000`` -> ``127.0.0.1``; ``[::1]:8000`` -> ``::1``; lower case."""
    return (urlsplit(f"//{host}").hostname or "").lower()


def cross_site(headers: Headers) -> bool:
    """Whether a browser says this request comes from another site than the Host it is sent to."""
    if headers.get("sec-fetch-site", "") in ("cross-site", "same-site"):
        return True
    source = headers.get("origin") or headers.get("referer") or ""
    if not source:
        return False
    if source == "null":  # sandboxed frames and some redirects: not our page
        return True
    return urlsplit(source).netloc.lower() != headers.get("host", "").lower()


class RequestGuard:
    """Refuses cross-site writes, foreign Hosts in local mode and NUL bytes in the URL."""

    def __init__(self, app: ASGIApp, local_mode: bool, upload_bytes: int) -> None:
        self.app = app
        self.local_mode = local_mode
        self.upload_bytes = upload_bytes

    def body_limit(self, scope: Scope) -> int:
        """How many bytes this request's body may have."""
        if scope["path"] in UPLOAD_PATHS:
            return self.upload_bytes + FORM_OVERHEAD_BYTES
        return MAX_CLASSIFY_BYTES if scope["path"] == "/v1/classify" else MAX_BODY_BYTES

    def refusal(self, scope: Scope) -> JSONResponse | None:
        """The answer to a request that must not reach the routes; None for one that may."""
        headers = Headers(scope=scope)
        if self.local_mode and host_name(headers.get("host", "")) not in LOOPBACK_NAMES:
            return _refuse(
                421,
                "MisdirectedRequest",
                "local mode answers only to localhost, 127.0.0.1 and [::1]; use a key mode server "
                "(GAPLENS_AUTH=keys) to serve other names",
            )
        if scope["method"] in UNSAFE_METHODS and cross_site(headers):
            return _refuse(
                403, "CrossSiteRequest", "a write from another site is refused; use this site's forms"
            )
        query = unquote(scope.get("query_string", b"").decode("latin-1"))
        if "\x00" in scope["path"] or "\x00" in query:
            return _refuse(400, "BadInput", "a NUL byte (%00) is not allowed in a URL")
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > scope[BODY_LIMIT_SCOPE_KEY]:
            return _refuse(413, "FileTooLarge", too_large(scope[BODY_LIMIT_SCOPE_KEY]))
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        scope[BODY_LIMIT_SCOPE_KEY] = limit = self.body_limit(scope)
        if (answer := self.refusal(scope)) is not None:
            await answer(scope, receive, send)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > limit:
                # FastAPI passes an HTTPException raised while reading the body on to the app's handler
                raise HTTPException(413, too_large(limit))
            return message

        await self.app(scope, counted, send)


def too_large(limit: int) -> str:
    """What a caller whose body was too large is told."""
    return f"the request is larger than the limit of {limit / 1e6:.1f} MB"


def _refuse(status: int, kind: str, detail: str) -> JSONResponse:
    return JSONResponse({"error": kind, "detail": detail}, status_code=status)
