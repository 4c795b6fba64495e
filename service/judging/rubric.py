"""The due-diligence rubric: each indicator of corpora/dd_rubric.yaml decided met / partly / not met.

A step's score is its indicator points (met 1, partly 0.5) over its indicators, so it says which parts of
the OECD step a report evidences, not how much text the classifier gave the step: one clear passage is
enough for an indicator, and a hundred more passages of the same kind change nothing. The decision reads
the due-diligence classifier's steps, the evidence type (service/judging/substance.py), the passage tags
(service/judging/dd_tags.py) and the rubric's cue patterns; negative evidence (service/judging/negative.py)
never counts.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from service.judging.coverage import Substance, evidence_of
from service.judging.dd_tags import PassageTags
from service.judging.substance import compile_any
from service.records import Decision, Evidence, IndicatorResult, LabelScores, Passage

EVIDENCE_PER_INDICATOR = 3
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
    any_step: bool
    cues: re.Pattern[str]
    met_cues: re.Pattern[str] | None
    met_types: frozenset[str]
    met_issues: int
    met_positions: frozenset[str]
    met_case: bool
    advice: str
    advice_nl: str


@dataclass(frozen=True)
class Rubric:
    """All indicators in file order, and the points per decision."""

    indicators: tuple[Indicator, ...]
    points: dict[str, float]

    def of_step(self, step: str) -> tuple[Indicator, ...]:
        return tuple(i for i in self.indicators if i.step == step)


def _text(value: Any) -> str:
    return " ".join(str(value or "").split())


def _indicator(raw: dict[str, Any]) -> Indicator:
    return Indicator(
        id=raw["id"],
        step=str(raw["step"]),
        name=raw["name"],
        name_nl=raw.get("name_nl", ""),
        steps=tuple(str(s) for s in raw["steps"]),
        any_step=bool(raw.get("any_step", False)),
        cues=compile_any(raw["cues"]),
        met_cues=compile_any(raw["met_cues"]) if raw.get("met_cues") else None,
        met_types=frozenset(raw.get("met_types", DEFAULT_MET_TYPES)),
        met_issues=int(raw.get("met_issues", 0)),
        met_positions=frozenset(raw.get("met_positions", ())),
        met_case=bool(raw.get("met_case", False)),
        advice=_text(raw.get("advice")),
        advice_nl=_text(raw.get("advice_nl")),
    )


@lru_cache(maxsize=2)
def load_rubric(corpora_dir: Path) -> Rubric:
    """Read corpora/dd_rubric.yaml once."""
    raw = yaml.safe_load((corpora_dir / "dd_rubric.yaml").read_text(encoding="utf-8"))
    indicators = tuple(_indicator(i) for i in raw["indicators"])
    return Rubric(indicators, {k: float(v) for k, v in raw["points"].items()})


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
    """Readings of passages that may evidence the indicator: its steps, its cues, not negative."""
    found = []
    for reading in data.dd_scores:
        if not reading.labels or reading.passage_id in data.excluded:
            continue
        if not indicator.any_step and not set(reading.labels) & set(indicator.steps):
            continue
        if indicator.cues.search(data.passages[reading.passage_id].text):
            found.append(reading)
    return found


def is_met(indicator: Indicator, reading: LabelScores, data: RubricInput) -> bool:
    """Whether one candidate passage meets the indicator (the `met_*` conditions of the rubric file)."""
    text = data.passages[reading.passage_id].text
    tags = data.substance.tags.get(reading.passage_id, NO_TAGS)
    specific = [i for i in tags.issues if i not in data.general_issues]
    return (
        data.substance.types.get(reading.passage_id, "") in indicator.met_types
        and (indicator.met_cues is None or bool(indicator.met_cues.search(text)))
        and len(specific) >= indicator.met_issues
        and (not indicator.met_positions or bool(indicator.met_positions & set(tags.value_chain)))
        and (not indicator.met_case or tags.concrete_case)
    )


def _strength(indicator: Indicator, reading: LabelScores) -> float:
    steps = [reading.scores.get(s, 0.0) for s in indicator.steps if s in reading.labels]
    return max(steps or [max(reading.scores.values(), default=0.0)])


def decide(indicator: Indicator, data: RubricInput, rubric: Rubric) -> IndicatorResult:
    """One indicator's decision, with the passages behind it (those that meet it first)."""
    found = candidates(indicator, data)
    met = [r for r in found if is_met(indicator, r, data)]
    decision: Decision = "met" if met else "partly" if found else "not_met"
    ranked = sorted(met, key=lambda r: -_strength(indicator, r))
    ranked += sorted((r for r in found if r not in met), key=lambda r: -_strength(indicator, r))
    evidence = tuple(_evidence(indicator, r, data) for r in ranked[:EVIDENCE_PER_INDICATOR])
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
    )


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
