"""Kill -9 in the middle of a job, start again: no acknowledged upload is lost, the job completes.

A real `gaplens serve` process with its SQLite store: two uploads are acknowledged, the first is being
read when the process is killed with SIGKILL (no shutdown code runs). The restarted server must find
both PDFs on disk, requeue the interrupted job, finish both, and leave a database that passes SQLite's
integrity check.
"""

from __future__ import annotations

import hashlib
import os
import signal
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from eval.server import GapLensServer, make_key
from tests.conftest import ENGIE, MAX_AUTOMATION

pytestmark = pytest.mark.slow


@pytest.fixture
def env(tmp_path: Path) -> Iterator[dict[str, str]]:
    environment = {**os.environ, "GAPLENS_DATA_DIR": str(tmp_path / "data"), "GAPLENS_AUTH": "keys"}
    environment.pop("DATABASE_URL", None)
    yield environment


def job(url: str, headers: dict[str, str], job_id: int) -> dict:
    return httpx.get(f"{url}/v1/jobs/{job_id}", headers=headers, timeout=120).json()


def test_kill_9_mid_job_loses_nothing_and_the_job_completes(env, tmp_path):
    headers = {"Authorization": f"Bearer {make_key(env, 'durable')}"}
    log = tmp_path / "server.log"

    first = GapLensServer(env, log)
    ids = []
    for pdf in (ENGIE, MAX_AUTOMATION):
        files = {"file": (pdf.name, pdf.read_bytes(), "application/pdf")}
        answer = httpx.post(f"{first.url}/v1/reports", headers=headers, files=files, timeout=300)
        assert answer.status_code == 202, answer.text
        ids.append(answer.json()["id"])
    # wait until the first job is past parsing: the model is working on it
    deadline = time.monotonic() + 600
    while job(first.url, headers, ids[0])["stage"] in ("queued", "parsing"):
        assert time.monotonic() < deadline, "the first job never got going"
        time.sleep(0.1)
    interrupted = job(first.url, headers, ids[0])
    assert interrupted["status"] == "running"
    first.process.send_signal(signal.SIGKILL)
    first.process.wait(timeout=120)

    # acknowledged means stored: both PDFs are on disk under their sha256
    uploads = Path(env["GAPLENS_DATA_DIR"]) / "uploads"
    for pdf in (ENGIE, MAX_AUTOMATION):
        assert (uploads / f"{hashlib.sha256(pdf.read_bytes()).hexdigest()}.pdf").exists()

    second = GapLensServer(env, log)
    try:
        deadline = time.monotonic() + 900
        while any(job(second.url, headers, i)["status"] in ("queued", "running") for i in ids):
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.5)
        finished = [job(second.url, headers, i) for i in ids]
        assert [j["status"] for j in finished] == ["done", "done"], [j["error"] for j in finished]
        analysis = httpx.get(
            f"{second.url}/v1/reports/{finished[0]['report_id']}/analysis", headers=headers, timeout=120
        ).json()
        assert analysis["pages"] == 60 and analysis["passages"] > 0
        hits = httpx.get(
            f"{second.url}/v1/search", params={"q": "emissions"}, headers=headers, timeout=120
        ).json()
        assert {h["passage"]["report_id"] for h in hits} <= {j["report_id"] for j in finished} and hits
    finally:
        second.stop()

    with sqlite3.connect(Path(env["GAPLENS_DATA_DIR"]) / "gaplens.sqlite3") as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        attempts = dict(db.execute("SELECT id, attempts FROM jobs"))
        stored = db.execute(
            "SELECT COUNT(*) FROM passages WHERE report_id = ?", (finished[0]["report_id"],)
        ).fetchone()[0]
    assert attempts[ids[0]] == 2 and attempts[ids[1]] == 1  # the interrupted job ran again, once
    assert stored == analysis["passages"]  # the killed run left no half-written passages behind
    assert "requeued 1 jobs" in log.read_text()


@pytest.mark.postgres
def test_two_servers_on_one_postgresql_share_jobs_and_search_without_running_a_job_twice(
    postgres_url, tmp_path
):
    from tests.store_fixture import drop_everything

    drop_everything(postgres_url)  # a store of our own, whatever other tests left
    env = {
        **os.environ,
        "GAPLENS_DATA_DIR": str(tmp_path / "data"),
        "GAPLENS_AUTH": "keys",
        "DATABASE_URL": postgres_url,
    }
    headers = {"Authorization": f"Bearer {make_key(env, 'shared')}"}
    log = tmp_path / "servers.log"
    first = GapLensServer(env, log)
    second = None
    try:
        # ENGIE (60 pages) runs long enough for the second server to start in the middle of it
        files = {"file": (ENGIE.name, ENGIE.read_bytes(), "application/pdf")}
        answer = httpx.post(f"{first.url}/v1/reports", headers=headers, files=files, timeout=300)
        assert answer.status_code == 202, answer.text
        job_id = answer.json()["id"]
        deadline = time.monotonic() + 600
        while job(first.url, headers, job_id)["status"] == "queued":
            assert time.monotonic() < deadline, "the job never started"
            time.sleep(0.1)
        # the second server starts while the first runs the job: it must not take the job over
        second = GapLensServer(env, log)
        seen = []
        deadline = time.monotonic() + 900
        while not seen or seen[-1] not in ("done", "failed"):
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            seen += [job(server.url, headers, job_id)["status"] for server in (first, second)]
            time.sleep(0.2)
        assert seen[-1] == "done" and "queued" not in seen, seen  # no requeue, no second run
        assert log.read_text().count("requeued") == 0
        # the search of either server finds what the other stored
        for server in (first, second):
            hits = httpx.get(
                f"{server.url}/v1/search", params={"q": "emissions"}, headers=headers, timeout=120
            )
            assert hits.status_code == 200 and hits.json(), server.url
        # a NUL byte gets a clear 4xx on PostgreSQL too, and nothing is stored
        bad = httpx.post(
            f"{second.url}/v1/reports",
            headers=headers,
            files={"file": (MAX_AUTOMATION.name, MAX_AUTOMATION.read_bytes(), "application/pdf")},
            data={"company": "MAX\x00", "sector": "industrial"},
            timeout=300,
        )
        assert bad.status_code == 422 and "NUL byte" in bad.text
        for url in ("/v1/search?q=a%00", "/v1/sectors/x%00/benchmark", "/v1/companies/a%00/history"):
            assert httpx.get(f"{second.url}{url}", headers=headers, timeout=120).status_code == 400, url
        stored = {p.name for p in (Path(env["GAPLENS_DATA_DIR"]) / "uploads").iterdir()}
        assert f"{hashlib.sha256(MAX_AUTOMATION.read_bytes()).hexdigest()}.pdf" not in stored
        assert "MAX\\x00" not in log.read_text()
    finally:
        first.stop()
        if second is not None:
            second.stop()


def test_a_second_server_on_one_sqlite_file_is_refused_clearly(env, tmp_path):
    import subprocess
    import sys

    from eval.server import GAPLENS

    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from service.settings import Settings; from service.store import Store; "
            "Store(Settings().resolved_database_url()).hold_for_serving(); print('held', flush=True); "
            "time.sleep(900)",
        ],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        refused = subprocess.run(
            [GAPLENS, "serve", "--port", "0"], env=env, capture_output=True, text=True, timeout=300
        )
        assert refused.returncode == 2
        message = " ".join(refused.stderr.split())
        assert "already serves" in message and f"pid {holder.pid}" in message and "PostgreSQL" in message
    finally:
        holder.kill()
        holder.wait()
