"""Index: a small faiss wrapper for semantic search over stored passages.

Vectors are unit length, so inner product (IndexFlatIP) equals cosine similarity. Ids are the
passages' row ids in the store, which makes the index rebuildable from the store at any time.
Metadata (model, dimension, count, faiss version) lives next to the index file; an index whose
metadata disagrees with the store is rebuilt rather than trusted.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from pathlib import Path

import faiss
import numpy as np

# faiss only switches batched queries to BLAS above queries x dim > 128000; lower it (see
# ../shared/ENVIRONMENT.md: 100 queries went from 254 ms to 44 ms).
faiss.cvar.distance_compute_blas_threshold = 20


class PassageIndex:
    """Exact inner-product index keyed by passage row id, persisted as ``passages.faiss``."""

    def __init__(self, directory: Path, model: str, dim: int) -> None:
        self.directory = directory
        self.model = model
        self.dim = dim
        self._lock = threading.Lock()
        self._index = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))

    @property
    def path(self) -> Path:
        return self.directory / "passages.faiss"

    @property
    def meta_path(self) -> Path:
        return self.directory / "passages.json"

    def count(self) -> int:
        return int(self._index.ntotal)

    def add(self, ids: Sequence[int], vectors: np.ndarray) -> None:
        """Append vectors (replacing any with the same ids) and persist."""
        if not len(ids):
            return
        id_array = np.asarray(ids, dtype=np.int64)
        with self._lock:
            self._index.remove_ids(id_array)  # type: ignore[arg-type]  # faiss accepts id arrays
            self._index.add_with_ids(np.ascontiguousarray(vectors, np.float32), id_array)
            self._save()

    def remove(self, ids: Sequence[int]) -> None:
        with self._lock:
            self._index.remove_ids(np.asarray(ids, dtype=np.int64))  # type: ignore[arg-type]
            self._save()

    def search(
        self, query: np.ndarray, k: int, allowed: Sequence[int] | None = None
    ) -> list[tuple[int, float]]:
        """Top-k (id, similarity) for one query vector, optionally only among ``allowed`` ids."""
        if self.count() == 0 or (allowed is not None and not len(allowed)):
            return []
        params = None
        if allowed is not None:
            selector = faiss.IDSelectorBatch(np.asarray(allowed, dtype=np.int64))
            params = faiss.SearchParameters(sel=selector)  # type: ignore[call-arg]
        with self._lock:
            scores, ids = self._index.search(
                np.ascontiguousarray(query.reshape(1, -1), np.float32), k, params=params
            )
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i != -1]

    def rebuild(self, ids: Sequence[int], vectors: np.ndarray) -> None:
        """Replace the whole index with these vectors."""
        with self._lock:
            self._index = faiss.IndexIDMap2(faiss.IndexFlatIP(self.dim))
            if len(ids):
                self._index.add_with_ids(
                    np.ascontiguousarray(vectors, np.float32), np.asarray(ids, dtype=np.int64)
                )
            self._save()

    def _metadata(self) -> dict[str, object]:
        return {
            "model": self.model,
            "dim": self.dim,
            "count": self.count(),
            "faiss": faiss.__version__,
            "metric": "inner_product",
        }

    def _save(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".faiss.tmp")
        faiss.write_index(self._index, str(tmp))
        tmp.replace(self.path)  # atomic: a crash never leaves a half-written index
        self.meta_path.write_text(json.dumps(self._metadata(), indent=2))

    def load(self, expected_count: int) -> bool:
        """Read the saved index if it matches model, dimension and the store's count."""
        if not (self.path.exists() and self.meta_path.exists()):
            return False
        meta = json.loads(self.meta_path.read_text())
        if meta.get("model") != self.model or meta.get("dim") != self.dim:
            return False
        index = faiss.read_index(str(self.path))
        if index.ntotal != expected_count:
            return False
        with self._lock:
            self._index = index  # type: ignore[assignment]  # read_index returns the IDMap2 we wrote
        return True


def interleave(parts: Sequence[Sequence[tuple[int, float]]], k: int) -> list[tuple[int, float]]:
    """The top ``k`` of several index parts' hits (each best first), taken rank by rank.

    Cosines of different encoders are not on one scale (e5's lie around 0.7 to 1.0 for almost any two
    texts, as its model card says; MiniLM's spread far wider), so no part's scores may crowd out
    another's: the first hit of each part comes before any second one; within a rank the higher score
    comes first. With one part this is that part's hits unchanged.
    """
    ranked = sorted((rank, -score, i) for part in parts for rank, (i, score) in enumerate(part))
    return [(i, -negative) for _, negative, i in ranked[:k]]
