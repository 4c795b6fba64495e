"""Every labelled text the tuned classifiers learn from or are scored on, in one shape.

Sources (provenance in eval/LABELLING_V2.md, eval/LABELLING.md, eval/LABELLING_DD.md):
- ``v2``: corpora/labels/*.jsonl, sentences, passages and pages of all 33 shared reports labelled for both
  frameworks (and their Dutch translations, ``lang: nl``);
- ``sdg_report`` / ``dd_report``: the first sets of report passages, labelled for one framework only;
- ``corporate_actions``: the shared short SDG sentences (one goal each), split by text hash;
- ``framework``: the UN target and indicator texts, each with its goal;
- ``own``: sentences the developers wrote (corpora/*_examples.yaml).

A text labelled for one framework only has ``None`` for the other: the trainer masks that loss instead
of reading "no label". The split of a report text is the split of its report (corpora/report_splits.yaml).
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from service.frameworks import load_framework

SHORT_WORDS = 25


@dataclass(frozen=True)
class LabelledText:
    """One text with its labels; ``sdgs`` / ``steps`` are None where the text was not labelled for them."""

    id: str
    text: str
    sdgs: tuple[int, ...] | None
    steps: tuple[int, ...] | None
    split: str
    source: str
    granularity: str = "passage"
    lang: str = "en"
    report: str = ""
    heading: str = ""
    page: int = 0
    targets: tuple[str, ...] = ()
    sub_elements: tuple[str, ...] = ()
    evidence_type: str = ""
    negative: str = ""

    def labels_of(self, framework_id: str) -> tuple[int, ...] | None:
        """The labels in one framework ("sdg" or "oecd_dd"); None where the text was not labelled for it."""
        return self.sdgs if framework_id == "sdg" else self.steps


def length_bucket(text: str) -> str:
    """``short`` (a sentence or two) or ``passage``: the decision thresholds differ between them."""
    return "short" if len(text.split()) <= SHORT_WORDS else "passage"


@lru_cache(maxsize=2)
def report_splits(corpora_dir: Path) -> dict[str, str]:
    """Report name -> train / dev / test."""
    raw = yaml.safe_load((corpora_dir / "report_splits.yaml").read_text(encoding="utf-8"))
    return {report: split for split in ("train", "dev", "test") for report in raw[split]}


def report_sectors(corpora_dir: Path) -> dict[str, list[str]]:
    """Sector -> its reports, for the cross-domain check."""
    raw = yaml.safe_load((corpora_dir / "report_splits.yaml").read_text(encoding="utf-8"))
    return {sector: list(reports) for sector, reports in raw.get("sectors", {}).items()}


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def v2_labels(corpora_dir: Path) -> list[LabelledText]:
    """corpora/labels/*.jsonl: both frameworks, three granularities, English and Dutch."""
    splits = report_splits(corpora_dir)
    texts = []
    for path in sorted((corpora_dir / "labels").glob("*.jsonl")):
        for row in _jsonl(path):
            texts.append(
                LabelledText(
                    id=row["id"],
                    text=row["text"],
                    sdgs=tuple(row["sdgs"]),
                    steps=tuple(row["steps"]),
                    split=splits[row["report"]],
                    source="v2",
                    granularity=row["granularity"],
                    lang=row.get("lang", "en"),
                    report=row["report"],
                    heading=row.get("heading", ""),
                    page=int(row.get("page", 0)),
                    targets=tuple(row.get("targets", ())),
                    sub_elements=tuple(row.get("sub_elements", ())),
                    evidence_type=row.get("evidence_type", ""),
                    negative=row.get("negative", ""),
                )
            )
    return texts


def first_sets(corpora_dir: Path, eval_data: Path) -> list[LabelledText]:
    """The first report-passage sets (one framework each), split by their report like everything else."""
    splits = report_splits(corpora_dir)
    files = (
        (corpora_dir / "sdg_report_passages.jsonl", "sdg"),
        (eval_data / "sdg_dev_report_passages.jsonl", "sdg"),
        (eval_data / "sdg_dev_nl.jsonl", "sdg"),
        (corpora_dir / "dd_report_passages.jsonl", "dd"),
        (eval_data / "dd_dev_passages.jsonl", "dd"),
        (eval_data / "dd_dev_nl.jsonl", "dd"),
    )
    texts = []
    for path, framework in files:
        for row in _jsonl(path):
            labels = tuple(row["sdgs"] if framework == "sdg" else row["steps"])
            texts.append(
                LabelledText(
                    id=f"{path.stem}:{row['id']}",
                    text=row["text"],
                    sdgs=labels if framework == "sdg" else None,
                    steps=labels if framework == "dd" else None,
                    split=splits[row["report"]],
                    source=f"{framework}_report",
                    lang=row.get("lang", "en"),
                    report=row["report"],
                    evidence_type=row.get("evidence_type", ""),
                )
            )
    return texts


def is_dev_text(text: str) -> bool:
    """The fixed split of corporate_actions.csv: one text in five, by its hash, is dev."""
    return int(hashlib.sha256(text.strip().encode("utf-8")).hexdigest(), 16) % 5 == 0


def corporate_actions(shared_data: Path) -> list[LabelledText]:
    """The shared short SDG sentences; their other goals are unknown, so steps stay None."""
    with (shared_data / "sdg_labelled" / "corporate_actions.csv").open(encoding="utf-8") as handle:
        rows = [(r["Text"].strip(), int(r["SDG"])) for r in csv.DictReader(handle) if r["Text"].strip()]
    return [
        LabelledText(
            f"corporate_actions:{n}",
            text,
            (goal,),
            None,
            "dev" if is_dev_text(text) else "train",
            "corporate_actions",
            "sentence",
        )
        for n, (text, goal) in enumerate(rows)
    ]


def framework_texts(shared_data: Path, corpora_dir: Path) -> list[LabelledText]:
    """UN target and indicator texts, each labelled with its goal (training only)."""
    framework = load_framework("sdg", corpora_dir)
    pairs = [(part.text, int(label.id)) for label in framework.labels for part in label.parts]
    with (shared_data / "sdg_framework" / "sdg_indicators_en.csv").open(encoding="utf-8") as handle:
        pairs += [(r["text"], int(r["goal"])) for r in csv.DictReader(handle)]
    return [
        LabelledText(f"framework:{n}", text, (goal,), None, "train", "framework", "sentence")
        for n, (text, goal) in enumerate(pairs)
    ]


def own_examples(corpora_dir: Path) -> list[LabelledText]:
    """Sentences the developers wrote for both frameworks (training only)."""
    texts = []
    for name, key in (("sdg_examples.yaml", "sdgs"), ("dd_examples.yaml", "steps")):
        raw = yaml.safe_load((corpora_dir / name).read_text(encoding="utf-8"))
        rows = [(e["text"], tuple(e[key]), e["lang"]) for e in raw["examples"]]
        rows += [(e["text"], (), e["lang"]) for e in raw.get("none", [])]
        for n, (text, labels, lang) in enumerate(rows):
            sdgs, steps = (labels, None) if key == "sdgs" else (None, labels)
            texts.append(LabelledText(f"{name}:{n}", text, sdgs, steps, "train", "own", "sentence", lang))
    return texts


def all_labelled(corpora_dir: Path, shared_data: Path, eval_data: Path) -> list[LabelledText]:
    """Every labelled text, deduplicated by (text, language): the first, most fully labelled one wins."""
    texts = (
        v2_labels(corpora_dir)
        + first_sets(corpora_dir, eval_data)
        + corporate_actions(shared_data)
        + framework_texts(shared_data, corpora_dir)
        + own_examples(corpora_dir)
    )
    return deduplicated(texts)


def reviewed_texts(lines: Iterable[dict]) -> list[LabelledText]:
    """An analyst's reviewed passages (``gaplens`` review export, ``type: passage``) as training texts.

    A framework's labels are what the analyst confirmed or attached in it; a passage only rejected in a
    framework is no evidence in it (``()``, as the review makes it evidence nowhere); a framework the
    review did not touch stays unlabelled (None). Every reviewed text is in the train split.
    """
    texts = []
    for line in lines:
        if line.get("type") != "passage":
            continue
        labels = []
        for key in ("sdgs", "dd_steps"):
            confirmed, rejected = line.get(key) or [], line.get(f"rejected_{key}") or []
            labels.append(tuple(sorted(int(v) for v in confirmed)) if confirmed or rejected else None)
        texts.append(
            LabelledText(
                id=f"review:{line['id']}",
                text=line["text"],
                sdgs=labels[0],
                steps=labels[1],
                split="train",
                source="review",
                lang=line.get("language") or "en",
                report=f"review:{line.get('report_sha256', '')[:12]}",
                heading=line.get("heading", ""),
                page=int(line.get("page", 0)),
            )
        )
    return texts


def read_reviews(path: Path) -> list[LabelledText]:
    """``reviewed_texts`` of a review export file (JSON lines)."""
    return reviewed_texts(_jsonl(path))


def deduplicated(texts: Iterable[LabelledText]) -> list[LabelledText]:
    """One text per (normalised text, language): a text drawn twice or repeated by another set counts once."""
    seen: set[tuple[str, str]] = set()
    unique = []
    for text in texts:
        key = (" ".join(text.text.split()).lower(), text.lang)
        if key not in seen:
            seen.add(key)
            unique.append(text)
    return unique


def select(
    texts: Iterable[LabelledText], split: str, *, lang: str | None = None, framework: str | None = None
) -> list[LabelledText]:
    """The texts of one split (and language), labelled for ``framework`` ("sdg" / "oecd_dd") if given."""
    chosen = [t for t in texts if t.split == split and (lang is None or t.lang == lang)]
    if framework is not None:
        chosen = [t for t in chosen if t.labels_of(framework) is not None]
    return chosen
