"""What both shells share: the service, the caller (tenant, rate limit), id and text types, CSV downloads.

The API routers (service/api/) and the web pages (service/web/) both depend on these; neither imports
the other, and the app (service/app.py) composes them.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Path, Query, Request
from fastapi.responses import Response
from limits import parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from pydantic import AfterValidator

from service.errors import Forbidden, TooManyRequests, Unauthorized
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

# The web page keeps its sign-in in this cookie (a session token: HttpOnly, SameSite=Lax, Secure on HTTPS).
SESSION_COOKIE = "gaplens_session"


class RequestRate:
    """Requests per key in a moving window (``limits``' in-memory storage: one process)."""

    def __init__(self, rate: str) -> None:
        self.item = parse(rate)
        self.limiter = MovingWindowRateLimiter(MemoryStorage())

    def refuse_if_spent(self, who: str) -> None:
        """429 when ``who`` has used up the window already, without counting this request."""
        if not self.limiter.test(self.item, who):
            self.check(who)

    def check(self, who: str) -> None:
        if not self.limiter.hit(self.item, who):
            reset = self.limiter.get_window_stats(self.item, who).reset_time
            raise TooManyRequests(
                f"too many requests: the limit is {self.item}", math.ceil(reset - time.time())
            )


def csv_download(body: str, stem: str) -> Response:
    """A CSV file the browser saves as ``stem``.csv, every character but letters and digits a dash."""
    safe = "".join(c if c.isalnum() else "-" for c in stem)
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{safe}.csv"'},
    )


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
    """Who failed to sign in, for throttling: the client's address."""
    return f"ip:{request.client.host if request.client else 'unknown'}"


def checked_credential(request: Request, service: GapLensService, lookup: Callable[[], Tenant]) -> Tenant:
    """``lookup()``'s tenant; failed attempts are counted per address, and too many answer 429.

    Keys are 256 random bits, so guessing is hopeless anyway; the throttle keeps a flood of bad keys
    from costing the database a query each.
    """
    failures: RequestRate = request.app.state.failures
    who = client_address(request)
    failures.refuse_if_spent(who)
    try:
        return lookup()
    except Unauthorized:
        failures.check(who)
        raise


def get_tenant(request: Request, service: ServiceDep) -> Tenant:
    """The calling tenant, from its API key, the web page's session (or local mode); counts the request."""
    key, session = presented_key(request), request.cookies.get(SESSION_COOKIE, "")
    if key:
        tenant = checked_credential(request, service, lambda: service.tenant_for_key(key))
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
