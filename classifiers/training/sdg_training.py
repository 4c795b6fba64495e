"""Training the SDG classifier: the data it learns from (fitting is classifiers/training/heads.py).

Training data, each example labelled with one or more goals or with none (see eval/LABELLING.md):
- ``corporate_actions``: the train split of shared/data/sdg_labelled/corporate_actions.csv. The split
  is by text hash (``is_dev_text``): one text in five is kept for the dev set and never trained on.
- ``framework``: the 169 target texts (corpora/sdg.yaml) and the indicator texts
  (shared/data/sdg_framework/sdg_indicators_en.csv), labelled with their goal; for a multilingual
  encoder also the German, French, Spanish and Italian target texts (sdg_targets_multilang.csv).
- ``own``: report-style sentences in English and Dutch written by us (corpora/sdg_examples.yaml),
  including passages that address no goal.
- ``report_labelled``: 400 passages of the training reports labelled by us
  (corpora/sdg_report_passages.jsonl, 136 of them with no goal): in-domain text.
- ``report_boilerplate``: passages of the training reports in shared/data/reports/text whose section
  title marks them as legal, governance or navigation text (BOILERPLATE_TITLE), labelled "no goal".
  The reports whose passages make up the report dev set are excluded (DEV_REPORTS).

Fit, calibration and thresholds: ``classifiers.training.heads.train_head`` (one calibrated logistic head per
goal, deterministic).
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from pathlib import Path

import yaml

from classifiers.linear import MODELS_DIR
from classifiers.training.heads import Example, deduplicated, train_head
from service.frameworks import load_framework
from service.reading.ingest import document_from_sections
from service.reading.segment import passages_from_document

# Assign the strongest goal when none passes its threshold, if at least this probable (see linear.py).
# Chosen on the dev sets among 0.1/0.15/0.2 and "no floor" (eval/RESULTS.md, "decision rule").
TOP1_FLOOR = 0.1
# Reports whose passages form eval/data/sdg_dev_report_passages.jsonl: never used for training.
DEV_REPORTS = frozenset(
    {
        "boeing-sustainability-2023",
        "microsoft-sustainability-2022",
        "paypal-global-2023",
        "bxp-esg-2022",
        "aeo-esg-2022",
    }
)
BOILERPLATE_TITLE = re.compile(
    r"forward[- ]looking|cautionary|disclaimer|about this report|legal|contents|index|glossary|"
    r"board of directors|remuneration|compensation of|shareholder|investor|assurance|contact",
    re.IGNORECASE,
)
BOILERPLATE_PER_REPORT = 40


def is_dev_text(text: str) -> bool:
    """The fixed train/dev split of corporate_actions.csv: one text in five, chosen by its hash."""
    return int(hashlib.sha256(text.strip().encode("utf-8")).hexdigest(), 16) % 5 == 0


def corporate_actions(shared_data: Path, split: str) -> list[Example]:
    """The labelled short texts of one split ("train" or "dev")."""
    path = shared_data / "sdg_labelled" / "corporate_actions.csv"
    with path.open(encoding="utf-8") as handle:
        rows = [(r["Text"].strip(), int(r["SDG"])) for r in csv.DictReader(handle) if r["Text"].strip()]
    keep = (lambda t: is_dev_text(t)) if split == "dev" else (lambda t: not is_dev_text(t))
    return [Example(text, (goal,), "corporate_actions") for text, goal in rows if keep(text)]


def framework_examples(shared_data: Path, corpora_dir: Path, multilingual: bool) -> list[Example]:
    """Target and indicator texts, labelled with their goal."""
    framework = load_framework("sdg", corpora_dir)
    examples = [
        Example(part.text, (int(label.id),), "framework")
        for label in framework.labels
        for part in label.parts
    ]
    with (shared_data / "sdg_framework" / "sdg_indicators_en.csv").open(encoding="utf-8") as handle:
        examples += [Example(r["text"], (int(r["goal"]),), "framework") for r in csv.DictReader(handle)]
    if multilingual:
        with (shared_data / "sdg_framework" / "sdg_targets_multilang.csv").open(encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                goal = int(str(row["target"]).split(".")[0])
                for lang in ("de", "fr", "es", "it"):
                    if row.get(lang):
                        examples.append(Example(row[lang], (goal,), "framework", lang))
    return examples


def own_examples(corpora_dir: Path) -> list[Example]:
    """Sentences the developers wrote (corpora/sdg_examples.yaml)."""
    raw = yaml.safe_load((corpora_dir / "sdg_examples.yaml").read_text(encoding="utf-8"))
    examples = [Example(e["text"], tuple(e["sdgs"]), "own", e["lang"]) for e in raw["examples"]]
    return examples + [Example(e["text"], (), "own", e["lang"]) for e in raw["none"]]


def labelled_report_passages(corpora_dir: Path) -> list[Example]:
    """Report passages we labelled by hand (corpora/sdg_report_passages.jsonl)."""
    lines = (corpora_dir / "sdg_report_passages.jsonl").read_text(encoding="utf-8").splitlines()
    rows = [json.loads(line) for line in lines if line.strip()]
    return [Example(r["text"], tuple(r["sdgs"]), "report_labelled", r["lang"]) for r in rows]


def report_boilerplate(
    shared_data: Path,
    max_words: int = 90,
    exclude: frozenset[str] = DEV_REPORTS,
    title: re.Pattern[str] = BOILERPLATE_TITLE,
) -> list[Example]:
    """Weak "no label" examples: passages under section titles that ``title`` matches."""
    examples: list[Example] = []
    for path in sorted((shared_data / "reports" / "text").glob("*.json")):
        if path.stem in exclude:
            continue
        sections = json.loads(path.read_text(encoding="utf-8"))
        doc = document_from_sections(sections, path.name)
        found = [
            p.text
            for p in passages_from_document(doc, max_words)
            if title.search(p.heading or "") and len(p.text.split()) >= 8
        ]
        examples += [Example(t, (), "report_boilerplate") for t in found[:BOILERPLATE_PER_REPORT]]
    return examples


def training_examples(shared_data: Path, corpora_dir: Path, multilingual: bool) -> list[Example]:
    """Everything the classifier is trained on, deduplicated by text (first label set wins)."""
    examples = (
        corporate_actions(shared_data, "train")
        + framework_examples(shared_data, corpora_dir, multilingual)
        + own_examples(corpora_dir)
        + labelled_report_passages(corpora_dir)
        + report_boilerplate(shared_data)
    )
    return deduplicated(examples)


def train_sdg(
    encoder: str,
    shared_data: Path,
    corpora_dir: Path,
    models_dir: Path = MODELS_DIR,
    multilingual: bool | None = None,
) -> dict:
    """Train, calibrate and write the SDG head for ``encoder``; returns the metadata written."""
    multilingual = encoder != "all-MiniLM-L6-v2" if multilingual is None else multilingual
    examples = training_examples(shared_data, corpora_dir, multilingual)
    framework = load_framework("sdg", corpora_dir)
    return train_head(framework, encoder, examples, models_dir, {"top1_floor": TOP1_FLOOR, "max_labels": 3})
