"""The FastAPI application: routers, the web page, and the one place errors become HTTP answers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles

from service import __version__
from service.api import benchmarks, reports, texts
from service.engine import GapLensService
from service.errors import GapLensError
from service.settings import Settings, get_settings
from service.web import pages


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
    async def gaplens_error(_request: Request, exc: GapLensError) -> JSONResponse:
        return JSONResponse(
            status_code=exc.status_code,
            content={"error": type(exc).__name__, "detail": str(exc)},
        )

    @app.get("/health", tags=["health"])
    def health() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    app.include_router(reports.router)
    app.include_router(texts.router)
    app.include_router(benchmarks.router)
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=pages.STATIC_DIR), name="static")
    return app
