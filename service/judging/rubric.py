"""The due-diligence rubric: each indicator of corpora/dd_rubric.yaml decided met / partly / not met.

A step's score is its indicator points (met 1, partly 0.5) over its indicators, so it says which parts of
the OECD step a report evidences, not how much text the classifier gave the step: one clear passage is
enough for an indicator, and a hundred more passages of the same kind change nothing. The decision reads
the due-diligence classifier's steps, the evidence type (service/judging/substance.py), the passage tags
(service/judging/dd_tags.py) and the rubric's cue patterns; negative evidence (service/judging/negative.py)
never counts.
Every decision carries its reason in words (corpora/decision_reasons.yaml): what the best passage is and,
when it is only partly, which `met_*` condition it misses, so a company sees what to add.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from service.judging.coverage import Substance, evidence_of
from service.judging.dd_tags import PassageTags, load_tag_rules
from service.judging.substance import compile_any
from service.records import Decision, Evidence, IndicatorResult, LabelScores, Passage

EVIDENCE_PER_INDICATOR = 3
# evidence types from the most to the least substantive (corpora/evidence_types.yaml)
_TYPE_ORDER = ("result", "action", "commitment", "mention")
DEFAULT_MET_TYPES = ("action", "result")
NO_TAGS = PassageTags((), (), False)


@dataclass(frozen=True)
class Indicator:
    """One indicator as the scorer applies it (the YAML's texts for people stay in the file)."""

    id: str
    step: str
    name: str
    name_nl: str
    steps: tuple[str, ...]
    # the OECD sub-elements it asks about: the learned reader's gate
    parts: tuple[str, ...]
    any_step: bool
    # candidates come from the indicator's cues alone, never from the learned reader (see reads_as)
    cue_gate: bool
    # the step-and-cue gate admits candidates beside the learned reader's (see reads_as)
    cue_admits: bool
    cues: re.Pattern[str]
    met_cues: re.Pattern[str] | None
    met_types: frozenset[str]
    met_issues: int
    met_positions: frozenset[str]
    met_case: bool
    # what even partial evidence must show (`partly_needs`): at least one of these checks (see on_subject)
    partly_needs: tuple[str, ...]
    # the value-chain positions `partly_needs: [value_chain]` accepts (default: `met_positions`)
    partly_positions: frozenset[str]
    advice: str
    advice_nl: str
    # what a reason quotes: the question (not met), what met asks, what `met_cues` look for
    question: str = ""
    met_text: str = ""
    met_cues_name: str = ""
    # a learned sub-element read at this probability admits a candidate even below the reader's threshold
    gate_probability: float = 1.0


@dataclass(frozen=True)
class Rubric:
    """All indicators in file order, the points per decision, and the wording of the reasons."""

    indicators: tuple[Indicator, ...]
    points: dict[str, float]
    reasons: dict[str, Any] = field(default_factory=dict)
    # salient-issue id -> its name, for the issues a reason names (specific issues only)
    issue_names: dict[str, str] = field(default_factory=dict)

    def of_step(self, step: str) -> tuple[Indicator, ...]:
        return tuple(i for i in self.indicators if i.step == step)


def _text(value: Any) -> str:
    return " ".join(str(value or "").split())


# what a `partly_needs` entry may name (on_subject)
PARTLY_CHECKS = ("cues", "value_chain", "an_issue", "concrete_case")


def _indicator(raw: dict[str, Any], gate_probability: float = 1.0) -> Indicator:
    unknown = set(raw.get("partly_needs", ())) - set(PARTLY_CHECKS)
    if unknown:
        known = ", ".join(PARTLY_CHECKS)
        raise ValueError(f"{raw['id']}: unknown partly_needs {sorted(unknown)}; known: {known}")
    return Indicator(
        id=raw["id"],
        step=str(raw["step"]),
        name=raw["name"],
        name_nl=raw.get("name_nl", ""),
        steps=tuple(str(s) for s in raw["steps"]),
        parts=tuple(str(p) for p in raw["parts"]),
        any_step=bool(raw.get("any_step", False)),
        cue_gate=bool(raw.get("cue_gate", False)),
        cue_admits=bool(raw.get("cue_admits", False)),
        cues=compile_any(raw["cues"]),
        met_cues=compile_any(raw["met_cues"]) if raw.get("met_cues") else None,
        met_types=frozenset(raw.get("met_types", DEFAULT_MET_TYPES)),
        met_issues=int(raw.get("met_issues", 0)),
        met_positions=frozenset(raw.get("met_positions", ())),
        met_case=bool(raw.get("met_case", False)),
        partly_needs=tuple(raw.get("partly_needs", ())),
        partly_positions=frozenset(raw.get("partly_positions", raw.get("met_positions", ()))),
        advice=_text(raw.get("advice")),
        advice_nl=_text(raw.get("advice_nl")),
        question=_text(raw.get("question")),
        met_text=_text(raw.get("met")),
        met_cues_name=_text(raw.get("met_cues_name")),
        gate_probability=gate_probability,
    )


@lru_cache(maxsize=2)
def load_rubric(corpora_dir: Path) -> Rubric:
    """Read corpora/dd_rubric.yaml and the reasons' wording (corpora/decision_reasons.yaml) once."""
    raw = yaml.safe_load((corpora_dir / "dd_rubric.yaml").read_text(encoding="utf-8"))
    reasons = yaml.safe_load((corpora_dir / "decision_reasons.yaml").read_text(encoding="utf-8"))
    tags = load_tag_rules(corpora_dir)
    issues = {r.id: r.name for r in tags.issues if r.id not in tags.families}
    gate = float(raw.get("gate_probability", 1.0))
    indicators = tuple(_indicator(i, gate) for i in raw["indicators"])
    return Rubric(indicators, {k: float(v) for k, v in raw["points"].items()}, reasons, issues)


@dataclass(frozen=True)
class RubricInput:
    """What the rubric reads about a report: passages, due-diligence readings, substance, exclusions."""

    passages: dict[str, Passage]
    dd_scores: tuple[LabelScores, ...]
    substance: Substance
    # negative evidence: never a candidate
    excluded: frozenset[str]
    # issue ids that name a whole family ("human rights") rather than a specific issue
    general_issues: frozenset[str]


def candidates(indicator: Indicator, data: RubricInput) -> list[LabelScores]:
    """Readings of passages that may evidence the indicator (``is_candidate``)."""
    return [reading for reading in data.dd_scores if is_candidate(indicator, reading, data)]


def is_candidate(indicator: Indicator, reading: LabelScores, data: RubricInput) -> bool:
    """Whether one passage may evidence the indicator: ``reads_as``, ``on_subject``, not negative."""
    return (
        reading.passage_id not in data.excluded
        and reads_as(indicator, reading, data.passages[reading.passage_id].text)
        and on_subject(indicator, reading, data)
    )


def on_subject(indicator: Indicator, reading: LabelScores, data: RubricInput) -> bool:
    """Whether the passage shows what even the indicator's `partly` asks for (its ``partly_needs``).

    Where the rubric's `partly` text still names a subject (the value chain beyond tier 1 for *beyond tier
    1*; risks in general or one issue for *salient issues*), a passage without it is no evidence at all, not
    partial evidence: analysts called 45 of the 50 beyond-tier-1 candidates reaching no position beyond
    tier 1 `no`, and 29 of the 31 salient-issues candidates with neither risk wording nor an issue
    (corpora/indicator_labels/analyst_pairs.jsonl, train reports; eval/RESULTS.md). Not for *remedy
    provided*: its `met_cues` and cases would drop half of what the AIMS experts count as remediation.
    The checks: ``cues`` (the `met_cues`), ``value_chain`` (a position of ``partly_positions``),
    ``an_issue`` (any issue named, a whole family such as "human rights" included), ``concrete_case``.
    """
    if not indicator.partly_needs:
        return True
    text = data.passages[reading.passage_id].text
    tags = data.substance.tags.get(reading.passage_id, NO_TAGS)
    checks = {
        "cues": indicator.met_cues is not None and bool(indicator.met_cues.search(text)),
        "value_chain": bool(indicator.partly_positions & set(tags.value_chain)),
        "an_issue": bool(tags.issues),
        "concrete_case": tags.concrete_case,
    }
    return any(checks[need] for need in indicator.partly_needs)


def reads_as(indicator: Indicator, reading: LabelScores, text: str) -> bool:
    """Whether a passage may evidence the indicator.

    With the learned sub-element reader (classifiers/parts.py): it reads the passage as one of the
    indicator's sub-elements, at the reader's threshold for it or at the rubric's ``gate_probability``,
    whichever is lower (the reader's thresholds are its best F1 for naming a passage's sub-elements; a
    candidate only needs to be likely enough to be ranked and checked against the `met` conditions).
    Without it (the zero-shot baseline, readings stored before it existed, or an indicator whose
    sub-elements had too few labelled examples to learn): ``step_and_cue``. An indicator with ``cue_gate``
    asks for something narrower than its sub-element that the reader does not read (5.1 was learned from
    reporting frames; analysts rejected 63 of its 65 candidates as supply-chain transparency and 51 of 58
    as due-diligence reporting): its cues alone decide, whatever step the passage reads as, if any (a
    duty-of-vigilance paragraph naming the risks found reads as no step). With ``cue_admits``
    ``step_and_cue`` admits candidates beside the reader's (no indicator uses it now; rubric files of
    earlier releases did, and eval/readings.py scores them).
    """
    if indicator.cue_gate:
        return bool(indicator.cues.search(text))
    if not learned_for(indicator, reading):
        return step_and_cue(indicator, reading, text)
    read = learned_parts(reading) | {
        part for part, score in reading.part_scores.items() if score >= indicator.gate_probability
    }
    return bool(read & set(indicator.parts)) or (
        indicator.cue_admits and step_and_cue(indicator, reading, text)
    )


def step_and_cue(indicator: Indicator, reading: LabelScores, text: str) -> bool:
    """The gate before the learned readers: one of the indicator's steps (any with ``any_step``) and a cue."""
    if not reading.labels:
        return False
    if not indicator.any_step and not set(reading.labels) & set(indicator.steps):
        return False
    return bool(indicator.cues.search(text))


def unmet(indicator: Indicator, reading: LabelScores, data: RubricInput) -> tuple[str, ...]:
    """The `met_*` conditions of the rubric file that one candidate passage fails (none: it meets it).

    Named as in corpora/decision_reasons.yaml's `missing`: evidence_type, cues, issues, value_chain,
    concrete_case.
    """
    text = data.passages[reading.passage_id].text
    tags = data.substance.tags.get(reading.passage_id, NO_TAGS)
    specific = [i for i in tags.issues if i not in data.general_issues]
    checks = (
        ("evidence_type", data.substance.types.get(reading.passage_id, "") in indicator.met_types),
        ("cues", indicator.met_cues is None or bool(indicator.met_cues.search(text))),
        ("issues", len(specific) >= indicator.met_issues),
        ("value_chain", not indicator.met_positions or bool(indicator.met_positions & set(tags.value_chain))),
        ("concrete_case", not indicator.met_case or tags.concrete_case),
    )
    return tuple(name for name, passed in checks if not passed)


def is_met(indicator: Indicator, reading: LabelScores, data: RubricInput) -> bool:
    """Whether one candidate passage meets the indicator (the `met_*` conditions of the rubric file)."""
    return not unmet(indicator, reading, data)


def learned_parts(reading: LabelScores) -> set[str]:
    """The sub-elements the learned reader reads the passage as (not those attributed by similarity)."""
    return {part for part in reading.parts if part in reading.part_scores}


def learned_for(indicator: Indicator, reading: LabelScores) -> bool:
    """Whether the learned sub-element reader speaks to one of the indicator's sub-elements."""
    return any(part in reading.part_scores for part in indicator.parts)


def _strength(indicator: Indicator, reading: LabelScores) -> float:
    """How strongly the passage reads as the indicator: its best sub-element, else its best step."""
    if learned_for(indicator, reading):
        return max(reading.part_scores.get(p, 0.0) for p in indicator.parts)
    steps = [reading.scores.get(s, 0.0) for s in indicator.steps if s in reading.labels]
    return max(steps or [max(reading.scores.values(), default=0.0)])


def _rank(indicator: Indicator, reading: LabelScores, misses: tuple[str, ...], data: RubricInput) -> tuple:
    """Best evidence first: fewest missing `met_*` conditions, then cue words, then the reader's strength.

    The indicator's cue words are a feature here, not a gate: among equally complete passages, one that
    uses the indicator's vocabulary ranks first.
    """
    cued = bool(indicator.cues.search(data.passages[reading.passage_id].text))
    return (len(misses), not cued, -_strength(indicator, reading))


def decide(indicator: Indicator, data: RubricInput, rubric: Rubric) -> IndicatorResult:
    """One indicator's decision, with the passages behind it and the reason in words.

    The best evidence ranks first: passages that meet the indicator, then those that miss the fewest
    `met_*` conditions, each by classifier strength; the first one is the passage the reason names.
    """
    found = candidates(indicator, data)
    misses = {r.passage_id: unmet(indicator, r, data) for r in found}
    ranked = sorted(found, key=lambda r: _rank(indicator, r, misses[r.passage_id], data))
    decision: Decision = "not_met" if not ranked else "partly" if misses[ranked[0].passage_id] else "met"
    evidence = tuple(_evidence(indicator, r, data) for r in ranked[:EVIDENCE_PER_INDICATOR])
    missing = misses[ranked[0].passage_id] if ranked else ()
    keep_advice = decision != "met"
    return IndicatorResult(
        id=indicator.id,
        step=indicator.step,
        name=indicator.name,
        decision=decision,
        points=rubric.points[decision],
        evidence=evidence,
        advice=indicator.advice if keep_advice else "",
        advice_nl=indicator.advice_nl if keep_advice else "",
        name_nl=indicator.name_nl,
        reason=reason(indicator, decision, evidence[:1], missing, rubric),
        missing_for_met=missing,
    )


def reason(
    indicator: Indicator,
    decision: Decision,
    best: tuple[Evidence, ...],
    missing: Sequence[str],
    rubric: Rubric,
) -> str:
    """Why the indicator got its decision: the best passage (type, issues, whose activity), what it lacks."""
    words = rubric.reasons
    if not best:
        return str(words["decisions"]["not_met"]).format(question=indicator.question or indicator.name)
    evidence = best[0]
    issues = [rubric.issue_names[i].lower() for i in evidence.issues if i in rubric.issue_names]
    issues = issues[: words["most_issues"]]
    positions = [words["value_chain"][v] for v in evidence.value_chain if v in words["value_chain"]]
    values = {
        "evidence": words["evidence"].get(evidence.evidence_type, words["evidence"][""]),
        "on": words["on_issues"].format(issues=_listed(issues, words["and"])) if issues else "",
        "page": evidence.page,
        "about": words["about"].format(positions=_listed(positions, words["and"])) if positions else "",
        "met": indicator.met_text,
        "missing": "; ".join(_missing(indicator, evidence, condition, rubric) for condition in missing),
    }
    return str(words["decisions"][decision]).format(**values)


def _missing(indicator: Indicator, evidence: Evidence, condition: str, rubric: Rubric) -> str:
    """One clause of a partly reason: the `met_*` condition the best passage fails, in words."""
    words = rubric.reasons
    clauses = words["missing"]
    if condition == "evidence_type":
        types = sorted(indicator.met_types, key=_TYPE_ORDER.index)
        wanted = _listed([words["wanted"][t] for t in types], words["or"])
        only = words["only"].get(evidence.evidence_type, words["only"][""])
        return str(clauses["evidence_type"]).format(only=only, wanted=wanted)
    if condition == "cues":
        if indicator.met_cues_name:
            return str(clauses["cues"]).format(met_cues_name=indicator.met_cues_name)
        return str(clauses["cues_fallback"]).format(met=indicator.met_text)
    if condition == "issues":
        found = sum(i in rubric.issue_names for i in evidence.issues)
        return str(clauses["issues"]).format(found=found, needed=indicator.met_issues)
    if condition == "value_chain":
        positions = [words["value_chain"][p] for p in sorted(indicator.met_positions)]
        return str(clauses["value_chain"]).format(positions=_listed(positions, words["or"]))
    return str(clauses[condition])


def _listed(items: Sequence[str], last: str) -> str:
    """``a, b and c`` (with ``last`` = "and"); empty for no items."""
    if len(items) < 2:
        return "".join(items)
    return f"{', '.join(items[:-1])} {last} {items[-1]}"


def _evidence(indicator: Indicator, reading: LabelScores, data: RubricInput) -> Evidence:
    return evidence_of(
        data.passages[reading.passage_id], _strength(indicator, reading), reading.parts, data.substance
    )


def assess(rubric: Rubric, data: RubricInput) -> tuple[IndicatorResult, ...]:
    """Every indicator of the rubric, in file order (step by step)."""
    return tuple(decide(indicator, data, rubric) for indicator in rubric.indicators)


def step_scores(results: Sequence[IndicatorResult], steps: Sequence[str]) -> dict[str, int]:
    """Per step, 100 x its indicator points over its number of indicators."""
    scores = {}
    for step in steps:
        own = [r.points for r in results if r.step == step]
        scores[step] = round(100 * sum(own) / len(own)) if own else 0
    return scores
