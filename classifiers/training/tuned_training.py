"""``gaplens train tuned``: the fine-tuned release, from the labelled data to the files the service reads.

1. Fine-tune MiniLM with an SDG head and an OECD head on the English train split
   (classifiers/training/finetune.py).
2. Write both heads in the LinearClassifier format, with decision thresholds per length bucket chosen on
   the English dev split (never the test split), and the part vectors (SDG targets, OECD sub-elements)
   encoded by the tuned encoder, for attribution.
3. Export the int8 copy of the encoder (ONNX, the service's default) and choose its heads' thresholds
   again on its own dev vectors (``write_int8_release``); fit the relevance gate (classifiers/relevance.py).
4. Fit heads for every other language on the multilingual encoder (the six-layer e5 `gaplens train e5`
   distilled, its int8 ONNX copy as the service runs it), on the train split in
   English and Dutch; thresholds again from dev (Dutch and English dev rows).

Everything lands in ``models_dir`` (default classifiers/models/tuned/): ``gaplens-minilm/`` (the encoder),
``{sdg,oecd_dd}-gaplens-minilm.{npz,json}``, ``gaplens-minilm-int8.onnx`` with
``{sdg,oecd_dd}-gaplens-minilm-int8.{npz,json}``, ``relevance.{npz,json}``, and
``{sdg,oecd_dd}-gaplens-e5-l6-int8.{npz,json}`` (``gaplens-e5-l6-layers.safetensors`` comes from
`gaplens train e5`; the untuned e5's heads, ``*-multilingual-e5-small-int8.*``, stay for the first release's
comparisons).
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np

from classifiers.base import model_files
from classifiers.labelled import SHORT_WORDS, LabelledText, all_labelled, deduplicated, length_bucket, select
from classifiers.linear import TUNED_DIR
from classifiers.relevance import train_gate
from classifiers.training.finetune import (
    TuneConfig,
    bucket_thresholds,
    finetune,
    known_mask,
    short_top1_floor,
)
from classifiers.training.heads import fit_heads, part_anchors
from classifiers.training.part_training import train_parts
from service.encoding.embed import encode
from service.encoding.inputs import model_input
from service.encoding.models import (
    STUDENT_E5_INT8,
    TUNED_ENCODER,
    TUNED_INT8,
    TUNED_MAX_TOKENS,
    Encoder,
    OnnxEncoder,
    _packaged_minilm_path,
    export_onnx,
)
from service.frameworks import Framework, load_framework

# The heads are fitted on the vectors the service reads non-English text with: the distilled e5's int8 copy
# (classifiers/training/e5_training.py tunes and distils it).
MULTILINGUAL = STUDENT_E5_INT8
# At most this many labels per passage. A rich due-diligence passage can show four steps (policy, risk
# assessment, prevention, reporting): on dev, 4 instead of 3 moved OECD macro-F1 0.629 -> 0.635.
MAX_LABELS = {"sdg": 4, "oecd_dd": 4}
# Real (not translated) non-English report text counts this many times in the multilingual heads' fit: 276 of
# the 737 Dutch rows are real, the rest translations of English items, and the service reads real Dutch.
# Chosen on the real Dutch dev rows among 1, 2, 3 and 5 (eval/RESULTS.md).
REAL_TEXT_WEIGHT = 3.0
# Logistic-regression strength for the multilingual heads (as the first release's heads, heads.py).
C = 4.0


def truth_matrix(texts: Sequence[LabelledText], framework: Framework) -> np.ndarray:
    """(texts x labels) booleans of one framework's labels."""
    y = np.zeros((len(texts), len(framework.labels)), dtype=bool)
    for i, t in enumerate(texts):
        for label in t.labels_of(framework.id) or ():
            y[i, label - 1] = True
    return y


def inputs(texts: Sequence[LabelledText], with_heading: bool) -> list[str]:
    """The encoder inputs of labelled texts, with their headings as the pipeline reads passages."""
    return [model_input(t.text, t.heading if with_heading else "") for t in texts]


def write_heads(
    framework: Framework,
    name: str,
    encoder: str | Encoder,
    weights: np.ndarray,
    bias: np.ndarray,
    dev: Sequence[LabelledText],
    dev_vectors: np.ndarray,
    models_dir: Path,
    facts: dict,
    with_heading: bool,
) -> dict:
    """One framework's classifier files: heads, dev-chosen thresholds per length bucket, part vectors.

    ``name`` is the encoder name the service looks the heads up by; ``encoder`` encodes the part texts now
    (a model name or folder for ``service.encoding.embed.encode``, or an encoder object such as the int8
    export).
    """
    keep = [i for i, t in enumerate(dev) if t.labels_of(framework.id) is not None]
    dev, x = [dev[i] for i in keep], dev_vectors[keep]
    probs = 1.0 / (1.0 + np.exp(-(x @ weights.T + bias)))
    known = known_mask(dev, framework.id, len(framework.labels))
    truth = truth_matrix(dev, framework)
    thresholds = bucket_thresholds(probs, truth, [t.text for t in dev], known)
    short = np.array([length_bucket(t.text) == "short" for t in dev])
    floor = (
        short_top1_floor(probs[short], truth[short], thresholds["short"], MAX_LABELS["sdg"], known[short])
        if framework.id == "sdg"
        else None
    )
    part_ids, part_texts = part_anchors(framework)
    n = len(framework.labels)
    arrays_path, meta_path = model_files(framework.id, name, models_dir)
    models_dir.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        arrays_path,
        weights=weights.astype(np.float32),
        bias=bias.astype(np.float32),
        platt=np.tile(np.array([[1.0, 0.0]], np.float32), (n, 1)),
        thresholds=np.full(n, thresholds["passage"], np.float32),
        thresholds_short=np.full(n, thresholds["short"], np.float32),
        part_vectors=encoded(part_texts, encoder).astype(np.float16),
        part_ids=np.array(part_ids),
    )
    meta = {
        "framework": framework.id,
        "encoder": name,
        "labels": list(framework.label_ids),
        "top1_floor": None,
        "top1_floor_short": floor,
        "max_labels": MAX_LABELS[framework.id],
        "short_max_words": SHORT_WORDS,
        "thresholds_by_length": thresholds,
        "calibrated_on": f"dev split, {len(dev)} texts ({sorted({t.lang for t in dev})})",
        "with_heading": with_heading,
        **facts,
        "command": "gaplens train tuned",
    }
    meta_path.write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return meta


def encoded(texts: Sequence[str], encoder: str | Encoder) -> np.ndarray:
    """Vectors of texts from a model name or folder, or from an encoder object."""
    return encode(texts, encoder) if isinstance(encoder, str) else encoder.encode(texts, 16)


def write_int8_release(
    texts: Sequence[LabelledText],
    frameworks: Sequence[Framework],
    models_dir: Path = TUNED_DIR,
    with_heading: bool = True,
) -> dict:
    """The int8 copy of the tuned encoder and heads calibrated on its own vectors (the default path).

    The heads keep the fp32 weights; what int8 moves is where passages sit on the curves, so the
    thresholds per length bucket are chosen again on the int8 vectors of the English dev split (on dev,
    micro-F1 of the fp32 heads on int8 vectors 0.675 -> 0.680 SDG and 0.561 -> 0.574 OECD; refitting the
    weights on the train split's int8 vectors gained nothing more: eval/RESULTS.md). The ONNX file ships,
    so the thresholds are those of the exact weights the service runs.
    """
    encoder_dir = models_dir / TUNED_ENCODER
    target = export_onnx(encoder_dir, models_dir / f"{TUNED_INT8}.onnx", int8=True)
    int8 = OnnxEncoder(target, encoder_dir / "tokenizer.json", TUNED_MAX_TOKENS, alone=True)
    dev = [t for t in select(texts, "dev", lang="en") if t.granularity != "page"]
    dev_vectors = int8.encode(inputs(dev, with_heading), 16)
    written = {}
    for framework in frameworks:
        arrays = np.load(model_files(framework.id, TUNED_ENCODER, models_dir)[0])
        facts = {"weights_of": TUNED_ENCODER, "onnx": target.name, "max_tokens": TUNED_MAX_TOKENS}
        written[f"{framework.id}-{TUNED_INT8}"] = write_heads(
            framework,
            TUNED_INT8,
            int8,
            arrays["weights"],
            arrays["bias"],
            dev,
            dev_vectors,
            models_dir,
            {"calibration": facts},
            with_heading,
        )
    return written


def english_training(texts: Sequence[LabelledText], exclude_reports: frozenset[str]) -> list[LabelledText]:
    """English train texts the encoder learns from: pages are decided from their passages, not trained on."""
    return [
        t
        for t in select(texts, "train", lang="en")
        if t.granularity != "page" and t.report not in exclude_reports
    ]


def train_tuned(
    corpora_dir: Path,
    shared_data: Path,
    eval_data: Path,
    models_dir: Path = TUNED_DIR,
    config: TuneConfig | None = None,
    exclude_reports: frozenset[str] = frozenset(),
    multilingual: bool = True,
    log: Callable[[str], None] = print,
    reviewed: Sequence[LabelledText] = (),
    review_lines: Sequence[dict] = (),
    indicator_parts: Mapping[str, Sequence[str]] | None = None,
) -> dict:
    """Train and write the whole tuned release; returns the metadata of each written head.

    ``reviewed``: analysts' reviewed passages (classifiers.labelled.reviewed_texts), folded into the
    train split; where a text is also in the labelled sets, the analyst's labels win. ``review_lines``
    (the same reviews as export lines) and ``indicator_parts`` (indicator id -> its sub-elements) give the
    indicator readers the analyst's decision per indicator (part_training.review_examples).
    """
    started = time.perf_counter()
    config = config or TuneConfig()
    texts = deduplicated([*reviewed, *all_labelled(corpora_dir, shared_data, eval_data)])
    if reviewed:
        log(f"folding in {len(reviewed)} reviewed passages")
    sdg, dd = load_framework("sdg", corpora_dir), load_framework("oecd_dd", corpora_dir)
    encoder_dir = models_dir / TUNED_ENCODER
    train = english_training(texts, exclude_reports)
    log(f"fine-tuning on {len(train)} English texts")
    facts = finetune(train, _packaged_minilm_path(), encoder_dir, sdg, dd, config, log)
    heads = np.load(encoder_dir / "heads.npz")
    (encoder_dir / "heads.npz").unlink()
    dev = [t for t in select(texts, "dev", lang="en") if t.granularity != "page"]
    dev_vectors = encode(inputs(dev, config.with_heading), str(encoder_dir))
    written = {}
    for framework, key in ((sdg, "sdg"), (dd, "dd")):
        written[f"{framework.id}-{TUNED_ENCODER}"] = write_heads(
            framework,
            TUNED_ENCODER,
            str(encoder_dir),
            heads[f"{key}_weights"],
            heads[f"{key}_bias"],
            dev,
            dev_vectors,
            models_dir,
            {"training": facts},
            config.with_heading,
        )
    written.update(write_int8_release(texts, (sdg, dd), models_dir, config.with_heading))
    log(f"relevance gate: {train_gate(texts, models_dir)}")
    if multilingual:
        written.update(
            train_multilingual(texts, sdg, dd, models_dir, exclude_reports, config.with_heading, log)
        )
    encoders = part_encoders(models_dir, multilingual)
    written.update(
        train_parts(
            texts, dd, encoders, models_dir, log, reviews=review_lines, indicator_parts=indicator_parts
        )
    )
    log(f"tuned release written to {models_dir} in {time.perf_counter() - started:.0f} s")
    return written


def part_encoders(models_dir: Path, multilingual: bool) -> dict[str, Callable[[list[str]], np.ndarray]]:
    """The encoders whose vectors the sub-element readers read: the release's int8 copy, and e5 for Dutch."""
    onnx = models_dir / f"{TUNED_INT8}.onnx"
    int8 = OnnxEncoder(onnx, models_dir / TUNED_ENCODER / "tokenizer.json", TUNED_MAX_TOKENS, alone=True)
    encoders: dict[str, Callable[[list[str]], np.ndarray]] = {
        TUNED_INT8: lambda texts: int8.encode(texts, 16)
    }
    if multilingual:
        encoders.update(multilingual_part_encoder())
    return encoders


def multilingual_part_encoder() -> dict[str, Callable[[list[str]], np.ndarray]]:
    """The encoder the Dutch sub-element readers read (``train e5`` refits them alone)."""
    return {MULTILINGUAL: lambda texts: encode(texts, MULTILINGUAL)}


def multilingual_pool(
    texts: Sequence[LabelledText], exclude_reports: frozenset[str] = frozenset()
) -> list[LabelledText]:
    """The train rows the multilingual heads learn from: report labels of both languages, no pages."""
    return [
        t
        for t in select(texts, "train")
        if t.granularity != "page"
        and t.report not in exclude_reports
        and t.source in ("v2", "sdg_report", "dd_report", "own", "review")
    ]


def is_real_non_english(text: LabelledText) -> bool:
    """Report text in another language as written, not our translation of an English item."""
    return text.lang != "en" and not text.translated


def train_multilingual(
    texts: Sequence[LabelledText],
    sdg: Framework,
    dd: Framework,
    models_dir: Path,
    exclude_reports: frozenset[str],
    with_heading: bool,
    log: Callable[[str], None],
) -> dict:
    """Logistic heads on the tuned multilingual e5's int8 vectors, from English and Dutch report labels.

    e5 places a Dutch text near its English translation, so the English labels teach the Dutch side
    too; the Dutch translations make sure Dutch phrasing is seen.
    """
    pool = multilingual_pool(texts, exclude_reports)
    # The heads read only non-English text, so their thresholds are chosen on the non-English dev rows.
    dev = [t for t in select(texts, "dev") if t.granularity != "page" and t.lang != "en"]
    log(f"multilingual heads: encoding {len(pool)} train and {len(dev)} dev texts with {MULTILINGUAL}")
    vectors = encode(inputs(pool, with_heading), MULTILINGUAL).astype(np.float64)
    dev_vectors = encode(inputs(dev, with_heading), MULTILINGUAL)
    written = {}
    for framework in (sdg, dd):
        keep = [i for i, t in enumerate(pool) if t.labels_of(framework.id) is not None]
        rows = [pool[i] for i in keep]
        real = np.array([is_real_non_english(t) for t in rows])
        weights, bias = fit_heads(
            vectors[keep],
            truth_matrix(rows, framework).astype(np.int8),
            C,
            np.where(real, REAL_TEXT_WEIGHT, 1.0),
        )
        facts = {
            "examples": len(rows),
            "examples_by_language": dict(sorted(Counter(t.lang for t in rows).items())),
            "real_non_english": int(real.sum()),
            "real_text_weight": REAL_TEXT_WEIGHT,
            "C": C,
        }
        written[f"{framework.id}-{MULTILINGUAL}"] = write_heads(
            framework,
            MULTILINGUAL,
            MULTILINGUAL,
            weights,
            bias,
            dev,
            dev_vectors,
            models_dir,
            {"training": facts},
            with_heading,
        )
    return written
