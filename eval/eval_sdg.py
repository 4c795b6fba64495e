"""SDG classifier evaluation on the dev sets, against the zero-shot baseline in the same run.

    python eval/eval_sdg.py                 # all dev sets, shipped model vs baselines
    python eval/eval_sdg.py --per-sdg       # plus the per-SDG tables
    python eval/eval_sdg.py --json out.json

Dev sets (never trained on; provenance in eval/LABELLING.md):
- short:   corporate_actions.csv rows whose text hash puts them in the dev split (one label each)
- reports: 120 English report passages, labelled by us (multi-label, 29 with no goal)
- dutch:   the same 120 passages translated into Dutch by us, same labels
The report passages with a goal also carry our evidence-type label (result / action / commitment /
mention), against which the substance rules are scored at the end.

Metrics per SDG: accuracy = balanced accuracy (mean of recall on the goal's texts and specificity on
the others), as in the public per-SDG benchmark the issue quotes; precision, recall, F1. Averages are
over the goals present in the set. For the multi-label sets we also print micro-F1.

Systems: "trained" is what ships (classify_texts: language routing, chunking, thresholds);
"zero-shot" is the shipped zero-shot classifier; "zero-shot top-2" assigns the two most similar goals
to every text, the baseline described in the issue; "aurora" runs the Aurora v5 expert queries
(eval/aurora.py) and assigns every goal whose query matches.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from classifiers import get_classifier  # noqa: E402
from classifiers.training.heads import label_matrix  # noqa: E402
from classifiers.training.sdg_training import corporate_actions  # noqa: E402
from eval.aurora import load_queries, matching_targets  # noqa: E402
from service.encoding.embed import embed_texts  # noqa: E402
from service.judging.substance import CONCRETE, evidence_type, load_substance_rules  # noqa: E402
from service.pipeline import classify_texts  # noqa: E402
from service.settings import CLASSIFIER_ENCODERS, Settings  # noqa: E402

EVAL_DATA = Path(__file__).resolve().parent / "data"
GOALS = list(range(1, 18))


@dataclass
class DevSet:
    """One labelled dev set: texts and their gold goals."""

    name: str
    texts: list[str]
    gold: np.ndarray  # (texts x 17) bool


def _matrix(label_lists: list[list[int]]) -> np.ndarray:
    return label_matrix(label_lists).astype(bool)


def read_dev_rows(file: str) -> list[dict]:
    """The rows of one JSONL dev set in eval/data."""
    return [json.loads(line) for line in (EVAL_DATA / file).read_text(encoding="utf-8").splitlines()]


def load_dev_sets(settings: Settings) -> list[DevSet]:
    short = corporate_actions(settings.shared_data_dir, "dev")
    sets = [DevSet("short", [e.text for e in short], _matrix([list(e.labels) for e in short]))]
    for name, file in (("reports", "sdg_dev_report_passages.jsonl"), ("dutch", "sdg_dev_nl.jsonl")):
        rows = read_dev_rows(file)
        sets.append(DevSet(name, [r["text"] for r in rows], _matrix([r["sdgs"] for r in rows])))
    return sets


def predict_trained(texts: list[str], settings: Settings) -> np.ndarray:
    sdg, _ = classify_texts(texts, settings)
    return _matrix([[int(label) for label in s.labels] for s in sdg])


def predict_zero_shot_top2(texts: list[str], settings: Settings) -> np.ndarray:
    encoder = CLASSIFIER_ENCODERS["zero-shot"]
    clf = get_classifier("sdg", "zero-shot", settings.corpora_dir, encoder)
    best, _ = clf.label_similarities(embed_texts(texts, encoder))  # type: ignore[attr-defined]
    top = np.argsort(-best, axis=1)[:, :2]
    predicted = np.zeros(best.shape, dtype=bool)
    np.put_along_axis(predicted, top, True, axis=1)
    return predicted


def predict_aurora(texts: list[str], settings: Settings) -> np.ndarray:
    queries = load_queries(settings.shared_data_dir / "sdg_queries_aurora")
    return _matrix([sorted({int(t.split(".")[0]) for t in matching_targets(x, queries)}) for x in texts])


def per_sdg(predicted: np.ndarray, gold: np.ndarray) -> dict[int, dict[str, float]]:
    """Balanced accuracy, precision, recall, F1 for each goal with at least one gold text."""
    table = {}
    for j, goal in enumerate(GOALS):
        truth, guess = gold[:, j], predicted[:, j]
        if not truth.any():
            continue
        tp = float((truth & guess).sum())
        recall = tp / truth.sum()
        specificity = float((~truth & ~guess).sum()) / max(float((~truth).sum()), 1.0)
        precision = tp / max(float(guess.sum()), 1.0)
        f1 = 2 * precision * recall / max(precision + recall, 1e-9)
        table[goal] = {
            "accuracy": (recall + specificity) / 2,
            "precision": precision,
            "recall": recall,
            "f1": f1,
            "support": int(truth.sum()),
        }
    return table


def summary(predicted: np.ndarray, gold: np.ndarray) -> dict[str, float]:
    table = per_sdg(predicted, gold)
    tp = float((predicted & gold).sum())
    return {
        **{f"avg_{m}": float(np.mean([row[m] for row in table.values()])) for m in ("accuracy", "f1")},
        "avg_precision": float(np.mean([row["precision"] for row in table.values()])),
        "avg_recall": float(np.mean([row["recall"] for row in table.values()])),
        "micro_f1": 2 * tp / max(float(predicted.sum() + gold.sum()), 1.0),
        "empty_predictions": float((~predicted.any(axis=1)).mean()),
    }


def compare_floors(settings: Settings) -> None:
    """Micro-F1 / accuracy of the shipped heads under different top-1 floors (1.0 = no floor)."""
    heads = [
        get_classifier("sdg", "trained", settings.corpora_dir, model)
        for model in (CLASSIFIER_ENCODERS["trained"], settings.multilingual_model)
    ]
    dev_sets = load_dev_sets(settings)
    print(
        f"{'top-1 floor':<12}" + "".join(f"{d.name + ' acc':>14}{d.name + ' microF1':>18}" for d in dev_sets)
    )
    for floor in (1.0, 0.2, 0.15, 0.1):
        for head in heads:
            head.top1_floor = floor  # type: ignore[attr-defined]
        row = [summary(predict_trained(d.texts, settings), d.gold) for d in dev_sets]
        print(
            f"{floor:<12}" + "".join(f"{100 * r['avg_accuracy']:>14.1f}{r['micro_f1']:>18.3f}" for r in row)
        )


def substance_agreement(settings: Settings) -> None:
    """How often the evidence-type rules agree with our labels, per language, with the confusions."""
    rules = load_substance_rules(settings.corpora_dir)
    print("\n## evidence type (rules in corpora/evidence_types.yaml vs our labels)")
    for file in ("sdg_dev_report_passages.jsonl", "sdg_dev_nl.jsonl"):
        rows = read_dev_rows(file)
        pairs = [
            (r["evidence_type"], evidence_type(r["text"], rules)) for r in rows if r.get("evidence_type")
        ]
        agree = sum(gold == guess for gold, guess in pairs) / len(pairs)
        binary = sum((gold in CONCRETE) == (guess in CONCRETE) for gold, guess in pairs) / len(pairs)
        confusions = Counter(f"{gold}->{guess}" for gold, guess in pairs if gold != guess).most_common(3)
        print(
            f"{file:<32}{len(pairs):>4} passages  4 types {100 * agree:.1f}%  "
            f"concrete or not {100 * binary:.1f}%  most confused: {confusions}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--per-sdg", action="store_true", help="print per-SDG tables")
    parser.add_argument("--json", type=Path, help="write all numbers here")
    parser.add_argument(
        "--compare-floors",
        action="store_true",
        help="also score the shipped heads with other top-1 floors (how the decision rule was chosen)",
    )
    args = parser.parse_args()
    if args.compare_floors:
        compare_floors(Settings())
        return

    shipped = Settings()
    zero_shot = Settings(sdg_classifier="zero-shot")
    systems = {
        "trained": lambda t: predict_trained(t, shipped),
        "zero-shot": lambda t: predict_trained(t, zero_shot),
        "zero-shot top-2": lambda t: predict_zero_shot_top2(t, zero_shot),
        "aurora": lambda t: predict_aurora(t, shipped),
    }
    results: dict = {}
    for dev in load_dev_sets(shipped):
        print(f"\n## {dev.name}: {len(dev.texts)} texts, {int(dev.gold.sum())} gold labels")
        print(f"{'system':<18}{'acc':>7}{'P':>7}{'R':>7}{'F1':>7}{'microF1':>9}{'empty':>7}{'s':>7}")
        for name, predict in systems.items():
            start = time.perf_counter()
            predicted = predict(dev.texts)
            seconds = time.perf_counter() - start
            s = summary(predicted, dev.gold)
            results.setdefault(dev.name, {})[name] = {
                "summary": s,
                "per_sdg": per_sdg(predicted, dev.gold),
                "seconds": seconds,
            }
            print(
                f"{name:<18}{100 * s['avg_accuracy']:>7.1f}{100 * s['avg_precision']:>7.1f}"
                f"{100 * s['avg_recall']:>7.1f}{100 * s['avg_f1']:>7.1f}{s['micro_f1']:>9.3f}"
                f"{100 * s['empty_predictions']:>6.0f}%{seconds:>7.1f}"
            )
        if args.per_sdg:
            base = results[dev.name]["zero-shot top-2"]["per_sdg"]
            header = f"{'SDG':<5}{'n':>4}{'acc':>7}{'P':>7}{'R':>7}{'F1':>7}"
            print(f"\n{header}   {'top-2 acc':>9}{'top-2 F1':>9}")
            for goal, row in results[dev.name]["trained"]["per_sdg"].items():
                print(
                    f"{goal:<5}{row['support']:>4}{100 * row['accuracy']:>7.1f}{100 * row['precision']:>7.1f}"
                    f"{100 * row['recall']:>7.1f}{100 * row['f1']:>7.1f}   "
                    f"{100 * base[goal]['accuracy']:>9.1f}{100 * base[goal]['f1']:>9.1f}"
                )
    substance_agreement(shipped)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
