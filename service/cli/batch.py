"""``gaplens batch`` (a manifest of reports) and ``gaplens benchmark`` (a sector, a company's years)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from service.cli.common import _fail, _store, _table, app, err
from service.errors import GapLensError
from service.settings import get_settings


@app.command()
def batch(
    manifest: Annotated[
        Path,
        typer.Argument(help="CSV with path,company,sector,year[,country,language], or a folder of reports"),
    ],
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Folder for reports.parquet/.csv, passages.parquet")
    ],
    columns: Annotated[
        Path | None,
        typer.Option(help="With a folder: CSV naming file,company,sector,year[,country,language]"),
    ] = None,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes (or Ray actors)")] = 2,
    ray: Annotated[
        str | None, typer.Option("--ray", help="Address of a running Ray cluster, e.g. 127.0.0.1:6379")
    ] = None,
    runtime: Annotated[
        str, typer.Option(help="MiniLM runtime: onnx (same vectors, faster) or torch")
    ] = "onnx",
    encoder: Annotated[
        str | None, typer.Option(help="Embedding model (default: GAPLENS_EMBEDDING_MODEL)")
    ] = None,
    reports_per_task: Annotated[int, typer.Option(min=1, help="Reports a worker embeds together")] = 2,
    tenant: Annotated[str, typer.Option(help="The tenant the reports belong to")] = "local",
    shareable: Annotated[
        bool, typer.Option(help="Let other tenants' sector benchmarks count these reports (anonymously)")
    ] = False,
) -> None:
    """Score many reports: resumable (by sha256), failures isolated, results as Parquet and CSV.

    Exit code 0 when every report is scored, 1 when some failed (see failures.csv), 2 on bad input.
    """
    from service.serving.batch import BatchSummary, run_batch
    from service.serving.manifest import read_manifest

    changes: dict[str, str] = {"encoder_runtime": runtime}
    if encoder:
        changes["embedding_model"] = encoder
    try:
        settings = get_settings().model_copy(update=changes)
        items = read_manifest(manifest, columns)
    except GapLensError as exc:
        raise _fail(exc) from exc
    if runtime not in ("onnx", "torch"):
        raise _fail(GapLensError(f"unknown runtime {runtime!r}; choose onnx or torch"))
    columns_shown = [
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeRemainingColumn(),
    ]
    with Progress(*columns_shown, console=err) as bar:
        task = bar.add_task("scoring", total=len(items))

        def progress(summary: BatchSummary, _sha: str) -> None:
            elapsed = bar.tasks[task].elapsed or 1e-9
            rate = summary.pages / elapsed
            bar.update(task, completed=summary.skipped + summary.scored + summary.failed)
            bar.update(task, description=f"scoring {rate:.1f} pages/s, {summary.failed} failed")

        bar.update(task, completed=0)
        summary = run_batch(items, out, settings, workers, ray, reports_per_task, progress, tenant, shareable)
    err.print(
        f"{summary.scored} scored, {summary.skipped} already done, {summary.failed} failed "
        f"({summary.pages} pages, {summary.passages} passages in {summary.seconds:.1f} s) -> {out}"
    )
    if summary.failed:
        err.print(f"[yellow]failures:[/yellow] {summary.outputs['failures']}")
        raise typer.Exit(code=1)


@app.command()
def benchmark(
    sector: Annotated[str | None, typer.Option(help="Distributions per SDG and step in this sector")] = None,
    company: Annotated[str | None, typer.Option(help="One company's scores over the years")] = None,
    report: Annotated[int | None, typer.Option(help="A report id: its percentiles within its sector")] = None,
    csv_out: Annotated[Path | None, typer.Option("--csv", help="Also write the sector table as CSV")] = None,
) -> None:
    """Compare stored reports: a sector's distributions, a report against its sector, a company's years."""
    from service.serving.benchmark import (
        benchmark_sectors,
        company_history,
        report_percentiles,
        sector_benchmark,
    )
    from service.store import ALL_TENANTS

    store = _store()
    if not (sector or company or report is not None):
        counts = benchmark_sectors(store, ALL_TENANTS)
        if not counts:
            raise _fail(
                GapLensError("no analysed reports with a sector yet; score some with `gaplens batch`")
            )
        _table("sectors", [{"sector": k, "reports": n} for k, n in counts.items()])
        return
    try:
        if sector:
            result = sector_benchmark(store, sector, ALL_TENANTS)
            rows = [{k: v for k, v in vars(s).items()} for s in result.labels]
            _table(f"sector {result.sector}: {result.reports} reports", rows)
            if csv_out:
                csv_out.write_text(result.to_csv(), encoding="utf-8")
                err.print(f"-> {csv_out}")
        if report is not None:
            standing = report_percentiles(store, report, ALL_TENANTS)
            peers = f"{standing['peers']} peers in {standing['sector']}"
            _table(f"report {report} ({standing['company']}) against {peers}", standing["labels"])
        if company:
            history = company_history(store, company, ALL_TENANTS)
            rows = [{k: v for k, v in y.items() if k not in ("change",)} for y in history["years"]]
            _table(f"{history['company']}: {history['reports']} reports", rows)
    except GapLensError as exc:
        raise _fail(exc) from exc
