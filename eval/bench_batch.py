"""Batch path vs the single-report loop on every shared report (6 PDFs, 12 parsed texts, 15 pool PDFs).

Run: .venv/bin/python eval/bench_batch.py [--only single-fp32,single,batch-2] [--reports N]

Each configuration runs in a fresh process with an empty store, so none reuses another's models or
cached vectors, and its wall clock includes starting workers and loading models:
- ``single-fp32``: the single-report loop as it was before int8 became the default (the tuned encoder in
  fp32, PyTorch): one process, models loaded once, ``analyze_document`` per report. The ratios are
  against this row;
- ``single``: the same loop with today's defaults (the int8 encoder);
- ``batch-W``: ``gaplens batch`` with W worker processes and today's defaults: reports of one language
  share the encoder's batches (two per task), one model per worker, texts sorted by length.
Prints reports/hour, pages/s, passages/s, the ratio against ``single-fp32``, and the peak memory (RSS)
of the largest worker process (of the one process for the single loops).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MANIFEST = ROOT / "eval" / "data" / "all_shared_reports.csv"
BASE = "single-fp32"
CONFIGS: dict[str, dict[str, str | int]] = {
    BASE: {"encoder": "gaplens-minilm"},
    "single": {},
    "batch-1": {"workers": 1},
    "batch-2": {"workers": 2},
}


def run_config(name: str, reports: int, data_dir: Path) -> dict[str, float]:
    """Runs inside the child process: score the reports one way, return counts and seconds."""
    from service.pipeline import analyze_document
    from service.reading.ingest import document_from_file
    from service.serving.batch import run_batch
    from service.serving.manifest import read_manifest
    from service.settings import Settings

    items = read_manifest(MANIFEST)[:reports]
    config = CONFIGS[name]
    settings = Settings(data_dir=data_dir)
    if "encoder" in config:
        settings = settings.model_copy(update={"embedding_model": config["encoder"]})
    start = time.perf_counter()
    if name.startswith("single"):
        pages = passages = 0
        for item in items:
            document = document_from_file(item.path.read_bytes(), item.path.name)
            analysis = analyze_document(document, settings)
            pages += analysis.document.page_count
            passages += len(analysis.passages)
    else:
        summary = run_batch(items, data_dir / "out", settings, int(config["workers"]))
        pages, passages = summary.pages, summary.passages
        assert summary.scored == len(items), f"{summary.failed} reports failed"
    seconds = time.perf_counter() - start
    # ru_maxrss is in KiB on Linux; the children are the batch's worker processes, joined by now.
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    workers = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    peak = workers if not name.startswith("single") and workers else own
    return {
        "reports": len(items),
        "pages": pages,
        "passages": passages,
        "seconds": round(seconds, 2),
        "peak_mb": round(peak / 1024),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", default=",".join(CONFIGS), help="comma-separated configurations")
    parser.add_argument("--reports", type=int, default=33)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        with tempfile.TemporaryDirectory() as tmp:
            print(json.dumps(run_config(args.child, args.reports, Path(tmp))))
        return
    names = [n for n in args.only.split(",") if n]
    if BASE not in names:
        names.insert(0, BASE)
    results = {}
    for name in names:
        child = [sys.executable, __file__, "--child", name, "--reports", str(args.reports)]
        done = subprocess.run(child, capture_output=True, text=True, check=True, cwd=ROOT)
        results[name] = json.loads(done.stdout.strip().splitlines()[-1])
        print(f"  {name}: {results[name]}", file=sys.stderr)
    base = results[BASE]
    print(f"{args.reports} reports, {base['pages']} pages, {base['passages']} passages")
    columns = ("s", "reports/h", "pages/s", "passages/s", f"x {BASE}", "peak MB")
    print(f"{'configuration':<15}", *(f"{c:>11}" for c in columns))
    for name, r in results.items():
        per_hour = 3600 * r["reports"] / r["seconds"]
        ratio = base["seconds"] / r["seconds"]
        rates = (r["pages"] / r["seconds"], r["passages"] / r["seconds"])
        numbers = (r["seconds"], per_hour, *rates, ratio, r["peak_mb"])
        print(f"{name:<15}", *(f"{n:>11.2f}" for n in numbers))


if __name__ == "__main__":
    main()
