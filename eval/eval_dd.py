"""Due-diligence classifier evaluation on the dev sets, against the zero-shot baseline in the same run.

    python eval/eval_dd.py              # per-step tables for both dev sets, both systems, and the tags
    python eval/eval_dd.py --json out.json

Dev sets (never trained on; provenance and labelling guide in eval/LABELLING_DD.md):
- english: 252 passages from six reports (H&M, American Eagle, JPMorgan, Microsoft; the Shell and ENGIE
  PDFs), labelled by us with OECD steps; the passages with a step also with salient issues,
  value-chain positions, evidence type and whether a concrete case is described
- dutch:   50 of them translated into Dutch by us, same labels

Systems: "trained" is what ships (classify_texts with the default settings: language routing,
chunking, thresholds); "zero-shot" is the same call with GAPLENS_DD_CLASSIFIER=zero-shot (similarity to
the sub-element texts and examples in corpora/oecd_due_diligence.yaml, top 2).
Metrics per step: precision, recall, F1; macro-F1 is the mean over the six steps (the issue's aim is
>= 0.70 on hidden passages), micro-F1 pools all step decisions.
The tag rules (service/judging/dd_tags.py) and the evidence-type rules are scored on the passages that we
labelled with at least one step, as micro precision / recall over the tags per passage.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from classifiers.training.heads import f1, label_matrix  # noqa: E402
from service.judging.dd_tags import load_tag_rules, passage_tags  # noqa: E402
from service.judging.substance import evidence_type, load_substance_rules  # noqa: E402
from service.pipeline import classify_texts  # noqa: E402
from service.settings import Settings  # noqa: E402

EVAL_DATA = Path(__file__).resolve().parent / "data"
STEPS = list(range(1, 7))
DEV_FILES = {"english": "dd_dev_passages.jsonl", "dutch": "dd_dev_nl.jsonl"}


def read_rows(file: str) -> list[dict]:
    lines = (EVAL_DATA / file).read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def predict(texts: list[str], settings: Settings) -> np.ndarray:
    """(texts x 6) bool: the steps the configured due-diligence classifier assigns."""
    _, dd = classify_texts(texts, settings)
    return label_matrix([[int(s) for s in d.labels] for d in dd], 6).astype(bool)


def per_step(predicted: np.ndarray, gold: np.ndarray) -> dict[int, dict[str, float]]:
    table = {}
    for j, step in enumerate(STEPS):
        tp = float((predicted[:, j] & gold[:, j]).sum())
        precision = tp / max(float(predicted[:, j].sum()), 1.0)
        recall = tp / max(float(gold[:, j].sum()), 1.0)
        harmonic = 2 * precision * recall / max(precision + recall, 1e-9)
        table[step] = {"n": int(gold[:, j].sum()), "precision": precision, "recall": recall, "f1": harmonic}
    return table


def summary(predicted: np.ndarray, gold: np.ndarray) -> dict[str, float]:
    table = per_step(predicted, gold)
    return {
        "macro_f1": float(np.mean([row["f1"] for row in table.values()])),
        "micro_f1": f1(predicted, gold),
        "any_step_f1": f1(predicted.any(axis=1), gold.any(axis=1)),
    }


def print_table(name: str, results: dict[str, np.ndarray], gold: np.ndarray) -> dict:
    print(f"\n== {name}: {len(gold)} passages, {int(gold.any(axis=1).sum())} with a step ==")
    systems = list(results)
    print("step  n   " + "   ".join(f"{s:>22}" for s in systems))
    print("          " + "   ".join(f"{'P':>6} {'R':>6} {'F1':>7}" for _ in systems))
    tables = {s: per_step(results[s], gold) for s in systems}
    for step in STEPS:
        cells = [tables[s][step] for s in systems]
        row = "   ".join(f"{c['precision']:6.2f} {c['recall']:6.2f} {c['f1']:7.3f}" for c in cells)
        print(f"{step:>4} {cells[0]['n']:>3}   {row}")
    out = {}
    for s in systems:
        out[s] = {"summary": summary(results[s], gold), "per_step": tables[s]}
        numbers = ", ".join(f"{k} {v:.3f}" for k, v in out[s]["summary"].items())
        print(f"{s}: {numbers}")
    return out


def tag_agreement(rows: list[dict], settings: Settings) -> dict[str, dict[str, float]]:
    """Micro precision/recall of the tag rules against our labels, on passages with a step."""
    rules = load_tag_rules(settings.corpora_dir)
    substance = load_substance_rules(settings.corpora_dir)
    counts = {k: [0, 0, 0] for k in ("issues", "issue_families", "value_chain")}  # tp, predicted, gold
    types = cases = 0
    labelled = [r for r in rows if r["steps"]]
    for row in labelled:
        tags = passage_tags(row["text"], rules, substance)
        gold_issues = set(row["issues"])
        pairs = {
            "issues": (set(tags.issues) - set(rules.families), gold_issues - set(rules.families)),
            "issue_families": (
                {rules.family_of(t) for t in tags.issues},
                {rules.family_of(t) for t in gold_issues},
            ),
            "value_chain": (set(tags.value_chain), set(row["value_chain"])),
        }
        for key, (predicted, gold) in pairs.items():
            counts[key][0] += len(predicted & gold)
            counts[key][1] += len(predicted)
            counts[key][2] += len(gold)
        types += evidence_type(row["text"], substance) == row["evidence_type"]
        cases += tags.concrete_case == row["concrete_case"]
    result = {}
    for key, (tp, n_pred, n_gold) in counts.items():
        result[key] = {"precision": tp / max(n_pred, 1), "recall": tp / max(n_gold, 1)}
    result["evidence_type"] = {"agreement": types / max(len(labelled), 1)}
    result["concrete_case"] = {"agreement": cases / max(len(labelled), 1)}
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--json", type=Path, help="write all numbers here")
    args = parser.parse_args()
    settings = Settings()
    systems = {"trained": settings, "zero-shot": replace_settings(settings, dd_classifier="zero-shot")}
    report: dict = {}
    for name, file in DEV_FILES.items():
        rows = read_rows(file)
        gold = label_matrix([r["steps"] for r in rows], 6).astype(bool)
        texts = [r["text"] for r in rows]
        results = {system: predict(texts, s) for system, s in systems.items()}
        report[name] = print_table(name, results, gold)
        report[name]["tags"] = tags = tag_agreement(rows, settings)
        print(
            "tags on passages with a step: "
            + "; ".join(
                f"{k} " + " ".join(f"{m} {v:.2f}" for m, v in values.items()) for k, values in tags.items()
            )
        )
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


def replace_settings(settings: Settings, **changes: str) -> Settings:
    """A copy of the settings with some fields changed (pydantic models are not dataclasses)."""
    return settings.model_copy(update=changes)


if __name__ == "__main__":
    main()
