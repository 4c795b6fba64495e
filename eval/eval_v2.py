"""Scores of the classifiers on the second labelled set, dev beside the locked test split (``make eval``).

    python eval/eval_v2.py                      # tuned vs first release vs zero-shot, dev and test
    python eval/eval_v2.py --splits dev          # while developing: never look at test to choose anything
    python eval/eval_v2.py --tuned-dir DIR --save out.json   # a candidate release; rows kept for
                                                 # eval/compare_readers.py

Every text goes through ``classify_texts``, the path `gaplens classify` and /v1/classify use (language
detection, chunking of long texts, the merge of chunk readings), so the numbers are what a user gets.
Reports, not passages, are split (corpora/report_splits.yaml). Rows:
- per split, language and granularity (sentence, passage, page): SDG micro-F1 (precision, recall) and
  OECD-step macro-F1 over the six steps (micro-F1 beside it); ``nl`` rows are the Dutch translations of
  English items, ``nl-real`` rows the labelled text of the 12 real Dutch reports (corpora/expert_splits.yaml);
  a set of fewer than 200 items gets 95% bootstrap intervals of both (items resampled);
- ``passage+heading``: the same passages read with their heading, as the report pipeline reads them;
- ``short (corporate_actions)``: the shared one-goal sentences' dev split, per-SDG accuracy averaged
  over the 17 goals (the measure of the expert benchmark) and recall of the labelled goal;
- ``aims sentence``: domain experts' modern-slavery sentences (shared/data/aims_uk_ca), split by statement
  (corpora/expert_splits.yaml: its test part is a second locked test). Their criteria are read as steps 2
  (risk description), 3 (mitigation), 4 (effectiveness) and 6 (remediation); macro- and micro-F1 are over
  those four steps only (AIMS has no criterion for steps 1 and 5), with a 95% bootstrap interval
  (statements resampled).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from classifiers.labelled import LabelledText, all_labelled, corporate_actions, select
from service.encoding.embed import MemoryCache
from service.encoding.inputs import model_input
from service.encoding.models import (
    E5_INT8,
    STUDENT_E5,
    TUNED_E5,
    TUNED_E5_INT8,
    TUNED_ENCODER,
    e5_layers_path,
)
from service.pipeline import classify_texts
from service.settings import CLASSIFIER_ENCODERS, REPO_ROOT, Settings

# name -> (classifier, main encoder)
CONFIGS = {
    "tuned": ("tuned", TUNED_ENCODER),
    "tuned int8": ("tuned", f"{TUNED_ENCODER}-int8"),
    "first release": ("trained", CLASSIFIER_ENCODERS["trained"]),
    "zero-shot": ("zero-shot", CLASSIFIER_ENCODERS["zero-shot"]),
    # A candidate, not shipped: the tuned int8 and the distilled e5's heads averaged (eval/ensemble_heads.py).
    "ensemble int8": ("ensemble", "gaplens-minilm-int8+gaplens-e5-l6-int8"),
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


# The steps the AIMS criteria speak to (classifiers/labelled.py, AIMS_STEPS), as 0-based columns.
AIMS_COLUMNS = [1, 2, 3, 5]


def score_rows(
    texts: Sequence[LabelledText], inputs: Sequence[str], settings: Settings, cache: MemoryCache
) -> dict[str, float]:
    sdg_pred, dd_pred = readings(inputs, settings, cache)
    sdg_rows = [i for i, t in enumerate(texts) if t.sdgs is not None]
    dd_rows = [i for i, t in enumerate(texts) if t.steps is not None]
    p, r, sdg_f1 = f1(sdg_pred[sdg_rows], matrix([texts[i].sdgs or () for i in sdg_rows], 17))
    dd_truth = matrix([texts[i].steps or () for i in dd_rows], 6)
    if texts and all(t.source == "aims" for t in texts):
        return aims_scores(texts, dd_pred, dd_truth)
    dd_macro, per_step = macro_f1(dd_pred[dd_rows], dd_truth)
    row = {
        "n": len(texts),
        "sdg_f1": sdg_f1,
        "sdg_p": p,
        "sdg_r": r,
        "dd_macro": dd_macro,
        "dd_micro": f1(dd_pred[dd_rows], dd_truth)[2],
        **{f"step{j + 1}": v for j, v in enumerate(per_step)},
    }
    if len(texts) < SMALL_SET:
        sdg_truth = matrix([texts[i].sdgs or () for i in sdg_rows], 17)
        row["sdg_low"], row["sdg_high"] = interval(sdg_pred[sdg_rows], sdg_truth, lambda a, b: f1(a, b)[2])
        row["dd_low"], row["dd_high"] = interval(dd_pred[dd_rows], dd_truth, lambda a, b: macro_f1(a, b)[0])
    return row


# Sets smaller than this (the real Dutch ones: 8-121 items) get 95% intervals.
SMALL_SET = 200


def interval(
    predicted: np.ndarray,
    truth: np.ndarray,
    measure: Callable[[np.ndarray, np.ndarray], float],
    groups: Sequence[Sequence[int]] | None = None,
) -> tuple[float, float]:
    """95% bootstrap interval of a measure (300 draws), resampling ``groups`` of rows (default: each item).

    AIMS resamples whole statements. Items of one report are not independent, so an interval over items is,
    if anything, too narrow; the real Dutch test has 4 reports, too few to resample reports.
    """
    groups = groups if groups is not None else [[i] for i in range(len(truth))]
    rng = np.random.default_rng(0)
    draws = []
    for _ in range(300):
        picked = [i for g in rng.integers(0, len(groups), len(groups)) for i in groups[g]]
        draws.append(measure(predicted[picked], truth[picked]))
    low, high = np.percentile(draws, [2.5, 97.5])
    return float(low), float(high)


def interval_text(row: dict[str, float]) -> str:
    """The row's 95% intervals as printed: SDG and steps for a small set, steps alone for AIMS."""
    steps = f"{row['dd_low']:.3f}-{row['dd_high']:.3f}" if "dd_low" in row else ""
    if "sdg_low" in row:
        return f"  (95% SDG {row['sdg_low']:.3f}-{row['sdg_high']:.3f}, DD {steps})"
    return f"  (95% {steps})" if steps else ""


def aims_scores(texts: Sequence[LabelledText], predicted: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """Steps 2, 3, 4 and 6 only, with a 95% interval of the macro-F1 from resampling whole statements."""
    pred, gold = predicted[:, AIMS_COLUMNS], truth[:, AIMS_COLUMNS]
    macro, per_step = macro_f1(pred, gold)
    statements = sorted({t.report for t in texts})
    rows_of = [[i for i, t in enumerate(texts) if t.report == s] for s in statements]
    low, high = interval(pred, gold, lambda a, b: macro_f1(a, b)[0], rows_of)
    steps = dict.fromkeys(range(1, 7), float("nan"))
    steps.update({c + 1: v for c, v in zip(AIMS_COLUMNS, per_step, strict=True)})
    return {
        "n": len(texts),
        "sdg_f1": float("nan"),
        "sdg_p": float("nan"),
        "sdg_r": float("nan"),
        "dd_macro": macro,
        "dd_micro": f1(pred, gold)[2],
        "dd_low": low,
        "dd_high": high,
        **{f"step{j}": v for j, v in steps.items()},
    }


def short_benchmark(settings: Settings, shared: Path, cache: MemoryCache) -> dict[str, float]:
    """Per-SDG accuracy averaged over goals, and recall of the one labelled goal, on corporate_actions dev."""
    rows = [t for t in corporate_actions(shared) if t.split == "dev"]
    predicted, _ = readings([t.text for t in rows], settings, cache)
    truth = matrix([t.sdgs or () for t in rows], 17)
    accuracy = float(np.mean([(predicted[:, j] == truth[:, j]).mean() for j in range(17)]))
    return {"n": len(rows), "per_sdg_accuracy": accuracy, "recall": f1(predicted, truth)[1]}


def set_name(text: LabelledText) -> str:
    """``en``; ``nl`` for the Dutch translations of English items; ``nl-real`` for real Dutch report text."""
    return text.lang if text.lang == "en" or text.translated else f"{text.lang}-real"


def groups(
    texts: Sequence[LabelledText], split: str, langs: Sequence[str]
) -> list[tuple[str, list[LabelledText]]]:
    """The v2 rows of one split per set and granularity; real Dutch text is scored apart from translations."""
    chosen = [t for t in select(texts, split) if t.source == "v2"]
    out = []
    for lang in langs:
        for name in (lang, f"{lang}-real"):
            for granularity in ("sentence", "passage", "page"):
                rows = [
                    t
                    for t in chosen
                    if t.lang == lang and set_name(t) == name and t.granularity == granularity
                ]
                if rows:
                    out.append((f"{name} {granularity}", rows))
    aims = [t for t in select(texts, split) if t.source == "aims"]
    if aims:
        out.append(("aims sentence", aims))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--splits", nargs="+", default=["dev", "test"])
    parser.add_argument(
        "--classifiers", nargs="+", default=["tuned", "first release", "zero-shot"], choices=list(CONFIGS)
    )
    parser.add_argument("--langs", nargs="+", default=["en", "nl"])
    parser.add_argument("--no-short", action="store_true", help="skip the corporate_actions benchmark")
    parser.add_argument(
        "--tuned-dir",
        type=Path,
        help="read 'tuned' from this release folder instead of classifiers/models/tuned (a candidate, or "
        "the previous release checked out elsewhere)",
    )
    parser.add_argument(
        "--previous",
        metavar="REV",
        help="also score the tuned int8 release of git revision REV (its classifiers/models/tuned, in a "
        "child process), printed as 'previous'",
    )
    parser.add_argument(
        "--ensemble-rules",
        type=Path,
        help="the ensemble's dev-chosen thresholds (eval/ensemble_heads.py writes them); needed by "
        "'ensemble int8'",
    )
    parser.add_argument("--save", type=Path, help="also write every row to this JSON file")
    parser.add_argument("--as-name", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.tuned_dir:
        use_tuned_release(args.tuned_dir.resolve())
    if "ensemble int8" in args.classifiers:
        if not args.ensemble_rules:
            parser.error("'ensemble int8' needs --ensemble-rules (python eval/ensemble_heads.py OUT)")
        from ensemble_heads import register

        register(args.ensemble_rules)
    base = Settings()
    texts = all_labelled(base.corpora_dir, base.shared_data_dir, REPO_ROOT / "eval" / "data")
    cache = MemoryCache(capacity=400_000)
    header = (
        f"{'classifier':14} {'split':5} {'set':17} {'n':>5} {'SDG F1':>7} {'P':>5} {'R':>5} "
        f"{'DD macro':>8} {'micro':>6}  steps 1-6"
    )
    if not args.as_name:
        print(header)
    results: dict[tuple[str, str, str], dict[str, float]] = {}
    if args.previous:
        score_previous_release(args.previous, args.splits, args.langs)
    for name in args.classifiers:
        settings = replace_settings(base, *CONFIGS[name])
        shown = args.as_name or name
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
                steps = " ".join(f"{row[f'step{j}']:.2f}" for j in range(1, 7)).replace("nan", " -- ")
                intervals = interval_text(row)
                print(
                    f"{shown:14} {split:5} {label:17} {row['n']:5d} {row['sdg_f1']:7.3f} {row['sdg_p']:5.2f} "
                    f"{row['sdg_r']:5.2f} {row['dd_macro']:8.3f} {row['dd_micro']:6.3f}  {steps}{intervals}",
                    flush=True,
                )
            print(f"{'':14} {split:5} ({time.perf_counter() - started:.0f} s)", flush=True)
        if args.no_short:
            continue
        short = short_benchmark(settings, base.shared_data_dir, cache)
        results[(name, "dev", "corporate_actions")] = short
        print(
            f"{shown:14} short (corporate_actions dev, {short['n']}): "
            f"per-SDG accuracy {short['per_sdg_accuracy']:.3f}, recall {short['recall']:.3f}"
        )
    if args.save:
        save_rows(args.save, results, args)
    if "dev" in args.splits and "test" in args.splits:
        print("\ngap (dev - test), SDG micro-F1 / OECD macro-F1:")
        for (name, split, label), row in results.items():
            if split == "dev" and (name, "test", label) in results and label != "corporate_actions":
                test = results[(name, "test", label)]
                sdg_gap, dd_gap = row["sdg_f1"] - test["sdg_f1"], row["dd_macro"] - test["dd_macro"]
                print(f"  {name:14} {label:17} {sdg_gap:+.3f} / {dd_gap:+.3f}")


def save_rows(path: Path, results: dict[tuple[str, str, str], dict[str, float]], args: object) -> None:
    """Every scored row as JSON (classifier, split, set and its numbers), with the command's options."""
    import json
    import subprocess

    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True)
    rows = [{"classifier": c, "split": s, "set": label, **row} for (c, s, label), row in results.items()]
    options = {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}
    document = {"commit": commit.stdout.strip(), "options": options, "rows": rows}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=1, allow_nan=True) + "\n", encoding="utf-8")


def score_previous_release(revision: str, splits: Sequence[str], langs: Sequence[str]) -> None:
    """The tuned int8 release of an earlier commit, on today's labels, in a child process (its own models)."""
    import subprocess
    import sys
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        archive = subprocess.run(
            ["git", "archive", revision, "classifiers/models/tuned"],
            cwd=REPO_ROOT,
            capture_output=True,
            check=True,
        )
        subprocess.run(["tar", "-x", "-C", folder], input=archive.stdout, check=True)
        command = [sys.executable, __file__, "--tuned-dir", f"{folder}/classifiers/models/tuned"]
        command += ["--classifiers", "tuned int8", "--as-name", f"previous {revision[:7]}"]
        subprocess.run([*command, "--splits", *splits, "--langs", *langs], check=True)


def use_tuned_release(folder: Path) -> None:
    """Point the "tuned" classifier and its encoders at another release folder, before anything loads.

    Settings read both: the encoder from ``tuned_model_dir``, the heads and readers from ``tuned_dir``
    (get_classifier builds "tuned" from it; before 9ec7221 a module-level builder was replaced instead).
    """
    import os

    os.environ["GAPLENS_TUNED_MODEL_DIR"] = str(folder / TUNED_ENCODER)
    os.environ["GAPLENS_TUNED_DIR"] = str(folder)
    if not (folder / e5_layers_path(STUDENT_E5).name).exists():  # a release from before the distilled e5
        twelve = (folder / e5_layers_path(TUNED_E5).name).exists()
        os.environ["GAPLENS_MULTILINGUAL_MODEL"] = TUNED_E5_INT8 if twelve else E5_INT8


def replace_settings(settings: Settings, classifier: str, encoder: str) -> Settings:
    """The settings that run one classifier, with its own English encoder as the main one."""
    update = {"sdg_classifier": classifier, "dd_classifier": classifier, "embedding_model": encoder}
    return settings.model_copy(update=update)


if __name__ == "__main__":
    main()
