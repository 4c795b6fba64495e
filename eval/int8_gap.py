"""The default int8 path against the tuned fp32 encoder on the locked test split, with a paired bootstrap.

Run: PYTHONPATH=. .venv/bin/python eval/int8_gap.py [--split test] [--resamples 2000]

Both read every text through ``classify_texts`` (what /v1/classify and the pipeline do); fp32 is the tuned
release as shipped before int8 became the default (PyTorch, 256 word pieces, its own thresholds), int8 the
default (ONNX int8, 128 word pieces, thresholds calibrated on its own dev vectors). For each set the
difference int8 - fp32 in SDG micro-F1 and OECD macro-F1 is printed with a 95% interval from resampling
the same texts for both (paired), so a difference inside the noise of a few hundred texts reads as such.
"""

from __future__ import annotations

import argparse

import numpy as np

from classifiers.labelled import all_labelled
from eval.eval_v2 import f1, groups, macro_f1, matrix, readings
from service.encoding.embed import MemoryCache
from service.encoding.inputs import model_input
from service.encoding.models import TUNED_ENCODER
from service.settings import REPO_ROOT, Settings


def scores(
    predicted: tuple[np.ndarray, np.ndarray],
    truth: tuple[np.ndarray, np.ndarray],
    rows: tuple[np.ndarray, np.ndarray],
) -> tuple[float, float]:
    """SDG micro-F1 and OECD macro-F1 of (goal, step) predictions on the given rows of each."""
    (sdg, dd), (sdg_truth, dd_truth), (sdg_rows, dd_rows) = predicted, truth, rows
    return f1(sdg[sdg_rows], sdg_truth[sdg_rows])[2], macro_f1(dd[dd_rows], dd_truth[dd_rows])[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", default="test")
    parser.add_argument("--resamples", type=int, default=2000)
    args = parser.parse_args()
    int8 = Settings()
    fp32 = int8.model_copy(update={"embedding_model": TUNED_ENCODER})
    texts = all_labelled(int8.corpora_dir, int8.shared_data_dir, REPO_ROOT / "eval" / "data")
    sets = groups(texts, args.split, ["en"])
    passages = next(rows for label, rows in sets if label == "en passage")
    runs = [(label, rows, [t.text for t in rows]) for label, rows in sets]
    runs.append(("en passage+heading", passages, [model_input(t.text, t.heading) for t in passages]))
    rng = np.random.default_rng(0)
    cache = MemoryCache(capacity=400_000)
    print(f"{args.split}: int8 - fp32, 95% paired bootstrap interval ({args.resamples} resamples)")
    columns = f"{'fp32':>8} {'int8':>6} {'diff':>7} {'95% interval':>17}"
    print(f"{'set':20} {'n':>5} SDG micro-F1: {columns}   OECD macro-F1: {columns}")
    for label, rows, inputs in runs:
        truth = (matrix([t.sdgs or () for t in rows], 17), matrix([t.steps or () for t in rows], 6))
        sdg_rows = np.array([i for i, t in enumerate(rows) if t.sdgs is not None])
        dd_rows = np.array([i for i, t in enumerate(rows) if t.steps is not None])
        predicted = {name: readings(inputs, s, cache) for name, s in (("fp32", fp32), ("int8", int8))}
        point = {n: scores(p, truth, (sdg_rows, dd_rows)) for n, p in predicted.items()}
        diffs = []
        for _ in range(args.resamples):
            sample = (rng.choice(sdg_rows, len(sdg_rows)), rng.choice(dd_rows, len(dd_rows)))
            a, b = scores(predicted["int8"], truth, sample), scores(predicted["fp32"], truth, sample)
            diffs.append((a[0] - b[0], a[1] - b[1]))
        low, high = np.percentile(np.array(diffs), [2.5, 97.5], axis=0)
        cells = []
        for k in (0, 1):
            before, after = point["fp32"][k], point["int8"][k]
            interval = f"[{low[k]:+.3f}, {high[k]:+.3f}]"
            cells.append(f"{before:8.3f} {after:6.3f} {after - before:+7.3f} {interval:>17}")
        print(f"{label:20} {len(rows):5d} {'':14}{cells[0]}   {'':15}{cells[1]}", flush=True)


if __name__ == "__main__":
    main()
