"""The learned indicator readers against our labels: sub-element gates and evidence types, before and after.

For every labelled English (``--lang nl``: real Dutch) report row (passages and sentences, not pages) of a
split, through the shipped classifier (``service.pipeline.classify_texts``, the path of `gaplens classify`):

- per rubric indicator, whether a row is a candidate under the **old gate** (the step classifier gives one
  of the indicator's steps and the text matches its cue patterns) and under the **learned gate** (the
  sub-element reader reads one of the indicator's `parts`), against the truth "the labellers gave the row
  one of the indicator's sub-elements"; precision, recall, F1 per indicator and micro over all;
- the evidence type of the learned reader and of the cue rules against the labelled type (accuracy,
  macro-F1).

AIMS sentences (expert criteria read as sub-elements, classifiers/training/part_training.py ``AIMS_PARTS``)
are scored apart, only on the sub-elements their criteria speak to.

    PYTHONPATH=. .venv/bin/python eval/eval_readers.py --split dev
    PYTHONPATH=. .venv/bin/python eval/eval_readers.py --split test
    PYTHONPATH=. .venv/bin/python eval/eval_readers.py --split dev --lang nl   # real Dutch rows
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

import numpy as np
from sklearn.metrics import accuracy_score, f1_score

from classifiers.labelled import LabelledText, all_labelled, select
from classifiers.training.part_training import evidence_type_rows, report_examples
from service.encoding.inputs import model_input
from service.frameworks import load_framework
from service.judging.rubric import load_rubric, reads_as, step_and_cue
from service.judging.substance import evidence_type, load_substance_rules
from service.pipeline import classify_texts
from service.records import LabelScores
from service.settings import REPO_ROOT, Settings


def prf(truth: np.ndarray, predicted: np.ndarray) -> tuple[float, float, float]:
    """Precision, recall and F1 of two boolean arrays."""
    tp = float((truth & predicted).sum())
    precision, recall = tp / max(predicted.sum(), 1), tp / max(truth.sum(), 1)
    return precision, recall, 2 * precision * recall / max(precision + recall, 1e-9)


def gate_table(rows: Sequence[LabelledText], readings: Sequence[LabelScores], settings: Settings) -> None:
    """Per indicator: old and learned gate against the labelled sub-elements."""
    framework = load_framework("oecd_dd", settings.corpora_dir)
    all_parts = [p.id for label in framework.labels for p in label.parts]
    examples = report_examples(rows, all_parts)
    totals = {"old": np.zeros(3), "new": np.zeros(3)}
    print(f"{'indicator':28} {'set':5} {'pos':>4}  {'old gate P/R/F1':>18}  {'learned gate P/R/F1':>20}")
    for indicator in load_rubric(settings.corpora_dir).indicators:
        for source in ("ours", "aims"):
            keep = [
                i
                for i, e in enumerate(examples)
                if (e.source == "aims") == (source == "aims") and all(p in e.known for p in indicator.parts)
            ]
            truth = np.array([bool(set(indicator.parts) & examples[i].parts) for i in keep], dtype=bool)
            if not truth.any():
                continue
            line = f"{indicator.id:28} {source:5} {int(truth.sum()):>4}"
            for name, gate in (("old", step_and_cue), ("new", reads_as)):
                predicted = np.array([gate(indicator, readings[i], rows[i].text) for i in keep], dtype=bool)
                if source == "ours":
                    totals[name] += [(truth & predicted).sum(), predicted.sum(), truth.sum()]
                line += "  {:.2f} {:.2f} {:.2f}".format(*prf(truth, predicted)).rjust(20)
            print(line)
    for name, (tp, predicted, truth) in totals.items():
        precision, recall = tp / max(predicted, 1), tp / max(truth, 1)
        f1 = 2 * precision * recall / max(precision + recall, 1e-9)
        print(f"micro over indicators, our rows, {name} gate: P {precision:.3f} R {recall:.3f} F1 {f1:.3f}")


def type_table(rows: Sequence[LabelledText], readings: Sequence[LabelScores], settings: Settings) -> None:
    """Evidence type: learned reader and cue rules against the labels."""
    rules = load_substance_rules(settings.corpora_dir)
    truth = [t.evidence_type for t in rows]
    for name, predicted in (
        ("cue rules", [evidence_type(t.text, rules) for t in rows]),
        (
            "learned reader",
            [r.evidence_type or evidence_type(t.text, rules) for t, r in zip(rows, readings, strict=True)],
        ),
    ):
        accuracy, macro = accuracy_score(truth, predicted), f1_score(truth, predicted, average="macro")
        print(f"evidence type, {name:15} n={len(rows)}  accuracy {accuracy:.3f}  macro-F1 {macro:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", default="dev", choices=("dev", "test"))
    parser.add_argument(
        "--lang", default="en", choices=("en", "nl"), help="nl: the real Dutch rows (never translations)"
    )
    args = parser.parse_args()
    settings = Settings()
    texts = all_labelled(settings.corpora_dir, settings.shared_data_dir, REPO_ROOT / "eval" / "data")
    texts = [t for t in texts if not t.translated]
    pool = [
        t
        for t in select(texts, args.split, lang=args.lang)
        if t.granularity != "page" and t.steps is not None
    ]
    # the rows report_examples keeps, in its order: AIMS sentences, and our rows with sub-elements or no step
    rows = [t for t in pool if t.source == "aims" or t.sub_elements or not t.steps]
    _, readings = classify_texts([model_input(t.text, t.heading) for t in rows], settings)
    print(
        f"{args.split}: {len(rows)} {args.lang} rows ({sum(t.source == 'aims' for t in rows)} AIMS sentences)"
    )
    gate_table(rows, readings, settings)
    typed = evidence_type_rows([t for t in select(texts, args.split, lang=args.lang) if t.source == "v2"])
    _, typed_readings = classify_texts([model_input(t.text, t.heading) for t in typed], settings)
    type_table(typed, typed_readings, settings)


if __name__ == "__main__":
    main()
