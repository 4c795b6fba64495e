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
    return httpx.get(f"{url}/v1/jobs/{job_id}", headers=headers, timeout=10).json()


def test_kill_9_mid_job_loses_nothing_and_the_job_completes(env, tmp_path):
    headers = {"Authorization": f"Bearer {make_key(env, 'durable')}"}
    log = tmp_path / "server.log"

    first = GapLensServer(env, log)
    ids = []
    for pdf in (ENGIE, MAX_AUTOMATION):
        files = {"file": (pdf.name, pdf.read_bytes(), "application/pdf")}
        answer = httpx.post(f"{first.url}/v1/reports", headers=headers, files=files, timeout=60)
        assert answer.status_code == 202, answer.text
        ids.append(answer.json()["id"])
    # wait until the first job is past parsing: the model is working on it
    deadline = time.monotonic() + 120
    while job(first.url, headers, ids[0])["stage"] in ("queued", "parsing"):
        assert time.monotonic() < deadline, "the first job never got going"
        time.sleep(0.1)
    interrupted = job(first.url, headers, ids[0])
    assert interrupted["status"] == "running"
    first.process.send_signal(signal.SIGKILL)
    first.process.wait(timeout=30)

    # acknowledged means stored: both PDFs are on disk under their sha256
    uploads = Path(env["GAPLENS_DATA_DIR"]) / "uploads"
    for pdf in (ENGIE, MAX_AUTOMATION):
        assert (uploads / f"{hashlib.sha256(pdf.read_bytes()).hexdigest()}.pdf").exists()

    second = GapLensServer(env, log)
    try:
        deadline = time.monotonic() + 300
        while any(job(second.url, headers, i)["status"] in ("queued", "running") for i in ids):
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.5)
        finished = [job(second.url, headers, i) for i in ids]
        assert [j["status"] for j in finished] == ["done", "done"], [j["error"] for j in finished]
        analysis = httpx.get(
            f"{second.url}/v1/reports/{finished[0]['report_id']}/analysis", headers=headers, timeout=30
        ).json()
        assert analysis["pages"] == 60 and analysis["passages"] > 0
        hits = httpx.get(
            f"{second.url}/v1/search", params={"q": "emissions"}, headers=headers, timeout=30
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
