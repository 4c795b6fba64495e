"""Shared pieces for the routers: the service, the caller (tenant, rate limit), id types, CSV downloads."""

from __future__ import annotations

import math
import time
from typing import Annotated

from fastapi import Depends, Path, Query, Request
from fastapi.responses import Response
from limits import parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from service.auth import LOCAL, Tenant, tenant_for_key
from service.engine import GapLensService
from service.errors import Forbidden, TooManyRequests, Unauthorized

# Row ids are 32-bit in PostgreSQL (and must fit SQLite's 64-bit integers): larger ones name nothing.
MAX_ID = 2**31 - 1
ReportId = Annotated[int, Path(ge=1, le=MAX_ID, description="a report id")]
JobId = Annotated[int, Path(ge=1, le=MAX_ID, description="a job id")]
OptionalReportId = Annotated[int | None, Query(ge=1, le=MAX_ID, description="only this report")]
OptionalPassageId = Annotated[int | None, Query(ge=1, le=MAX_ID, description="a passage id on this page")]

# The web page keeps the key it logged in with in this cookie (HttpOnly, SameSite=Lax).
KEY_COOKIE = "gaplens_key"


class RequestRate:
    """Requests per key in a moving window (``limits``' in-memory storage: one process)."""

    def __init__(self, rate: str) -> None:
        self.item = parse(rate)
        self.limiter = MovingWindowRateLimiter(MemoryStorage())

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
    """The key in ``Authorization: Bearer``, else the web page's cookie; "" when there is none."""
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    return request.cookies.get(KEY_COOKIE, "")


def get_tenant(request: Request, service: ServiceDep) -> Tenant:
    """The calling tenant, from its API key (or the local tenant in local mode); counts the request."""
    key = presented_key(request)
    if key:
        tenant = tenant_for_key(service.store, key)
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
