"""The classifier contract shared by both label sets (17 SDGs, 6 OECD steps).

A classifier reads passage embeddings and returns one LabelScores per passage. Heavy work (embedding
anchor texts, reading model files) happens in ``load()``, never in ``__init__``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np

from service.frameworks import Framework
from service.records import LabelScores


class Classifier(Protocol):
    """What the pipeline needs from any classifier."""

    framework: Framework

    def load(self) -> None:
        """Prepare everything expensive; called once before the first predict."""

    def predict(
        self, vectors: np.ndarray, passage_ids: Sequence[str], texts: Sequence[str] | None = None
    ) -> list[LabelScores]:
        """Scores for each row of ``vectors`` (unit-length embeddings of ``texts``, when given)."""
        ...


def sigmoid(x: np.ndarray) -> np.ndarray:
    """Logistic function, used to turn similarity margins into probability-like scores."""
    return 1.0 / (1.0 + np.exp(-x))
