"""The scoring stage on readings of a given shape: rubric decisions, SDG ladder, negative evidence, views.

The readings are built by hand so that each rule can be seen to flip; the rules themselves are the real
files in corpora/ and the real stage functions (service/judging/scoring.py).
"""

from dataclasses import replace
from pathlib import Path

import pytest

from service.frameworks import load_framework, load_on_the_line, load_profiles
from service.judging.coverage import ADDRESSED_AT
from service.judging.gap import (
    DD_ENGAGED,
    SDG_ENGAGED,
    dd_summary,
    profile_margin,
    recommendations,
    report_profile,
)
from service.judging.rubric import load_rubric, step_scores
from service.judging.scoring import gap_report
from service.judging.views import item_status, load_views
from service.reading.ingest import document_from_sections
from service.records import GoalLadder, LabelScores, Passage
from service.settings import Settings

S = Settings()
RUBRIC = load_rubric(S.corpora_dir)
DD = load_framework("oecd_dd", S.corpora_dir)
SDG = load_framework("sdg", S.corpora_dir)


def score(texts: list[tuple[str, dict[str, float], dict[str, float]]]):
    """The real scoring stage on passages with the given SDG and due-diligence readings."""
    document = document_from_sections([{"title": "", "text": t} for t, _, _ in texts], "test.json")
    passages = [Passage(f"p{i}", i + 1, 0, len(t), t) for i, (t, _, _) in enumerate(texts)]
    sdg, dd = [], []
    for p, (_, sdg_scores, dd_scores) in zip(passages, texts, strict=True):
        sdg.append(LabelScores(p.id, "sdg", sdg_scores, tuple(sdg_scores)))
        dd.append(LabelScores(p.id, "oecd_dd", dd_scores, tuple(dd_scores)))
    return gap_report(document, passages, sdg, dd, S)


def decision(report, indicator: str) -> str:
    return next(i.decision for i in report.indicators if i.id == indicator)


GRIEVANCE_PLANNED = "We will set up a grievance mechanism for suppliers next year."
GRIEVANCE_IN_PLACE = (
    "Our grievance mechanism is available to workers at our suppliers and to local communities; "
    "complaints can be submitted anonymously and are investigated by the compliance team."
)
REMEDY_CASE = (
    "In 2023 an audit found that workers at one supplier in Malaysia had paid recruitment fees. "
    "Together with the supplier we reimbursed 212 workers in full, and the remedy was verified by an NGO."
)


def test_rubric_file_names_every_step_and_points():
    assert {i.step for i in RUBRIC.indicators} == set(DD.label_ids)
    assert len({i.id for i in RUBRIC.indicators}) == len(RUBRIC.indicators)
    assert all(3 <= len(RUBRIC.of_step(s)) <= 6 for s in DD.label_ids)
    assert RUBRIC.points == {"met": 1.0, "partly": 0.5, "not_met": 0.0}


def test_a_rubric_with_an_unknown_partly_check_is_refused_when_loaded(tmp_path: Path) -> None:
    """A misspelt `partly_needs` entry would otherwise fail only when a report is scored."""
    corpora = Settings().corpora_dir
    for name in ("dd_rubric.yaml", "decision_reasons.yaml", "dd_issues.yaml", "evidence_types.yaml"):
        (tmp_path / name).write_text((corpora / name).read_text(encoding="utf-8"), encoding="utf-8")
    rubric = tmp_path / "dd_rubric.yaml"
    rubric.write_text(rubric.read_text(encoding="utf-8").replace("[cues, an_issue]", "[cues, an_isue]"))
    with pytest.raises(ValueError, match="an_isue"):
        load_rubric(tmp_path)


def test_a_commitment_is_at_most_partly_and_an_action_meets():
    planned = score([(GRIEVANCE_PLANNED, {}, {"6": 0.9})])
    in_place = score([(GRIEVANCE_IN_PLACE, {}, {"6": 0.9})])
    assert decision(planned, "dd6.grievance_mechanism") in ("partly", "not_met")
    assert decision(in_place, "dd6.grievance_mechanism") == "met"
    assert decision(in_place, "dd6.open_to_external") == "met"
    # a mechanism is no remedy: remedy needs a case
    assert decision(in_place, "dd6.remedy_provided") != "met"
    assert decision(score([(REMEDY_CASE, {}, {"6": 0.9})]), "dd6.remedy_provided") == "met"


def test_indicators_need_the_classifier_step():
    unread = score([(GRIEVANCE_IN_PLACE, {}, {})])
    assert decision(unread, "dd6.grievance_mechanism") == "not_met"


def test_evidence_and_advice_travel_with_the_decision():
    report = score([(GRIEVANCE_IN_PLACE, {}, {"6": 0.9})])
    met = next(i for i in report.indicators if i.id == "dd6.grievance_mechanism")
    assert met.evidence and met.evidence[0].page == 1 and not met.advice
    missing = next(i for i in report.indicators if i.id == "dd2.prioritisation")
    assert missing.decision == "not_met" and missing.advice and missing.advice_nl
    assert any(a.startswith("Step 2 (Prioritises") for a in report.recommendations)


def test_step_score_is_indicator_points_not_volume():
    once = score([(GRIEVANCE_IN_PLACE, {}, {"6": 0.9})])
    many = score([(GRIEVANCE_IN_PLACE, {}, {"6": 0.9})] * 30)
    assert step_scores(once.indicators, DD.label_ids) == step_scores(many.indicators, DD.label_ids)
    six = [r.points for r in once.indicators if r.step == "6"]
    assert once.due_diligence[5].score == many.due_diligence[5].score == round(100 * sum(six) / len(six))
    assert once.due_diligence_score == dd_summary({c.label: c.score for c in once.due_diligence})


def test_negative_evidence_is_a_gap_not_coverage():
    index = "S4-3 Processes to remediate negative impacts and channels for consumers to raise concerns: "
    index += "Not material"
    planned = "No grievance mechanism for value chain workers is in place yet."
    report = score([(index, {"12": 0.99}, {"6": 0.9}), (planned, {}, {"6": 0.9})])
    assert all(i.decision == "not_met" for i in report.indicators if i.step == "6")
    assert report.due_diligence[5].evidence_count == 0 and report.sdg[11].evidence_count == 0
    kinds = {(n.page, n.kind, n.index) for n in report.negative_evidence}
    assert kinds == {(1, "not_material", True), (2, "not_in_place", False)}


def test_a_content_index_line_with_page_numbers_is_no_evidence():
    """An index line answering "see page 42" read as steps 2 and 3 made a train report's assessment met."""
    index = (
        "GRI 308: Supplier Environmental Assessment 2016 GRI 308-1 New suppliers that were screened using "
        "environmental criteria P. 42 GRI 308-2 Negative environmental impacts in the supply chain and "
        "actions taken P. 42"
    )
    report = score([(index, {"12": 0.9}, {"2": 0.9, "3": 0.9})])
    assert all(i.decision == "not_met" for i in report.indicators), [
        (i.id, i.decision) for i in report.indicators if i.decision != "not_met"
    ]
    assert report.negative_evidence == ()  # left out, not shown as a gap


def test_sdg_ladder_climbs_with_depth_not_volume():
    logo = "We support the SDGs: SDG 3, SDG 5, SDG 8, SDG 12 and SDG 13."
    target = "Our target is to cut scope 1 and 2 emissions by 50% by 2030 compared to 2019."
    result = "In 2023 we reduced scope 1 and 2 emissions by 32% compared to 2019 (SDG target 13.2)."
    ladder = {g.goal: g for g in score([(logo, {"13": 0.9}, {})]).sdg_ladder}
    assert ladder["13"].rung == "mentioned" and ladder["5"].rung == "mentioned" and ladder["5"].named
    deep = {g.goal: g for g in score([(target, {"13": 0.9}, {}), (result, {"13": 0.9}, {})]).sdg_ladder}
    assert deep["13"].rung == "un_target" and deep["13"].score == 100
    assert set(deep["13"].evidence) == {"mentioned", "commitment", "target_kpi", "result", "un_target"}
    no_target = score([(target, {"13": 0.9}, {})]).sdg_ladder[12]
    assert no_target.rung == "target_kpi" and no_target.next_step and no_target.next_step_nl
    weak = score([(target, {"13": 0.2}, {})]).sdg_ladder[12]
    assert weak.rung == "" and weak.level == 0  # a weak reading that does not name the goal is no evidence


def test_sdg_score_rewards_depth_on_claimed_goals():
    target = "Our target is to cut scope 1 and 2 emissions by 50% by 2030 compared to 2019."
    logo = "We support the SDGs: SDG 3, SDG 5, SDG 8, SDG 12 and SDG 13."
    focused = score([(target, {"13": 0.9}, {})])
    spread_thin = score([(target, {"13": 0.9}, {}), (logo, {}, {})])
    assert focused.sdg_score == 60 and spread_thin.sdg_score < focused.sdg_score


def ladder(goal: str, level: int) -> GoalLadder:
    return GoalLadder(goal, goal, level, "", level * 20, level >= 2, False)


def test_profiles():
    deep = [ladder(str(i), 4 if i <= 3 else 0) for i in range(1, 18)]
    shallow = [ladder(str(i), 2) for i in range(1, 18)]
    full = dict.fromkeys(DD.label_ids, 60)
    thin = {s: (60 if s == "1" else 0) for s in DD.label_ids}
    assert report_profile(80, deep, 60, full) == "integrated"
    assert report_profile(40, shallow, 60, full) == "due-diligence-only"
    assert report_profile(80, deep, 10, thin) == "sdg-only"
    assert report_profile(40, shallow, 10, thin) == "neither"
    assert report_profile(SDG_ENGAGED[0], deep, DD_ENGAGED[0], full) == "integrated"
    assert report_profile(SDG_ENGAGED[0], deep, DD_ENGAGED[0], full, refers_to_sdgs=False) == (
        "due-diligence-only"
    )
    assert DD_ENGAGED[0] >= ADDRESSED_AT


def test_recommendations_name_missing_indicators_first():
    report = score([(GRIEVANCE_PLANNED, {}, {"6": 0.9})])
    advice = recommendations(report.profile, report.indicators, load_profiles(S.corpora_dir))
    assert advice[0] == load_profiles(S.corpora_dir)[report.profile]["next_step"].strip()
    steps = [a.split(" ")[1] for a in advice[1:]]
    not_met = [r for r in report.indicators if r.decision == "not_met"]
    assert steps[: len(not_met)] == [r.step for r in not_met]


def test_regulatory_views_map_known_indicators_with_versions():
    views = load_views(S.corpora_dir)
    ids = {i.id for i in RUBRIC.indicators}
    assert {v["id"] for v in views["views"]} == {"csddd", "esrs_gov4", "agt"}
    assert all(set(item["indicators"]) <= ids for v in views["views"] for item in v["items"])
    assert "2024/1760" in views["views"][0]["version"] and "2023/2772" in views["views"][1]["version"]
    assert item_status([1.0, 0.5], 0.75) == "evidenced" and item_status([0.5, 0.0], 0.75) == "partly"
    assert item_status([0.0], 0.75) == "not_evidenced"
    report = score([(GRIEVANCE_IN_PLACE, {}, {"6": 0.9})])
    csddd = {i.id: i for i in report.regulatory_views[0].items}
    assert csddd["art14"].status == "evidenced" and csddd["art12"].status == "not_evidenced"


def test_gap_report_is_a_pure_function_of_its_inputs():
    texts = [(GRIEVANCE_IN_PLACE, {}, {"6": 0.9}), (REMEDY_CASE, {"8": 0.8}, {"6": 0.7, "3": 0.6})]
    first, second = score(texts), score(texts)
    assert replace(first, timings={}) == replace(second, timings={})


POLICY_PLANNED = "We will adopt a human rights policy next year."
POLICY_GUIDED_PLANNED = (
    "We will adopt a human rights policy in line with the UN Guiding Principles next year."
)
POLICY_ADOPTED = "Our human rights policy was approved by the board and published on our website."


def indicator(report, indicator_id: str):
    return next(i for i in report.indicators if i.id == indicator_id)


def test_reasons_name_the_evidence_type_and_what_met_lacks():
    planned = indicator(score([(POLICY_GUIDED_PLANNED, {}, {"1": 0.9})]), "dd1.policy")
    assert planned.decision == "partly" and planned.missing_for_met == ("evidence_type",)
    assert planned.reason.startswith("Partly: page 1 has a commitment")
    assert "a commitment only: no action described" in planned.reason
    in_place = score([(GRIEVANCE_IN_PLACE, {}, {"6": 0.9})])
    met = indicator(in_place, "dd6.open_to_external")
    assert met.decision == "met" and not met.missing_for_met
    assert met.reason.startswith("Met: page 1 has a mention") and "about its suppliers" in met.reason
    missing = indicator(in_place, "dd2.prioritisation")
    assert missing.decision == "not_met" and not missing.evidence
    assert missing.reason.startswith("Not met: no passage") and "prioritised" in missing.reason


def test_the_passage_closest_to_met_ranks_first_and_gives_the_reason():
    # a stronger commitment (misses type and standards) and a weaker adopted policy (misses the standards)
    report = score([(POLICY_PLANNED, {}, {"1": 0.95}), (POLICY_ADOPTED, {}, {"1": 0.6})])
    policy = indicator(report, "dd1.policy")
    assert policy.decision == "partly" and [e.page for e in policy.evidence] == [2, 1]
    assert policy.missing_for_met == ("cues",)
    assert "does not name a policy together with a standard" in policy.reason and "page 2" in policy.reason


def test_profile_margin_near_and_far_from_each_threshold():
    deep = [ladder(str(i), 4 if i <= 3 else 0) for i in range(1, 18)]
    full = dict.fromkeys(DD.label_ids, 60)
    points = load_on_the_line(S.corpora_dir)["points"]
    at_dd = profile_margin(80, deep, DD_ENGAGED[0], full, True, points)
    assert (at_dd.boundary, at_dd.points_from_boundary, at_dd.on_the_line) == ("due_diligence_score", 1, True)
    assert at_dd.would_be == "sdg-only" and at_dd.crossed == DD_ENGAGED[0] - 1
    below_sdg = profile_margin(SDG_ENGAGED[0] - 2, deep, 80, full, True, points)
    assert (below_sdg.boundary, below_sdg.points_from_boundary) == ("sdg_score", 2)
    assert below_sdg.on_the_line and below_sdg.would_be == "integrated"
    far = profile_margin(90, deep, 90, full, True, points)
    assert not far.on_the_line and far.points_from_boundary > points
    # a report that never names the SDGs cannot become integrated by its SDG score: only the other
    # threshold changes its profile
    unnamed = profile_margin(SDG_ENGAGED[0], deep, 80, full, False, points)
    assert unnamed.boundary == "due_diligence_score" and not unnamed.on_the_line
