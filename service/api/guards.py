"""Checks every request passes before a route sees it: its Host, where a write comes from, NUL bytes.

A pure ASGI middleware, so a refused request costs nothing but its headers. (Body sizes are limited by
FastAPI's own ``max_body_size``, streaming, in service/api/app.py.)

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
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})


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

    def __init__(self, app: ASGIApp, local_mode: bool) -> None:
        self.app = app
        self.local_mode = local_mode

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
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and (answer := self.refusal(scope)) is not None:
            await answer(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _refuse(status: int, kind: str, detail: str) -> JSONResponse:
    return JSONResponse({"error": kind, "detail": detail}, status_code=status)
