"""A gap report as flat rows: the score columns and the analysis CSV, in one place.

Batch exports, sector benchmarks, the compare and result pages and the API's CSV all read a report's
scores through these functions, so a column has one name and one meaning everywhere. They take the
typed ``GapReport`` (``stored_report`` reads it back from the store), never its JSON by string keys.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from service.errors import NotFound
from service.records import Evidence, GapReport
from service.serving.csv_cells import csv_text
from service.store import ReportRow

TIMED_STAGES = ("parsing", "segmenting", "embedding", "classifying", "scoring", "total")
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
    "reason",
)


def stored_report(row: ReportRow) -> GapReport:
    """The gap report a stored report row holds; NotFound while it has none (not analysed yet)."""
    if row.result is None:
        raise NotFound(f"report {row.id} has no analysis yet (status: {row.status})")
    return GapReport.from_dict(row.result)


def coverage_columns(report: GapReport) -> dict[str, float]:
    """A gap report's scores as columns: sdg_score, dd_score, sdg_1..sdg_17, dd_1..dd_6."""
    columns = {"sdg_score": float(report.sdg_score), "dd_score": float(report.due_diligence_score)}
    columns.update({f"sdg_{c.label}": float(c.score) for c in report.sdg})
    columns.update({f"dd_{c.label}": float(c.score) for c in report.due_diligence})
    return columns


def report_row(row: ReportRow, path: str = "") -> dict[str, Any]:
    """One analysed report as a flat row (reports.parquet / reports.csv of a batch run)."""
    report = stored_report(row)
    return {
        "sha256": row.sha256,
        "path": path,
        "filename": row.filename,
        "company": row.company,
        "sector": row.sector,
        "year": row.year,
        "country": row.country,
        "language": row.language,
        "pages": row.pages,
        "passages": report.passages,
        "profile": report.profile,
        **coverage_columns(report),
        "missing_sdgs": ";".join(report.missing_sdgs),
        "missing_steps": ";".join(report.missing_steps),
        **{f"seconds_{stage}": report.timings.get(stage) for stage in TIMED_STAGES},
    }


def _evidence_cells(evidence: Sequence[Evidence]) -> list[dict[str, Any]]:
    """One row's evidence columns per evidence item, best first; one empty row when there is none."""
    if not evidence:
        return [{"rank": None, "page": None, "evidence_type": "", "text": ""}]
    return [
        {"rank": rank, "page": e.page, "evidence_type": e.evidence_type, "text": e.text}
        for rank, e in enumerate(evidence, start=1)
    ]


def indicator_rows(report: GapReport) -> list[dict[str, Any]]:
    """A row per indicator and evidence item (indicators.parquet / .csv of a batch run).

    An indicator without evidence (not met) has one row with empty rank, page and text.
    """
    return [
        {
            "indicator": i.id,
            "step": int(i.step),
            "decision": i.decision,
            "points": i.points,
            "reason": i.reason,
            **cells,
        }
        for i in report.indicators
        for cells in _evidence_cells(i.evidence)
    ]


def view_rows(report: GapReport) -> list[dict[str, Any]]:
    """A row per regulatory-view element, mapped indicator and evidence item (views.parquet / .csv).

    Each element lists the evidence of every indicator it maps to; a mapped indicator without evidence
    has one row with empty rank, page and text, so every element and indicator pair appears.
    """
    by_id = {i.id: i for i in report.indicators}
    return [
        {
            "view": view.id,
            "element": item.id,
            "reference": item.reference,
            "status": item.status,
            "indicator": indicator,
            "decision": by_id[indicator].decision,
            **cells,
        }
        for view in report.regulatory_views
        for item in view.items
        for indicator in item.indicators
        for cells in _evidence_cells(by_id[indicator].evidence)
    ]


def _coverage_rows(report: GapReport) -> list[dict[str, Any]]:
    """A row per goal (with its ladder rung as the decision) and per OECD step."""
    rungs = {g.goal: g.rung for g in report.sdg_ladder}
    rows = []
    for framework, coverage in (("sdg", report.sdg), ("oecd_dd", report.due_diligence)):
        for c in coverage:
            rows.append(
                {
                    "framework": framework,
                    "label": c.label,
                    "name": c.name,
                    "score": c.score,
                    "addressed": c.addressed,
                    "evidence_count": c.evidence_count,
                    "results": c.evidence_types.get("result", 0),
                    "actions": c.evidence_types.get("action", 0),
                    "commitments": c.evidence_types.get("commitment", 0),
                    "mentions": c.evidence_types.get("mention", 0),
                    "parts_touched": ";".join(c.parts_touched),
                    "parts_missing": ";".join(c.parts_missing),
                    "decision": rungs.get(c.label, "") if framework == "sdg" else "",
                }
            )
    return rows


def _rubric_rows(report: GapReport) -> list[dict[str, Any]]:
    """A row per rubric indicator, per regulatory-view item and per piece of negative evidence."""
    rows: list[dict[str, Any]] = [
        {
            "framework": "indicator",
            "label": i.id,
            "name": i.name,
            "score": round(100 * i.points),
            "addressed": i.decision == "met",
            "evidence_count": len(i.evidence),
            "parts_touched": i.step,
            "decision": i.decision,
            "pages": ";".join(str(e.page) for e in i.evidence),
            "advice": i.advice,
            "reason": i.reason,
        }
        for i in report.indicators
    ]
    status = {i.id: i.decision for i in report.indicators}
    for view in report.regulatory_views:
        rows += [
            {
                "framework": f"view:{view.id}",
                "label": item.id,
                "name": f"{item.reference}: {item.name}",
                "addressed": item.status == "evidenced",
                "parts_touched": ";".join(i for i in item.indicators if status.get(i) != "not_met"),
                "parts_missing": ";".join(i for i in item.indicators if status.get(i) != "met"),
                "decision": item.status,
            }
            for item in view.items
        ]
    rows += [
        {
            "framework": "negative_evidence",
            "label": n.kind,
            "name": n.text[:300],
            "decision": "gap",
            "pages": str(n.page),
            "parts_touched": ";".join(n.labels),
        }
        for n in report.negative_evidence
    ]
    return rows


def analysis_csv(report: GapReport) -> str:
    """One gap report as CSV for a spreadsheet.

    A row per SDG and per due-diligence step first (as before the rubric), then a row per rubric
    indicator (`framework` = indicator, with the `reason` for its decision), per article or element of
    each regulatory view (`view:csddd`, `view:esrs_gov4`, `view:agt`) and per piece of negative evidence.
    Report text in a cell never runs as a formula (service/serving/csv_cells.py).
    """
    return csv_text(ANALYSIS_CSV_COLUMNS, _coverage_rows(report) + _rubric_rows(report))
