r"""Stronger readers side by side (issue 24 part 3), from the rows eval_v2.py saved: dev beside test.

Each argument is NAME=FILE (a JSON file ``eval/eval_v2.py --save`` wrote); a file with several
classifiers gives one column per classifier, and files given the same NAME fill one column (dev read
first, test later). SDG micro-F1 and OECD macro-F1 per set (AIMS: steps 2/3/4/6,
with the 95% statement-bootstrap interval); corporate_actions: per-SDG accuracy and recall; ``--speed``
adds the timing files ``eval/ensemble_heads.py bench --save`` wrote.

The commands behind the table in the report of 2026-12-07 (2-core shared machine, one thread each):

    # 1. all layers fine-tuned (frozen_layers 0, all else as shipped); the e5 heads do not depend on
    #    MiniLM, so the shipped ones are copied beside it instead of refitted
    PYTHONPATH=. nice -n 5 .venv/bin/python -m service.cli train tuned \
        --models-dir /work/runs/s2-all-layers --frozen-layers 0 --threads 1 --no-multilingual
    cp classifiers/models/tuned/*multilingual-e5-small* /work/runs/s2-all-layers/
    # 2. the ensemble's thresholds, chosen on the English dev split
    PYTHONPATH=. .venv/bin/python eval/ensemble_heads.py calibrate /work/runs/s2-ensemble/ensemble.json
    # 3. the scores: each candidate on dev, then (nothing chosen after it) its locked test once
    E="env GAPLENS_ENCODER_THREADS=1 PYTHONPATH=."
    $E .venv/bin/python eval/eval_v2.py --classifiers "tuned int8" --save /work/runs/s2-shipped.json
    for split in dev test; do
      $E .venv/bin/python eval/eval_v2.py --classifiers "tuned int8" --tuned-dir /work/runs/s2-all-layers \
          --splits $split --save /work/runs/s2-all-layers-$split.json
      $E .venv/bin/python eval/eval_v2.py --classifiers "ensemble int8" --splits $split \
          --ensemble-rules /work/runs/s2-ensemble/ensemble.json --save /work/runs/s2-ensemble-$split.json
    done  # (the test runs took --no-short: corporate_actions is a dev set)
    # 4. speed of the ensemble against the shipped reader on Shell
    PYTHONPATH=. .venv/bin/python eval/ensemble_heads.py bench /work/runs/s2-ensemble/ensemble.json \
        --save /work/runs/s2-ensemble/speed.json
    # 5. the table (the files of 2026-12-07 are kept in eval/readers/, with the ensemble's thresholds:
    #    the same command with eval/readers/s2-*.json and eval/readers/speed.json prints it again)
    PYTHONPATH=. .venv/bin/python eval/compare_readers.py shipped=/work/runs/s2-shipped.json \
        all-layers=/work/runs/s2-all-layers-dev.json all-layers=/work/runs/s2-all-layers-test.json \
        ensemble=/work/runs/s2-ensemble-dev.json ensemble=/work/runs/s2-ensemble-test.json \
        --speed ensemble=/work/runs/s2-ensemble/speed.json
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

# The order of the sets in the table; sets a file lacks are left blank.
SETS = (
    "en sentence",
    "en passage",
    "en passage+heading",
    "en page",
    "aims sentence",
    "corporate_actions",
    "nl-real sentence",
    "nl-real passage",
    "nl-real page",
    "nl sentence",
    "nl passage",
    "nl page",
)


def columns(arguments: list[str]) -> dict[str, dict[tuple[str, str], dict]]:
    """Column name -> (split, set) -> row, from NAME=FILE arguments."""
    out: dict[str, dict[tuple[str, str], dict]] = {}
    for argument in arguments:
        name, _, path = argument.partition("=")
        rows = json.loads(Path(path).read_text(encoding="utf-8"))["rows"]
        classifiers = list(dict.fromkeys(r["classifier"] for r in rows))
        for classifier in classifiers:
            column = name if len(classifiers) == 1 else f"{name} ({classifier})"
            mine = {(r["split"], r["set"]): r for r in rows if r["classifier"] == classifier}
            out.setdefault(column, {}).update(mine)  # dev and test may come from two files
    return out


def cell(row: dict | None) -> str:
    """One set's numbers for one reader: SDG / OECD, or the AIMS and corporate_actions measures."""
    if row is None:
        return "-"
    if "per_sdg_accuracy" in row:
        return f"acc {row['per_sdg_accuracy']:.3f} rec {row['recall']:.3f}"
    if "dd_low" in row:
        return f"{row['dd_macro']:.3f} ({row['dd_low']:.2f}-{row['dd_high']:.2f})"
    sdg = "  -  " if math.isnan(row["sdg_f1"]) else f"{row['sdg_f1']:.3f}"
    return f"{sdg} / {row['dd_macro']:.3f}"


def table(readers: dict[str, dict[tuple[str, str], dict]]) -> list[str]:
    """Rows of sets (dev, then test), a column per reader: SDG micro-F1 / OECD macro-F1."""
    width = max(22, *(len(name) for name in readers))
    lines = [f"{'set (split)':28} n     " + "".join(f"{name:>{width}}" for name in readers)]
    for split in ("dev", "test"):
        for name in SETS:
            row = [readers[r].get((split, name)) for r in readers]
            if not any(row):
                continue
            n = next(r["n"] for r in row if r)
            lines.append(f"{f'{name} ({split})':28} {n:<5} " + "".join(f"{cell(r):>{width}}" for r in row))
    return lines


def speed_lines(arguments: list[str]) -> list[str]:
    """Best Shell analysis times and the ratio to the shipped reader, from NAME=FILE timing files."""
    lines = []
    for argument in arguments:
        name, _, path = argument.partition("=")
        s = json.loads(Path(path).read_text(encoding="utf-8"))
        lines.append(
            f"{name}: Shell ({s['pages']} pages, {s['passages']} passages), best of {s['runs']}: "
            f"{s['best_total_s']['ensemble']:.2f} s vs shipped {s['best_total_s']['shipped']:.2f} s, "
            f"ratio {s['ratio_total']:.2f} (budget {s['budget']}); embedding stage ratio "
            f"{s['ratio_embedding']:.2f}; CPU {s['cpu']}"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", nargs="+", help="NAME=FILE, a file eval_v2.py --save wrote")
    parser.add_argument("--speed", nargs="*", default=[], help="NAME=FILE, from ensemble_heads.py bench")
    args = parser.parse_args()
    print("SDG micro-F1 / OECD macro-F1; AIMS: steps 2/3/4/6 macro-F1 (95% interval)")
    print("\n".join(table(columns(args.results))))
    for line in speed_lines(args.speed):
        print(line)


if __name__ == "__main__":
    main()
