"""Negative evidence: passages that say a disclosure is missing, not material, not applicable or planned.

An ESRS index line "S2-4 ... Not material" or a sentence "No grievance mechanism is in place yet" is the
opposite of evidence; read as coverage it would reward a report for saying what it does not do. Such
passages are taken out of every indicator and goal and shown as gaps with their page. The rules are data
in corpora/negative_evidence.yaml; this module only applies them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import yaml

from service.judging.substance import compile_any
from service.records import LabelScores, NegativeEvidence, Passage


@dataclass(frozen=True)
class NegativeRules:
    """One compiled pattern per kind of negative answer, and the pattern of an index line's code."""

    kinds: tuple[tuple[str, re.Pattern[str]], ...]
    index_line: re.Pattern[str]
    # kinds that are no evidence but no gap either (reporting-template questions): left out, not shown
    hidden: frozenset[str] = frozenset()
    # kind -> {"en": name, "nl": name}, for the result page
    names: dict[str, dict[str, str]] = field(default_factory=dict)

    def kind_of(self, text: str) -> str:
        """The first kind of negative answer the text gives, or ""."""
        return next((kind for kind, pattern in self.kinds if pattern.search(text)), "")


@lru_cache(maxsize=2)
def load_negative_rules(corpora_dir: Path) -> NegativeRules:
    """Read corpora/negative_evidence.yaml once."""
    raw = yaml.safe_load((corpora_dir / "negative_evidence.yaml").read_text(encoding="utf-8"))
    entries = raw["negative"] + raw.get("not_evidence", [])
    kinds = tuple((k["id"], compile_any(k["patterns"])) for k in entries)
    hidden = frozenset(k["id"] for k in raw.get("not_evidence", []))
    names = {k["id"]: {"en": k["name"], "nl": k.get("name_nl", k["name"])} for k in entries}
    return NegativeRules(kinds, compile_any(raw["index_line"]), hidden, names)


def _labels_by_passage(readings: Sequence[Sequence[LabelScores]]) -> dict[str, tuple[str, ...]]:
    """Passage id -> the goals and steps the classifiers gave it, as "sdg-13" and "dd-2"."""
    prefix = {"sdg": "sdg", "oecd_dd": "dd"}
    labels: dict[str, tuple[str, ...]] = {}
    for scores in readings:
        for r in scores:
            own = tuple(f"{prefix.get(r.framework, r.framework)}-{label}" for label in r.labels)
            labels[r.passage_id] = labels.get(r.passage_id, ()) + own
    return labels


def negative_evidence(
    passages: Sequence[Passage], readings: Sequence[Sequence[LabelScores]], rules: NegativeRules
) -> tuple[NegativeEvidence, ...]:
    """Every passage with a negative answer, in page order.

    Each is excluded from the rubric; the report lists those it can place: index lines, and passages
    the classifiers read as a goal or step (a "not material to the financial statements" in the notes
    is no sustainability gap, but it is still no evidence).
    """
    found = []
    labels_of = _labels_by_passage(readings)
    for passage in passages:
        kind = rules.kind_of(passage.text)
        if not kind:
            continue
        index = bool(rules.index_line.search(passage.text))
        labels = labels_of.get(passage.id, ())
        found.append(NegativeEvidence(passage.id, passage.page, kind, passage.text, index, labels))
    return tuple(found)


def shown_gaps(negatives: Sequence[NegativeEvidence], rules: NegativeRules) -> tuple[NegativeEvidence, ...]:
    """The negative evidence a reader should see: index lines and passages read as a goal or step."""
    return tuple(n for n in negatives if (n.index or n.labels) and n.kind not in rules.hidden)
