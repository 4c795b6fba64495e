"""The learned sub-element reader: how strongly a passage evidences each OECD sub-element (1.1 .. 6.2).

Written by ``gaplens train parts`` (classifiers/training/part_training.py) as two small files per encoder
next to the step heads: ``oecd_parts-<encoder>.npz`` (weights, Platt curves, thresholds) and ``.json``
(provenance). It reads the vectors the due-diligence classifier already has, so it costs no encoder pass.
The rubric gates its indicators on these readings (service/judging/rubric.py).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from classifiers.base import calibrated, model_files, trained_files

# At most this many sub-elements are named per passage (strongest first); all scores are kept.
MAX_PARTS = 3


PARTS = "oecd_parts"
EVIDENCE_TYPE = "evidence_type"


def part_files(encoder: str, models_dir: Path) -> tuple[Path, Path]:
    """Where one encoder's sub-element reader lives."""
    return model_files(PARTS, encoder, models_dir)


class PartReader:
    """Calibrated per-sub-element probabilities and the sub-elements that pass their thresholds."""

    def __init__(self, arrays_path: Path) -> None:
        arrays = np.load(arrays_path, allow_pickle=False)
        self.parts = [str(p) for p in arrays["parts"]]
        self.weights = arrays["weights"].astype(np.float32)
        self.bias = arrays["bias"].astype(np.float32)
        self.platt = arrays["platt"].astype(np.float32)
        self.thresholds = arrays["thresholds"].astype(np.float32)
        # sub-elements with too few labelled examples are not read (their indicators keep the old rule)
        self.learned = [j for j, ok in enumerate(arrays["learned"]) if ok]

    def probabilities(self, vectors: np.ndarray) -> np.ndarray:
        """(passages x sub-elements) calibrated probabilities."""
        return calibrated(vectors @ self.weights.T + self.bias, self.platt)

    def read(self, vectors: np.ndarray) -> list[tuple[dict[str, float], tuple[str, ...]]]:
        """Per passage: each learned sub-element's score, and those passing their thresholds (best first)."""
        readings = []
        for p in self.probabilities(vectors):
            order = [j for j in np.argsort(-p) if j in self.learned and p[j] >= self.thresholds[j]]
            scores = {self.parts[j]: round(float(p[j]), 4) for j in self.learned}
            readings.append((scores, tuple(self.parts[j] for j in order[:MAX_PARTS])))
        return readings


@lru_cache(maxsize=8)
def part_reader(encoder: str, models_dir: Path) -> PartReader | None:
    """The encoder's sub-element reader (or that of the encoder it approximates); None if none was trained."""
    found = trained_files(PARTS, encoder, models_dir)
    return PartReader(found[0]) if found else None


def evidence_type_files(encoder: str, models_dir: Path) -> tuple[Path, Path]:
    """Where one encoder's evidence-type reader lives."""
    return model_files(EVIDENCE_TYPE, encoder, models_dir)


class EvidenceTypeReader:
    """What kind of evidence a passage gives (result / action / commitment / mention), learned from labels.

    The rules of corpora/evidence_types.yaml (service/judging/substance.py) read a plan such as "risks
    will be identified in 2024" as an action because of its past-tense verbs; this reader learned the
    kinds from the labelled report rows instead. The rules stay for passages without a vector.
    """

    def __init__(self, arrays_path: Path) -> None:
        arrays = np.load(arrays_path, allow_pickle=False)
        self.types = [str(t) for t in arrays["types"]]
        self.weights = arrays["weights"].astype(np.float32)
        self.bias = arrays["bias"].astype(np.float32)

    def read(self, vectors: np.ndarray) -> list[str]:
        """The most likely evidence type of each passage."""
        return [self.types[j] for j in np.argmax(vectors @ self.weights.T + self.bias, axis=1)]


@lru_cache(maxsize=8)
def evidence_type_reader(encoder: str, models_dir: Path) -> EvidenceTypeReader | None:
    """The encoder's evidence-type reader (or that of the encoder it approximates); None if none exists."""
    found = trained_files(EVIDENCE_TYPE, encoder, models_dir)
    return EvidenceTypeReader(found[0]) if found else None
