"""The scoring stage: passages and their readings -> GapReport, a pure function of its inputs.

Nothing here embeds or classifies, so a stored reading can be scored again (eval/eval_rubric.py does,
for every shared report) after the rubric changes. The order: evidence types and tags per passage;
negative evidence, left out of everything; the due-diligence rubric and the SDG ladder; coverage (the
evidence per goal and step, with the rubric's score); profile, regulatory views and advice.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from service.frameworks import load_framework, load_on_the_line, load_profiles
from service.judging.coverage import ADDRESSED_AT, Substance, concrete_cases, framework_coverage
from service.judging.dd_tags import PassageTags, load_tag_rules, passage_tags
from service.judging.gap import (
    dd_summary,
    follow_through_advice,
    issue_follow_through,
    profile_margin,
    recommendations,
    report_profile,
    value_chain_gap,
)
from service.judging.negative import load_negative_rules, negative_evidence, shown_gaps
from service.judging.rubric import RubricInput, assess, load_rubric, step_scores
from service.judging.sdg_ladder import ladder_input, load_ladder, refers_to_sdgs, sdg_ladders, sdg_summary
from service.judging.substance import evidence_type, learned_types, load_substance_rules, substance_advice
from service.judging.views import regulatory_views
from service.records import Document, GapReport, LabelScores, NegativeEvidence, Passage
from service.settings import Settings


@dataclass(frozen=True)
class TextReadings:
    """What the rules read in each passage's own words: its evidence type and its tags, by passage id.

    They need no model, so the pipeline reads them while the encoder works (pipeline.analyze_documents).
    """

    types: dict[str, str]
    tags: dict[str, PassageTags]


def text_readings(passages: Sequence[Passage], corpora: Path) -> TextReadings:
    """Evidence types and due-diligence tags of passages (regular expressions from corpora/)."""
    rules, tag_rules = load_substance_rules(corpora), load_tag_rules(corpora)
    types: dict[str, str] = {p.id: evidence_type(p.text, rules) for p in passages}
    return TextReadings(types, {p.id: passage_tags(p.text, tag_rules, rules) for p in passages})


def rubric_input(
    passages: Sequence[Passage],
    sdg_scores: Sequence[LabelScores],
    dd_scores: Sequence[LabelScores],
    corpora: Path,
    readings: TextReadings | None = None,
    negatives: Sequence[NegativeEvidence] | None = None,
) -> RubricInput:
    """What the rubric reads about a report.

    The learned evidence types win over the rules' text readings; negative evidence is never a candidate.
    ``readings`` and ``negatives`` are made here unless given (gap_report has them for its other parts).
    """
    readings = readings or text_readings(passages, corpora)
    if negatives is None:
        negatives = negative_evidence(passages, (sdg_scores, dd_scores), load_negative_rules(corpora))
    rules, tag_rules = load_substance_rules(corpora), load_tag_rules(corpora)
    types = {**readings.types, **learned_types(dd_scores)}
    substance = Substance(types, rules.weights, readings.tags)
    excluded = frozenset(n.passage_id for n in negatives)
    by_id = {p.id: p for p in passages}
    return RubricInput(by_id, tuple(dd_scores), substance, excluded, frozenset(tag_rules.families))


def gap_report(
    document: Document,
    passages: Sequence[Passage],
    sdg_scores: Sequence[LabelScores],
    dd_scores: Sequence[LabelScores],
    settings: Settings,
    readings: TextReadings | None = None,
) -> GapReport:
    """Rubric scores on both sides, the evidence behind them, the gaps, the profile and the advice.

    ``readings``: the passages' text readings when they were made already (else they are made here).
    """
    corpora = settings.corpora_dir
    sdg_fw, dd_fw = load_framework("sdg", corpora), load_framework("oecd_dd", corpora)
    rules, tag_rules = load_substance_rules(corpora), load_tag_rules(corpora)
    readings = readings or text_readings(passages, corpora)
    negative_rules = load_negative_rules(corpora)
    negatives = negative_evidence(passages, (sdg_scores, dd_scores), negative_rules)
    data = rubric_input(passages, sdg_scores, dd_scores, corpora, readings, negatives)
    substance, excluded, tags = data.substance, data.excluded, readings.tags
    types = substance.types
    indicators = assess(load_rubric(corpora), data)
    steps = step_scores(indicators, dd_fw.label_ids)
    ladder = load_ladder(corpora, sdg_fw.label_ids)
    ladders = sdg_ladders(sdg_fw, ladder, ladder_input(passages, sdg_scores, substance, excluded, ladder))
    goal_scores = {g.goal: g.score for g in ladders}
    limit = settings.evidence_per_label
    sdg = framework_coverage(sdg_fw, passages, sdg_scores, substance, goal_scores, excluded, limit)
    dd = framework_coverage(dd_fw, passages, dd_scores, substance, steps, excluded, limit)
    sdg_score, dd_score = sdg_summary(ladders), dd_summary(steps)
    refers = refers_to_sdgs(passages, ladder)
    profile = report_profile(sdg_score, ladders, dd_score, steps, refers)
    margin = profile_margin(sdg_score, ladders, dd_score, steps, refers, load_on_the_line(corpora)["points"])
    dd_evidence = [s for s in dd_scores if s.labels and s.passage_id not in excluded]
    issues = issue_follow_through(dd_evidence, passages, tag_rules, tags)
    positions = dict(Counter(v for s in dd_evidence for v in tags[s.passage_id].value_chain))
    advice = recommendations(profile, indicators, load_profiles(corpora))
    advice += tuple(follow_through_advice(issues, tag_rules))
    sdg_evidence = [s for s in sdg_scores if s.labels and s.passage_id not in excluded]
    sdg_substance = dict(Counter(types[s.passage_id] for s in sdg_evidence))
    extra = (value_chain_gap(positions, tag_rules), substance_advice(sdg_substance, rules))
    advice += tuple(a for a in extra if a)
    return GapReport(
        document_sha256=document.sha256,
        filename=document.filename,
        language=document.language,
        pages=document.page_count,
        passages=len(passages),
        sdg=sdg,
        due_diligence=dd,
        sdg_score=sdg_score,
        due_diligence_score=dd_score,
        profile=profile,
        missing_sdgs=tuple(g.goal for g in ladders if not g.engaged),
        missing_steps=tuple(step for step, score in steps.items() if score < ADDRESSED_AT),
        recommendations=advice,
        sdg_substance=sdg_substance,
        dd_substance=dict(Counter(types[s.passage_id] for s in dd_evidence)),
        salient_issues=issues,
        value_chain=positions,
        concrete_cases=concrete_cases(dd_evidence, passages, substance, limit),
        indicators=indicators,
        sdg_ladder=ladders,
        negative_evidence=shown_gaps(negatives, negative_rules),
        regulatory_views=regulatory_views(indicators, corpora),
        profile_margin=margin,
    )
