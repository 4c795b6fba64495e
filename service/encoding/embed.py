"""Embed: texts -> normalised float32 vectors, reusing cached vectors by (model, text) hash.

Normalised vectors let cosine similarity be a plain inner product (classifiers and faiss rely on it).
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np

from service.encoding.models import get_encoder, query_encoder


class EmbeddingCache(Protocol):
    """Where vectors are kept between runs (the store implements it)."""

    def get_vectors(self, keys: Sequence[str]) -> dict[str, np.ndarray]: ...

    def put_vectors(self, model: str, vectors: dict[str, np.ndarray]) -> None: ...


class MemoryCache:
    """An in-process cache of the most recently used vectors, for batch workers that have no store.

    Reports of one company or one sector repeat passages (boilerplate, year-on-year text); a worker
    embeds each of them once. ``capacity`` bounds memory (100,000 MiniLM vectors are about 150 MB).
    """

    def __init__(self, capacity: int = 100_000) -> None:
        self.capacity = capacity
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()

    def get_vectors(self, keys: Sequence[str]) -> dict[str, np.ndarray]:
        found = {k: self._vectors[k] for k in keys if k in self._vectors}
        for key in found:
            self._vectors.move_to_end(key)
        return found

    def put_vectors(self, model: str, vectors: dict[str, np.ndarray]) -> None:
        self._vectors.update(vectors)
        while len(self._vectors) > self.capacity:
            self._vectors.popitem(last=False)


def embedding_key(model: str, text: str, scope: str = "") -> str:
    """Cache key: the same text under the same model (and ``scope``, a tenant) is embedded once.

    Without a scope (batch runs, stores from before tenants) the key is shared by every report.
    """
    return scoped_key(scope, hashlib.sha256(f"{model}\x00{text}".encode()).hexdigest())


def scoped_key(scope: str, key: str) -> str:
    """``key`` within ``scope`` (unchanged without one)."""
    return hashlib.sha256(f"{scope}\x00{key}".encode()).hexdigest() if scope else key


class ScopedCache:
    """One tenant's view of a shared cache, its keys the tenant's own.

    One tenant's vectors never answer (or time) another tenant's texts.
    """

    def __init__(self, inner: EmbeddingCache, scope: str) -> None:
        self.inner = inner
        self.scope = scope

    def _scoped(self, keys: Sequence[str]) -> dict[str, str]:
        return {scoped_key(self.scope, k): k for k in keys}

    def get_vectors(self, keys: Sequence[str]) -> dict[str, np.ndarray]:
        scoped = self._scoped(keys)
        return {scoped[k]: v for k, v in self.inner.get_vectors(list(scoped)).items()}

    def put_vectors(self, model: str, vectors: dict[str, np.ndarray]) -> None:
        scoped = self._scoped(list(vectors))
        self.inner.put_vectors(model, {k: vectors[original] for k, original in scoped.items()})


# One forward pass at a time in this process: the encoder already uses both cores, and threads that run it
# at once slow each other down (200 concurrent searches: 26 a second without the lock, 38 with it). A job
# holds the lock for a few batches at a time, so searches get their turn while a report is embedded.
_forward_pass = threading.Lock()
BATCHES_PER_TURN = 4


def encode(
    texts: Sequence[str],
    model: str,
    batch_size: int = 32,
    runtime: str = "torch",
    on_progress: Callable[[float], None] | None = None,
) -> np.ndarray:
    """Run the encoder; returns an (n, dim) float32 array of unit vectors.

    Texts go through longest first, as sentence-transformers orders them itself, so that each batch
    pads little; the vectors come back in the given order. ``on_progress`` hears the fraction done
    after each turn (a job's progress bar and time limit).
    """
    encoder = get_encoder(model, runtime)
    if not texts:
        return np.zeros((0, encoder.dim), dtype=np.float32)
    order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
    turn = batch_size * BATCHES_PER_TURN
    parts = []
    for start in range(0, len(order), turn):
        chunk = [texts[i] for i in order[start : start + turn]]
        with _forward_pass:
            parts.append(encoder.encode(chunk, batch_size))
        if on_progress:
            on_progress(min(start + turn, len(order)) / len(order))
    vectors = np.empty((len(texts), encoder.dim), dtype=np.float32)
    vectors[order] = np.concatenate(parts)
    return vectors


def embed_texts(
    texts: Sequence[str],
    model: str,
    cache: EmbeddingCache | None = None,
    batch_size: int = 32,
    runtime: str = "torch",
    on_progress: Callable[[float], None] | None = None,
) -> np.ndarray:
    """Vectors for ``texts`` in order; only texts missing from the cache reach the encoder."""
    keys = [embedding_key(model, t) for t in texts]
    found = cache.get_vectors(keys) if cache is not None else {}
    missing = sorted({k: t for k, t in zip(keys, texts, strict=True) if k not in found}.items())
    if missing:
        fresh = encode([t for _, t in missing], model, batch_size, runtime, on_progress)
        new = {k: v for (k, _), v in zip(missing, fresh, strict=True)}
        if cache is not None:
            cache.put_vectors(model, new)
        found = {**found, **new}
    if not texts:
        return encode([], model, runtime=runtime)
    return np.stack([found[k] for k in keys]).astype(np.float32)


def embed_query(query: str, model: str, runtime: str = "torch") -> np.ndarray:
    """A search query's unit vector by ``model``, read as that model reads queries (e5: ``query: ``).

    Not cached: a query is one short text, and its vector must not answer for a passage with the same text.
    """
    encoder = query_encoder(get_encoder(model, runtime))
    with _forward_pass:
        return encoder.encode([query])[0]
