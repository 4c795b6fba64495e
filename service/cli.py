"""The ``gaplens`` command line: analyze a PDF, classify texts, serve the web page and API."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from service.errors import GapLensError
from service.settings import get_settings

app = typer.Typer(help="GapLens: SDG and OECD due-diligence gap analysis of sustainability reports.")
err = Console(stderr=True)


def _fail(exc: GapLensError) -> typer.Exit:
    err.print(f"[red]error:[/red] {exc}")
    return typer.Exit(code=2)


@app.command()
def analyze(
    report: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="Report PDF")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Where to write the JSON result")],
) -> None:
    """Run the full gap analysis of one report PDF and write it as JSON."""
    from service.pipeline import analyze_pdf
    from service.store import Store

    settings = get_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = Store(settings.resolved_database_url())
    store.create_schema()
    with Progress(TextColumn("{task.description}"), BarColumn(), console=err) as bar:
        task = bar.add_task("parsing", total=1.0)

        def progress(stage: str, fraction: float) -> None:
            bar.update(task, description=stage, completed=fraction)

        try:
            analysis = analyze_pdf(report.read_bytes(), report.name, settings, store, progress)
        except GapLensError as exc:
            raise _fail(exc) from exc
    out.write_text(json.dumps(analysis.report.to_dict(), indent=2, ensure_ascii=False))
    r = analysis.report
    err.print(
        f"{report.name}: profile [bold]{r.profile}[/bold], SDG score {r.sdg_score}, "
        f"due-diligence score {r.due_diligence_score} ({r.timings['total']:.1f} s) -> {out}"
    )


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
    from service.engine import classification_rows
    from service.pipeline import classify_texts

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


train_app = typer.Typer(help="Rebuild the shipped classifier files from the data in the repository.")
app.add_typer(train_app, name="train")


EncoderOption = Annotated[
    list[str] | None, typer.Option("--encoder", help="Encoder(s) to train a head for (default: both)")
]
ModelsDirOption = Annotated[Path | None, typer.Option(help="Where to write (default classifiers/models)")]


def _train(framework: str, encoder: list[str] | None, models_dir: Path | None) -> None:
    from classifiers.dd_training import train_dd
    from classifiers.linear import MODELS_DIR
    from classifiers.sdg_training import train_sdg

    settings = get_settings()
    if not (settings.shared_data_dir / "reports" / "text").is_dir():
        err.print(f"[red]error:[/red] training data not found under {settings.shared_data_dir}")
        raise typer.Exit(code=2)
    trainer = train_sdg if framework == "sdg" else train_dd
    encoders = encoder or [settings.embedding_model, settings.multilingual_model]
    for name in dict.fromkeys(e for e in encoders if e):
        err.print(f"training the {framework} head for {name} ...")
        meta = trainer(name, settings.shared_data_dir, settings.corpora_dir, models_dir or MODELS_DIR)
        err.print(
            f"  {meta['examples']} examples, out-of-fold micro-F1 {meta['out_of_fold_micro_f1']}, "
            f"{meta['train_seconds']} s"
        )


@train_app.command("sdg")
def train_sdg_command(encoder: EncoderOption = None, models_dir: ModelsDirOption = None) -> None:
    """Train the SDG classifier heads (about 1 min for MiniLM, 3 min for e5 on 2 cores)."""
    _train("sdg", encoder, models_dir)


@train_app.command("dd")
def train_dd_command(encoder: EncoderOption = None, models_dir: ModelsDirOption = None) -> None:
    """Train the OECD due-diligence classifier heads (under a minute per encoder on 2 cores)."""
    _train("dd", encoder, models_dir)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Interface (default 127.0.0.1)")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default 8000)")] = None,
) -> None:
    """Serve the upload page and the API (what ``make run`` starts)."""
    import uvicorn

    from service.api.app import create_app

    settings = get_settings()
    uvicorn.run(create_app(settings), host=host or settings.host, port=port or settings.port)


def main() -> None:
    """Entry point for ``python -m service.cli``."""
    app()


if __name__ == "__main__":
    main()
