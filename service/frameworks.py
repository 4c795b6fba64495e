"""Reference frameworks (SDGs, OECD due-diligence steps) loaded from ``corpora/*.yaml``.

Both frameworks are read into the same shape, so classifiers and coverage treat them alike:
a framework has labels (goals or steps), and each label has parts (targets or sub-elements).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from service.errors import UnknownName

FRAMEWORK_FILES = {"sdg": "sdg.yaml", "oecd_dd": "oecd_due_diligence.yaml"}


@dataclass(frozen=True)
class Part:
    """A target (SDG) or a sub-element (OECD step)."""

    id: str
    text: str
    examples: tuple[str, ...] = ()


@dataclass(frozen=True)
class Label:
    """A goal or a step, with the texts a similarity classifier can anchor on."""

    id: str
    name: str
    name_nl: str
    description: str
    alt_labels: tuple[str, ...]
    parts: tuple[Part, ...]
    colour: str = ""
    recommendation: str = ""
    # regular expressions for words that name this label outright (OECD steps 5 and 6)
    cues: tuple[str, ...] = ()


@dataclass(frozen=True)
class Framework:
    """A label set with its provenance."""

    id: str
    name: str
    labels: tuple[Label, ...]
    sources: tuple[dict[str, str], ...]

    def label(self, label_id: str) -> Label:
        """The label with this id; raises UnknownName listing the known ids."""
        for label in self.labels:
            if label.id == label_id:
                return label
        known = ", ".join(lb.id for lb in self.labels)
        raise UnknownName(f"{self.id} has no label {label_id!r}; known: {known}")

    @property
    def label_ids(self) -> tuple[str, ...]:
        return tuple(label.id for label in self.labels)


def _sdg_label(goal: dict[str, Any]) -> Label:
    return Label(
        id=str(goal["id"]),
        name=goal["name"],
        name_nl=goal.get("name_nl", ""),
        description=goal["title"],
        alt_labels=tuple(goal.get("alt_labels", ())),
        parts=tuple(Part(id=str(t["id"]), text=t["text"]) for t in goal["targets"]),
        colour=goal.get("colour", ""),
    )


def _oecd_label(step: dict[str, Any]) -> Label:
    return Label(
        id=str(step["id"]),
        name=step["name"],
        name_nl=step.get("name_nl", ""),
        description=step["description"],
        alt_labels=(),
        parts=tuple(
            Part(id=str(s["id"]), text=s["text"], examples=tuple(s.get("examples", ())))
            for s in step["sub_elements"]
        ),
        recommendation=step.get("recommendation", ""),
        cues=tuple(step.get("cues", ())),
    )


@lru_cache(maxsize=8)
def load_framework(framework_id: str, corpora_dir: Path) -> Framework:
    """Read one framework file; cached because the files never change while we run."""
    if framework_id not in FRAMEWORK_FILES:
        raise UnknownName(f"unknown framework {framework_id!r}; known: {', '.join(FRAMEWORK_FILES)}")
    raw = yaml.safe_load((corpora_dir / FRAMEWORK_FILES[framework_id]).read_text(encoding="utf-8"))
    if framework_id == "sdg":
        labels = tuple(_sdg_label(goal) for goal in raw["goals"])
    else:
        labels = tuple(_oecd_label(step) for step in raw["steps"])
    return Framework(id=raw["id"], name=raw["name"], labels=labels, sources=tuple(raw.get("sources", ())))


@lru_cache(maxsize=1)
def load_profiles(corpora_dir: Path) -> dict[str, dict[str, str]]:
    """Profile descriptions and next steps (corpora/profiles.yaml), keyed by profile name."""
    raw = yaml.safe_load((corpora_dir / "profiles.yaml").read_text(encoding="utf-8"))
    return {p["id"]: p for p in raw["profiles"]}


@lru_cache(maxsize=1)
def load_on_the_line(corpora_dir: Path) -> dict[str, Any]:
    """When a score counts as on the line of a profile threshold, and how the page says so (profiles.yaml)."""
    raw = yaml.safe_load((corpora_dir / "profiles.yaml").read_text(encoding="utf-8"))
    return dict(raw["on_the_line"])
