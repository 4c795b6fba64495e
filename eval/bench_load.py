"""Load on loopback: concurrent uploads of two shared PDFs and concurrent searches, against a real server.

    .venv/bin/python eval/bench_load.py                       # 20 uploads, 200 searches
    .venv/bin/python eval/bench_load.py --tenants 20 --searches 500

Starts `gaplens serve` (key mode, SQLite, an empty data folder) on a free port, makes one key per
tenant, then:
1. every tenant uploads both PDFs at once (2 x tenants concurrent uploads); we time the
   acknowledgement (202) of each and wait until every acknowledged job is done;
2. ``--searches`` searches at once, spread over the tenants.
It prints throughput, p50/p95 latency and error counts, and the jobs that were acknowledged but not
done (lost). Targets: zero errors, zero lost jobs.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from eval.server import GapLensServer, make_key  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PDFS = ROOT.parent / "shared" / "data" / "reports" / "pdf"
# An acknowledged job not done by then counts as lost.
JOBS_TIMEOUT = 1800
QUERIES = [
    "greenhouse gas emissions reduction targets",
    "human rights due diligence in the supply chain",
    "grievance mechanism for workers",
    "employee health and safety incidents",
    "diversity and inclusion in leadership",
    "water consumption at production sites",
    "renewable energy share",
    "supplier code of conduct audits",
]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def summary(name: str, latencies: list[float], errors: int, seconds: float) -> str:
    if not latencies:
        return f"| {name} | 0 | {errors} | | | |"
    return (
        f"| {name} | {len(latencies)} | {errors} | {len(latencies) / seconds:.1f}/s | "
        f"{1000 * statistics.median(latencies):.0f} ms | {1000 * percentile(latencies, 95):.0f} ms |"
    )


async def upload(client: httpx.AsyncClient, key: str, pdf: Path) -> tuple[float, int | None, str]:
    started = time.perf_counter()
    files = {"file": (pdf.name, pdf.read_bytes(), "application/pdf")}
    response = await client.post("/v1/reports", headers={"Authorization": f"Bearer {key}"}, files=files)
    elapsed = time.perf_counter() - started
    if response.status_code != 202:
        return elapsed, None, f"{response.status_code} {response.text[:120]}"
    return elapsed, response.json()["id"], ""


async def search(client: httpx.AsyncClient, key: str, query: str) -> tuple[float, str]:
    started = time.perf_counter()
    response = await client.get(
        "/v1/search", params={"q": query, "k": 10}, headers={"Authorization": f"Bearer {key}"}
    )
    elapsed = time.perf_counter() - started
    ok = response.status_code == 200 and len(response.json()) > 0
    return elapsed, "" if ok else f"{response.status_code} {response.text[:120]}"


async def run(url: str, solo: str, keys: list[str], pdfs: list[Path], searches: int) -> None:
    limits = httpx.Limits(max_connections=searches + 10)
    async with httpx.AsyncClient(base_url=url, timeout=600, limits=limits) as client:
        # one upload on an idle server first, by a tenant of its own: the acknowledgement without a crowd
        alone, _, alone_error = await upload(client, solo, pdfs[0])
        started = time.perf_counter()
        pairs = [(key, pdf) for key in keys for pdf in pdfs]
        uploads = await asyncio.gather(*(upload(client, key, pdf) for key, pdf in pairs))
        ack_seconds = time.perf_counter() - started
        acknowledged = [
            (key, job) for (key, _), (_, job, _) in zip(pairs, uploads, strict=True) if job is not None
        ]
        upload_errors = [error for _, _, error in uploads if error]
        pending, failed = set(acknowledged), []
        deadline = time.monotonic() + JOBS_TIMEOUT
        while pending and time.monotonic() < deadline:
            await asyncio.sleep(1.0)
            for key, job in list(pending):
                state = (
                    await client.get(f"/v1/jobs/{job}", headers={"Authorization": f"Bearer {key}"})
                ).json()
                if state["status"] in ("done", "failed"):
                    pending.discard((key, job))
                    if state["status"] == "failed":
                        failed.append(state["error"])
        done_seconds = time.perf_counter() - started

        started = time.perf_counter()
        answers = await asyncio.gather(
            *(search(client, keys[i % len(keys)], QUERIES[i % len(QUERIES)]) for i in range(searches))
        )
        search_seconds = time.perf_counter() - started

    print(f"server {url}; {len(keys)} tenants x {len(pdfs)} PDFs ({', '.join(p.name for p in pdfs)})")
    print("| what | requests | errors | throughput | p50 | p95 |")
    print("|---|---|---|---|---|---|")
    print(f"| one upload alone (until 202) | 1 | {int(bool(alone_error))} | | {1000 * alone:.0f} ms | |")
    print(
        summary(
            "upload (until 202)", [t for t, j, _ in uploads if j is not None], len(upload_errors), ack_seconds
        )
    )
    print(
        f"| jobs (upload to done) | {len(acknowledged)} | {len(failed)} failed | "
        f"{60 * len(acknowledged) / done_seconds:.1f} reports/min | | all done in {done_seconds:.0f} s |"
    )
    print(
        summary("search", [t for t, e in answers if not e], sum(1 for _, e in answers if e), search_seconds)
    )
    print(f"lost jobs (acknowledged, not done within {JOBS_TIMEOUT} s): {len(pending)}")
    for error in (upload_errors + failed + [e for _, e in answers if e])[:10]:
        print("  error:", error)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tenants", type=int, default=10)
    parser.add_argument("--searches", type=int, default=200)
    parser.add_argument(
        "--pdfs",
        nargs=2,
        default=["max_automation_nonfinancial_statement_2023.pdf", "engie-integrated-report-2021.pdf"],
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        env = {
            **os.environ,
            "GAPLENS_DATA_DIR": str(Path(folder) / "data"),
            "GAPLENS_AUTH": "keys",
            "GAPLENS_RATE_LIMIT": "100000/minute",
            "GAPLENS_LOG_FORMAT": "json",
        }
        env.pop("DATABASE_URL", None)
        keys = [make_key(env, name) for name in ["solo", *(f"tenant-{n}" for n in range(args.tenants))]]
        server = GapLensServer(env, Path(folder) / "server.log")
        try:
            asyncio.run(
                run(server.url, keys[0], keys[1:], [PDFS / name for name in args.pdfs], args.searches)
            )
        finally:
            server.stop()


if __name__ == "__main__":
    main()
