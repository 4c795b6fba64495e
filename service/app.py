"""The composition root: the FastAPI app, its API routers and web pages, and error mapping.

This is the one place errors become HTTP answers (JSON for the API, a page for a person). It sits
above both shells (service/api/, service/web/), which share only service/http/ and never import each
other. Every answer passes one middleware that gives it a request id, security headers and one JSON
log line.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from http import HTTPStatus
from typing import Any

import swagger_ui_bundle
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from service import __version__
from service.api import benchmarks, keys, reports, reviews, texts
from service.errors import GapLensError, Unauthorized
from service.http.deps import RequestRate, SignInThrottle
from service.http.guards import RequestGuard
from service.logs import REQUEST_ID, request_id_from
from service.serving.engine import GapLensService
from service.settings import Settings, get_settings
from service.web import pages
from service.web import reviews as review_pages

API_PREFIXES = ("/v1", "/health", "/docs", "/openapi.json", "/static")
access_log = logging.getLogger("gaplens.access")
log = logging.getLogger("gaplens")
# A validation error quotes at most this much of what was sent (a 20 MB field is not sent back).
MAX_ERROR_CHARS = 300
# Faults of the database or the disk: the service cannot do its work, so 503 rather than a bare 500.
STORAGE_ERRORS = (SQLAlchemyError, OSError)

# The pages load scripts, styles and images from this origin only; nothing may frame them.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}
# Swagger UI (served from this origin by the swagger-ui-bundle package) starts with an inline script.
DOCS_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "script-src 'self' 'unsafe-inline'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)


def is_page(request: Request) -> bool:
    """A request for a web page gets its errors as a page; the API keeps its JSON errors."""
    return not request.url.path.startswith(API_PREFIXES)


def secure(response: Response, request: Request) -> None:
    """Security headers on every answer; reports are confidential, so nothing is cached by default."""
    response.headers.update(SECURITY_HEADERS)
    policy = DOCS_SECURITY_POLICY if request.url.path.startswith("/docs") else CONTENT_SECURITY_POLICY
    response.headers.setdefault("Content-Security-Policy", policy)
    if not request.url.path.startswith("/static"):
        response.headers.setdefault("Cache-Control", "no-store")
    if request.url.scheme == "https":
        response.headers["Strict-Transport-Security"] = "max-age=31536000"


def create_app(settings: Settings | None = None, resume_jobs: bool = True) -> FastAPI:
    """Build the app; models and the index load in the lifespan, not at import."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        service = GapLensService(settings)
        service.start(resume=resume_jobs)
        app.state.service = service
        yield
        service.close()

    app = FastAPI(
        title="GapLens",
        version=__version__,
        description=(
            "SDG and OECD due-diligence gap analysis of sustainability reports. "
            "Every /v1 call needs `Authorization: Bearer <key>`."
        ),
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.rate = RequestRate(settings.rate_limit)
    app.state.failures = SignInThrottle(settings.failed_sign_in_rate, settings.failed_sign_in_global_rate)
    app.state.sign_ins = RequestRate(settings.sign_in_rate)
    app.add_middleware(
        RequestGuard, local_mode=settings.auth == "local", upload_bytes=settings.max_upload_bytes
    )

    @app.middleware("http")
    async def observe(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        token = REQUEST_ID.set(request_id_from(request.headers.get("x-request-id")))
        started = time.perf_counter()
        status = 500
        try:
            try:
                response = await call_next(request)
            except Exception as exc:  # the last line of defence: still JSON, headers and a request id
                response = unexpected_error(request, exc)
            status = response.status_code
            secure(response, request)
            response.headers["X-Request-ID"] = REQUEST_ID.get()
            return response
        finally:
            tenant = getattr(request.state, "tenant", None)
            access_log.info(
                "request",
                extra={
                    "method": request.method,
                    "path": request.url.path,
                    "status": status,
                    "ms": round(1000 * (time.perf_counter() - started), 1),
                    "tenant": tenant.name if tenant else None,
                },
            )
            REQUEST_ID.reset(token)

    trust_proxies(app, settings.trusted_proxies)

    @app.exception_handler(GapLensError)
    async def gaplens_error(request: Request, exc: GapLensError) -> Response:
        # failed sign-ins beyond the overall cap are slowed here, on the loop, holding no thread
        slow_down = getattr(request.state, "slow_down", 0.0)
        if slow_down:
            await asyncio.sleep(slow_down)
        if is_page(request):
            if isinstance(exc, Unauthorized) and request.method == "GET":
                return RedirectResponse(pages.login_url(request), status_code=303)
            response = pages.error_page(request, exc.status_code, type(exc).__name__, str(exc))
            response.headers.update(exc.headers)
            return response
        return JSONResponse(
            status_code=exc.status_code,
            content={"error": type(exc).__name__, "detail": str(exc)},
            headers=exc.headers,
        )

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        kind, detail = http_error_text(exc)
        if is_page(request):
            return pages.error_page(request, exc.status_code, kind, detail)
        return JSONResponse({"error": kind, "detail": detail}, exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        if is_page(request):
            detail = "; ".join(f"{'.'.join(map(str, e['loc'][1:]))}: {e['msg']}" for e in exc.errors())
            return pages.error_page(request, 422, "RequestValidationError", detail[:MAX_ERROR_CHARS])
        return JSONResponse({"error": "RequestValidationError", "detail": brief_errors(exc)}, 422)

    @app.get("/health", tags=["health"], response_model=None)
    def health(request: Request) -> dict[str, str] | JSONResponse:
        """Liveness that means it: the database answers and the data folder takes writes (else 503)."""
        service: GapLensService = request.app.state.service
        problems = service.health_problems()
        if problems:
            return JSONResponse({"status": "unavailable", "problems": problems}, 503)
        return {"status": "ok", "version": __version__}

    add_docs(app)
    app.include_router(reports.router)
    app.include_router(texts.router)
    app.include_router(benchmarks.router)
    app.include_router(keys.router)
    app.include_router(reviews.router)
    app.include_router(pages.router)
    app.include_router(review_pages.router)
    app.mount("/static", StaticFiles(directory=pages.STATIC_DIR), name="static")
    return app


def trust_proxies(app: FastAPI, proxies: str) -> None:
    """Take the client's address (and scheme) from X-Forwarded-For/-Proto, only from these proxies.

    ``GAPLENS_TRUSTED_PROXIES``: comma-separated addresses or networks, "*" for any; empty (the
    default) trusts none, so nobody can pick the address their failed sign-ins are counted under.
    The outermost middleware, so every other one and the routes see the real client.
    ``gaplens serve`` switches uvicorn's own proxy handling off (it trusts loopback by default).
    """
    if proxies.strip():
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=proxies)  # type: ignore[arg-type]


def add_docs(app: FastAPI) -> None:
    """Swagger UI at /docs from this origin (swagger-ui-bundle's files): no CDN, works offline."""
    assets = "/docs/assets"

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="GapLens API",
            swagger_js_url=f"{assets}/swagger-ui-bundle.js",
            swagger_css_url=f"{assets}/swagger-ui.css",
            swagger_favicon_url=f"{assets}/favicon-32x32.png",
            oauth2_redirect_url="/docs/oauth2-redirect",
        )

    @app.get("/docs/oauth2-redirect", include_in_schema=False)
    def docs_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    app.mount(assets, StaticFiles(directory=swagger_ui_bundle.swagger_ui_path), name="docs-assets")


def http_error_text(exc: HTTPException) -> tuple[str, str]:
    """The error kind and a clear detail for Starlette's own HTTP errors (404 route, 413 body)."""
    kind = HTTPStatus(exc.status_code).phrase.title().replace(" ", "").replace("-", "")
    if exc.status_code == 413:  # a body cut off as it streamed in (service/http/guards.py)
        kind = "FileTooLarge"
    return kind, str(exc.detail)


def brief_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    """Validation errors without the input they refused (which may be megabytes) and cut to size."""
    return [
        {"loc": list(e.get("loc", ())), "msg": str(e.get("msg", ""))[:MAX_ERROR_CHARS], "type": e.get("type")}
        for e in exc.errors()[:20]
    ]


def unexpected_error(request: Request, exc: Exception) -> Response:
    """An exception no handler took: logged in full here, told to the caller without internals."""
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    if isinstance(exc, STORAGE_ERRORS):
        status, kind, detail = (
            503,
            "StorageUnavailable",
            "the store cannot be read or written; try again later",
        )
    else:
        status, kind, detail = 500, "InternalError", "an internal error; the operator's log has the details"
    detail = f"{detail} (request {REQUEST_ID.get()})"
    if is_page(request):
        return pages.error_page(request, status, kind, detail)
    return JSONResponse({"error": kind, "detail": detail}, status)
