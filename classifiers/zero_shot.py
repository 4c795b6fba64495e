"""Zero-shot baseline: similarity of a passage to the framework's own texts.

Each label is represented by anchor texts from corpora/ (its name and definition, alternative labels,
and every part: SDG targets, OECD sub-elements with their example phrasings). A passage's score for a
label is its best cosine similarity to any of the label's anchors, mapped through a logistic curve.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from classifiers.base import sigmoid
from service.encoding.embed import encode
from service.frameworks import Framework, Label
from service.records import LabelScores


@dataclass(frozen=True)
class Anchor:
    """One text that stands for a label, and for one of its parts when it came from a part."""

    label: str
    part: str
    text: str


def anchors_for(label: Label) -> list[Anchor]:
    """Every text in the framework file that says what this label is about."""
    anchors = [Anchor(label.id, "", f"{label.name}: {label.description}")]
    anchors += [Anchor(label.id, "", alt) for alt in label.alt_labels]
    for part in label.parts:
        anchors.append(Anchor(label.id, part.id, part.text))
        anchors += [Anchor(label.id, part.id, example) for example in part.examples]
    return anchors


class SimilarityClassifier:
    """Max-similarity to anchor texts; ``center``/``scale`` set where the logistic curve crosses 0.5."""

    def __init__(self, framework: Framework, model: str, center: float, scale: float, top_k: int = 2) -> None:
        self.framework = framework
        self.model = model
        self.center = center
        self.scale = scale
        self.top_k = top_k
        self._anchors: list[Anchor] = []
        self._matrix: np.ndarray | None = None

    def load(self) -> None:
        if self._matrix is not None:
            return
        self._anchors = [a for label in self.framework.labels for a in anchors_for(label)]
        self._matrix = encode([a.text for a in self._anchors], self.model)
        label_ids = self.framework.label_ids
        self._label_of = np.array([label_ids.index(a.label) for a in self._anchors])

    def label_similarities(self, vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(passages x labels) best similarity, and (passages x anchors) raw similarities."""
        self.load()
        assert self._matrix is not None
        sims = vectors @ self._matrix.T
        best = np.full((len(vectors), len(self.framework.labels)), -1.0, dtype=np.float32)
        for j in range(len(self.framework.labels)):
            columns = self._label_of == j
            if columns.any():
                best[:, j] = sims[:, columns].max(axis=1)
        return best, sims

    def best_parts(self, anchor_sims: np.ndarray, label_id: str, limit: int = 2) -> list[str]:
        """The parts (targets, sub-elements) of a label that this passage is closest to."""
        ranked = sorted(
            (
                (float(anchor_sims[i]), a.part)
                for i, a in enumerate(self._anchors)
                if a.label == label_id and a.part
            ),
            reverse=True,
        )
        parts: list[str] = []
        for sim, part in ranked:
            if sim < self.center - self.scale or len(parts) == limit:
                break
            if part not in parts:
                parts.append(part)
        return parts

    def predict(
        self, vectors: np.ndarray, passage_ids: Sequence[str], texts: Sequence[str] | None = None
    ) -> list[LabelScores]:
        best, sims = self.label_similarities(vectors)
        probs = sigmoid((best - self.center) / self.scale)
        label_ids = self.framework.label_ids
        results = []
        for row, pid in enumerate(passage_ids):
            order = np.argsort(-probs[row])[: self.top_k]
            chosen = tuple(label_ids[j] for j in order if probs[row, j] >= 0.5)
            parts = tuple(p for label in chosen for p in self.best_parts(sims[row], label))
            scores = {lid: round(float(probs[row, j]), 4) for j, lid in enumerate(label_ids)}
            results.append(LabelScores(pid, self.framework.id, scores, chosen, parts))
        return results
