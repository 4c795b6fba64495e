"""What both shells share: the service, the caller (tenant, rate limit), id and text types, CSV downloads.

The API routers (service/api/) and the web pages (service/web/) both depend on these; neither imports
the other, and the app (service/app.py) composes them.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, Path, Query, Request
from fastapi.responses import Response
from limits import parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from pydantic import AfterValidator

from service.errors import Forbidden, TooManyRequests, Unauthorized
from service.names import display_name, tenant_name
from service.serving.auth import LOCAL, Tenant
from service.serving.engine import GapLensService

# Row ids are 32-bit in PostgreSQL (and must fit SQLite's 64-bit integers): larger ones name nothing.
MAX_ID = 2**31 - 1
ReportId = Annotated[int, Path(ge=1, le=MAX_ID, description="a report id")]
JobId = Annotated[int, Path(ge=1, le=MAX_ID, description="a job id")]
OptionalReportId = Annotated[int | None, Query(ge=1, le=MAX_ID, description="only this report")]
OptionalPassageId = Annotated[int | None, Query(ge=1, le=MAX_ID, description="a passage id on this page")]


def clean_text(value: str) -> str:
    """Refuse text that not every store keeps alike, once at the boundary for both databases.

    PostgreSQL refuses NUL bytes (SQLite keeps them), and a lone surrogate is not UTF-8 at all: either
    would fail deep inside a write (an orphaned file, a 500) instead of as a clear 422 here. NUL bytes
    in paths and query strings are refused by service/http/guards.py.
    """
    if "\x00" in value:
        raise ValueError("a NUL byte is not allowed in text")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("the text is not valid Unicode (it holds a lone surrogate)") from None
    return value


CleanText = Annotated[str, AfterValidator(clean_text)]
# Company and sector names, where they enter and where they are looked up (service/names.py).
NameText = Annotated[str, AfterValidator(clean_text), AfterValidator(display_name)]
TenantNameText = Annotated[str, AfterValidator(clean_text), AfterValidator(tenant_name)]

# The web page keeps its sign-in in this cookie (a session token: HttpOnly, SameSite=Lax, Secure on HTTPS).
SESSION_COOKIE = "gaplens_session"


class RequestRate:
    """Requests per key in a moving window (``limits``' in-memory storage: one process)."""

    def __init__(self, rate: str) -> None:
        self.item = parse(rate)
        self.limiter = MovingWindowRateLimiter(MemoryStorage())

    def hit(self, who: str) -> bool:
        """Count one request of ``who``; False (and not counted) when its window is used up."""
        return bool(self.limiter.hit(self.item, who))

    def refusal(self, who: str, what: str) -> TooManyRequests:
        """The 429 for ``who``, with the seconds until its window has room again."""
        reset = self.limiter.get_window_stats(self.item, who).reset_time
        return TooManyRequests(f"{what}: the limit is {self.item}", math.ceil(reset - time.time()))

    def check(self, who: str) -> None:
        if not self.hit(who):
            raise self.refusal(who, "too many requests")


# Beyond the cap on failed sign-ins across all sources, each further failure waits this long for its
# 429 (service/app.py awaits it, so no worker thread is held).
SLOW_FAILURE_SECONDS = 1.0


class SignInThrottle:
    """Failed sign-ins, counted per client address, per key prefix and across all sources.

    Only failures are counted and only failures are refused: a key is always looked up first, and a
    valid one is let in whatever others sent from its address or with keys like it, so one bad key
    every few seconds can no longer keep everyone behind a proxy out. Per address catches one
    source trying many keys; per key prefix one key tried from many addresses (a rotating proxy, a
    spoofed X-Forwarded-For); the overall cap is the backstop against a flood from everywhere, and
    beyond it failures are also slowed (SLOW_FAILURE_SECONDS). Keys are 256 random bits, so
    guessing is hopeless anyway; the throttle bounds how fast bad keys are tried and makes a flood
    visible. Each attempt still costs one indexed lookup: only that tells a valid key from a bad one.
    """

    def __init__(self, per_source: str, overall: str) -> None:
        self.per_source = RequestRate(per_source)
        self.overall = RequestRate(overall)

    def failed(self, request: Request, sources: list[str]) -> None:
        """Count one failed attempt from each of ``sources``; 429 when any of them (or all) are over."""
        over = [who for who in sources if not self.per_source.hit(who)]
        if not self.overall.hit("all"):
            request.state.slow_down = SLOW_FAILURE_SECONDS
            raise self.overall.refusal("all", "too many failed sign-ins on this service")
        if over:
            raise self.per_source.refusal(over[0], "too many failed sign-ins (per address and per key)")


def attachment(filename: str) -> dict[str, str]:
    """The header that names a download, in any script (RFC 6266 with RFC 5987's ``filename*``).

    HTTP headers are Latin-1 at most, so a sector called "能源" or "Przemysł" cannot stand in a plain
    ``filename="…"`` (Starlette answered 500). Browsers take ``filename*=UTF-8''`` with the name
    percent-encoded; older clients fall back to the ASCII name, every other character a dash.
    """
    fallback = "".join(c if c.isascii() and (c.isalnum() or c in "-_.") else "-" for c in filename)
    encoded = quote(filename, safe="")
    return {"Content-Disposition": f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{encoded}"}


def csv_download(body: str, stem: str) -> Response:
    """A CSV file the browser saves as ``stem``.csv, every character but letters and digits a dash."""
    safe = "".join(c if c.isalnum() else "-" for c in stem)
    return Response(body, media_type="text/csv; charset=utf-8", headers=attachment(f"{safe}.csv"))


def get_service(request: Request) -> GapLensService:
    """The service instance created in the app's lifespan."""
    service: GapLensService = request.app.state.service
    return service


ServiceDep = Annotated[GapLensService, Depends(get_service)]


def presented_key(request: Request) -> str:
    """The key in ``Authorization: Bearer``; "" when there is none."""
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    return credentials.strip() if scheme.lower() == "bearer" else ""


def client_address(request: Request) -> str:
    """Who failed to sign in, for throttling: the client's address (a trusted proxy's client's)."""
    return f"ip:{request.client.host if request.client else 'unknown'}"


def checked_credential(
    request: Request, service: GapLensService, lookup: Callable[[], Tenant], key: str = ""
) -> Tenant:
    """``lookup()``'s tenant; a failure is counted per address and per key prefix (SignInThrottle).

    A failure beyond the limits is answered 429 instead of 401; a valid credential never is.
    """
    try:
        return lookup()
    except Unauthorized:
        throttle: SignInThrottle = request.app.state.failures
        throttle.failed(request, [client_address(request)] + ([f"prefix:{key[:12]}"] if key else []))
        raise


def count_sign_in(request: Request, tenant: Tenant) -> None:
    """A good key's sign-in at /login, counted per key: 429 beyond ``GAPLENS_SIGN_IN_RATE``.

    Each sign-in makes a session kept for hours, so sign-ins are limited like any other request
    (and the sessions a key keeps are capped, the oldest going first: service/serving/auth.py).
    """
    sign_ins: RequestRate = request.app.state.sign_ins
    if not sign_ins.hit(f"key:{tenant.key_id}"):
        raise sign_ins.refusal(f"key:{tenant.key_id}", "too many sign-ins with this key")


def get_tenant(request: Request, service: ServiceDep) -> Tenant:
    """The calling tenant, from its API key, the web page's session (or local mode); counts the request."""
    key, session = presented_key(request), request.cookies.get(SESSION_COOKIE, "")
    if key:
        tenant = checked_credential(request, service, lambda: service.tenant_for_key(key), key)
    elif session:
        tenant = checked_credential(request, service, lambda: service.tenant_for_session(session))
    elif service.settings.auth == "local":
        tenant = LOCAL
    else:
        raise Unauthorized(
            "this needs an API key: send 'Authorization: Bearer <key>' "
            "(an operator makes one with `gaplens keys create --tenant NAME`)"
        )
    request.state.tenant = tenant
    rate: RequestRate = request.app.state.rate
    rate.check(f"key:{tenant.key_id}" if tenant.key_id is not None else "local")
    return tenant


TenantDep = Annotated[Tenant, Depends(get_tenant)]


def get_admin(tenant: TenantDep) -> Tenant:
    """A caller whose key was made with ``--admin``."""
    if not tenant.admin:
        raise Forbidden("this needs an admin key (`gaplens keys create --tenant NAME --admin`)")
    return tenant


AdminDep = Annotated[Tenant, Depends(get_admin)]
