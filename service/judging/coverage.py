"""Coverage: the evidence behind each SDG and OECD step, with the score the rubric gave it.

The score itself is decided elsewhere: a step's score is its rubric indicator points
(service/judging/rubric.py) and a goal's score its rung on the SDG ladder (service/judging/sdg_ladder.py),
so neither grows with the amount of text. This module gathers, per label, the passages the classifier
assigned to it (less negative evidence), strongest first, the parts (targets, sub-elements) they touch and
their evidence types.
A label counts as addressed at score >= ADDRESSED_AT.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from service.frameworks import Framework, Label
from service.judging.dd_tags import PassageTags
from service.records import Coverage, Evidence, LabelScores, Passage

ADDRESSED_AT = 25


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
    score: int,
) -> Coverage:
    """Coverage of one label, with its strongest evidence passages first (results before mentions)."""
    supporting = sorted(
        (s for s in scores if label.id in s.labels),
        key=lambda s: -s.scores[label.id] * substance.weight(s.passage_id),
    )
    own_parts = {part.id for part in label.parts}
    touched = sorted({p for s in supporting for p in s.parts if p in own_parts}, key=_part_order)
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
    label_scores: dict[str, int],
    excluded: frozenset[str] = frozenset(),
    evidence_limit: int = 5,
) -> tuple[Coverage, ...]:
    """Coverage for every label of a framework, in framework order; ``excluded`` passages never count."""
    by_id = {p.id: p for p in passages}
    kept = [s for s in scores if s.passage_id not in excluded]
    return tuple(
        label_coverage(framework.id, label, by_id, kept, evidence_limit, substance, label_scores[label.id])
        for label in framework.labels
    )
