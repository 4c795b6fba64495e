"""Export: stored analyses as flat tables (Parquet and CSV) for researchers.

One row per report (coverage per SDG and per step, profile, timings) and one row per passage
(its labels and scores). The files are rewritten from the store after every batch run, so a run that
resumed after a crash writes the same complete files as one that never stopped.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from service.store import ReportRow, TenantStore

if TYPE_CHECKING:
    from service.batch import BatchItem

TIMED_STAGES = ("parsing", "segmenting", "embedding", "classifying", "scoring", "total")
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


def coverage_columns(result: dict[str, Any]) -> dict[str, float]:
    """A gap report's scores as columns: sdg_score, dd_score, sdg_1..sdg_17, dd_1..dd_6."""
    columns = {"sdg_score": float(result["sdg_score"]), "dd_score": float(result["due_diligence_score"])}
    columns.update({f"sdg_{c['label']}": float(c["score"]) for c in result["sdg"]})
    columns.update({f"dd_{c['label']}": float(c["score"]) for c in result["due_diligence"]})
    return columns


ANALYSIS_CSV_COLUMNS = (
    "framework",
    "label",
    "name",
    "score",
    "addressed",
    "evidence_count",
    "results",
    "actions",
    "commitments",
    "mentions",
    "parts_touched",
    "parts_missing",
    "decision",
    "pages",
    "advice",
)


def _coverage_rows(result: dict[str, Any]) -> list[dict[str, Any]]:
    """A row per goal (with its ladder rung as the decision) and per OECD step."""
    rungs = {g["goal"]: g["rung"] for g in result.get("sdg_ladder", [])}
    rows = []
    for framework, key in (("sdg", "sdg"), ("oecd_dd", "due_diligence")):
        for c in result[key]:
            types = c.get("evidence_types") or {}
            rows.append(
                {
                    "framework": framework,
                    "label": c["label"],
                    "name": c["name"],
                    "score": c["score"],
                    "addressed": c["addressed"],
                    "evidence_count": c["evidence_count"],
                    "results": types.get("result", 0),
                    "actions": types.get("action", 0),
                    "commitments": types.get("commitment", 0),
                    "mentions": types.get("mention", 0),
                    "parts_touched": ";".join(c["parts_touched"]),
                    "parts_missing": ";".join(c["parts_missing"]),
                    "decision": rungs.get(c["label"], "") if framework == "sdg" else "",
                }
            )
    return rows


def _rubric_rows(result: dict[str, Any]) -> list[dict[str, Any]]:
    """A row per rubric indicator, per regulatory-view item and per piece of negative evidence."""
    rows = [
        {
            "framework": "indicator",
            "label": i["id"],
            "name": i["name"],
            "score": round(100 * i["points"]),
            "addressed": i["decision"] == "met",
            "evidence_count": len(i["evidence"]),
            "parts_touched": i["step"],
            "decision": i["decision"],
            "pages": ";".join(str(e["page"]) for e in i["evidence"]),
            "advice": i["advice"],
        }
        for i in result.get("indicators", [])
    ]
    status = {i["id"]: i["decision"] for i in result.get("indicators", [])}
    for view in result.get("regulatory_views", []):
        rows += [
            {
                "framework": f"view:{view['id']}",
                "label": item["id"],
                "name": f"{item['reference']}: {item['name']}",
                "addressed": item["status"] == "evidenced",
                "parts_touched": ";".join(i for i in item["indicators"] if status.get(i) != "not_met"),
                "parts_missing": ";".join(i for i in item["indicators"] if status.get(i) != "met"),
                "decision": item["status"],
            }
            for item in view["items"]
        ]
    rows += [
        {
            "framework": "negative_evidence",
            "label": n["kind"],
            "name": n["text"][:300],
            "decision": "gap",
            "pages": str(n["page"]),
            "parts_touched": ";".join(n["labels"]),
        }
        for n in result.get("negative_evidence", [])
    ]
    return rows


def analysis_csv(result: dict[str, Any]) -> str:
    """One gap report as CSV for a spreadsheet.

    A row per SDG and per due-diligence step first (as before the rubric), then a row per rubric
    indicator (`framework` = indicator), per article or element of each regulatory view
    (`view:csddd`, `view:esrs_gov4`, `view:agt`) and per piece of negative evidence.
    """
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, ANALYSIS_CSV_COLUMNS, restval="")
    writer.writeheader()
    writer.writerows(_coverage_rows(result) + _rubric_rows(result))
    return buffer.getvalue()


def report_row(report: ReportRow, path: str = "") -> dict[str, Any]:
    """One analysed report as a flat row."""
    result = report.result or {}
    timings = result.get("timings", {})
    return {
        "sha256": report.sha256,
        "path": path,
        "filename": report.filename,
        "company": report.company,
        "sector": report.sector,
        "year": report.year,
        "country": report.country,
        "language": report.language,
        "pages": report.pages,
        "passages": result.get("passages", 0),
        "profile": result.get("profile", ""),
        **coverage_columns(result),
        "missing_sdgs": ";".join(result.get("missing_sdgs", [])),
        "missing_steps": ";".join(result.get("missing_steps", [])),
        **{f"seconds_{stage}": timings.get(stage) for stage in TIMED_STAGES},
    }


def _write_atomically(path: Path, write: Any) -> None:
    partial = path.with_name(path.name + ".partial")
    write(partial)
    partial.replace(path)


def _write_table(rows: list[dict[str, Any]], parquet: Path, csv_path: Path) -> None:
    table = pa.Table.from_pylist(rows)
    _write_atomically(parquet, lambda p: pq.write_table(table, p))
    _write_atomically(csv_path, lambda p: pacsv.write_csv(table, p))


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


def write_results(
    store: TenantStore,
    listed: Sequence[tuple[str, BatchItem]],
    missing: Sequence[BatchItem],
    out_dir: Path,
) -> dict[str, Path]:
    """Write reports.{parquet,csv}, passages.parquet and failures.csv for the manifest's reports.

    ``store`` is the batch tenant's view: the manifest's hashes name that tenant's reports only.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    outputs = {
        "reports": out_dir / "reports.parquet",
        "reports_csv": out_dir / "reports.csv",
        "passages": out_dir / "passages.parquet",
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
    failures = [(str(i.path), "", i.company, "missing", "FileNotFoundError: no such file") for i in missing]
    failures += [
        (paths[sha], sha, rows[sha].company, rows[sha].status, rows[sha].error)
        for sha in paths
        if rows[sha].status in ("failed", "rejected")
    ]
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(("path", "sha256", "company", "status", "error"))
    writer.writerows(failures)
    _write_atomically(outputs["failures"], lambda p: p.write_text(buffer.getvalue(), encoding="utf-8"))
    return outputs
