r"""What N reviews on a tenant's reports do to that tenant's next reports: refit readers, scored by experts.

The tenant is the AIMS modern-slavery statements (../shared/data/aims_uk_ca), read as eval/expert_documents.py
reads them. The simulated analyst is the experts' sentence labels: on the **dev** statements, GapLens's
evidence passages for the indicators that eval/data/expert_indicator_criteria.yaml maps to an expert
criterion are walked in one seeded order, and the first N are reviewed: confirmed for the indicator when
the passage contains (``expert_documents.contains``) a sentence the experts marked with the indicator's
criterion, rejected otherwise. The reviews become the lines the review export writes
(``service.serving.reviews.passage_line``), and ``gaplens train parts --reviews FILE --models-dir DIR
--no-multilingual`` refits the English sub-element reader with them into a temporary release (the real
code path). The **test** statements ("the tenant's next reports") are then read with that release
(``Settings.tuned_dir``) and scored: evidence precision / recall / F1, overall and per indicator, with the
harness's statement-bootstrap intervals. N = 0 is the shipped release. Nothing is chosen on test.

    PYTHONPATH=$PWD HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 .venv/bin/python eval/review_effect.py \
        --reviews 0 25 50 100 --json /tmp/review_effect.json
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eval.expert_documents import (
    VectorFiles,
    build_documents,
    contains,
    load_mapping,
    render,
    run,
    score,
)
from service.pipeline import analyze_documents
from service.records import Passage
from service.serving.reviews import passage_line
from service.settings import Settings, get_settings

ROOT = Path(__file__).resolve().parents[1]
SEED = 0
REVIEWER = "simulated analyst (AIMS expert labels)"


@dataclass(frozen=True)
class Candidate:
    """One evidence passage GapLens gave for a mapped indicator on a dev statement."""

    statement: str
    sha256: str
    language: str
    indicator: str
    step: str
    passage: Passage
    confirmed: bool


def candidates(settings: Settings) -> list[Candidate]:
    """Every (dev statement, mapped indicator, evidence passage), judged by the experts' sentences."""
    criteria, _ = load_mapping()
    statements = build_documents("dev", settings)
    analyses = analyze_documents([s.document for s in statements], settings, VectorFiles())
    found = []
    for statement, analysis in zip(statements, analyses, strict=True):
        passages = {p.id: p for p in analysis.passages}
        for result in analysis.report.indicators:
            if result.id not in criteria:
                continue
            wanted = set(criteria[result.id])
            positives = [s.text for s in statement.sentences if s.criteria & wanted]
            for evidence in result.evidence:
                passage = passages.get(evidence.passage_id)
                if passage is None:
                    continue
                confirmed = any(contains(passage.text, sentence) for sentence in positives)
                document = statement.document
                found.append(
                    Candidate(
                        statement.key,
                        document.sha256,
                        document.language,
                        result.id,
                        result.step,
                        passage,
                        confirmed,
                    )
                )
    return found


def seeded_order(found: Sequence[Candidate]) -> list[Candidate]:
    """The candidates in one fixed order (sorted, then shuffled with ``SEED``): the analyst's walk."""
    ordered = sorted(found, key=lambda c: (c.statement, c.indicator, c.passage.id))
    random.Random(SEED).shuffle(ordered)
    return ordered


def export_lines(reviewed: Sequence[Candidate]) -> list[dict[str, Any]]:
    """The reviews as the export writes them: one passage line each, its indicators and steps."""
    entries: dict[tuple[str, str], dict[str, set[str]]] = {}
    first: dict[tuple[str, str], Candidate] = {}
    for c in reviewed:
        key = (c.sha256, c.passage.id)
        entry = entries.setdefault(key, {})
        first.setdefault(key, c)
        prefix = "" if c.confirmed else "rejected_"
        entry.setdefault(f"{prefix}dd_steps", set()).add(c.step)
        entry.setdefault(f"{prefix}indicators", set()).add(c.indicator)
    return [
        passage_line(
            f"{sha[:12]}-{pid}",
            first[(sha, pid)].passage,
            entry,
            (sha, first[(sha, pid)].language),
            REVIEWER,
            "2026-01-01T00:00:00+00:00",
        )
        for (sha, pid), entry in entries.items()
    ]


def refit(lines: Sequence[dict[str, Any]], folder: Path) -> None:
    """``gaplens train parts --reviews`` into ``folder``, English reader only (the statements are English)."""
    reviews = folder / "reviews.jsonl"
    reviews.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    command = [sys.executable, "-m", "service.cli", "train", "parts", "--reviews", str(reviews)]
    command += ["--models-dir", str(folder / "release"), "--no-multilingual"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    subprocess.run(command, check=True, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)


# The row of a refit with no reviews: what refitting alone changes against the shipped files.
CONTROL = "refit-0"


def measure(counts: Sequence[int], settings: Settings, control: bool = False) -> dict[str, Any]:
    """The test table after each number of dev reviews (0 = the shipped release; ``CONTROL``: refit, none)."""
    walk = seeded_order(candidates(settings))
    test = build_documents("test", settings)
    out: dict[str, Any] = {"candidates": len(walk), "confirmable": sum(c.confirmed for c in walk)}
    runs: list[tuple[str, int, bool]] = [(str(n), n, n > 0) for n in counts]
    runs += [(CONTROL, 0, True)] if control else []
    for name, count, refitted in runs:
        reviewed = walk[:count]
        with tempfile.TemporaryDirectory() as scratch:
            release = settings.tuned_dir
            if refitted:
                refit(export_lines(reviewed), Path(scratch))
                release = Path(scratch) / "release"
            tuned = settings.model_copy(update={"tuned_dir": release})
            table = score(run(test, tuned, VectorFiles()), test)
        table["reviews"] = {"count": len(reviewed), "confirmed": sum(c.confirmed for c in reviewed)}
        out[name] = table
    return out


def summary(out: dict[str, Any], names: Sequence[str]) -> str:
    """One line per N: overall precision, recall, F1 and the intervals."""
    lines = [f"{'reviews':<8} {'confirmed':<10} {'precision':<26} {'recall':<26} F1"]
    for count in names:
        table = out[count]
        overall, interval = table["overall"], table["overall"]["interval95"]
        cells = []
        for name in ("precision", "recall"):
            low, high = interval[name] or [float("nan")] * 2
            share = overall[name]
            cells.append(f"{share['value']:.2f} ({share['hits']}/{share['total']}) [{low:.2f}-{high:.2f}]")
        f1 = "-" if overall["f1"] is None else f"{overall['f1']:.2f}"
        lines.append(f"{count:<8} {table['reviews']['confirmed']:<10} {cells[0]:<26} {cells[1]:<26} {f1}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reviews", type=int, nargs="+", default=[0, 50], help="numbers of dev reviews")
    parser.add_argument("--json", type=Path, help="write the tables here")
    parser.add_argument("--control", action="store_true", help=f"also {CONTROL}: refit with no reviews")
    args = parser.parse_args()
    start = time.perf_counter()
    out = measure(args.reviews, get_settings(), args.control)
    print(f"{out['candidates']} dev candidates, {out['confirmable']} confirmable by the experts' sentences")
    names = [str(n) for n in args.reviews] + ([CONTROL] if args.control else [])
    for name in names:
        print(f"\n== test statements after {name} dev reviews ==")
        print(render(out[name]))
    print("\n" + summary(out, names))
    print(f"{time.perf_counter() - start:.0f} s", file=sys.stderr)
    if args.json:
        args.json.write_text(json.dumps(out, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
