"""Fitting the classifier heads that classifiers/linear.py reads: shared by the SDG and the OECD trainers.

One logistic regression per label on top of sentence embeddings (one-vs-rest, so an example with no
label is a negative for every label). Calibration and thresholds come from 5-fold out-of-fold margins:
a Platt curve per label, then the threshold that maximises that label's F1. Deterministic: the same
examples and encoder give the same files (fixed fold seed, lbfgs).
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold

from classifiers.base import calibrated, model_files
from service.encoding.embed import encode
from service.frameworks import Framework

SEED = 13
C = 4.0
FOLDS = 5


@dataclass(frozen=True)
class Example:
    """One training text and its labels as numbers (SDG goals 1-17, OECD steps 1-6; empty: none)."""

    text: str
    labels: tuple[int, ...]
    source: str
    lang: str = "en"


def label_matrix(label_lists: Sequence[Sequence[int]], n_labels: int = 17) -> np.ndarray:
    """(texts x labels) 0/1 matrix from each text's label numbers (1-based)."""
    y = np.zeros((len(label_lists), n_labels), dtype=np.int8)
    for i, labels in enumerate(label_lists):
        for label in labels:
            y[i, label - 1] = 1
    return y


def deduplicated(examples: Sequence[Example]) -> list[Example]:
    """One example per text; the first label set wins."""
    seen: set[str] = set()
    unique = []
    for example in examples:
        if example.text not in seen:
            seen.add(example.text)
            unique.append(example)
    return unique


def fit_heads(
    x: np.ndarray, y: np.ndarray, c: float = C, sample_weight: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """One logistic regression per label column: (labels x dim) weights and (labels,) biases.

    ``sample_weight`` counts an example as that many copies of itself (real Dutch text among translations).
    """
    weights = np.zeros((y.shape[1], x.shape[1]), dtype=np.float64)
    bias = np.zeros(y.shape[1], dtype=np.float64)
    for j in range(y.shape[1]):
        model = LogisticRegression(C=c, max_iter=2000).fit(x, y[:, j], sample_weight=sample_weight)
        weights[j], bias[j] = model.coef_[0], model.intercept_[0]
    return weights, bias


def out_of_fold_margins(x: np.ndarray, y: np.ndarray, c: float = C) -> np.ndarray:
    """Margins of each example from heads that never saw it (stratified by first label)."""
    strata = np.where(y.any(axis=1), y.argmax(axis=1) + 1, 0)
    margins = np.zeros(y.shape, dtype=np.float64)
    for train, held in StratifiedKFold(FOLDS, shuffle=True, random_state=SEED).split(x, strata):
        weights, bias = fit_heads(x[train], y[train], c)
        margins[held] = x[held] @ weights.T + bias
    return margins


def platt_and_thresholds(margins: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per label: a logistic curve over the margin, and the probability threshold with the best F1."""
    platt = np.zeros((y.shape[1], 2), dtype=np.float64)
    thresholds = np.zeros(y.shape[1], dtype=np.float64)
    grid = np.round(np.arange(0.15, 0.86, 0.05), 2)
    for j in range(y.shape[1]):
        curve = LogisticRegression(C=1e6, max_iter=1000).fit(margins[:, [j]], y[:, j])
        platt[j] = curve.coef_[0][0], curve.intercept_[0]
        probs = calibrated(margins[:, [j]], platt[[j]])[:, 0]
        scores = [f1(probs >= t, y[:, j] == 1) for t in grid]
        thresholds[j] = grid[int(np.argmax(scores))]
    return platt, thresholds


def f1(predicted: np.ndarray, truth: np.ndarray) -> float:
    """Micro F1 of two boolean arrays of the same shape."""
    tp = float((predicted & truth).sum())
    return 2 * tp / max(float(predicted.sum() + truth.sum()), 1.0)


def part_anchors(framework: Framework) -> tuple[list[str], list[str]]:
    """(part id, text) pairs for attribution: each part's own text and its examples."""
    ids, texts = [], []
    for label in framework.labels:
        for part in label.parts:
            for text in (part.text, *part.examples):
                ids.append(part.id)
                texts.append(text)
    return ids, texts


def train_head(
    framework: Framework,
    encoder: str,
    examples: Sequence[Example],
    models_dir: Path,
    decision: dict,
    c: float = C,
) -> dict:
    """Fit, calibrate and write one head; ``decision`` goes into the metadata (read by linear.py)."""
    started = time.perf_counter()
    x = encode([e.text for e in examples], encoder).astype(np.float64)
    y = label_matrix([e.labels for e in examples], len(framework.labels))
    margins = out_of_fold_margins(x, y, c)
    platt, thresholds = platt_and_thresholds(margins, y)
    weights, bias = fit_heads(x, y, c)
    oof_probs = calibrated(margins, platt)
    part_ids, part_texts = part_anchors(framework)
    part_vectors = encode(part_texts, encoder)

    models_dir.mkdir(parents=True, exist_ok=True)
    arrays_path, meta_path = model_files(framework.id, encoder, models_dir)
    np.savez_compressed(
        arrays_path,
        weights=weights.astype(np.float32),
        bias=bias.astype(np.float32),
        platt=platt.astype(np.float32),
        thresholds=thresholds.astype(np.float32),
        part_vectors=part_vectors.astype(np.float16),
        part_ids=np.array(part_ids),
    )
    meta = {
        "framework": framework.id,
        "encoder": encoder,
        "labels": list(framework.label_ids),
        "examples": len(examples),
        "examples_by_source": dict(sorted(Counter(e.source for e in examples).items())),
        "examples_by_language": dict(sorted(Counter(e.lang for e in examples).items())),
        "no_label_examples": int((~y.any(axis=1)).sum()),
        "hyperparameters": {"C": c, "folds": FOLDS, "seed": SEED},
        "thresholds": [round(float(t), 2) for t in thresholds],
        **decision,
        "out_of_fold_micro_f1": round(f1(oof_probs >= thresholds, y == 1), 4),
        "train_seconds": round(time.perf_counter() - started, 1),
        "command": f"gaplens train {'sdg' if framework.id == 'sdg' else 'dd'} --encoder {encoder}",
    }
    meta_path.write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return meta
