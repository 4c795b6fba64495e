"""Substance: whether a passage is a measured result, an action, a commitment, or a bare mention.

Coverage weighs evidence by this (a report that lists SDG icons should not score like one that
reports what it did). The rules are data in corpora/evidence_types.yaml; this module only applies them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from service.records import EvidenceType, LabelScores, Passage

# The types that say what a company did, as opposed to what it intends or names.
CONCRETE: frozenset[str] = frozenset({"result", "action"})


@dataclass(frozen=True)
class SubstanceRules:
    """Compiled cue patterns and the coverage weight of each evidence type."""

    quantity: re.Pattern[str]
    achieved: re.Pattern[str]
    action: re.Pattern[str]
    commitment: re.Pattern[str]
    weights: dict[str, float]
    advice_when_thin: str = ""
    thin_below: float = 0.5


def compile_any(patterns: Sequence[str]) -> re.Pattern[str]:
    """One case-insensitive pattern that matches where any of ``patterns`` does (rules files in corpora/)."""
    return re.compile("|".join(f"(?:{p})" for p in patterns), re.IGNORECASE)


@lru_cache(maxsize=2)
def load_substance_rules(corpora_dir: Path) -> SubstanceRules:
    """Read corpora/evidence_types.yaml once."""
    raw = yaml.safe_load((corpora_dir / "evidence_types.yaml").read_text(encoding="utf-8"))
    patterns = raw["patterns"]
    return SubstanceRules(
        quantity=compile_any(patterns["quantity"]),
        achieved=compile_any(patterns["achieved"]),
        action=compile_any(patterns["action"]),
        commitment=compile_any(patterns["commitment"]),
        weights={k: float(v) for k, v in raw["weights"].items()},
        advice_when_thin=" ".join(str(raw.get("advice_when_thin", "")).split()),
        thin_below=float(raw.get("thin_below", 0.5)),
    )


def learned_types(readings: Sequence[LabelScores]) -> dict[str, str]:
    """Passage id -> the learned reader's evidence type, for the due-diligence readings that have one."""
    return {r.passage_id: r.evidence_type for r in readings if r.evidence_type}


def passage_types(
    passages: Sequence[Passage], readings: Sequence[LabelScores], rules: SubstanceRules
) -> list[str]:
    """Each passage's evidence type, in order: the learned reader's, else the rules' (stored with it)."""
    learned = learned_types(readings)
    return [learned.get(p.id) or evidence_type(p.text, rules) for p in passages]


def evidence_type(text: str, rules: SubstanceRules) -> EvidenceType:
    """The strongest kind of evidence the text gives; the order is written in the rules file."""
    quantity = bool(rules.quantity.search(text))
    commitment = bool(rules.commitment.search(text))
    if quantity and (rules.achieved.search(text) or not commitment):
        return "result"
    if rules.action.search(text):
        return "action"
    if commitment:
        return "commitment"
    return "mention"


def substance_advice(counts: dict[str, int], rules: SubstanceRules) -> str:
    """The advice for reports whose SDG evidence is mostly commitments and mentions, else ""."""
    total = sum(counts.values())
    concrete = sum(n for kind, n in counts.items() if kind in CONCRETE)
    return rules.advice_when_thin if total and concrete / total < rules.thin_below else ""
