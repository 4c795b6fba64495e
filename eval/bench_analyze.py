"""Per-stage time of `gaplens analyze` on the 93-page Shell report (target: under 30 s on 2 cores).

Run: make bench   (or .venv/bin/python eval/bench_analyze.py [--runs N] [--backend pdfplumber])
The model load is timed separately: it is paid once per process, not per report. Each run uses no
embedding cache, so every run pays the full encoder cost.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import torch

from service.models import get_encoder
from service.pipeline import analyze_pdf
from service.settings import Settings

SHELL = Path(__file__).resolve().parents[2] / "shared/data/reports/pdf/shell-sustainability-report-2021.pdf"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--backend", default="pypdfium2", choices=["pypdfium2", "pdfplumber"])
    parser.add_argument(
        "--first-release",
        action="store_true",
        help="also time the first release (frozen MiniLM, trained heads)",
    )
    args = parser.parse_args()
    settings = Settings(pdf_backend=args.backend)
    total = time_settings(settings, args.runs, args.backend)
    if args.first_release:
        first = settings.model_copy(
            update={
                "embedding_model": "all-MiniLM-L6-v2",
                "sdg_classifier": "trained",
                "dd_classifier": "trained",
            }
        )
        print("\nfirst release (all-MiniLM-L6-v2, trained heads):")
        before = time_settings(first, args.runs, args.backend)
        print(f"\ndefault / first release: {total / before:.2f}")


def time_settings(settings: Settings, runs_wanted: int, backend: str) -> float:
    """Print the stage times of analysing the Shell report; returns the median total."""
    data = SHELL.read_bytes()

    start = time.perf_counter()
    get_encoder(settings.embedding_model)
    load = time.perf_counter() - start
    print(f"machine: {os.cpu_count()} cores, torch threads {torch.get_num_threads()}")
    print(f"model load (once per process): {load:.2f} s")

    runs = []
    for _ in range(runs_wanted):
        analysis = analyze_pdf(data, SHELL.name, settings, cache=None)
        runs.append(analysis.timings)
    passages = len(analysis.passages)
    pages = analysis.document.page_count
    print(f"report: {SHELL.name}, {pages} pages, {passages} passages, backend {backend}")
    print(f"{'stage':<12} {'median s':>9} {'min s':>7}")
    for stage in runs[0]:
        values = [r[stage] for r in runs]
        print(f"{stage:<12} {statistics.median(values):>9.2f} {min(values):>7.2f}")
    total = statistics.median(r["total"] for r in runs)
    print(f"pages/s {analysis.document.page_count / total:.1f}  passages/s {passages / total:.1f}")
    print(f"target 30 s: total/target = {total / 30:.2f}")
    return total


if __name__ == "__main__":
    main()
