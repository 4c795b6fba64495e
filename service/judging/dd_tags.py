"""Tags on due-diligence evidence: salient issues, value-chain positions, and whether a concrete case is told.

The rules are data in corpora/dd_issues.yaml; this module only applies them. They are patterns, not a
model: every tag can be traced to the words that produced it, and eval/eval_dd.py scores them against our
labels on the dev passages.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from service.judging.substance import SubstanceRules, compile_any, evidence_type


@dataclass(frozen=True)
class TagRule:
    """One tag (an issue or a value-chain position) and the compiled pattern that finds it."""

    id: str
    name: str
    name_nl: str
    pattern: re.Pattern[str]
    family: str = ""


@dataclass(frozen=True)
class TagRules:
    """Everything corpora/dd_issues.yaml says, compiled once."""

    families: dict[str, dict[str, str]]
    issues: tuple[TagRule, ...]
    value_chain: tuple[TagRule, ...]
    concrete_case: re.Pattern[str]
    follow_through: dict[str, Any]
    value_chain_advice: str

    def family_of(self, issue: str) -> str:
        return next((r.family for r in self.issues if r.id == issue), issue)

    def issue(self, issue: str) -> TagRule:
        return next(r for r in self.issues if r.id == issue)


@dataclass(frozen=True)
class PassageTags:
    """What one passage is about (issues), where in the value chain, and whether it tells a case."""

    issues: tuple[str, ...]
    value_chain: tuple[str, ...]
    concrete_case: bool


def _rules(entries: list[dict]) -> tuple[TagRule, ...]:
    return tuple(
        TagRule(e["id"], e["name"], e.get("name_nl", ""), compile_any(e["patterns"]), e.get("family", ""))
        for e in entries
    )


@lru_cache(maxsize=2)
def load_tag_rules(corpora_dir: Path) -> TagRules:
    """Read corpora/dd_issues.yaml once."""
    raw = yaml.safe_load((corpora_dir / "dd_issues.yaml").read_text(encoding="utf-8"))
    return TagRules(
        families=raw["families"],
        issues=_rules(raw["issues"]),
        value_chain=_rules(raw["value_chain"]),
        concrete_case=compile_any(raw["concrete_case"]),
        follow_through=raw["follow_through"],
        value_chain_advice=" ".join(raw["value_chain_advice"].split()),
    )


def passage_tags(text: str, rules: TagRules, substance: SubstanceRules | None = None) -> PassageTags:
    """Tags of one passage.

    A concrete case needs a case cue and, when ``substance`` is given, must not read as a commitment:
    a case announced for the future is not a case.
    """
    issues = tuple(r.id for r in rules.issues if r.pattern.search(text))
    positions = tuple(r.id for r in rules.value_chain if r.pattern.search(text))
    case = bool(rules.concrete_case.search(text))
    if case and substance is not None:
        case = evidence_type(text, substance) != "commitment"
    return PassageTags(issues, positions, case)
