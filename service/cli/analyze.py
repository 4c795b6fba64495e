"""``gaplens analyze`` (a PDF, here or on a running server) and ``gaplens classify`` (free texts)."""

from __future__ import annotations

import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from service.cli.common import _fail, _store, app, err
from service.errors import GapLensError
from service.settings import get_settings


@app.command()
def analyze(
    report: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="Report PDF")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Where to write the JSON result")],
    in_process: Annotated[
        bool, typer.Option("--in-process", help="Read the PDF in this process even if a server runs")
    ] = False,
) -> None:
    """Run the full gap analysis of one report PDF and write it as JSON.

    When a GapLens server answers at GAPLENS_SERVER_URL (default: this machine's GAPLENS_HOST:PORT),
    the PDF goes to it (its models are loaded already; GAPLENS_API_KEY is sent when set), else it is
    read here. Either way the result is the same analysis.
    """
    settings = get_settings()
    url = settings.analyze_server_url()
    with Progress(TextColumn("{task.description}"), BarColumn(), console=err) as bar:
        task = bar.add_task("parsing", total=1.0)

        def progress(stage: str, fraction: float) -> None:
            bar.update(task, description=stage, completed=fraction)

        try:
            served = (
                _analyze_on_server(url, report, settings.api_key, progress)
                if url and not in_process
                else None
            )
            result = served if served is not None else _analyze_here(report, progress)
        except GapLensError as exc:
            raise _fail(exc) from exc
    out.write_text(json.dumps(result, indent=2, ensure_ascii=False))
    where = f", read by the server at {url}" if served is not None else ""
    err.print(
        f"{report.name}: profile [bold]{result['profile']}[/bold], SDG score {result['sdg_score']}, "
        f"due-diligence score {result['due_diligence_score']} ({result['timings']['total']:.1f} s{where})"
        f" -> {out}"
    )


def _analyze_on_server(
    url: str, report: Path, api_key: str, progress: Callable[[str, float], None]
) -> dict[str, Any] | None:
    """The analysis from a running server; None when none answers or it will not take our upload."""
    from service.serving.client import ServerRefused, analyze_on_server, server_answering

    if not server_answering(url):
        return None
    try:
        return analyze_on_server(url, report, api_key, progress)
    except ServerRefused as exc:
        err.print(f"[yellow]note:[/yellow] {exc}; reading the report in this process (set GAPLENS_API_KEY)")
        return None


def _analyze_here(report: Path, progress: Callable[[str, float], None]) -> dict[str, Any]:
    """The analysis read in this process, its vectors cached in the local store.

    The PDF is read by its child process while this one imports the pipeline and opens the store
    (about 2 s on 2 cores), so the reading adds no wall time.
    """
    from service.reading.ingest import pdf_page_texts

    settings, data = get_settings(), report.read_bytes()
    with ThreadPoolExecutor(1) as reader:
        page_texts = reader.submit(pdf_page_texts, data, settings.pdf_limits())
        from service.pipeline import analyze_pdf

        store = _store()
        texts = page_texts.result()
    analysis = analyze_pdf(data, report.name, settings, store, progress, page_texts=texts)
    return analysis.report.to_dict()


def _read_jsonl(path: Path) -> list[dict[str, str]]:
    items = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            err.print(f"[red]error:[/red] {path}:{number} is not JSON ({exc.msg})")
            raise typer.Exit(code=2) from exc
        if not isinstance(item, dict) or "id" not in item or not isinstance(item.get("text"), str):
            err.print(f'[red]error:[/red] {path}:{number} needs {{"id": ..., "text": "..."}}')
            raise typer.Exit(code=2)
        items.append(item)
    return items


@app.command()
def classify(
    infile: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="JSONL: id, text")],
    out: Annotated[Path, typer.Option("--out", "-o", help="JSONL output, same order and ids")],
    batch: Annotated[int, typer.Option(help="Texts read and written per step")] = 256,
) -> None:
    """Classify texts: SDG goals, targets and due-diligence steps per line."""
    from service.pipeline import classify_texts
    from service.serving.engine import classification_rows

    settings = get_settings()
    items = _read_jsonl(infile)
    columns = [
        TextColumn("classifying"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeRemainingColumn(),
    ]
    with out.open("w", encoding="utf-8") as sink, Progress(*columns, console=err) as bar:
        task = bar.add_task("classify", total=len(items))
        for start in range(0, len(items), batch):
            chunk = items[start : start + batch]
            ids = [str(i["id"]) for i in chunk]
            sdg, dd = classify_texts([i["text"] for i in chunk], settings)
            for item, row in zip(chunk, classification_rows(ids, sdg, dd), strict=True):
                row["id"] = item["id"]
                sink.write(json.dumps(row, ensure_ascii=False) + "\n")
            bar.advance(task, len(chunk))
