"""Embed: texts -> normalised float32 vectors, reusing cached vectors by (model, text) hash.

Normalised vectors let cosine similarity be a plain inner product (classifiers and faiss rely on it).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Protocol

import numpy as np

from service.models import get_encoder


class EmbeddingCache(Protocol):
    """Where vectors are kept between runs (the store implements it)."""

    def get_vectors(self, keys: Sequence[str]) -> dict[str, np.ndarray]: ...

    def put_vectors(self, model: str, vectors: dict[str, np.ndarray]) -> None: ...


def embedding_key(model: str, text: str) -> str:
    """Cache key: the same text under the same model is embedded once, whatever report it is in."""
    return hashlib.sha256(f"{model}\x00{text}".encode()).hexdigest()


def encode(texts: Sequence[str], model: str, batch_size: int = 32) -> np.ndarray:
    """Run the encoder; returns an (n, dim) float32 array of unit vectors."""
    encoder = get_encoder(model)
    if not texts:
        return np.zeros((0, encoder.dim), dtype=np.float32)
    return encoder.encode(texts, batch_size)


def embed_texts(
    texts: Sequence[str], model: str, cache: EmbeddingCache | None = None, batch_size: int = 32
) -> np.ndarray:
    """Vectors for ``texts`` in order; only texts missing from the cache reach the encoder."""
    keys = [embedding_key(model, t) for t in texts]
    found = cache.get_vectors(keys) if cache is not None else {}
    missing = sorted({k: t for k, t in zip(keys, texts, strict=True) if k not in found}.items())
    if missing:
        fresh = encode([t for _, t in missing], model, batch_size)
        new = {k: v for (k, _), v in zip(missing, fresh, strict=True)}
        if cache is not None:
            cache.put_vectors(model, new)
        found = {**found, **new}
    if not texts:
        return encode([], model)
    return np.stack([found[k] for k in keys]).astype(np.float32)
