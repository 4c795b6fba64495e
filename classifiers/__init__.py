"""Classifiers for the two label sets, behind one registry.

``get_classifier("sdg", "trained", ...)`` returns a loaded classifier; an unknown name raises an
error that lists the registered ones. ``tuned`` (the default) reads the fine-tuned encoder's heads in
classifiers/models/tuned/ (``gaplens train tuned`` writes them); ``trained`` reads the first release's
heads on frozen encoders in classifiers/models/ (``gaplens train sdg`` / ``dd``); ``zero-shot`` needs no
training and is the baseline. What trains the heads lives in classifiers/training/, which the
pipeline never imports (pyproject.toml's import contracts).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from classifiers.base import Classifier
from classifiers.linear import MODELS_DIR, TUNED_DIR, LinearClassifier, named_labels
from classifiers.zero_shot import SimilarityClassifier
from service.errors import UnknownName
from service.frameworks import load_framework

# Where the logistic curve crosses 0.5, per framework: picked from the similarity percentiles of
# passages in two development reports (deloitte-global-2023, hm-sustainability-2022) so that roughly
# one passage in ten counts for a label; never from an evaluation set.
ZERO_SHOT_CALIBRATION = {"sdg": (0.55, 0.04), "oecd_dd": (0.55, 0.04)}


def _zero_shot(framework_id: str, corpora_dir: Path, model: str) -> Classifier:
    center, scale = ZERO_SHOT_CALIBRATION[framework_id]
    framework = load_framework(framework_id, corpora_dir)
    return SimilarityClassifier(framework, model, center=center, scale=scale, top_k=2)


def _heads_in(models_dir: Path) -> Callable[[str, Path, str], Classifier]:
    """A builder of the linear heads in ``models_dir``: both releases read heads the same way."""

    def build(framework_id: str, corpora_dir: Path, model: str) -> Classifier:
        framework = load_framework(framework_id, corpora_dir)
        named = named_labels(framework_id, corpora_dir)
        return LinearClassifier(framework, model, models_dir=models_dir, named_labels=named)

    return build


CLASSIFIERS: dict[str, Callable[[str, Path, str], Classifier]] = {
    "tuned": _heads_in(TUNED_DIR),
    "trained": _heads_in(MODELS_DIR),
    "zero-shot": _zero_shot,
}
_loaded: dict[tuple[str, str, Path, str, Path], Classifier] = {}
_lock = threading.Lock()


def get_classifier(
    framework_id: str, name: str, corpora_dir: Path, model: str, tuned_dir: Path = TUNED_DIR
) -> Classifier:
    """A loaded classifier, built once per process for each (framework, name, corpora, model, tuned dir).

    ``tuned_dir`` (the setting ``tuned_dir``) is where ``tuned`` reads its heads and readers: a release
    refit with a tenant's reviews (``gaplens train parts --models-dir``) can be served beside the shipped one.
    """
    if name not in CLASSIFIERS:
        raise UnknownName(f"unknown classifier {name!r}; known: {', '.join(CLASSIFIERS)}")
    key = (framework_id, name, corpora_dir, model, tuned_dir)
    build = _heads_in(tuned_dir) if name == "tuned" else CLASSIFIERS[name]
    with _lock:
        if key not in _loaded:
            classifier = build(framework_id, corpora_dir, model)
            classifier.load()
            _loaded[key] = classifier
        return _loaded[key]
