"""Learned sub-element readers: which of the OECD guidance's sub-elements (1.1 .. 6.2) a passage evidences.

The rubric's indicators (corpora/dd_rubric.yaml) each name the sub-elements they ask about (``parts``).
Deciding an indicator from cue words over passages of the right step let a paragraph on customer
complaints meet "tracking indicators" and a whistle-blowing procedure meet "communicates with affected
stakeholders". These heads learn the sub-elements instead, from what people labelled:

- our report labels (corpora/labels, ``sub_elements``): a row with steps names its sub-elements, a row
  without steps is no evidence of any;
- the AIMS experts' criteria on modern-slavery statements, read as the sub-elements they speak to
  (``AIMS_PARTS``), with every sub-element they cannot speak to masked out of the loss, as for steps;
- the guidance's own sub-element texts and their examples (corpora/oecd_due_diligence.yaml);
- a tenant's reviews (``gaplens train parts --reviews``): a passage an analyst confirmed or rejected for an
  indicator is evidence, or not, of that indicator's sub-elements (``review_examples``).

One logistic regression per sub-element on the frozen vectors the due-diligence classifier already reads
(no extra encoder pass), fitted only on the rows whose label for that sub-element is known; Platt curves
and thresholds from 5-fold out-of-fold margins on the training rows (classifiers/training/heads.py's
rule), so the dev split stays for measuring. Deterministic (fixed folds, lbfgs).
"""

from __future__ import annotations

import json
import shutil
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold

from classifiers.base import calibrated
from classifiers.labelled import LabelledText
from classifiers.parts import evidence_type_files, part_files
from classifiers.training.heads import FOLDS, SEED, C, f1
from service.encoding.inputs import model_input
from service.encoding.models import TUNED_INT8
from service.frameworks import Framework
from service.records import EVIDENCE_TYPES

# AIMS criterion -> the sub-elements a positive sentence evidences. Our reading of the AIMS README
# (shared/data/aims_uk_ca/README.md): risk description names identified risks (2.1, scoping); mitigation
# is the actions taken to prevent and mitigate (3.2); effectiveness is tracking (4.1); remediation is
# providing remedy (6.1).
AIMS_PARTS = {
    "c3_risk_description": ("2.1",),
    "c4_risk_mitigation": ("3.2",),
    "c5_effectiveness": ("4.1",),
    "c4_remediation": ("6.1",),
}
AIMS_WEIGHT = 0.6
# A sub-element with fewer labelled positives than this is fitted but not used: the rubric keeps its old
# rule (step and cue words) for an indicator none of whose sub-elements was learned.
MIN_POSITIVES = 30
# Logistic-regression strength of the evidence-type reader (dev macro-F1 0.566 at 8 against 0.540 at 2;
# the rules of corpora/evidence_types.yaml: 0.481; eval/RESULTS.md).
EVIDENCE_TYPE_C = 8.0
# The encoder that reads English only; its reader learns from English rows.
ENGLISH_ENCODER = TUNED_INT8


@dataclass(frozen=True)
class PartExample:
    """One training text: the sub-elements it evidences and those whose presence or absence is known."""

    text: str
    parts: frozenset[str]
    known: frozenset[str]
    source: str
    weight: float = 1.0


def aims_known_parts(criteria: set[str], all_parts: Sequence[str]) -> frozenset[str]:
    """The sub-elements an AIMS sentence's criteria speak to (present or absent).

    AIMS has no criterion for policy, oversight, management systems, supplier contracts (1.x),
    communication (5.x) or grievance channels (6.2: AIMS does not count them as remediation), so those are
    never known. A mitigation sentence may describe an assessment (2.2) or leverage (3.3), and a
    remediation sentence a supplier suspension (3.1), so those stay unknown when the criterion is present.
    """
    known = {"2.1", "2.2", "2.4", "3.1", "3.2", "3.3", "4.1", "4.2", "6.1"}
    if criteria & set(AIMS_PARTS):
        known -= {"2.2", "2.4"}
    if "c4_risk_mitigation" in criteria:
        known -= {"3.3", "3.1"}
    if "c4_remediation" in criteria:
        known -= {"3.1"}
    if "c5_effectiveness" in criteria:
        known -= {"4.2"}
    return frozenset(p for p in known if p in all_parts)


def report_examples(texts: Sequence[LabelledText], all_parts: Sequence[str]) -> list[PartExample]:
    """Our labelled report rows (not pages: a page's parts are those of its passages) and AIMS sentences."""
    everything = frozenset(all_parts)
    examples = []
    for t in texts:
        # reviewed passages become rows per indicator (review_examples), not rows of "no sub-element"
        if t.granularity == "page" or t.steps is None or t.source == "review":
            continue
        model_text = model_input(t.text, t.heading)
        if t.source == "aims":
            criteria = set(t.criteria)
            parts = frozenset(p for c in criteria for p in AIMS_PARTS.get(c, ()))
            examples.append(
                PartExample(model_text, parts, aims_known_parts(criteria, all_parts), "aims", AIMS_WEIGHT)
            )
        elif t.sub_elements or not t.steps:
            examples.append(PartExample(model_text, frozenset(t.sub_elements), everything, t.source))
    return examples


# An analyst's review weighs twice a labelled row: it is a decision on this tenant's own text, in the
# tenant's own reading of an indicator, where our labels and AIMS's are other people's reading of other
# companies' reports. Not tuned (no tenant's held-out reviews to tune it on).
REVIEW_WEIGHT = 2.0


def review_examples(
    lines: Iterable[dict], indicator_parts: Mapping[str, Sequence[str]], all_parts: Sequence[str]
) -> list[PartExample]:
    """Reviewed passages (the review export's ``type: passage`` lines) as sub-element training rows.

    A passage confirmed or attached for an indicator evidences that indicator's sub-elements (its
    ``parts`` in corpora/dd_rubric.yaml); one rejected for it evidences none of them. Only those
    sub-elements are known: a review of a grievance indicator says nothing about the passage's policy
    parts. Confirmation wins over a rejection of the same sub-element (another indicator's). A line
    without indicators (a review on a goal or a step) teaches the readers nothing.
    """
    wanted = set(all_parts)
    examples = []
    for line in lines:
        if line.get("type") != "passage":
            continue
        parts = {p for i in line.get("indicators") or () for p in indicator_parts.get(i, ())}
        refused = {p for i in line.get("rejected_indicators") or () for p in indicator_parts.get(i, ())}
        known = (parts | refused) & wanted
        if known:
            text = model_input(line["text"], line.get("heading", ""))
            examples.append(
                PartExample(text, frozenset(parts & wanted), frozenset(known), "review", REVIEW_WEIGHT)
            )
    return examples


def guidance_examples(framework: Framework) -> list[PartExample]:
    """The guidance's sub-element texts and examples, each evidence of its own sub-element only."""
    everything = frozenset(p.id for label in framework.labels for p in label.parts)
    return [
        PartExample(text, frozenset({part.id}), everything, "framework")
        for label in framework.labels
        for part in label.parts
        for text in (part.text, *part.examples)
    ]


@dataclass(frozen=True)
class PartHeads:
    """Per sub-element: weights, bias, Platt curve and threshold (arrays in ``parts`` order)."""

    parts: tuple[str, ...]
    weights: np.ndarray
    bias: np.ndarray
    platt: np.ndarray
    thresholds: np.ndarray
    facts: dict


def _fit(x: np.ndarray, y: np.ndarray, w: np.ndarray, c: float) -> LogisticRegression:
    return LogisticRegression(C=c, max_iter=3000, class_weight="balanced").fit(x, y, sample_weight=w)


def _platt_threshold(margins: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float]:
    """A Platt curve over out-of-fold margins and the probability threshold with the best F1."""
    curve = LogisticRegression(C=1e6, max_iter=1000).fit(margins[:, None], y)
    platt = np.array([curve.coef_[0][0], curve.intercept_[0]])
    probs = calibrated(margins[:, None], platt[None, :])[:, 0]
    grid = np.round(np.arange(0.1, 0.91, 0.05), 2)
    scores = np.array([f1(probs >= t, y == 1) for t in grid])
    # the best F1 averaged over neighbouring grid points: a flat curve's single peak is noise
    smooth = np.convolve(np.pad(scores, 1, mode="edge"), np.ones(3) / 3, mode="valid")
    return platt, float(grid[int(np.argmax(smooth))])


def fit_part_heads(
    examples: Sequence[PartExample],
    vectors: np.ndarray,
    all_parts: Sequence[str],
    c: float = C,
    log: Callable[[str], None] = print,
) -> PartHeads:
    """One masked, weighted logistic regression per sub-element, calibrated out of fold."""
    dim = vectors.shape[1]
    weights = np.zeros((len(all_parts), dim))
    bias, thresholds = np.zeros(len(all_parts)), np.zeros(len(all_parts))
    platt = np.zeros((len(all_parts), 2))
    positives: dict[str, int] = {}
    for j, part in enumerate(all_parts):
        rows = np.array([i for i, e in enumerate(examples) if part in e.known])
        x = vectors[rows]
        y = np.array([part in examples[i].parts for i in rows], dtype=np.int8)
        w = np.array([examples[i].weight for i in rows])
        positives[part] = int(y.sum())
        margins = np.zeros(len(rows))
        for train, held in StratifiedKFold(FOLDS, shuffle=True, random_state=SEED).split(x, y):
            model = _fit(x[train], y[train], w[train], c)
            margins[held] = model.decision_function(x[held])
        platt[j], thresholds[j] = _platt_threshold(margins, y)
        model = _fit(x, y, w, c)
        weights[j], bias[j] = model.coef_[0], model.intercept_[0]
        log(f"  part {part}: {len(rows)} rows, {positives[part]} positive, threshold {thresholds[j]:.2f}")
    facts = {
        "examples": len(examples),
        "examples_by_source": dict(sorted(Counter(e.source for e in examples).items())),
        "positives": positives,
        "hyperparameters": {"C": c, "folds": FOLDS, "seed": SEED, "class_weight": "balanced"},
        "aims_parts": {k: list(v) for k, v in AIMS_PARTS.items()},
        "aims_weight": AIMS_WEIGHT,
        "review_weight": REVIEW_WEIGHT,
    }
    return PartHeads(tuple(all_parts), weights, bias, platt, thresholds, facts)


def write_part_heads(heads: PartHeads, encoder: str, models_dir: Path, started: float) -> dict:
    """Write ``oecd_parts-<encoder>.npz`` / ``.json`` (numpy arrays and JSON only, no pickles)."""
    arrays_path, meta_path = part_files(encoder, models_dir)
    np.savez_compressed(
        arrays_path,
        weights=heads.weights.astype(np.float32),
        bias=heads.bias.astype(np.float32),
        platt=heads.platt.astype(np.float32),
        thresholds=heads.thresholds.astype(np.float32),
        parts=np.array(heads.parts),
        learned=np.array([heads.facts["positives"][p] >= MIN_POSITIVES for p in heads.parts]),
    )
    meta = {
        "framework": "oecd_parts",
        "encoder": encoder,
        "parts": list(heads.parts),
        "thresholds": [round(float(t), 2) for t in heads.thresholds],
        "learned": [p for p in heads.parts if heads.facts["positives"][p] >= MIN_POSITIVES],
        "min_positives": MIN_POSITIVES,
        **heads.facts,
        "train_seconds": round(time.perf_counter() - started, 1),
        "command": "gaplens train parts",
    }
    meta_path.write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return meta


def evidence_type_rows(texts: Sequence[LabelledText]) -> list[LabelledText]:
    """Labelled report rows with an evidence type (pages excluded: a page mixes its passages' kinds)."""
    return [t for t in texts if t.evidence_type in EVIDENCE_TYPES and t.granularity != "page"]


def fit_evidence_type(vectors: np.ndarray, kinds: Sequence[str]) -> LogisticRegression:
    """One multinomial logistic regression over the four evidence types, classes balanced."""
    return LogisticRegression(C=EVIDENCE_TYPE_C, max_iter=3000, class_weight="balanced").fit(vectors, kinds)


def write_evidence_type(
    model: LogisticRegression, rows: Sequence[LabelledText], encoder: str, models_dir: Path, started: float
) -> dict:
    """Write ``evidence_type-<encoder>.npz`` / ``.json``."""
    arrays_path, meta_path = evidence_type_files(encoder, models_dir)
    np.savez_compressed(
        arrays_path,
        weights=model.coef_.astype(np.float32),
        bias=model.intercept_.astype(np.float32),
        types=np.array([str(c) for c in model.classes_]),
    )
    meta = {
        "reader": "evidence_type",
        "encoder": encoder,
        "types": [str(c) for c in model.classes_],
        "examples": len(rows),
        "examples_by_type": dict(sorted(Counter(t.evidence_type for t in rows).items())),
        "examples_by_language": dict(sorted(Counter(t.lang for t in rows).items())),
        "hyperparameters": {"C": EVIDENCE_TYPE_C, "class_weight": "balanced"},
        "train_seconds": round(time.perf_counter() - started, 1),
        "command": "gaplens train parts",
    }
    meta_path.write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return meta


def seed_release(target: Path, source: Path) -> Path:
    """Make ``target`` a release the service can read, and say where the encoder to read texts with is.

    A release refit with a tenant's reviews is written beside the shipped one (the setting ``tuned_dir``
    serves it): it takes the source's heads, readers and gate (small .npz / .json files) where it has none
    of its own, and reads with the source's encoder when it has no int8 copy of its own.
    """
    target.mkdir(parents=True, exist_ok=True)
    if target.resolve() != source.resolve():
        for path in sorted([*source.glob("*.npz"), *source.glob("*.json")]):
            if not (target / path.name).exists():
                shutil.copy2(path, target / path.name)
    return target if (target / f"{ENGLISH_ENCODER}.onnx").exists() else source


def train_parts(
    texts: Sequence[LabelledText],
    framework: Framework,
    encoders: dict[str, Callable[[list[str]], np.ndarray]],
    models_dir: Path,
    log: Callable[[str], None] = print,
    reviews: Sequence[dict] = (),
    indicator_parts: Mapping[str, Sequence[str]] | None = None,
) -> dict[str, dict]:
    """Fit and write the sub-element and evidence-type readers for each encoder (name -> its encode function).

    The English encoder learns from English rows only, as the step heads do; any other encoder (the
    multilingual one reads Dutch) from every language. ``reviews`` (review export lines) join the train
    rows (``review_examples``; ``indicator_parts``: indicator id -> its sub-elements).
    """
    all_parts = [part.id for label in framework.labels for part in label.parts]
    written = {}
    for name, encode_texts in encoders.items():
        started = time.perf_counter()
        pool = [t for t in texts if t.split == "train" and (t.lang == "en" or name != ENGLISH_ENCODER)]
        reviewed = [r for r in reviews if (r.get("language") or "en") == "en" or name != ENGLISH_ENCODER]
        examples = report_examples(pool, all_parts) + guidance_examples(framework)
        examples += review_examples(reviewed, indicator_parts or {}, all_parts)
        log(f"sub-element reader for {name}: encoding {len(examples)} texts")
        vectors = encode_texts([e.text for e in examples]).astype(np.float64)
        heads = fit_part_heads(examples, vectors, all_parts, log=log)
        written[f"oecd_parts-{name}"] = write_part_heads(heads, name, models_dir, started)
        started = time.perf_counter()
        rows = evidence_type_rows(pool)
        log(f"evidence-type reader for {name}: {len(rows)} labelled rows")
        kinds = encode_texts([model_input(t.text, t.heading) for t in rows]).astype(np.float64)
        model = fit_evidence_type(kinds, [t.evidence_type for t in rows])
        written[f"evidence_type-{name}"] = write_evidence_type(model, rows, name, models_dir, started)
    return written
