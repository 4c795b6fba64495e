"""Training the OECD due-diligence classifier: the data it learns from (fitting: training/heads.py).

Training data, each example labelled with the due-diligence steps (1-6) it shows, or none
(conventions in eval/LABELLING_DD.md):
- ``framework``: every sub-element text of corpora/oecd_due_diligence.yaml and its example phrasings,
  labelled with its step.
- ``own``: English and Dutch report-style sentences written by us (corpora/dd_examples.yaml), 16 of
  them with no step.
- ``report_labelled``: 360 passages of twelve training reports labelled by us
  (corpora/dd_report_passages.jsonl; drawn by eval/sample_dd_passages.py), 216 with no step.
- ``report_boilerplate``: passages under legal and navigation section titles of the training reports,
  labelled "no step". Governance titles are not used here: board oversight can be step 1.
The dev reports (DEV_REPORTS, eval/data/dd_dev_*.jsonl) are excluded from every source.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from classifiers.linear import MODELS_DIR
from classifiers.training.heads import Example, deduplicated, train_head
from classifiers.training.sdg_training import report_boilerplate
from service.frameworks import load_framework

# The reports the due-diligence dev set was drawn from, in drawing order (eval/sample_dd_passages.py):
# never trained on.
DEV_REPORTS = (
    "hm-sustainability-2022",
    "aeo-esg-2022",
    "jpmorgan-climate-2022",
    "microsoft-sustainability-2022",
    "shell-sustainability-report-2021",
    "engie-integrated-report-2021",
)
LEGAL_TITLE = re.compile(
    r"forward[- ]looking|cautionary|disclaimer|legal|contents|index|glossary|contact|imprint",
    re.IGNORECASE,
)
# Chosen by out-of-fold macro-F1 on the training data, never the dev set: C=1 0.535, C=4 0.566,
# C=16 0.553; balanced class weights no better (eval/RESULTS.md).
C = 4.0
DECISION = {"top1_floor": None, "max_labels": 3}


def framework_examples(corpora_dir: Path) -> list[Example]:
    """Each sub-element's text and example phrasings, labelled with its step."""
    framework = load_framework("oecd_dd", corpora_dir)
    return [
        Example(text, (int(label.id),), "framework")
        for label in framework.labels
        for part in label.parts
        for text in (part.text, *part.examples)
    ]


def own_examples(corpora_dir: Path) -> list[Example]:
    """Sentences the developers wrote (corpora/dd_examples.yaml)."""
    raw = yaml.safe_load((corpora_dir / "dd_examples.yaml").read_text(encoding="utf-8"))
    examples = [Example(e["text"], tuple(e["steps"]), "own", e["lang"]) for e in raw["examples"]]
    return examples + [Example(e["text"], (), "own", e["lang"]) for e in raw["none"]]


def labelled_report_passages(corpora_dir: Path) -> list[Example]:
    """Report passages we labelled by hand (corpora/dd_report_passages.jsonl)."""
    lines = (corpora_dir / "dd_report_passages.jsonl").read_text(encoding="utf-8").splitlines()
    rows = [json.loads(line) for line in lines if line.strip()]
    assert not set(DEV_REPORTS) & {r["report"] for r in rows}, (
        "a dev report leaked into the training passages"
    )
    return [Example(r["text"], tuple(r["steps"]), "report_labelled", r["lang"]) for r in rows]


def training_examples(shared_data: Path, corpora_dir: Path) -> list[Example]:
    """Everything the due-diligence classifier is trained on, deduplicated by text."""
    boilerplate = report_boilerplate(shared_data, exclude=frozenset(DEV_REPORTS), title=LEGAL_TITLE)
    return deduplicated(
        framework_examples(corpora_dir)
        + own_examples(corpora_dir)
        + labelled_report_passages(corpora_dir)
        + boilerplate
    )


def train_dd(encoder: str, shared_data: Path, corpora_dir: Path, models_dir: Path = MODELS_DIR) -> dict:
    """Train, calibrate and write the due-diligence head for ``encoder``; returns the metadata."""
    examples = training_examples(shared_data, corpora_dir)
    framework = load_framework("oecd_dd", corpora_dir)
    return train_head(framework, encoder, examples, models_dir, DECISION, c=C)
