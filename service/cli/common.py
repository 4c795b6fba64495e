"""What every command shares: the Typer app, the error console, the store, a table printer."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer
from rich.console import Console

from service.errors import GapLensError
from service.settings import get_settings

if TYPE_CHECKING:
    from service.store import Store


app = typer.Typer(help="GapLens: SDG and OECD due-diligence gap analysis of sustainability reports.")
err = Console(stderr=True)


def _fail(exc: GapLensError) -> typer.Exit:
    err.print(f"[red]error:[/red] {exc}")
    return typer.Exit(code=2)


def _store() -> Store:
    """The store the settings name, its folder made and its schema up to date."""
    from service.store import Store

    return Store.open(get_settings())


def _table(title: str, rows: list[dict[str, object]]) -> None:
    from rich.table import Table
    from rich.text import Text

    from service.names import printable

    table = Table(title=Text(printable(title)))
    for name in rows[0]:
        table.add_column(name, justify="left" if name in ("label", "profile") else "right")
    for row in rows:
        # names come from the store: escaped, so neither a terminal escape nor rich markup acts
        table.add_row(*("" if v is None else Text(printable(str(v))) for v in row.values()))
    Console().print(table)
