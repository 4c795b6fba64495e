"""Evidence browsing: every stored passage that supports one goal, target or step, best first.

The gap report keeps the few strongest passages per label; a reader who wants to check a score, or
see what a report says on one target, needs all of them. They come from the stored passages and
their label scores, so no model runs here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from service.judging.negative import NegativeRules

Side = Literal["sdg", "oecd_dd"]


@dataclass(frozen=True)
class EvidenceItem:
    """A passage that supports the chosen label, with what a reader needs to check it."""

    passage_id: int
    page: int
    heading: str
    text: str
    score: float
    parts: tuple[str, ...]
    evidence_type: str


class PassageScores(Protocol):
    """What ``label_evidence`` reads of a stored passage (``service.store.PassageRow`` has it)."""

    id: int
    page: int
    heading: str
    text: str
    sdg: dict[str, Any]
    dd: dict[str, Any]
    evidence_type: str


def label_evidence(
    passages: Iterable[PassageScores],
    side: Side,
    label: str,
    part: str,
    limit: int,
    negative: NegativeRules | None = None,
) -> list[EvidenceItem]:
    """Passages assigned ``label`` (and ``part``, when given), by descending score, at most ``limit``.

    With ``negative`` rules, negative evidence ("not material", "not disclosed") is left out, as the
    gap report leaves it out of coverage.
    """
    found = []
    for passage in passages:
        reading = passage.sdg if side == "sdg" else passage.dd
        if label not in reading["labels"] or (part and part not in reading["parts"]):
            continue
        if negative is not None and negative.kind_of(passage.text):
            continue
        # A passage's parts may belong to several labels: show only this label's.
        parts = tuple(p for p in reading["parts"] if p.split(".")[0] == label)
        found.append((float(reading["scores"].get(label, 0.0)), passage, parts))
    found.sort(key=lambda item: (-item[0], item[1].page, item[1].id))
    return [
        EvidenceItem(
            passage.id,
            passage.page,
            passage.heading,
            passage.text,
            round(score, 3),
            parts,
            passage.evidence_type,
        )
        for score, passage, parts in found[:limit]
    ]
