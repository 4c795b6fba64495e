"""Batch path vs the single-report loop on the 14 shared reports (2 PDFs + 12 parsed text reports).

Run: .venv/bin/python eval/bench_batch.py [--only single,batch-2-onnx] [--reports N]

Each configuration runs in a fresh process with an empty store, so none reuses another's models or
cached vectors, and its wall clock includes starting workers and loading models:
- ``single``: one process, models loaded once, ``analyze_document`` per report (what a loop over
  the single-report call does at best), PyTorch encoder;
- ``batch-W-R``: ``gaplens batch`` with W workers and MiniLM run by R (torch or onnx: same vectors);
- ``batch-2-int8``: the int8 model, a different (approximate) encoder.
The ONNX exports are made once before timing (a one-time step per machine, like a download).
Prints reports/min, pages/s and passages/s, and each as a ratio against ``single``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MANIFEST = ROOT / "eval" / "data" / "shared_reports.csv"
CONFIGS = {
    "single": {},
    "batch-1-torch": {"workers": 1, "runtime": "torch"},
    "batch-2-torch": {"workers": 2, "runtime": "torch"},
    "batch-1-onnx": {"workers": 1, "runtime": "onnx"},
    "batch-2-onnx": {"workers": 2, "runtime": "onnx"},
    "batch-2-int8": {"workers": 2, "runtime": "torch", "encoder": "gaplens-minilm-int8"},
}


def run_config(name: str, reports: int, data_dir: Path) -> dict[str, float]:
    """Runs inside the child process: score the reports one way, return counts and seconds."""
    from service.batch import run_batch
    from service.ingest import document_from_file
    from service.manifest import read_manifest
    from service.pipeline import analyze_document
    from service.settings import Settings

    items = read_manifest(MANIFEST)[:reports]
    config = CONFIGS[name]
    settings = Settings(data_dir=data_dir)
    start = time.perf_counter()
    if name == "single":
        pages = passages = 0
        for item in items:
            document = document_from_file(item.path.read_bytes(), item.path.name)
            analysis = analyze_document(document, settings)
            pages += analysis.document.page_count
            passages += len(analysis.passages)
    else:
        changes = {"encoder_runtime": config["runtime"]}
        if "encoder" in config:
            changes["embedding_model"] = config["encoder"]
        summary = run_batch(
            items, data_dir / "out", settings.model_copy(update=changes), int(config["workers"])
        )
        pages, passages = summary.pages, summary.passages
        assert summary.scored == len(items), f"{summary.failed} reports failed"
    seconds = time.perf_counter() - start
    return {"reports": len(items), "pages": pages, "passages": passages, "seconds": round(seconds, 2)}


def prepare_exports() -> None:
    from service.models import get_encoder

    get_encoder("gaplens-minilm", "onnx")
    get_encoder("gaplens-minilm-int8")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", default=",".join(CONFIGS), help="comma-separated configurations")
    parser.add_argument("--reports", type=int, default=14)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        with tempfile.TemporaryDirectory() as tmp:
            print(json.dumps(run_config(args.child, args.reports, Path(tmp))))
        return
    prepare_exports()
    names = [n for n in args.only.split(",") if n]
    if "single" not in names:
        names.insert(0, "single")
    results = {}
    for name in names:
        child = [sys.executable, __file__, "--child", name, "--reports", str(args.reports)]
        done = subprocess.run(child, capture_output=True, text=True, check=True, cwd=ROOT)
        results[name] = json.loads(done.stdout.strip().splitlines()[-1])
        print(f"  {name}: {results[name]}", file=sys.stderr)
    base = results["single"]
    print(f"{args.reports} reports, {base['pages']} pages, {base['passages']} passages")
    columns = ("s", "reports/min", "pages/s", "passages/s", "x single")
    print(f"{'configuration':<15}", *(f"{c:>11}" for c in columns))
    for name, r in results.items():
        per_min = 60 * r["reports"] / r["seconds"]
        ratio = base["seconds"] / r["seconds"]
        numbers = (r["seconds"], per_min, r["pages"] / r["seconds"], r["passages"] / r["seconds"], ratio)
        print(f"{name:<15}", *(f"{n:>11.2f}" for n in numbers))


if __name__ == "__main__":
    main()
