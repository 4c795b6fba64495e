"""Load on loopback: concurrent uploads of two shared PDFs and concurrent searches, against a real server.

    .venv/bin/python eval/bench_load.py                       # 20 uploads, 200 searches
    .venv/bin/python eval/bench_load.py --tenants 20 --searches 500
    .venv/bin/python eval/bench_load.py --tenants 3 --hostile # honest alone, then beside a hostile tenant

Starts `gaplens serve` (key mode, SQLite, an empty data folder) on a free port, makes one key per
tenant, then:
1. every tenant uploads both PDFs at once (2 x tenants concurrent uploads); we time the
   acknowledgement (202) of each and wait until every acknowledged job is done;
2. ``--searches`` searches at once, spread over the tenants.
It prints throughput, p50/p95 latency and error counts, and the jobs that were acknowledged but not
done (lost). Targets: zero errors, zero lost jobs.

``--hostile`` runs the honest load twice, each time on a fresh server: alone, then beside one hostile
tenant that uploads render bombs (eval/hostile.py) and asks for their page images 40 at a time, and
uploads slow scans (pages as pictures, read by OCR). It prints the honest tenants' p95 in both runs and
their ratio (target: within 2x, zero 5xx for honest tenants, zero lost jobs).
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

from eval.hostile import render_bomb, scanned  # noqa: E402
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
    try:
        response = await client.post("/v1/reports", headers={"Authorization": f"Bearer {key}"}, files=files)
    except httpx.TransportError as exc:
        return time.perf_counter() - started, None, f"disconnected: {exc!r}"
    elapsed = time.perf_counter() - started
    if response.status_code != 202:
        return elapsed, None, f"{response.status_code} {response.text[:120]}"
    return elapsed, response.json()["id"], ""


async def search(client: httpx.AsyncClient, key: str, query: str) -> tuple[float, str]:
    started = time.perf_counter()
    try:
        response = await client.get(
            "/v1/search", params={"q": query, "k": 10}, headers={"Authorization": f"Bearer {key}"}
        )
    except httpx.TransportError as exc:
        return time.perf_counter() - started, f"disconnected: {exc!r}"
    elapsed = time.perf_counter() - started
    ok = response.status_code == 200 and len(response.json()) > 0
    return elapsed, "" if ok else f"{response.status_code} {response.text[:120]}"


async def wait_jobs(
    client: httpx.AsyncClient, jobs: list[tuple[str, int, float]]
) -> tuple[list[float], list[str], int]:
    """Poll until every (key, job, upload time) is done: seconds from upload to done, failures, lost."""
    pending, failed, durations = set(jobs), [], []
    deadline = time.monotonic() + JOBS_TIMEOUT
    while pending and time.monotonic() < deadline:
        await asyncio.sleep(1.0)
        for key, job, started in list(pending):
            state = (await client.get(f"/v1/jobs/{job}", headers={"Authorization": f"Bearer {key}"})).json()
            if state["status"] in ("done", "failed"):
                pending.discard((key, job, started))
                durations.append(time.perf_counter() - started)
                if state["status"] == "failed":
                    failed.append(state["error"])
    return durations, failed, len(pending)


async def honest(client: httpx.AsyncClient, keys: list[str], pdfs: list[Path], searches: int) -> dict:
    """Every tenant uploads every PDF at once, waits for the jobs, then the searches run at once."""
    started = time.perf_counter()
    pairs = [(key, pdf) for key in keys for pdf in pdfs]
    uploads = await asyncio.gather(*(upload(client, key, pdf) for key, pdf in pairs))
    ack_seconds = time.perf_counter() - started
    acknowledged = [
        (key, job, started) for (key, _), (_, job, _) in zip(pairs, uploads, strict=True) if job is not None
    ]
    durations, failed, lost = await wait_jobs(client, acknowledged)
    done_seconds = time.perf_counter() - started
    started = time.perf_counter()
    answers = await asyncio.gather(
        *(search(client, keys[i % len(keys)], QUERIES[i % len(QUERIES)]) for i in range(searches))
    )
    return {
        "uploads": uploads,
        "ack_seconds": ack_seconds,
        "jobs": durations,
        "failed": failed,
        "lost": lost,
        "done_seconds": done_seconds,
        "searches": answers,
        "search_seconds": time.perf_counter() - started,
    }


def report(url: str, keys: list[str], pdfs: list[Path], alone: float, alone_error: str, m: dict) -> None:
    """The run's table, as in eval/RESULTS.md."""
    uploads, answers = m["uploads"], m["searches"]
    upload_errors = [error for _, _, error in uploads if error]
    print(f"server {url}; {len(keys)} tenants x {len(pdfs)} PDFs ({', '.join(p.name for p in pdfs)})")
    print("| what | requests | errors | throughput | p50 | p95 |")
    print("|---|---|---|---|---|---|")
    print(f"| one upload alone (until 202) | 1 | {int(bool(alone_error))} | | {1000 * alone:.0f} ms | |")
    ok_uploads = [t for t, j, _ in uploads if j is not None]
    print(summary("upload (until 202)", ok_uploads, len(upload_errors), m["ack_seconds"]))
    jobs = m["jobs"]
    print(
        f"| jobs (upload to done) | {len(jobs)} | {len(m['failed'])} failed | "
        f"{60 * len(jobs) / m['done_seconds']:.1f} reports/min | "
        f"{1000 * statistics.median(jobs) if jobs else 0:.0f} ms | "
        f"{1000 * percentile(jobs, 95) if jobs else 0:.0f} ms |"
    )
    print(
        summary(
            "search", [t for t, e in answers if not e], sum(1 for _, e in answers if e), m["search_seconds"]
        )
    )
    print(f"lost jobs (acknowledged, not done within {JOBS_TIMEOUT} s): {m['lost']}")
    for error in (upload_errors + m["failed"] + [e for _, e in answers if e])[:10]:
        print("  error:", error)


async def run(
    url: str, solo: str, keys: list[str], pdfs: list[Path], searches: int, hostile_key: str = ""
) -> dict:
    # Idle connections are dropped after 2 s, before the server's 5 s keep-alive ends them: otherwise a
    # request sent on a connection the server is just closing fails (httpx ReadError), which is the
    # client's race, not the service's answer.
    limits = httpx.Limits(max_connections=searches + 100, keepalive_expiry=2.0)
    async with httpx.AsyncClient(base_url=url, timeout=600, limits=limits) as client:
        # one upload on an idle server first, by a tenant of its own: the acknowledgement without a crowd
        alone, _, alone_error = await upload(client, solo, pdfs[0])
        attack = Hostile(client, hostile_key) if hostile_key else None
        if attack is not None:
            await attack.arm()
            task = asyncio.create_task(attack.run())
        metrics = await honest(client, keys, pdfs, searches)
        if attack is not None:
            attack.stop.set()
            await task
            metrics["hostile"] = attack.answers
    report(url, keys, pdfs, alone, alone_error, metrics)
    if attack is not None:
        print(
            f"hostile tenant's answers: {dict(sorted(attack.answers.items()))}; health p95 "
            f"{1000 * percentile(attack.health, 95):.0f} ms over {len(attack.health)} probes"
        )
    return metrics


class Hostile:
    """One tenant that tries to take the service down: render bombs, 40 page images at a time, scans."""

    def __init__(self, client: httpx.AsyncClient, key: str, bombs: int = 3, scans: int = 2) -> None:
        self.client, self.headers = client, {"Authorization": f"Bearer {key}"}
        self.bombs, self.scans = bombs, scans
        self.reports: list[int] = []
        self.answers: dict[int, int] = {}
        self.health: list[float] = []
        self.stop = asyncio.Event()

    async def arm(self) -> None:
        """Upload the bombs (they pass: reading them never draws) and wait until they are analysed."""
        for n in range(self.bombs):
            files = {"file": (f"bomb-{n}.pdf", render_bomb(300_000 + n), "application/pdf")}
            answer = await self.client.post("/v1/reports", headers=self.headers, files=files)
            job = answer.json()["id"]
            while (state := (await self.client.get(f"/v1/jobs/{job}", headers=self.headers)).json())[
                "status"
            ] not in ("done", "failed"):
                await asyncio.sleep(0.5)
            self.reports.append(int(state["report_id"]))

    async def _get(self, url: str) -> None:
        try:
            status = (await self.client.get(url, headers=self.headers)).status_code
        except httpx.TransportError:  # a keep-alive connection closed under the request; counted as 0
            status = 0
        self.answers[status] = self.answers.get(status, 0) + 1

    async def _scans(self) -> None:
        for n in range(self.scans):
            pages = list(range(1 + 30 * n, 31 + 30 * n))
            files = {
                "file": (f"scan-{n}.pdf", scanned(PDFS / "engie-integrated-report-2021.pdf", pages, 150))
            }
            try:
                status = (
                    await self.client.post("/v1/reports", headers=self.headers, files=files)
                ).status_code
            except httpx.TransportError:
                status = 0
            self.answers[status] = self.answers.get(status, 0) + 1

    async def _probe_health(self) -> None:
        while not self.stop.is_set():
            started = time.perf_counter()
            try:
                status = (await self.client.get("/health")).status_code
            except httpx.TransportError:
                status = 0
            self.health.append(time.perf_counter() - started if status == 200 else float("inf"))
            await asyncio.sleep(1.0)

    async def run(self) -> None:
        """Waves of 40 page-image requests over the bombs until the honest load is done."""
        background = [asyncio.create_task(self._scans()), asyncio.create_task(self._probe_health())]
        while not self.stop.is_set():
            urls = [f"/v1/reports/{self.reports[i % len(self.reports)]}/pages/1/image" for i in range(40)]
            await asyncio.gather(*(self._get(url) for url in urls))
            await asyncio.sleep(1.0)
        await asyncio.gather(*background)


def p95_ratio(name: str, alone: list[float], beside: list[float]) -> str:
    """One row of the honest-tenants comparison."""
    a, b = percentile(alone, 95), percentile(beside, 95)
    return f"| {name} | {1000 * a:.0f} ms | {1000 * b:.0f} ms | {b / a:.2f}x |"


def serve_and_run(args: argparse.Namespace, hostile: bool) -> dict:
    """A fresh server (key mode, SQLite, an empty data folder), the load, the server stopped."""
    with tempfile.TemporaryDirectory() as folder:
        env = {
            **os.environ,
            "GAPLENS_DATA_DIR": str(Path(folder) / "data"),
            "GAPLENS_AUTH": "keys",
            "GAPLENS_RATE_LIMIT": "100000/minute",
            "GAPLENS_LOG_FORMAT": "json",
        }
        env.pop("DATABASE_URL", None)
        keys = [
            make_key(env, name) for name in ["solo", "hostile", *(f"tenant-{n}" for n in range(args.tenants))]
        ]
        log = Path(folder) / "server.log"
        server = GapLensServer(env, log)
        try:
            pdfs = [PDFS / name for name in args.pdfs]
            return asyncio.run(
                run(server.url, keys[0], keys[2:], pdfs, args.searches, keys[1] if hostile else "")
            )
        except Exception:
            alive = "alive" if server.process.poll() is None else f"exited {server.process.returncode}"
            print(
                f"the run failed; the server is {alive}; its log ends:\n{log.read_text()[-4000:]}",
                file=sys.stderr,
            )
            raise
        finally:
            server.stop()


def fives(metrics: dict) -> int:
    """Honest requests answered 5xx."""
    codes = [e for _, _, e in metrics["uploads"] if e] + [e for _, e in metrics["searches"] if e]
    return sum(code.startswith("5") for code in codes)


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
    parser.add_argument("--hostile", action="store_true", help="compare with a hostile tenant beside them")
    args = parser.parse_args()
    alone = serve_and_run(args, hostile=False)
    if not args.hostile:
        return
    print()
    beside = serve_and_run(args, hostile=True)
    print("\nhonest tenants' p95, alone and beside the hostile tenant")
    print("| what | alone | beside hostile | ratio |")
    print("|---|---|---|---|")
    acks = [[t for t, j, _ in m["uploads"] if j is not None] for m in (alone, beside)]
    print(p95_ratio("upload (until 202)", *acks))
    print(p95_ratio("jobs (upload to done)", alone["jobs"], beside["jobs"]))
    hits = [[t for t, e in m["searches"] if not e] for m in (alone, beside)]
    print(p95_ratio("search", *hits))
    print(
        f"honest 5xx: {fives(alone)} alone, {fives(beside)} beside; "
        f"lost jobs: {alone['lost']} alone, {beside['lost']} beside"
    )


if __name__ == "__main__":
    main()
