"""The ``gaplens`` command line: analyze a PDF, classify texts, serve the web page and API."""

from __future__ import annotations

import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from service.errors import GapLensError
from service.settings import CLASSIFIER_ENCODERS, REPO_ROOT, Settings, get_settings

if TYPE_CHECKING:
    from classifiers.labelled import LabelledText
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
    from service.client import ServerRefused, analyze_on_server, server_answering

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
    from service.ingest import pdf_page_texts

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
    from service.batch import BatchSummary, run_batch
    from service.manifest import read_manifest

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


def _table(title: str, rows: list[dict[str, object]]) -> None:
    from rich.table import Table

    table = Table(title=title)
    for name in rows[0]:
        table.add_column(name, justify="left" if name in ("label", "profile") else "right")
    for row in rows:
        table.add_row(*("" if v is None else str(v) for v in row.values()))
    Console().print(table)


@app.command()
def benchmark(
    sector: Annotated[str | None, typer.Option(help="Distributions per SDG and step in this sector")] = None,
    company: Annotated[str | None, typer.Option(help="One company's scores over the years")] = None,
    report: Annotated[int | None, typer.Option(help="A report id: its percentiles within its sector")] = None,
    csv_out: Annotated[Path | None, typer.Option("--csv", help="Also write the sector table as CSV")] = None,
) -> None:
    """Compare stored reports: a sector's distributions, a report against its sector, a company's years."""
    from service.benchmark import benchmark_sectors, company_history, report_percentiles, sector_benchmark
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
    encoders = encoder or [CLASSIFIER_ENCODERS["trained"], settings.multilingual_model]
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


@train_app.command("tuned")
def train_tuned_command(
    models_dir: Annotated[
        Path | None, typer.Option(help="Where to write (default classifiers/models/tuned)")
    ] = None,
    multilingual: Annotated[bool, typer.Option(help="Also fit the heads on multilingual-e5-small")] = True,
) -> None:
    """Fine-tune the encoder and write the default classifiers (eval/RESULTS.md gives the time on 2 cores)."""
    from classifiers.linear import TUNED_DIR
    from classifiers.tuned_training import train_tuned

    settings = _training_settings()
    eval_data = REPO_ROOT / "eval" / "data"
    written = train_tuned(
        settings.corpora_dir,
        settings.shared_data_dir,
        eval_data,
        models_dir or TUNED_DIR,
        multilingual=multilingual,
        log=lambda line: err.print(line),
    )
    for name, meta in written.items():
        err.print(f"  {name}: thresholds {meta['thresholds_by_length']}")


def _training_settings() -> Settings:
    """The settings, after a clear error when the shared training data is not where they say."""
    settings = get_settings()
    if not (settings.shared_data_dir / "sdg_labelled").is_dir():
        err.print(f"[red]error:[/red] training data not found under {settings.shared_data_dir}")
        raise typer.Exit(code=2)
    return settings


def _labelled_texts() -> list[LabelledText]:
    """Every labelled text (classifiers/labelled.py), for the commands that rebuild one part of a release."""
    from classifiers.labelled import all_labelled

    settings = _training_settings()
    return all_labelled(settings.corpora_dir, settings.shared_data_dir, REPO_ROOT / "eval" / "data")


@train_app.command("int8")
def train_int8_command(
    models_dir: Annotated[
        Path | None, typer.Option(help="The tuned release to quantise (default classifiers/models/tuned)")
    ] = None,
) -> None:
    """Export the tuned encoder to int8 ONNX and calibrate its heads on dev (part of `train tuned`)."""
    from classifiers.linear import TUNED_DIR
    from classifiers.tuned_training import write_int8_release
    from service.frameworks import load_framework

    texts = _labelled_texts()
    frameworks = [load_framework(f, get_settings().corpora_dir) for f in ("sdg", "oecd_dd")]
    for name, meta in write_int8_release(texts, frameworks, models_dir or TUNED_DIR).items():
        err.print(f"  {name}: thresholds {meta['thresholds_by_length']}")


@train_app.command("gate")
def train_gate_command(
    models_dir: Annotated[
        Path | None, typer.Option(help="Where to write (default classifiers/models/tuned)")
    ] = None,
) -> None:
    """Fit the relevance gate (which passages skip the encoder; part of `train tuned`)."""
    from classifiers.linear import TUNED_DIR
    from classifiers.relevance import train_gate

    err.print(train_gate(_labelled_texts(), models_dir or TUNED_DIR))


keys_app = typer.Typer(help="API keys: every API call needs one (tenants see only their own reports).")
app.add_typer(keys_app, name="keys")


@keys_app.command("create")
def keys_create(
    tenant: Annotated[str, typer.Option(help="The tenant (organisation) the key is for; made if new")],
    admin: Annotated[bool, typer.Option(help="May make keys and see the queue through the API")] = False,
) -> None:
    """Make a key and print it: it is shown this once and stored only as a hash."""
    from service.auth import create_api_key

    try:
        key = create_api_key(_store(), tenant, admin)
    except GapLensError as exc:
        raise _fail(exc) from exc
    role = " (admin)" if admin else ""
    err.print(f"key for tenant [bold]{tenant.strip()}[/bold]{role}; keep it, it is not shown again:")
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
        # slow clients are cut off: idle keep-alive, slow headers, slow bodies (README, "Limits")
        timeout_keep_alive=settings.keep_alive_seconds,
        http=bounded_protocol(settings.request_header_seconds, settings.request_body_seconds),
    )


def main() -> None:
    """Entry point for ``python -m service.cli``."""
    app()


if __name__ == "__main__":
    main()
