"""Agreement between two labellers on the double-labelled sample (eval/data/double_labelled.jsonl).

    python eval/agreement.py
    python eval/agreement.py eval/data/double_labelled_nl_r2.jsonl   # the real Dutch round 2 (40 items)

Each of the six labellers labelled 30 items of another labeller's reports without seeing their labels
(eval/LABELLING_V2.md). Per framework: micro-F1 between the two label sets (symmetric), Cohen's kappa
pooled over (item, label) decisions, and exact-match rate; for evidence type and the negative kind, the
share of items where both agree.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from service.settings import REPO_ROOT

PATH = REPO_ROOT / "eval" / "data" / "double_labelled.jsonl"


def kappa(a: np.ndarray, b: np.ndarray) -> float:
    """Cohen's kappa of two boolean arrays."""
    observed = float((a == b).mean())
    expected = float(a.mean() * b.mean() + (1 - a.mean()) * (1 - b.mean()))
    return (observed - expected) / (1 - expected) if expected < 1 else 1.0


def agreement(rows: list[dict]) -> dict[str, float]:
    out: dict[str, float] = {"items": len(rows)}
    for key, n in (("sdgs", 17), ("steps", 6)):
        a = np.zeros((len(rows), n), bool)
        b = np.zeros((len(rows), n), bool)
        for i, row in enumerate(rows):
            for label in row["first"][key]:
                a[i, label - 1] = True
            for label in row["second"][key]:
                b[i, label - 1] = True
        tp = float((a & b).sum())
        out[f"{key}_f1"] = 2 * tp / max(float(a.sum() + b.sum()), 1.0)
        out[f"{key}_kappa"] = kappa(a.ravel(), b.ravel())
        out[f"{key}_exact"] = float((a == b).all(axis=1).mean())
    for key in ("evidence_type", "negative"):
        out[f"{key}_same"] = float(np.mean([r["first"][key] == r["second"][key] for r in rows]))
    return out


def main() -> None:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else PATH
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    for name, value in agreement(rows).items():
        print(f"{name:20} {value:.3f}" if isinstance(value, float) else f"{name:20} {value}")


if __name__ == "__main__":
    main()
