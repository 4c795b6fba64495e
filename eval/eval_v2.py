"""Scores of the classifiers on the second labelled set, dev beside the locked test split (``make eval``).

    python eval/eval_v2.py                      # tuned vs first release vs zero-shot, dev and test
    python eval/eval_v2.py --splits dev          # while developing: never look at test to choose anything

Every text goes through ``classify_texts``, the path `gaplens classify` and /v1/classify use (language
detection, chunking of long texts, the merge of chunk readings), so the numbers are what a user gets.
Reports, not passages, are split (corpora/report_splits.yaml). Rows:
- per split, language and granularity (sentence, passage, page): SDG micro-F1 (precision, recall) and
  OECD-step macro-F1 over the six steps (micro-F1 beside it);
- ``passage+heading``: the same passages read with their heading, as the report pipeline reads them;
- ``short (corporate_actions)``: the shared one-goal sentences' dev split, per-SDG accuracy averaged
  over the 17 goals (the measure of the expert benchmark) and recall of the labelled goal.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from service.encoding.inputs import model_input

from classifiers.labelled import LabelledText, all_labelled, corporate_actions, select
from service.encoding.embed import MemoryCache
from service.encoding.models import TUNED_ENCODER
from service.pipeline import classify_texts
from service.settings import CLASSIFIER_ENCODERS, REPO_ROOT, Settings

# name -> (classifier, main encoder)
CONFIGS = {
    "tuned": ("tuned", TUNED_ENCODER),
    "tuned int8": ("tuned", f"{TUNED_ENCODER}-int8"),
    "first release": ("trained", CLASSIFIER_ENCODERS["trained"]),
    "zero-shot": ("zero-shot", CLASSIFIER_ENCODERS["zero-shot"]),
}


def f1(predicted: np.ndarray, truth: np.ndarray) -> tuple[float, float, float]:
    """Micro precision, recall and F1 of two boolean matrices."""
    tp = float((predicted & truth).sum())
    precision = tp / max(float(predicted.sum()), 1.0)
    recall = tp / max(float(truth.sum()), 1.0)
    return precision, recall, 2 * tp / max(float(predicted.sum() + truth.sum()), 1.0)


def macro_f1(predicted: np.ndarray, truth: np.ndarray) -> tuple[float, list[float]]:
    """Mean of per-label F1 over the labels that occur in the truth; and each label's F1."""
    per_label = [f1(predicted[:, j], truth[:, j])[2] for j in range(truth.shape[1])]
    present = [per_label[j] for j in range(truth.shape[1]) if truth[:, j].any()]
    return (sum(present) / len(present) if present else 0.0), per_label


def matrix(label_lists: Sequence[Sequence[int]], n: int) -> np.ndarray:
    y = np.zeros((len(label_lists), n), dtype=bool)
    for i, labels in enumerate(label_lists):
        for label in labels:
            y[i, int(label) - 1] = True
    return y


def readings(texts: Sequence[str], settings: Settings, cache: MemoryCache) -> tuple[np.ndarray, np.ndarray]:
    """Predicted goal and step matrices for texts, through the public classify path."""
    sdg, dd = classify_texts(list(texts), settings, cache)
    return matrix([s.labels for s in sdg], 17), matrix([d.labels for d in dd], 6)


def score_rows(
    texts: Sequence[LabelledText], inputs: Sequence[str], settings: Settings, cache: MemoryCache
) -> dict[str, float]:
    sdg_pred, dd_pred = readings(inputs, settings, cache)
    sdg_rows = [i for i, t in enumerate(texts) if t.sdgs is not None]
    dd_rows = [i for i, t in enumerate(texts) if t.steps is not None]
    p, r, sdg_f1 = f1(sdg_pred[sdg_rows], matrix([texts[i].sdgs or () for i in sdg_rows], 17))
    dd_truth = matrix([texts[i].steps or () for i in dd_rows], 6)
    dd_macro, per_step = macro_f1(dd_pred[dd_rows], dd_truth)
    return {
        "n": len(texts),
        "sdg_f1": sdg_f1,
        "sdg_p": p,
        "sdg_r": r,
        "dd_macro": dd_macro,
        "dd_micro": f1(dd_pred[dd_rows], dd_truth)[2],
        **{f"step{j + 1}": v for j, v in enumerate(per_step)},
    }


def short_benchmark(settings: Settings, shared: Path, cache: MemoryCache) -> dict[str, float]:
    """Per-SDG accuracy averaged over goals, and recall of the one labelled goal, on corporate_actions dev."""
    rows = [t for t in corporate_actions(shared) if t.split == "dev"]
    predicted, _ = readings([t.text for t in rows], settings, cache)
    truth = matrix([t.sdgs or () for t in rows], 17)
    accuracy = float(np.mean([(predicted[:, j] == truth[:, j]).mean() for j in range(17)]))
    return {"n": len(rows), "per_sdg_accuracy": accuracy, "recall": f1(predicted, truth)[1]}


def groups(
    texts: Sequence[LabelledText], split: str, langs: Sequence[str]
) -> list[tuple[str, list[LabelledText]]]:
    chosen = select(texts, split)
    out = []
    for lang in langs:
        for granularity in ("sentence", "passage", "page"):
            rows = [t for t in chosen if t.lang == lang and t.granularity == granularity and t.source == "v2"]
            if rows:
                out.append((f"{lang} {granularity}", rows))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--splits", nargs="+", default=["dev", "test"])
    parser.add_argument(
        "--classifiers", nargs="+", default=["tuned", "first release", "zero-shot"], choices=list(CONFIGS)
    )
    parser.add_argument("--langs", nargs="+", default=["en", "nl"])
    parser.add_argument("--no-short", action="store_true", help="skip the corporate_actions benchmark")
    args = parser.parse_args()
    base = Settings()
    texts = all_labelled(base.corpora_dir, base.shared_data_dir, REPO_ROOT / "eval" / "data")
    cache = MemoryCache(capacity=400_000)
    header = (
        f"{'classifier':14} {'split':5} {'set':17} {'n':>5} {'SDG F1':>7} {'P':>5} {'R':>5} "
        f"{'DD macro':>8} {'micro':>6}  steps 1-6"
    )
    print(header)
    results: dict[tuple[str, str, str], dict[str, float]] = {}
    for name in args.classifiers:
        settings = replace_settings(base, *CONFIGS[name])
        for split in args.splits:
            started = time.perf_counter()
            sets = groups(texts, split, args.langs)
            passages = next((rows for label, rows in sets if label == "en passage"), [])
            runs = [(label, rows, [t.text for t in rows]) for label, rows in sets]
            if passages:
                runs.append(
                    ("en passage+heading", passages, [model_input(t.text, t.heading) for t in passages])
                )
            for label, rows, inputs in runs:
                row = score_rows(rows, inputs, settings, cache)
                results[(name, split, label)] = row
                steps = " ".join(f"{row[f'step{j}']:.2f}" for j in range(1, 7))
                print(
                    f"{name:14} {split:5} {label:17} {row['n']:5d} {row['sdg_f1']:7.3f} {row['sdg_p']:5.2f} "
                    f"{row['sdg_r']:5.2f} {row['dd_macro']:8.3f} {row['dd_micro']:6.3f}  {steps}",
                    flush=True,
                )
            print(f"{'':14} {split:5} ({time.perf_counter() - started:.0f} s)", flush=True)
        if args.no_short:
            continue
        short = short_benchmark(settings, base.shared_data_dir, cache)
        print(
            f"{name:14} short (corporate_actions dev, {short['n']}): "
            f"per-SDG accuracy {short['per_sdg_accuracy']:.3f}, recall {short['recall']:.3f}"
        )
    if "dev" in args.splits and "test" in args.splits:
        print("\ngap (dev - test), SDG micro-F1 / OECD macro-F1:")
        for (name, split, label), row in results.items():
            if split == "dev" and (name, "test", label) in results:
                test = results[(name, "test", label)]
                sdg_gap, dd_gap = row["sdg_f1"] - test["sdg_f1"], row["dd_macro"] - test["dd_macro"]
                print(f"  {name:14} {label:17} {sdg_gap:+.3f} / {dd_gap:+.3f}")


def replace_settings(settings: Settings, classifier: str, encoder: str) -> Settings:
    """The settings that run one classifier, with its own English encoder as the main one."""
    update = {"sdg_classifier": classifier, "dd_classifier": classifier, "embedding_model": encoder}
    return settings.model_copy(update=update)


if __name__ == "__main__":
    main()
