"""Export: stored analyses as flat tables (Parquet and CSV) for researchers.

One row per report (coverage per SDG and per step, profile, timings: service/serving/report_table.py),
one row per passage (its labels and scores), and the decisions with their evidence: one row per
report, indicator and evidence item (indicators), and per report, regulatory-view element, mapped
indicator and evidence item (views). The files are rewritten from the store after every batch run,
so a run that resumed after a crash writes the same complete files as one that never stopped.
The CSV files are written through service/serving/csv_cells.py (no cell runs as a formula); Parquet keeps the
raw text.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from service.records import GapReport
from service.serving.csv_cells import csv_text, inert, write_table_csv
from service.serving.manifest import BatchItem
from service.serving.report_table import indicator_rows, report_row, stored_report, view_rows
from service.store import ReportRow, TenantStore

PASSAGE_SCHEMA = pa.schema(
    [
        ("sha256", pa.string()),
        ("company", pa.string()),
        ("sector", pa.string()),
        ("year", pa.int32()),
        ("passage", pa.string()),
        ("page", pa.int32()),
        ("heading", pa.string()),
        ("text", pa.string()),
        ("evidence_type", pa.string()),
        ("sdgs", pa.list_(pa.int32())),
        ("sdg_top_score", pa.float32()),
        ("targets", pa.list_(pa.string())),
        ("dd_steps", pa.list_(pa.int32())),
        ("dd_top_score", pa.float32()),
    ]
)


REPORT_KEYS = [
    ("sha256", pa.string()),
    ("company", pa.string()),
    ("sector", pa.string()),
    ("year", pa.int32()),
]
EVIDENCE_COLUMNS = [
    ("rank", pa.int32()),
    ("page", pa.int32()),
    ("evidence_type", pa.string()),
    ("text", pa.string()),
]
INDICATOR_SCHEMA = pa.schema(
    [
        *REPORT_KEYS,
        ("indicator", pa.string()),
        ("step", pa.int32()),
        ("decision", pa.string()),
        ("points", pa.float32()),
        ("reason", pa.string()),
        *EVIDENCE_COLUMNS,
    ]
)
VIEW_SCHEMA = pa.schema(
    [
        *REPORT_KEYS,
        ("view", pa.string()),
        ("element", pa.string()),
        ("reference", pa.string()),
        ("status", pa.string()),
        ("indicator", pa.string()),
        ("decision", pa.string()),
        *EVIDENCE_COLUMNS,
    ]
)
RowsOf = Callable[[GapReport], list[dict[str, Any]]]


def _write_atomically(path: Path, write: Any) -> None:
    partial = path.with_name(path.name + ".partial")
    write(partial)
    partial.replace(path)


def _write_table(rows: list[dict[str, Any]], parquet: Path, csv_path: Path) -> None:
    table = pa.Table.from_pylist(rows)
    _write_atomically(parquet, lambda p: pq.write_table(table, p))
    _write_atomically(csv_path, lambda p: write_table_csv(table, p))


def _passage_rows(store: TenantStore, report: ReportRow) -> list[dict[str, Any]]:
    rows = []
    offset = 0
    while batch := store.passages(report.id, offset, 1000):
        offset += len(batch)
        rows += [
            {
                "sha256": report.sha256,
                "company": report.company,
                "sector": report.sector,
                "year": report.year,
                "passage": p.passage_key,
                "page": p.page,
                "heading": p.heading,
                "text": p.text,
                "evidence_type": p.evidence_type,
                "sdgs": [int(label) for label in p.sdg["labels"]],
                "sdg_top_score": max(p.sdg["scores"].values(), default=0.0),
                "targets": list(p.sdg["parts"]),
                "dd_steps": [int(label) for label in p.dd["labels"]],
                "dd_top_score": max(p.dd["scores"].values(), default=0.0),
            }
            for p in batch
        ]
    return rows


def csv_rows(handle: Any, columns: Sequence[str], rows: list[dict[str, Any]], header: bool) -> None:
    """Rows of report text as CSV (None as an empty cell), a report at a time; cells made inert."""
    writer = csv.DictWriter(handle, columns, restval="")
    if header:
        writer.writeheader()
    writer.writerows({k: "" if v is None else inert(v) for k, v in row.items()} for row in rows)


def _write_decisions(
    done: Sequence[ReportRow], rows_of: RowsOf, schema: pa.Schema, parquet: Path, csv_path: Path
) -> None:
    """One decision table as Parquet and CSV, a report at a time (thousands never sit in memory)."""
    parquet_partial = parquet.with_name(parquet.name + ".partial")
    csv_partial = csv_path.with_name(csv_path.name + ".partial")
    with (
        pq.ParquetWriter(parquet_partial, schema) as writer,
        csv_partial.open("w", newline="", encoding="utf-8") as handle,
    ):
        csv_rows(handle, schema.names, [], header=True)
        for report in done:
            keys = {
                "sha256": report.sha256,
                "company": report.company,
                "sector": report.sector,
                "year": report.year,
            }
            rows = [{**keys, **row} for row in rows_of(stored_report(report))]
            writer.write_table(pa.Table.from_pylist(rows, schema))
            csv_rows(handle, schema.names, rows, header=False)
    parquet_partial.replace(parquet)
    csv_partial.replace(csv_path)


def write_results(
    store: TenantStore,
    listed: Sequence[tuple[str, BatchItem]],
    missing: Sequence[BatchItem],
    out_dir: Path,
) -> dict[str, Path]:
    """Write reports, indicators and views (.parquet and .csv), passages.parquet and failures.csv.

    ``store`` is the batch tenant's view: the manifest's hashes name that tenant's reports only.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    outputs = {
        "reports": out_dir / "reports.parquet",
        "reports_csv": out_dir / "reports.csv",
        "passages": out_dir / "passages.parquet",
        "indicators": out_dir / "indicators.parquet",
        "indicators_csv": out_dir / "indicators.csv",
        "views": out_dir / "views.parquet",
        "views_csv": out_dir / "views.csv",
        "failures": out_dir / "failures.csv",
    }
    rows = store.reports_by_sha([sha for sha, _ in listed])
    paths = {sha: str(item.path) for sha, item in listed}
    done = [rows[sha] for sha in paths if rows[sha].status == "done"]
    _write_table([report_row(r, paths[r.sha256]) for r in done], outputs["reports"], outputs["reports_csv"])

    def write_passages(target: Path) -> None:
        with pq.ParquetWriter(target, PASSAGE_SCHEMA) as writer:
            for report in done:  # one report at a time: thousands of reports never sit in memory
                writer.write_table(pa.Table.from_pylist(_passage_rows(store, report), PASSAGE_SCHEMA))

    _write_atomically(outputs["passages"], write_passages)
    _write_decisions(done, indicator_rows, INDICATOR_SCHEMA, outputs["indicators"], outputs["indicators_csv"])
    _write_decisions(done, view_rows, VIEW_SCHEMA, outputs["views"], outputs["views_csv"])
    failures = [(str(i.path), "", i.company, "missing", "FileNotFoundError: no such file") for i in missing]
    failures += [
        (paths[sha], sha, rows[sha].company, rows[sha].status, rows[sha].error)
        for sha in paths
        if rows[sha].status in ("failed", "rejected")
    ]
    columns = ("path", "sha256", "company", "status", "error")
    text = csv_text(columns, (dict(zip(columns, failure, strict=True)) for failure in failures))
    _write_atomically(outputs["failures"], lambda p: p.write_text(text, encoding="utf-8"))
    return outputs
