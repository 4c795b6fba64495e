"""Coverage: per-passage label scores -> a 0-100 coverage score per SDG and per OECD step.

coverage = 100 * (0.7 * depth + 0.3 * breadth), where
  depth   = 1 - exp(-mass / 3); mass is the sum over the passages assigned to the label of
            score x substance weight (result 1.0, action 1.0, commitment 0.6, mention 0.3; see
            corpora/evidence_types.yaml), so three confident passages reporting results give ~63%
            depth and ten give ~96%, while ten bare mentions give ~59%;
  breadth = share of the label's parts (SDG targets, OECD sub-elements) touched by its evidence,
            counting three distinct parts (or all of them, if fewer) as full breadth.
A label counts as addressed at coverage >= ADDRESSED_AT.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from service.dd_tags import PassageTags
from service.frameworks import Framework, Label
from service.records import Coverage, Evidence, LabelScores, Passage

ADDRESSED_AT = 25
DEPTH_SATURATION = 3.0
FULL_BREADTH_PARTS = 3


def coverage_score(mass: float, parts_touched: int, parts_total: int) -> int:
    """The formula in the module docstring, as one small pure function."""
    depth = 1.0 - math.exp(-mass / DEPTH_SATURATION)
    needed = min(FULL_BREADTH_PARTS, parts_total) or 1
    breadth = min(1.0, parts_touched / needed)
    return round(100 * (0.7 * depth + 0.3 * breadth))


@dataclass(frozen=True)
class Substance:
    """Evidence type per passage id, and how much each type counts toward depth.

    ``tags`` (issues, value chain, concrete case per passage id) do not change the score; they travel
    with the evidence so that a reader sees what each passage is about.
    """

    types: dict[str, str]
    weights: dict[str, float]
    tags: dict[str, PassageTags] = field(default_factory=dict)

    def weight(self, passage_id: str) -> float:
        return self.weights.get(self.types.get(passage_id, ""), 1.0)


def label_coverage(
    framework_id: str,
    label: Label,
    passages: dict[str, Passage],
    scores: Sequence[LabelScores],
    evidence_limit: int,
    substance: Substance,
) -> Coverage:
    """Coverage of one label, with its strongest evidence passages first (results before mentions)."""
    supporting = sorted(
        (s for s in scores if label.id in s.labels),
        key=lambda s: -s.scores[label.id] * substance.weight(s.passage_id),
    )
    own_parts = {part.id for part in label.parts}
    touched = sorted({p for s in supporting for p in s.parts if p in own_parts}, key=_part_order)
    mass = sum(s.scores[label.id] * substance.weight(s.passage_id) for s in supporting)
    score = coverage_score(mass, len(touched), len(label.parts))
    evidence = tuple(
        evidence_of(
            passages[s.passage_id],
            s.scores[label.id],
            tuple(p for p in s.parts if p in own_parts),
            substance,
        )
        for s in supporting[:evidence_limit]
    )
    missing = tuple(p.id for p in label.parts if p.id not in touched)
    return Coverage(
        framework=framework_id,
        label=label.id,
        name=label.name,
        score=score,
        addressed=score >= ADDRESSED_AT,
        evidence_count=len(supporting),
        evidence=evidence,
        parts_touched=tuple(touched),
        parts_missing=missing,
        evidence_types=dict(Counter(substance.types.get(s.passage_id, "") for s in supporting)),
    )


def concrete_cases(
    scores: Sequence[LabelScores], passages: Sequence[Passage], substance: Substance, limit: int
) -> tuple[Evidence, ...]:
    """The scored passages that tell a concrete case, strongest reading first."""
    by_id = {p.id: p for p in passages}
    cases = [s for s in scores if s.labels and substance.tags.get(s.passage_id, NO_TAGS).concrete_case]
    cases.sort(key=lambda s: -max(s.scores[label] for label in s.labels))
    return tuple(
        evidence_of(by_id[s.passage_id], max(s.scores[label] for label in s.labels), s.parts, substance)
        for s in cases[:limit]
    )


NO_TAGS = PassageTags((), (), False)


def evidence_of(passage: Passage, score: float, parts: tuple[str, ...], substance: Substance) -> Evidence:
    """A passage as evidence: where it is, how strongly it reads, its type and its tags."""
    tags = substance.tags.get(passage.id, NO_TAGS)
    return Evidence(
        passage_id=passage.id,
        page=passage.page,
        text=passage.text,
        score=score,
        heading=passage.heading,
        parts=parts,
        evidence_type=substance.types.get(passage.id, ""),
        issues=tags.issues,
        value_chain=tags.value_chain,
        concrete_case=tags.concrete_case,
    )


def _part_order(part_id: str) -> tuple[int, str]:
    head, _, tail = part_id.partition(".")
    return (int(head), tail.zfill(3))


def framework_coverage(
    framework: Framework,
    passages: Sequence[Passage],
    scores: Sequence[LabelScores],
    substance: Substance,
    evidence_limit: int = 5,
) -> tuple[Coverage, ...]:
    """Coverage for every label of a framework, in framework order."""
    by_id = {p.id: p for p in passages}
    return tuple(
        label_coverage(framework.id, label, by_id, scores, evidence_limit, substance)
        for label in framework.labels
    )
