"""``gaplens serve``: the web page and the API."""

from __future__ import annotations

from typing import Annotated

import typer

from service.cli.common import _fail, app
from service.errors import GapLensError
from service.settings import get_settings

LOOPBACK = ("127.0.0.1", "::1", "localhost")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Interface (default 127.0.0.1)")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default 8000)")] = None,
) -> None:
    """Serve the upload page and the API (what ``make run`` starts, in local mode)."""
    import uvicorn

    from service.app import create_app
    from service.logs import configure_logging

    settings = get_settings()
    host = host or settings.host
    if settings.auth == "local" and host not in LOOPBACK:
        raise _fail(
            GapLensError(f"local mode (no keys) serves loopback only, not {host}; use GAPLENS_AUTH=keys")
        )
    from service.errors import StoreInUse
    from service.store import Store

    try:  # held for the life of this process; the app's own start holds it again
        Store.open(settings, serving=True)
    except StoreInUse as exc:
        raise _fail(exc) from None
    from service.http.slow_clients import bounded_protocol

    configure_logging(settings.log_format)
    uvicorn.run(
        create_app(settings),
        host=host,
        port=port or settings.port,
        log_config=None,
        access_log=False,
        # the app believes X-Forwarded-For only from GAPLENS_TRUSTED_PROXIES (service/app.py)
        proxy_headers=False,
        # slow clients are cut off: idle keep-alive, slow headers, slow bodies (README, "Limits")
        timeout_keep_alive=settings.keep_alive_seconds,
        http=bounded_protocol(settings.request_header_seconds, settings.request_body_seconds),
    )
