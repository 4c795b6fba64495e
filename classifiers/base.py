"""The classifier contract shared by both label sets (17 SDGs, 6 OECD steps).

A classifier reads passage embeddings and returns one LabelScores per passage. Heavy work (embedding
anchor texts, reading model files) happens in ``load()``, never in ``__init__``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from service.encoding.models import head_of
from service.frameworks import Framework
from service.records import LabelScores

MODELS_DIR = Path(__file__).resolve().parent / "models"


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


def calibrated(margins: np.ndarray, platt: np.ndarray) -> np.ndarray:
    """Per-label Platt curves over head margins: (n x labels) margins -> probabilities."""
    return sigmoid(platt[:, 0] * margins + platt[:, 1])


def model_files(stem: str, encoder: str, models_dir: Path = MODELS_DIR) -> tuple[Path, Path]:
    """Where the arrays and the metadata of one trained model live (``<stem>-<encoder>.npz`` / ``.json``).

    ``stem`` is a framework id ("sdg", "oecd_dd") for the heads, or a reader's name ("oecd_parts",
    "evidence_type").
    """
    name = f"{stem}-{encoder.replace('/', '_')}"
    return models_dir / f"{name}.npz", models_dir / f"{name}.json"


def trained_files(stem: str, encoder: str, models_dir: Path) -> tuple[Path, Path] | None:
    """The files of the model trained for ``encoder``, else for the encoder it approximates; None if neither.

    An encoder that approximates another (an int8 copy) reads its own calibrated files when it has them.
    """
    for name in (encoder, head_of(encoder)):
        arrays_path, meta_path = model_files(stem, name, models_dir)
        if arrays_path.exists():
            return arrays_path, meta_path
    return None
