"""Shared dependencies for the routers."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from service.engine import GapLensService


def get_service(request: Request) -> GapLensService:
    """The service instance created in the app's lifespan."""
    service: GapLensService = request.app.state.service
    return service


ServiceDep = Annotated[GapLensService, Depends(get_service)]
