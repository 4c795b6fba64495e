"""The SDG ladder: per goal, how deep a report goes (corpora/sdg_ladder.yaml).

mentioned -> commitment or action -> target or KPI -> result with a figure -> tied to a UN target. A goal's
score is its rung, so a report that repeats the same kind of statement on a goal a hundred times scores
as one that says it once; the SDG score averages the goals a report engages with, so claiming more goals
without depth lowers it. Logo strips and lists of goals are mentions, whatever their wording.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from service.frameworks import Framework
from service.judging.coverage import Substance, evidence_of
from service.judging.substance import compile_any
from service.records import Evidence, GoalLadder, LabelScores, Passage

TOP_LEVEL = 5


@dataclass(frozen=True)
class Rung:
    """One rung: its level, the evidence types that can reach it, and optional cue patterns."""

    id: str
    level: int
    name: str
    name_nl: str
    types: frozenset[str]
    # the types a passage needs when it does not name the goal (default: ``types``)
    unnamed_types: frozenset[str]
    cues: re.Pattern[str] | None
    # a passage matching these never reaches the rung (a target is no result)
    not_cues: re.Pattern[str] | None
    # per goal: the pattern of a reference to one of its UN targets (the top rung only)
    target_reference: dict[str, re.Pattern[str]]
    needs_rung: str


@dataclass(frozen=True)
class Ladder:
    """The rungs, how a goal is named outright, and the advice per rung."""

    rungs: tuple[Rung, ...]
    naming: dict[str, re.Pattern[str]]
    list_from_goals: int
    engaged_from: int
    # the least classifier score a passage needs to count for a goal (unless it names the goal)
    min_score: float
    framework_naming: re.Pattern[str]
    next_step: dict[str, dict[str, str]]


def _per_goal(patterns: Sequence[str], goals: Sequence[str]) -> dict[str, re.Pattern[str]]:
    return {g: compile_any([p.replace("{goal}", g) for p in patterns]) for g in goals}


def _texts(by_language: dict[str, str]) -> dict[str, str]:
    return {language: " ".join(text.split()) for language, text in by_language.items()}


def _rung(raw: dict[str, Any], goals: Sequence[str]) -> Rung:
    reference = raw.get("target_reference")
    return Rung(
        id=raw["id"],
        level=int(raw["level"]),
        name=raw["name"],
        name_nl=raw.get("name_nl", ""),
        types=frozenset(raw["types"]),
        unnamed_types=frozenset(raw.get("unnamed_types", raw["types"])),
        cues=compile_any(raw["cues"]) if raw.get("cues") else None,
        not_cues=compile_any(raw["not_cues"]) if raw.get("not_cues") else None,
        target_reference=_per_goal([reference], goals) if reference else {},
        needs_rung=raw.get("needs_rung", ""),
    )


@lru_cache(maxsize=2)
def load_ladder(corpora_dir: Path, goals: tuple[str, ...]) -> Ladder:
    """Read corpora/sdg_ladder.yaml once, with its goal patterns filled in for ``goals``."""
    raw = yaml.safe_load((corpora_dir / "sdg_ladder.yaml").read_text(encoding="utf-8"))
    rungs = tuple(sorted((_rung(r, goals) for r in raw["rungs"]), key=lambda r: r.level))
    return Ladder(
        rungs=rungs,
        naming=_per_goal(raw["naming"], goals),
        list_from_goals=int(raw["list_from_goals"]),
        engaged_from=int(raw["engaged_from"]),
        min_score=float(raw["min_score"]),
        framework_naming=compile_any(raw["framework_naming"]),
        next_step={rung: _texts(v) for rung, v in raw["next_step"].items()},
    )


def named_goals(text: str, ladder: Ladder) -> tuple[str, ...]:
    """The goals a passage names outright ("SDG 13", "Goal 8")."""
    return tuple(goal for goal, pattern in ladder.naming.items() if pattern.search(text))


@dataclass(frozen=True)
class LadderInput:
    """What the ladder reads: passages, SDG readings, substance, and negative evidence to leave out."""

    passages: dict[str, Passage]
    sdg_scores: tuple[LabelScores, ...]
    substance: Substance
    excluded: frozenset[str]
    # passage id -> the goals it names outright; passages naming so many goals that they are a list
    named: dict[str, tuple[str, ...]]
    lists: frozenset[str]


def ladder_input(
    passages: Sequence[Passage],
    sdg_scores: Sequence[LabelScores],
    substance: Substance,
    excluded: frozenset[str],
    ladder: Ladder,
) -> LadderInput:
    """The ladder's view of a report; goal naming is found once for all goals."""
    named = {p.id: goals for p in passages if (goals := named_goals(p.text, ladder))}
    lists = frozenset(pid for pid, goals in named.items() if len(goals) >= ladder.list_from_goals)
    by_id = {p.id: p for p in passages}
    return LadderInput(by_id, tuple(sdg_scores), substance, excluded, named, lists)


def _reaches(rung: Rung, goal: str, text: str, kind: str, in_list: bool, named: bool) -> bool:
    """Whether one passage reaches a rung; a passage in a list of goals is a mention at most."""
    if rung.level > 1 and in_list:
        return False
    if kind not in (rung.types if named else rung.unnamed_types):
        return False
    if kind not in rung.types or (rung.cues is not None and not rung.cues.search(text)):
        return False
    if rung.not_cues is not None and rung.not_cues.search(text):
        return False
    reference = rung.target_reference.get(goal)
    return reference is None or bool(reference.search(text))


def _climb(goal: str, ladder: Ladder, data: LadderInput) -> dict[str, Evidence]:
    """Per rung the goal reaches, the strongest passage that reaches it."""
    readings = {
        r.passage_id: r for r in data.sdg_scores if goal in r.labels and r.scores[goal] >= ladder.min_score
    }
    ids = [
        pid
        for pid in data.passages
        if (pid in readings or goal in data.named.get(pid, ())) and pid not in data.excluded
    ]
    ids.sort(key=lambda p: -_score(readings.get(p), goal))
    evidence: dict[str, Evidence] = {}
    for rung in ladder.rungs:
        if rung.needs_rung and rung.needs_rung not in evidence:
            continue
        for pid in ids:
            passage, kind = data.passages[pid], data.substance.types.get(pid, "mention")
            if _reaches(rung, goal, passage.text, kind, pid in data.lists, goal in data.named.get(pid, ())):
                parts = readings[pid].parts if pid in readings else ()
                score = _score(readings.get(pid), goal)
                evidence[rung.id] = evidence_of(passage, score, parts, data.substance)
                break
    return evidence


def goal_ladder(goal: str, name: str, ladder: Ladder, data: LadderInput) -> GoalLadder:
    """The highest rung one goal reaches, with the passage that reached each rung."""
    evidence = _climb(goal, ladder, data)
    reached = [r for r in ladder.rungs if r.id in evidence]
    top = reached[-1] if reached else None
    level = top.level if top else 0
    named = any(goal in goals for pid, goals in data.named.items() if pid not in data.excluded)
    advice = ladder.next_step.get(top.id, {}) if top else {}
    return GoalLadder(
        goal=goal,
        name=name,
        level=level,
        rung=top.id if top else "",
        score=round(100 * level / TOP_LEVEL),
        engaged=level >= ladder.engaged_from or named,
        named=named,
        evidence=evidence,
        next_step=advice.get("en", ""),
        next_step_nl=advice.get("nl", ""),
    )


def _score(reading: LabelScores | None, goal: str) -> float:
    return reading.scores.get(goal, 0.0) if reading else 0.0


def sdg_ladders(framework: Framework, ladder: Ladder, data: LadderInput) -> tuple[GoalLadder, ...]:
    """The ladder of every goal, in framework order."""
    return tuple(goal_ladder(label.id, label.name, ladder, data) for label in framework.labels)


def refers_to_sdgs(passages: Sequence[Passage], ladder: Ladder) -> bool:
    """Whether the report names the SDGs at all (the framework or a goal): only then does it claim goals."""
    return any(ladder.framework_naming.search(p.text) or named_goals(p.text, ladder) for p in passages)


def sdg_summary(ladders: Sequence[GoalLadder]) -> int:
    """Mean goal score over the goals the report engages with (0 when it engages with none)."""
    engaged = [g.score for g in ladders if g.engaged]
    return round(sum(engaged) / len(engaged)) if engaged else 0
