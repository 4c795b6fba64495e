"""``gaplens keys``: create, list and revoke API keys."""

from __future__ import annotations

from typing import Annotated

import typer

from service.cli.common import _fail, _store, _table, err
from service.errors import GapLensError

keys_app = typer.Typer(help="API keys: every API call needs one (tenants see only their own reports).")


@keys_app.command("create")
def keys_create(
    tenant: Annotated[str, typer.Option(help="The tenant (organisation) the key is for; made if new")],
    admin: Annotated[bool, typer.Option(help="May make keys and see the queue through the API")] = False,
) -> None:
    """Make a key and print it: it is shown this once and stored only as a hash."""
    from rich.markup import escape

    from service.names import tenant_name
    from service.serving.auth import create_api_key

    try:
        key = create_api_key(_store(), tenant, admin)
    except GapLensError as exc:
        raise _fail(exc) from exc
    role = " (admin)" if admin else ""
    name = escape(tenant_name(tenant))  # the name as stored (create_api_key checked it)
    err.print(f"key for tenant [bold]{name}[/bold]{role}; keep it, it is not shown again:")
    print(key)


@keys_app.command("list")
def keys_list() -> None:
    """Every key's tenant, first characters, role and state (never the key)."""
    rows = [
        {
            "tenant": tenant,
            "key": f"{key.prefix}…",
            "admin": key.admin,
            "created": f"{key.created_at:%Y-%m-%d %H:%M}",
            "revoked": f"{key.revoked_at:%Y-%m-%d %H:%M}" if key.revoked_at else "",
        }
        for key, tenant in _store().api_keys()
    ]
    if not rows:
        err.print("no keys yet; make one with `gaplens keys create --tenant NAME`")
        return
    _table("API keys", rows)


@keys_app.command("revoke")
def keys_revoke(
    prefix: Annotated[str, typer.Argument(help="The key's first 12 characters (keys list)")],
) -> None:
    """Revoke a key: requests with it get 401 from now on."""
    count = _store().revoke_api_key(prefix.rstrip("…"))
    if not count:
        raise _fail(GapLensError(f"no live key starts with {prefix!r}"))
    err.print(f"revoked {count} key(s)")
