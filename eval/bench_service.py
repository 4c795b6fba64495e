"""Upload to result through a real `gaplens serve`, and `gaplens analyze` on the same PDFs, as users run them.

Run: .venv/bin/python eval/bench_service.py [--runs 2] [--pdf PATH ...]

- **service**: the server is started once (models load at start, before it answers /health); each PDF is
  uploaded by `service.serving.client.analyze_on_server`, as `gaplens analyze` uploads it, and the clock stops
  when the analysis has come back (the job is polled every 0.2 s). Every upload is a new report: each
  run uses a fresh data folder and server, so no vector is cached.
- **cli+server**: `gaplens analyze PDF --out result.json` while that server runs (it hands the PDF over, as
  a second tenant); **cli alone**: the same with no server (`GAPLENS_SERVER_URL=none`), a new process with an
  empty data folder: start-up, model load, the analysis and the JSON, as a user waits for it.
Prints seconds per report, pages/s, each CLI time against the service's, and the service against its target
(issue 18: Shell 5 s, the bank report 8 s, a 220-page report 12 s; the CLI within 1.2x of the service).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from eval.server import GAPLENS, GapLensServer, make_key
from service.serving.client import analyze_on_server

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "reports"
# (PDF, target seconds): the Shell report, a bank's annual report, and a ~220-page report.
REPORTS = (
    (SHARED / "pdf" / "shell-sustainability-report-2021.pdf", 5.0),
    (SHARED / "pool" / "commerzbank-2023.pdf", 8.0),
    (SHARED / "pool" / "freenet-2023.pdf", 12.0),
)


def environment(data_dir: Path) -> dict[str, str]:
    env = {**os.environ, "GAPLENS_DATA_DIR": str(data_dir), "GAPLENS_AUTH": "keys", "HF_HUB_OFFLINE": "1"}
    env.pop("DATABASE_URL", None)
    return env


def through_service(pdf: Path, runs: int, work: Path) -> tuple[float, float, dict]:
    """Median seconds from upload to the analysis in hand, and of `gaplens analyze` handing it to that server.

    Each run starts a fresh server on a fresh data folder; the CLI uploads as a second tenant, whose
    vectors are cached apart, so it gets no head start from the first upload.
    """
    seconds, cli_seconds, analysis = [], [], {}
    for run in range(runs):
        data = work / f"service-{pdf.stem}-{run}"
        env = environment(data)
        key = make_key(env, "bench")
        cli_key = make_key(env, "bench-cli")
        server = GapLensServer(env, work / "server.log")
        try:
            start = time.perf_counter()
            analysis = analyze_on_server(server.url, pdf, key)
            seconds.append(time.perf_counter() - start)
            served = {"GAPLENS_SERVER_URL": server.url, "GAPLENS_API_KEY": cli_key}
            cli_seconds.append(run_cli(pdf, {**environment(work / "cli-served"), **served}, work))
        finally:
            server.stop()
    return statistics.median(seconds), statistics.median(cli_seconds), analysis


def run_cli(pdf: Path, env: dict[str, str], work: Path) -> float:
    """Wall seconds of one `gaplens analyze` process."""
    start = time.perf_counter()
    out = work / f"{pdf.stem}.json"
    subprocess.run(
        [GAPLENS, "analyze", str(pdf), "--out", str(out)], env=env, check=True, capture_output=True
    )
    return time.perf_counter() - start


def through_cli(pdf: Path, runs: int, work: Path) -> float:
    """Median wall seconds of `gaplens analyze` with no server: a new process with an empty data folder."""
    alone = {"GAPLENS_SERVER_URL": "none"}
    return statistics.median(
        run_cli(pdf, {**environment(work / f"cli-{run}"), **alone}, work) for run in range(runs)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--pdf", nargs="*", type=Path, help="other PDFs (target: none)")
    args = parser.parse_args()
    reports = [(p, 0.0) for p in args.pdf] if args.pdf else list(REPORTS)
    print(f"machine: {os.cpu_count()} cores; median of {args.runs} runs each")
    columns = ("pages", "passages", "service s", "target s", "x target", "pages/s", "cli+server", "ratio")
    columns += ("cli alone", "ratio")
    print(f"{'report':<40}", *(f"{c:>11}" for c in columns))
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for pdf, target in reports:
            service, served, analysis = through_service(pdf, args.runs, work)
            alone = through_cli(pdf, args.runs, work)
            pages = analysis["pages"]
            ratio = service / target if target else float("nan")
            numbers = (pages, analysis["passages"], service, target, ratio, pages / service)
            numbers += (served, served / service, alone, alone / service)
            print(f"{pdf.name[:40]:<40}", *(f"{n:>11.2f}" for n in numbers), flush=True)


if __name__ == "__main__":
    main()
