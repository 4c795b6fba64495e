"""The relevance gate: which report passages need the encoder at all.

Half of an annual report can be financial statements, notes and tables that no goal or due-diligence step
is read from. A bag-of-words logistic model (hashed word uni- and bigrams, microseconds a passage) trained
on our labelled passages says which passages cannot carry evidence; those skip the encoder and take no
label. The features are hashed here (crc32, a few lines) rather than by scikit-learn's HashingVectorizer,
whose import alone costs `gaplens analyze` 1.3 s; scikit-learn fits the weights. Its threshold is the
highest that keeps at least ``MIN_DEV_RECALL`` of the labelled dev passages that do carry a goal or step
(never the test split). A passage that names a goal or a step instrument outright is
never gated. Files: ``relevance.npz`` (weights) and ``relevance.json`` (settings, threshold, dev numbers),
written by ``gaplens train tuned`` / ``gaplens train gate``.
"""

from __future__ import annotations

import json
import re
import zlib
from collections import Counter
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from service.encoding.inputs import model_input

if TYPE_CHECKING:
    from scipy.sparse import csr_matrix

    from classifiers.labelled import LabelledText

FEATURES = 2**16
MIN_DEV_RECALL = 0.995
C = 16.0
# Words of two or more letters or digits, as scikit-learn's default token pattern reads them.
_WORD = re.compile(r"\b\w\w+\b")


def features(text: str, size: int = FEATURES) -> dict[int, float]:
    """Hashed counts of the text's lower-cased words and word pairs, scaled to unit length."""
    words = _WORD.findall(text.lower())
    grams = words + [f"{a} {b}" for a, b in zip(words, words[1:], strict=False)]
    counts = Counter(zlib.crc32(g.encode()) % size for g in grams)
    norm = float(np.sqrt(sum(c * c for c in counts.values()))) or 1.0
    return {column: count / norm for column, count in counts.items()}


def feature_matrix(texts: Sequence[str], size: int = FEATURES) -> csr_matrix:
    """(texts x size) sparse features, for fitting."""
    from scipy.sparse import csr_matrix

    rows = [features(t, size) for t in texts]
    data = [v for r in rows for v in r.values()]
    columns = [c for r in rows for c in r]
    pointers = np.cumsum([0] + [len(r) for r in rows])
    return csr_matrix((data, columns, pointers), shape=(len(texts), size))


def carries_evidence(text: LabelledText) -> bool:
    """Whether a labelled text shows any goal or step (what the gate must let through)."""
    return bool(text.sdgs or text.steps)


def _rows(texts: Sequence[LabelledText], split: str) -> list[LabelledText]:
    """English sentences and passages labelled for both frameworks (a page is decided from its passages)."""
    from classifiers.labelled import select

    chosen = select(texts, split, lang="en")
    return [t for t in chosen if t.granularity != "page" and t.sdgs is not None and t.steps is not None]


def train_gate(texts: Sequence[LabelledText], models_dir: Path) -> dict:
    """Fit the gate on the train split, choose its threshold on dev, write its two files."""
    from sklearn.linear_model import LogisticRegression

    train, dev = _rows(texts, "train"), _rows(texts, "dev")
    x = feature_matrix([model_input(t.text, t.heading) for t in train])
    model = LogisticRegression(C=C, max_iter=5000, class_weight="balanced")
    model.fit(x, np.array([carries_evidence(t) for t in train]))
    weights, bias = model.coef_[0].astype(np.float32), float(model.intercept_[0])
    dev_p = probabilities([model_input(t.text, t.heading) for t in dev], weights, bias)
    carrying = np.array([carries_evidence(t) for t in dev])
    threshold = max(
        (t for t in np.arange(0.01, 0.5, 0.01) if (dev_p[carrying] >= t).mean() >= MIN_DEV_RECALL),
        default=0.0,
    )
    meta = {
        "features": FEATURES,
        "features_are": "crc32 of lower-cased words and word pairs, unit length",
        "C": C,
        "threshold": round(float(threshold), 2),
        "trained_on": f"train split, {len(train)} English sentences and passages",
        "train_with_a_label": int(sum(map(carries_evidence, train))),
        "dev_recall_of_evidence": round(float((dev_p[carrying] >= threshold).mean()), 4),
        "dev_share_of_non_evidence_gated": round(float((dev_p[~carrying] < threshold).mean()), 4),
        "command": "gaplens train gate",
    }
    models_dir.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(models_dir / "relevance.npz", weights=weights, bias=np.float32(bias))
    (models_dir / "relevance.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return meta


def probabilities(inputs: Sequence[str], weights: np.ndarray, bias: float) -> np.ndarray:
    """The logistic model's probability that each text carries evidence."""
    size = len(weights)
    margins = np.array([sum(weights[c] * v for c, v in features(t, size).items()) for t in inputs]) + bias
    return 1.0 / (1.0 + np.exp(-margins))


class RelevanceGate:
    """The trained gate, loaded from ``models_dir``."""

    def __init__(self, models_dir: Path) -> None:
        arrays = np.load(models_dir / "relevance.npz")
        self.meta = json.loads((models_dir / "relevance.json").read_text(encoding="utf-8"))
        self.weights, self.bias = arrays["weights"], float(arrays["bias"])
        self.threshold = float(self.meta["threshold"])

    def needs_encoder(self, inputs: Sequence[str]) -> np.ndarray:
        """One boolean per encoder input (a passage under its heading): whether it may carry evidence."""
        if not inputs:
            return np.zeros(0, dtype=bool)
        return probabilities(inputs, self.weights, self.bias) >= self.threshold


@lru_cache(maxsize=2)
def load_gate(models_dir: Path) -> RelevanceGate | None:
    """The gate shipped in ``models_dir``; None when it has none (every passage is encoded)."""
    return RelevanceGate(models_dir) if (models_dir / "relevance.npz").exists() else None
