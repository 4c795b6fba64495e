"""The FastAPI application: routers, the web page, and the one place errors become HTTP answers.

Every answer passes one middleware that gives it a request id, security headers and one JSON log line.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler, request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from service import __version__
from service.api import benchmarks, keys, reports, texts
from service.api.deps import RequestRate
from service.engine import GapLensService
from service.errors import GapLensError, Unauthorized
from service.logs import REQUEST_ID, request_id_from
from service.settings import Settings, get_settings
from service.web import pages

API_PREFIXES = ("/v1", "/health", "/docs", "/redoc", "/openapi.json", "/static")
access_log = logging.getLogger("gaplens.access")

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
# FastAPI's interactive docs load Swagger UI and ReDoc with inline scripts from a CDN.
DOCS_PATHS = ("/docs", "/redoc")


def is_page(request: Request) -> bool:
    """A request for a web page gets its errors as a page; the API keeps its JSON errors."""
    return not request.url.path.startswith(API_PREFIXES)


def secure(response: Response, request: Request) -> None:
    """Security headers on every answer; reports are confidential, so nothing is cached by default."""
    response.headers.update(SECURITY_HEADERS)
    if not request.url.path.startswith(DOCS_PATHS):
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
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
    )
    app.state.rate = RequestRate(settings.rate_limit)

    @app.middleware("http")
    async def observe(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        token = REQUEST_ID.set(request_id_from(request.headers.get("x-request-id")))
        started = time.perf_counter()
        status = 500
        try:
            response = await call_next(request)
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

    @app.exception_handler(GapLensError)
    async def gaplens_error(request: Request, exc: GapLensError) -> Response:
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
        if is_page(request):
            return pages.error_page(request, exc.status_code, "HTTPException", str(exc.detail))
        return await http_exception_handler(request, exc)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        if is_page(request):
            detail = "; ".join(f"{'.'.join(map(str, e['loc'][1:]))}: {e['msg']}" for e in exc.errors())
            return pages.error_page(request, 422, "RequestValidationError", detail)
        return await request_validation_exception_handler(request, exc)

    @app.get("/health", tags=["health"])
    def health() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    app.include_router(reports.router)
    app.include_router(texts.router)
    app.include_router(benchmarks.router)
    app.include_router(keys.router)
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=pages.STATIC_DIR), name="static")
    return app
