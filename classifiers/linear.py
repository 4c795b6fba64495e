"""Trained classifiers: one calibrated logistic head per label on top of sentence embeddings.

The same class reads the SDG heads (17 goals) and the OECD due-diligence heads (6 steps). Each model
is two small files per framework and encoder in classifiers/models/, written by ``gaplens train``:
``<framework>-<encoder>.npz`` (weights, calibration, thresholds, part vectors) and ``.json``
(provenance, training numbers and the decision rule). No pickles: numpy arrays and JSON only.

Decision rule per passage: a label is assigned when its calibrated probability reaches the label's
own threshold (chosen on out-of-fold training predictions), at most ``max_labels`` labels, strongest
first. SDG only: when no goal reaches its threshold, the strongest goal is still assigned if its
probability reaches ``top1_floor``: report passages sit lower on the curves than the short training
texts, and without this floor 40% of the dev report passages got no goal at all (eval/RESULTS.md).
The tuned SDG heads have such a floor for short texts only (``top1_floor_short``): a sentence is
nearly always about some goal, and experts' one-goal sentences lost a third of their goals to the
threshold (eval/RESULTS.md). Most passages take no due-diligence step, so the OECD heads have no floor.
A passage that names a goal outright ("SDG 13", "Goal 13", "duurzaam ontwikkelingsdoel 13") gets that goal
as well. Each assigned label is attributed to its closest parts (SDG targets, OECD sub-elements) by cosine
similarity.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import replace
from functools import lru_cache
from pathlib import Path

import numpy as np

from classifiers.base import MODELS_DIR, calibrated, trained_files
from classifiers.parts import evidence_type_reader, part_reader
from service.errors import NotFound
from service.frameworks import Framework, load_framework
from service.records import LabelScores

# The fine-tuned release: its encoder folder and the heads that read it (and the multilingual heads).
TUNED_DIR = MODELS_DIR / "tuned"
# "SDG 13", "SDG13", "SDGs 3 and 8", "Sustainable Development Goal 13", "ontwikkelingsdoel 13"; plain
# "Goal 13" / "Doel 13" only when capitalised, so that "our goal 3 years ago" does not count.
_NUMBERS = r"\s?#?((?:\d{1,2}(?:\s*(?:,|and|en|&)\s*)?)+)\b"
EXPLICIT_GOAL = (
    re.compile(
        r"\b(?:SDGs?|sustainable development goals?|(?:duurzame? )?ontwikkelingsdoel(?:en)?)" + _NUMBERS,
        re.IGNORECASE,
    ),
    re.compile(r"\b(?:Goal|GOAL|Doel|DOEL)s?" + _NUMBERS),
)
MENTION_SCORE = 0.9
PART_MIN_SIMILARITY = 0.3


def explicit_goals(text: str) -> set[str]:
    """Goal numbers a passage names outright."""
    goals: set[str] = set()
    for match in (m for pattern in EXPLICIT_GOAL for m in pattern.finditer(text)):
        goals.update(str(int(n)) for n in re.findall(r"\d{1,2}", match.group(1)) if 1 <= int(n) <= 17)
    return goals


def cue_matcher(framework: Framework) -> Callable[[str], set[str]] | None:
    """A function giving the labels whose cue words (corpora, ``cues``) a text contains; None if no cues."""
    patterns = {
        label.id: re.compile("|".join(f"(?:{c})" for c in label.cues), re.IGNORECASE)
        for label in framework.labels
        if label.cues
    }
    if not patterns:
        return None
    return lambda text: {label for label, pattern in patterns.items() if pattern.search(text)}


@lru_cache(maxsize=8)
def named_labels(framework_id: str, corpora_dir: Path) -> Callable[[str], set[str]] | None:
    """What a text names outright in a framework: goal numbers for the SDGs, step cues for due diligence.

    One matcher per framework and process: the heads assign these labels, and the relevance gate never
    skips a passage that has one.
    """
    return explicit_goals if framework_id == "sdg" else cue_matcher(load_framework(framework_id, corpora_dir))


class LinearClassifier:
    """Per-label logistic heads with Platt calibration and per-label thresholds, loaded from files.

    ``named_labels`` finds labels a text names outright (SDG goal numbers, OECD step cues such as
    "grievance mechanism"); those are assigned too.
    """

    def __init__(
        self,
        framework: Framework,
        encoder: str,
        models_dir: Path = MODELS_DIR,
        named_labels: Callable[[str], set[str]] | None = None,
    ) -> None:
        self.framework = framework
        self.encoder = encoder
        self.models_dir = models_dir
        self.named_labels = named_labels
        self.meta: dict = {}

    def load(self) -> None:
        if self.meta:
            return
        found = trained_files(self.framework.id, self.encoder, self.models_dir)
        if found is None:
            raise NotFound(
                f"no trained {self.framework.id} model for encoder {self.encoder!r} in {self.models_dir}; "
                "run `gaplens train` or choose the zero-shot classifier"
            )
        arrays_path, meta_path = found
        arrays = np.load(arrays_path, allow_pickle=False)
        self.weights = arrays["weights"].astype(np.float32)
        self.bias = arrays["bias"].astype(np.float32)
        self.platt = arrays["platt"].astype(np.float32)
        self.thresholds = arrays["thresholds"].astype(np.float32)
        # Tuned heads have their own thresholds for short texts (a sentence or two): those sit lower on
        # the curves than passages do (classifiers/training/finetune.py). Older heads use one set for all.
        self.short_thresholds = (
            arrays["thresholds_short"].astype(np.float32) if "thresholds_short" in arrays else self.thresholds
        )
        self.part_vectors = arrays["part_vectors"].astype(np.float32)
        self.part_ids = [str(t) for t in arrays["part_ids"]]
        self.part_rows: dict[str, list[int]] = {}
        for i, part in enumerate(self.part_ids):
            self.part_rows.setdefault(part.split(".")[0], []).append(i)
        self.meta = json.loads(meta_path.read_text(encoding="utf-8"))
        floor = self.meta.get("top1_floor")
        self.top1_floor = float(floor) if floor is not None else None
        short_floor = self.meta.get("top1_floor_short", floor)
        self.top1_floor_short = float(short_floor) if short_floor is not None else None
        self.max_labels = int(self.meta.get("max_labels", 3))
        self.short_words = int(self.meta.get("short_max_words", 0))
        if self.meta["labels"] != list(self.framework.label_ids):
            raise ValueError(f"{arrays_path} was trained for other labels than {self.framework.id}")

    def probabilities(self, vectors: np.ndarray) -> np.ndarray:
        """(passages x labels) calibrated probabilities."""
        self.load()
        return calibrated(vectors @ self.weights.T + self.bias, self.platt)

    def best_parts(self, vector: np.ndarray, label: str, limit: int = 2) -> list[str]:
        """The label's parts closest to the passage, most similar first, one entry per part."""
        rows = self.part_rows.get(label, [])
        sims = self.part_vectors[rows] @ vector
        parts: list[str] = []
        for i in np.argsort(-sims):
            if sims[i] < PART_MIN_SIMILARITY or len(parts) == limit:
                break
            if self.part_ids[rows[i]] not in parts:
                parts.append(self.part_ids[rows[i]])
        return parts

    def predict(
        self, vectors: np.ndarray, passage_ids: Sequence[str], texts: Sequence[str] | None = None
    ) -> list[LabelScores]:
        probs = self.probabilities(vectors)
        label_ids = list(self.framework.label_ids)
        results = []
        for row, pid in enumerate(passage_ids):
            p = probs[row]
            named = self.named_labels(texts[row]) if self.named_labels and texts is not None else set()
            for label in named:
                p[label_ids.index(label)] = max(p[label_ids.index(label)], MENTION_SCORE)
            order = np.argsort(-p)
            short = texts is not None and len(texts[row].split()) <= self.short_words
            thresholds = self.short_thresholds if short else self.thresholds
            passing = [j for j in order if p[j] >= thresholds[j]]
            floor = self.top1_floor_short if short else self.top1_floor
            if not passing and floor is not None and p[order[0]] >= floor:
                passing = [order[0]]
            chosen = tuple(label_ids[j] for j in passing[: self.max_labels])
            chosen += tuple(sorted(g for g in named if g not in chosen))
            parts = tuple(t for label in chosen for t in self.best_parts(vectors[row], label))
            scores = {lid: round(float(p[j]), 4) for j, lid in enumerate(label_ids)}
            results.append(LabelScores(pid, self.framework.id, scores, chosen, parts))
        return self._with_passage_readers(vectors, results)

    def _with_passage_readers(self, vectors: np.ndarray, results: list[LabelScores]) -> list[LabelScores]:
        """OECD readings take sub-elements and evidence type from the learned readers the encoder has.

        A sub-element the reader did not learn (too few examples) keeps its attribution by similarity, so
        coverage does not call it missing in every report.
        """
        if self.framework.id != "oecd_dd":
            return results
        reader = part_reader(self.encoder, self.models_dir)
        if reader is not None:
            results = [
                replace(
                    result,
                    parts=learned + tuple(p for p in result.parts if p not in scores),
                    part_scores=scores,
                )
                for result, (scores, learned) in zip(results, reader.read(vectors), strict=True)
            ]
        kinds = evidence_type_reader(self.encoder, self.models_dir)
        if kinds is not None:
            results = [
                replace(result, evidence_type=kind)
                for result, kind in zip(results, kinds.read(vectors), strict=True)
            ]
        return results
