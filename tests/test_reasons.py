"""Reasons and profile margins on a real report: ENGIE's PDF through the real pipeline and model.

Every indicator says why it got its decision (the evidence type and page of the passage that decided it,
or the question no passage answers), and a headline score near a profile threshold is flagged.
"""

from __future__ import annotations

import pytest
import yaml

from service.frameworks import load_on_the_line
from service.judging.gap import DD_ENGAGED, SDG_ENGAGED, profile_margin, report_profile
from service.pipeline import analyze_document
from service.records import Document, GapReport
from service.settings import Settings

S = Settings()
REASONS = yaml.safe_load((S.corpora_dir / "decision_reasons.yaml").read_text(encoding="utf-8"))
QUESTIONS = {
    i["id"]: " ".join(i["question"].split())
    for i in yaml.safe_load((S.corpora_dir / "dd_rubric.yaml").read_text(encoding="utf-8"))["indicators"]
}


@pytest.fixture(scope="module")
def engie(tmp_path_factory: pytest.TempPathFactory, engie_doc: Document) -> GapReport:
    settings = Settings(data_dir=tmp_path_factory.mktemp("reasons") / "data", database_url=None)
    return analyze_document(engie_doc, settings).report


def test_every_indicator_of_a_real_report_has_a_reason(engie: GapReport) -> None:
    assert {i.decision for i in engie.indicators} == {"met", "partly", "not_met"}
    for indicator in engie.indicators:
        reason = indicator.reason
        assert reason, indicator.id
        if indicator.decision == "not_met":
            assert not indicator.evidence and reason.startswith("Not met")
            assert QUESTIONS[indicator.id] in reason
            continue
        best = indicator.evidence[0]
        assert reason.startswith("Met" if indicator.decision == "met" else "Partly"), reason
        assert REASONS["evidence"][best.evidence_type] in reason, reason
        assert f"page {best.page} " in reason, reason
        if indicator.decision == "partly":
            assert indicator.missing_for_met and "Missing for met: " in reason
        else:
            assert not indicator.missing_for_met


def test_a_real_report_says_how_far_it_is_from_changing_profile(engie: GapReport) -> None:
    """The margin names the nearest threshold, the distance to it and the profile across it, in the JSON."""
    margin = engie.profile_margin
    assert margin is not None
    score = engie.due_diligence_score if margin.boundary == "due_diligence_score" else engie.sdg_score
    assert margin.score == score and margin.points_from_boundary == abs(score - margin.crossed)
    assert margin.on_the_line == (margin.points_from_boundary <= margin.margin)
    steps = {c.label: c.score for c in engie.due_diligence}
    assert margin.would_be != engie.profile
    stored = engie.to_dict()["profile_margin"]
    assert stored["on_the_line"] == margin.on_the_line and stored["would_be"] == margin.would_be
    # the same ladders and steps with both scores far from their thresholds: off the line
    far = profile_margin(80, engie.sdg_ladder, 90, steps, True, margin.margin)
    assert not far.on_the_line and far.would_be != "integrated" and far.points_from_boundary > 3


def test_margin_around_each_threshold_with_real_scores(engie: GapReport) -> None:
    """The real report's ladders and steps, its due-diligence score moved across the threshold."""
    steps = {c.label: c.score for c in engie.due_diligence}
    points = load_on_the_line(S.corpora_dir)["points"]
    sdg = max(engie.sdg_score, SDG_ENGAGED[0] + 10)
    for dd in range(DD_ENGAGED[0] - 6, DD_ENGAGED[0] + 7):
        margin = profile_margin(sdg, engie.sdg_ladder, dd, steps, True, points)
        crossed = DD_ENGAGED[0] - 1 if dd >= DD_ENGAGED[0] else DD_ENGAGED[0]
        assert margin.boundary == "due_diligence_score" and margin.crossed == crossed
        assert margin.points_from_boundary == abs(dd - crossed)
        assert margin.on_the_line == (abs(dd - crossed) <= points), dd
        assert margin.would_be == report_profile(sdg, engie.sdg_ladder, crossed, steps, True)
        assert margin.would_be != report_profile(sdg, engie.sdg_ladder, dd, steps, True)
