"""``gaplens reviews``: analysts' reviews of reports (the review loop), for the operator."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from service.cli.common import _fail, _store, err
from service.errors import GapLensError
from service.settings import get_settings

reviews_app = typer.Typer(help="Analysts' reviews of reports (the review loop).")


@reviews_app.command("export")
def reviews_export(
    tenant: Annotated[str, typer.Option(help="The tenant whose reviews to export")],
    out: Annotated[Path | None, typer.Option(help="Write JSON lines here (default: standard output)")] = None,
) -> None:
    """A tenant's reviews as labelled data, as GET /v1/reviews/export gives them to the tenant."""
    from service.serving.reviews import tenant_review_lines

    try:
        lines = tenant_review_lines(_store(), get_settings(), tenant)
    except GapLensError as exc:
        raise _fail(exc) from exc
    text = "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines)
    if out is None:
        sys.stdout.write(text)
    else:
        out.write_text(text, encoding="utf-8")
    err.print(f"{len(lines)} lines of {tenant}'s reviews")
