"""Every labelled text the tuned classifiers learn from or are scored on, in one shape.

Sources (provenance in eval/LABELLING_V2.md, eval/LABELLING.md, eval/LABELLING_DD.md):
- ``v2``: corpora/labels/*.jsonl, sentences, passages and pages of all 33 shared reports labelled for both
  frameworks (and their Dutch translations, ``lang: nl`` with ``translated_from``), and of the 12 real Dutch
  reports (corpora/labels/nl-<report>.jsonl, ``translated: false``);
- ``sdg_report`` / ``dd_report``: the first sets of report passages, labelled for one framework only;
- ``corporate_actions``: the shared short SDG sentences (one goal each), split by text hash;
- ``framework``: the UN target and indicator texts, each with its goal;
- ``own``: sentences the developers wrote (corpora/*_examples.yaml);
- ``aims``: domain experts' sentence labels on UK and Canadian modern-slavery statements
  (shared/data/aims_uk_ca), their reporting criteria mapped to OECD steps; split by whole statement
  (corpora/expert_splits.yaml).

A text labelled for one framework only has ``None`` for the other: the trainer masks that loss instead
of reading "no label". The split of a report text is the split of its report (corpora/report_splits.yaml;
for the real Dutch reports corpora/expert_splits.yaml, ``dutch_reports``).
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
    # The steps whose presence or absence the labels assert; None: all six (when ``steps`` is set).
    # Expert criteria cover only some steps, so the trainer adds no loss for the others.
    known_steps: tuple[int, ...] | None = None
    # Likewise for goals: a one-goal set names a text's main goal, not every goal it touches.
    known_sdgs: tuple[int, ...] | None = None
    translated: bool = False
    # AIMS only: the experts' reporting criteria (the sub-element readers map them to sub-elements)
    criteria: tuple[str, ...] = ()

    def labels_of(self, framework_id: str) -> tuple[int, ...] | None:
        """The labels in one framework ("sdg" or "oecd_dd"); None where the text was not labelled for it."""
        return self.sdgs if framework_id == "sdg" else self.steps

    def known_of(self, framework_id: str) -> tuple[int, ...] | None:
        """The labels of one framework whose presence or absence is asserted; None: all of them."""
        return self.known_sdgs if framework_id == "sdg" else self.known_steps


def length_bucket(text: str) -> str:
    """``short`` (a sentence or two) or ``passage``: the decision thresholds differ between them."""
    return "short" if len(text.split()) <= SHORT_WORDS else "passage"


@lru_cache(maxsize=2)
def report_splits(corpora_dir: Path) -> dict[str, str]:
    """Report name -> train / dev / test."""
    raw = yaml.safe_load((corpora_dir / "report_splits.yaml").read_text(encoding="utf-8"))
    return {report: split for split in ("train", "dev", "test") for report in raw[split]}


@lru_cache(maxsize=2)
def dutch_report_splits(corpora_dir: Path) -> dict[str, str]:
    """Real Dutch report (file stem) -> train / dev / test, from corpora/expert_splits.yaml ``dutch_reports``.

    The 12 Dutch reports of ../shared/data/reports/dutch are not among the 33 of report_splits.yaml; they
    were split by whole report before any item was labelled, so one report's items never straddle splits.
    """
    raw = yaml.safe_load((corpora_dir / "expert_splits.yaml").read_text(encoding="utf-8"))
    return {report: split for split, reports in raw["dutch_reports"].items() for report in reports}


def label_splits(corpora_dir: Path) -> dict[str, str]:
    """Report -> split for every report with rows in corpora/labels: the 33 shared and the 12 Dutch ones."""
    return {**report_splits(corpora_dir), **dutch_report_splits(corpora_dir)}


def report_sectors(corpora_dir: Path) -> dict[str, list[str]]:
    """Sector -> its reports, for the cross-domain check."""
    raw = yaml.safe_load((corpora_dir / "report_splits.yaml").read_text(encoding="utf-8"))
    return {sector: list(reports) for sector, reports in raw.get("sectors", {}).items()}


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def v2_labels(corpora_dir: Path) -> list[LabelledText]:
    """corpora/labels/*.jsonl: both frameworks, three granularities, English and Dutch."""
    splits = label_splits(corpora_dir)
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
                    translated=bool(row.get("translated", "translated_from" in row)),
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
    """The shared short SDG sentences (one goal each); their steps are unknown, so steps stay None.

    Their other goals are taught as absent. Learning only the named goal (no loss for the other sixteen)
    raised the recall of that goal on the dev split from 0.73 to 0.88 but made short texts take goals
    freely: per-SDG accuracy fell from 0.96 to 0.82 (eval/RESULTS.md), so it was not kept.
    """
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


# AIMS criteria -> OECD steps, as the AIMS README maps them (and as the held-out expert sentences are read):
# risk description is step 2, risk mitigation step 3, effectiveness step 4, remediation step 6.
AIMS_STEPS = {"c3_risk_description": 2, "c4_risk_mitigation": 3, "c5_effectiveness": 4, "c4_remediation": 6}


@lru_cache(maxsize=2)
def expert_splits(corpora_dir: Path) -> dict[str, dict[str, str]]:
    """Set name -> document key -> split, for the expert-labelled sets (corpora/expert_splits.yaml)."""
    raw = yaml.safe_load((corpora_dir / "expert_splits.yaml").read_text(encoding="utf-8"))
    return {
        name: {key: split for split in ("train", "dev", "test") for key in by_split.get(split, ())}
        for name, by_split in raw.items()
    }


def aims_known_steps(criteria: set[str]) -> tuple[int, ...]:
    """The steps an AIMS sentence's labels speak to.

    Steps 1 and 5 are never known: AIMS has no criterion for policy commitments or for the statement's own
    reporting, which our guide counts as steps 1 and 5. Step 2 is not known for a sentence experts marked as
    mitigation, remediation or effectiveness only: such a sentence may describe an assessment process, which
    the OECD guidance counts as step 2 and AIMS folds into mitigation. Step 3 is not known for a
    remediation-only sentence (AIMS counts supplier suspension, step 3's "cease", as remediation).
    """
    known = {3, 4, 6}
    acting = criteria & {"c4_risk_mitigation", "c4_remediation", "c5_effectiveness"}
    if not acting or "c3_risk_description" in criteria:
        known.add(2)
    if "c4_remediation" in criteria and "c4_risk_mitigation" not in criteria:
        known.discard(3)
    return tuple(sorted(known))


def aims_sentences(shared_data: Path, corpora_dir: Path) -> list[LabelledText]:
    """The AIMS expert sentences, steps mapped from their criteria, split by statement; no SDG labels."""
    splits = expert_splits(corpora_dir)["aims_uk_ca"]
    texts = []
    for row in _jsonl(shared_data / "aims_uk_ca" / "aims_uk_ca_sentences.jsonl"):
        criteria = {name for name, value in row["labels"].items() if value}
        key = f"{row['jurisdiction']}-{row['statement_id']}"
        steps = tuple(sorted({AIMS_STEPS[c] for c in criteria if c in AIMS_STEPS}))
        texts.append(
            LabelledText(
                f"aims:{row['id']}",
                row["text"],
                None,
                steps,
                splits[key],
                "aims",
                "sentence",
                report=f"aims:{key}",
                known_steps=aims_known_steps(criteria),
                criteria=tuple(sorted(criteria)),
            )
        )
    return texts


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
        + aims_sentences(shared_data, corpora_dir)
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


def review_lines(path: Path) -> list[dict]:
    """The lines of a review export file (JSON lines, as ``gaplens reviews export`` writes them)."""
    return list(_jsonl(path))


def read_reviews(path: Path) -> list[LabelledText]:
    """``reviewed_texts`` of a review export file (JSON lines)."""
    return reviewed_texts(review_lines(path))


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
