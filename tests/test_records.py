"""A gap report keeps its type across the store: ``from_dict(to_dict(r)) == r`` on a real analysis.

Pages, exports, benchmarks and the API read stored reports through ``GapReport.from_dict``; a field
renamed or retyped on one side, or a JSON shape the records no longer fit, fails here rather than as a
KeyError in a page.
"""

from __future__ import annotations

import csv
import io
import json

import pytest
from pydantic import ValidationError

from service.pipeline import analyze_document
from service.records import Coverage, Evidence, GapReport, GoalLadder, IndicatorResult
from service.serving.report_table import ANALYSIS_CSV_COLUMNS, analysis_csv, coverage_columns
from service.settings import Settings


@pytest.fixture(scope="module")
def report(hm_doc) -> GapReport:
    return analyze_document(hm_doc, Settings()).report


@pytest.mark.slow
def test_a_real_report_survives_the_store_as_json(report):
    stored = json.loads(json.dumps(report.to_dict()))  # what the store keeps (service/store.py)
    back = GapReport.from_dict(stored)
    assert back == report
    assert isinstance(back.sdg[0], Coverage) and isinstance(back.sdg[0].evidence, tuple)
    assert all(isinstance(e, Evidence) for c in back.due_diligence for e in c.evidence)
    assert all(isinstance(i, IndicatorResult) for i in back.indicators) and back.indicators
    ladder = [g for g in back.sdg_ladder if g.evidence]
    assert ladder and all(isinstance(g, GoalLadder) for g in ladder)
    assert all(isinstance(e, Evidence) for g in ladder for e in g.evidence.values())
    # the report is rich enough for the round trip to mean something
    assert report.negative_evidence and report.regulatory_views and report.salient_issues


@pytest.mark.slow
def test_a_report_stored_before_later_fields_reads_with_their_defaults(report):
    stored = json.loads(json.dumps(report.to_dict()))
    for later in ("sdg_ladder", "regulatory_views", "negative_evidence", "indicators", "timings"):
        del stored[later]
    back = GapReport.from_dict(stored)
    assert back.sdg == report.sdg and back.sdg_ladder == () and back.regulatory_views == ()


@pytest.mark.slow
def test_a_stored_report_that_no_longer_fits_is_refused_at_the_edge(report):
    stored = json.loads(json.dumps(report.to_dict()))
    stored["sdg"][0]["score"] = "high"
    with pytest.raises(ValidationError, match="score"):
        GapReport.from_dict(stored)
    stored = json.loads(json.dumps(report.to_dict()))
    stored["profile"] = "excellent"
    with pytest.raises(ValidationError, match="profile"):
        GapReport.from_dict(stored)


@pytest.mark.slow
def test_one_table_of_columns_and_csv_from_the_typed_report(report):
    columns = coverage_columns(report)
    assert list(columns)[:2] == ["sdg_score", "dd_score"] and len(columns) == 2 + 17 + 6
    assert columns["sdg_score"] == report.sdg_score and columns["dd_6"] == report.due_diligence[5].score
    rows = list(csv.DictReader(io.StringIO(analysis_csv(report))))
    assert tuple(rows[0]) == ANALYSIS_CSV_COLUMNS
    by_kind = {k: [r for r in rows if r["framework"] == k] for k in ("sdg", "oecd_dd", "indicator")}
    assert [r["label"] for r in by_kind["sdg"]] == [c.label for c in report.sdg]
    assert [int(r["score"]) for r in by_kind["oecd_dd"]] == [c.score for c in report.due_diligence]
    assert [r["decision"] for r in by_kind["indicator"]] == [i.decision for i in report.indicators]
    negative = [r for r in rows if r["framework"] == "negative_evidence"]
    assert len(negative) == len(report.negative_evidence)
    assert analysis_csv(GapReport.from_dict(json.loads(json.dumps(report.to_dict())))) == analysis_csv(report)
