"""The FastAPI application: routers, the web page, and the one place errors become HTTP answers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler, request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from service import __version__
from service.api import benchmarks, reports, texts
from service.engine import GapLensService
from service.errors import GapLensError
from service.settings import Settings, get_settings
from service.web import pages

API_PREFIXES = ("/v1", "/health", "/docs", "/redoc", "/openapi.json", "/static")


def is_page(request: Request) -> bool:
    """A request for a web page gets its errors as a page; the API keeps its JSON errors."""
    return not request.url.path.startswith(API_PREFIXES)


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
        description="SDG and OECD due-diligence gap analysis of sustainability reports.",
        lifespan=lifespan,
    )

    @app.exception_handler(GapLensError)
    async def gaplens_error(request: Request, exc: GapLensError) -> Response:
        if is_page(request):
            return pages.error_page(request, exc.status_code, type(exc).__name__, str(exc))
        return JSONResponse(
            status_code=exc.status_code,
            content={"error": type(exc).__name__, "detail": str(exc)},
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
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=pages.STATIC_DIR), name="static")
    return app
