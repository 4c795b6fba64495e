"""Hardening, second round (issue 26, points 4, 5, 7 and 9): what an outside probe of a running server found.

Real PDFs, the real sandbox children, a real SQLite store and, where a process must die or a socket stall,
a real `gaplens serve`. Every wait is for an event, with a bound meant for a loaded 2-core machine.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path

import httpx
import pytest

from eval.hostile import render_bomb
from eval.server import GapLensServer, make_key
from service.errors import PdfTooComplex
from service.reading.pdf_limits import PdfLimits
from service.reading.sandbox import end_stray_children, is_sandbox_child, parent_of
from service.serving import reads as reads_module
from service.serving.auth import LOCAL, Tenant
from service.serving.engine import GapLensService
from service.store import ALL_TENANTS
from tests.conftest import MAX_AUTOMATION
from tests.test_api import wait_until

pytestmark = pytest.mark.slow


@pytest.fixture
def gaplens(settings) -> Iterator[GapLensService]:
    gaplens = GapLensService(settings.model_copy(update={"job_workers": 0, "ocr": "off"}))
    gaplens.start()
    yield gaplens
    gaplens.close()


def dead_pid() -> int:
    """The pid of a process that has ended (and been reaped)."""
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    return int(done.stdout)


# --- 9a: parallel uploads of the same bytes make one job --------------------------------------------
def test_four_identical_uploads_at_once_make_one_job(settings):
    gaplens = GapLensService(
        settings.model_copy(update={"job_workers": 0, "ocr": "off", "max_pdf_children": 8})
    )
    gaplens.start()
    data = MAX_AUTOMATION.read_bytes()
    barrier = threading.Barrier(4)
    jobs: list[int] = []

    def upload() -> None:
        barrier.wait()
        jobs.append(gaplens.submit_pdf(data, MAX_AUTOMATION.name, LOCAL).id)

    threads = [threading.Thread(target=upload) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    try:
        assert len(jobs) == 4 and len(set(jobs)) == 1, jobs
        assert len(gaplens.store.for_tenant(ALL_TENANTS).unfinished_jobs()) == 1
    finally:
        gaplens.close()


def test_the_store_keeps_one_unfinished_job_per_report(gaplens):
    own = gaplens.store.for_tenant(LOCAL.id)
    report, _ = own.get_or_create_report("a" * 64, filename="a.pdf")
    first, created = own.queue_job_once("a.pdf", "a" * 64, report.id)
    again, created_again = own.queue_job_once("a.pdf", "a" * 64, report.id)
    assert created and not created_again and again.id == first.id
    # the database itself refuses a second unfinished job for the report (another server's insert)
    from sqlalchemy.exc import IntegrityError

    with pytest.raises(IntegrityError):
        own.create_job("a.pdf", "a" * 64, report_id=report.id)
    own.update_job(first.id, status="done")
    later, created_later = own.queue_job_once("a.pdf", "a" * 64, report.id)
    assert created_later and later.id != first.id


# --- 5: a full disk leaves no partial upload behind -------------------------------------------------
@contextmanager
def file_size_limit(limit: int) -> Iterator[None]:
    """Writes past ``limit`` bytes fail with EFBIG in this process, as a full disk fails them."""
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, previous)


def test_a_failed_upload_write_leaves_no_temp_file(gaplens):
    data = MAX_AUTOMATION.read_bytes()
    assert len(data) > 200_000
    with file_size_limit(100_000), pytest.raises(OSError):
        gaplens.submit_pdf(data, MAX_AUTOMATION.name, LOCAL)
    assert sorted(p.name for p in gaplens.uploads.iterdir()) == []
    assert gaplens.store.for_tenant(ALL_TENANTS).unfinished_jobs() == []


def test_the_start_sweeps_temp_files_of_dead_writers(settings):
    uploads = settings.data_dir / "uploads"
    uploads.mkdir(parents=True)
    stale = uploads / f"{'b' * 64}.{dead_pid()}.140.tmp"
    stale_texts = uploads / f"{'b' * 64}.pages.{dead_pid()}.140.tmp"
    live = uploads / f"{'c' * 64}.1.140.tmp"  # pid 1 is alive: another server may be writing it
    for path in (stale, stale_texts, live):
        path.write_bytes(b"%PDF-partial")
    gaplens = GapLensService(settings.model_copy(update={"job_workers": 0}))
    gaplens.start()
    try:
        assert sorted(p.name for p in uploads.iterdir()) == [live.name]
    finally:
        gaplens.close()


# --- 7: the page-image cache is bounded per tenant, and a failed page is remembered per page --------
def page_files(gaplens: GapLensService, tenant: Tenant) -> dict[str, int]:
    return {p.name: p.stat().st_size for p in gaplens.pages.glob(f"{tenant.id}-*")}


def test_the_page_image_cache_is_bounded_per_tenant_least_recently_used_first(settings):
    bound_mb = 0.5  # room for two or three of these pages (90 to 220 kB each)
    update = {"job_workers": 0, "ocr": "off", "page_cache_mb": bound_mb}
    gaplens = GapLensService(settings.model_copy(update=update))
    gaplens.start()
    try:
        job = gaplens.submit_pdf(MAX_AUTOMATION.read_bytes(), MAX_AUTOMATION.name, LOCAL)
        other = Tenant(gaplens.store.tenant_id("other", create=True), "other")
        theirs = gaplens.submit_pdf(MAX_AUTOMATION.read_bytes(), MAX_AUTOMATION.name, other)
        assert gaplens.page_image(theirs.report_id, other, 3).startswith(b"\x89PNG")
        kept_for_other = page_files(gaplens, other)
        hot = gaplens.page_image(job.report_id, LOCAL, 2)
        for page in range(3, 10):
            gaplens.page_image(job.report_id, LOCAL, page)
            gaplens.page_image(job.report_id, LOCAL, 2)  # page 2 stays the most recently used
            assert sum(page_files(gaplens, LOCAL).values()) <= bound_mb * 2**20
        names = page_files(gaplens, LOCAL)
        assert any(f"-{job.sha256}-2-" in name for name in names)  # used last, kept
        assert not any(f"-{job.sha256}-3-" in name for name in names)  # used least recently, gone
        assert gaplens.page_image(job.report_id, LOCAL, 2) == hot
        assert page_files(gaplens, other) == kept_for_other  # one tenant's pages never evict another's
    finally:
        gaplens.close()


def test_a_page_that_could_not_be_drawn_is_refused_at_once_for_every_passage(settings, monkeypatch):
    limits = {"job_workers": 0, "ocr": "off", "page_render_seconds": 0.01}
    gaplens = GapLensService(settings.model_copy(update=limits))
    gaplens.start()
    try:
        job = gaplens.submit_pdf(MAX_AUTOMATION.read_bytes(), MAX_AUTOMATION.name, LOCAL)
        gaplens.run_job(gaplens.job(job.id, LOCAL))
        rows = gaplens.passages(job.report_id, LOCAL, 0, 1000)
        page = max({r.page for r in rows}, key=lambda p: sum(r.page == p for r in rows))
        on_page = [r.id for r in rows if r.page == page]
        assert len(on_page) >= 2
        renders: list[int] = []
        real = reads_module.render_page_png

        def counted(*args, **kwargs):
            renders.append(1)
            return real(*args, **kwargs)

        monkeypatch.setattr(reads_module, "render_page_png", counted)
        with pytest.raises(PdfTooComplex, match="drawing the page took longer"):
            gaplens.page_image(job.report_id, LOCAL, page, on_page[0])
        for passage in (*on_page[1:], None):
            with pytest.raises(PdfTooComplex, match="drawing the page took longer"):
                gaplens.page_image(job.report_id, LOCAL, page, passage)
        assert renders == [1]  # one child for the page, not one per passage
    finally:
        gaplens.close()


# --- 9b: a lost data folder is a storage error, not "scored from text" ------------------------------
def test_a_page_image_of_a_lost_upload_is_a_storage_error(tmp_path):
    import shutil

    from fastapi.testclient import TestClient

    from service.app import create_app
    from service.settings import Settings

    settings = Settings(data_dir=tmp_path / "data", database_url=None, auth="local", ocr="off", job_workers=0)
    with TestClient(create_app(settings), base_url="http://localhost") as client:
        files = {"file": (MAX_AUTOMATION.name, MAX_AUTOMATION.read_bytes(), "application/pdf")}
        job = client.post("/v1/reports", files=files).json()
        shutil.rmtree(settings.data_dir / "uploads")
        shutil.rmtree(settings.data_dir / "pages")
        lost = client.get(f"/v1/reports/{job['report_id']}/pages/1/image")
        assert lost.status_code == 503 and lost.json()["error"] == "StorageUnavailable", lost.text
        assert "scored from text" not in lost.text


def test_a_report_scored_without_an_upload_still_says_so(gaplens):
    report, _ = gaplens.store.for_tenant(LOCAL.id).get_or_create_report("d" * 64, filename="batch.json")
    from service.errors import NotFound

    with pytest.raises(NotFound, match="no stored PDF"):
        gaplens.page_image(report.id, LOCAL, 1)


# --- 4: PDF children die with the server, and a restart ends strays -------------------------------
def gone(pid: int) -> bool:
    """Whether ``pid`` has ended (a zombie waiting for its reaper counts as ended)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return True
    return state in ("Z", "X")


def sandbox_children_of(parent: int) -> list[int]:
    return [
        int(entry.name)
        for entry in Path("/proc").iterdir()
        if entry.name.isdigit() and is_sandbox_child(int(entry.name)) and parent_of(int(entry.name)) == parent
    ]


def test_pdf_children_die_with_a_killed_server(tmp_path):
    env = {**os.environ, "GAPLENS_DATA_DIR": str(tmp_path / "data"), "GAPLENS_AUTH": "keys"}
    env.pop("DATABASE_URL", None)
    env["GAPLENS_PAGE_RENDER_SECONDS"] = "900"  # the page below takes minutes to draw: only death ends it
    headers = {"Authorization": f"Bearer {make_key(env, 'killed')}"}
    server = GapLensServer(env, tmp_path / "server.log")
    children: list[int] = []
    try:
        files = {"file": ("bomb.pdf", render_bomb(1_000_000), "application/pdf")}
        answer = httpx.post(f"{server.url}/v1/reports", headers=headers, files=files, timeout=300)
        assert answer.status_code == 202, answer.text
        image = f"{server.url}/v1/reports/{answer.json()['report_id']}/pages/1/image"
        asking = threading.Thread(
            target=lambda: _ignore_errors(httpx.get, image, headers=headers, timeout=900)
        )
        asking.start()

        def found() -> bool:
            # past reading its PDF from the pipe (a child killed before that ends anyway), drawing
            children[:] = [pid for pid in drawing(server.process.pid) if cpu_seconds(pid) >= 5]
            return bool(children)

        wait_until(found, 600, "no child started to draw the page")
        server.process.send_signal(signal.SIGKILL)
        server.process.wait(timeout=60)
        wait_until(lambda: all(gone(pid) for pid in children), 60, f"children {children} outlived the server")
        asking.join(timeout=120)
    finally:
        server.stop()
        for pid in children:  # only if the test failed: the children it made run on
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def drawing(parent: int) -> list[int]:
    """The sandbox children of ``parent`` that draw a page."""
    return [
        pid for pid in sandbox_children_of(parent) if b'"render"' in Path(f"/proc/{pid}/cmdline").read_bytes()
    ]


def cpu_seconds(pid: int) -> float:
    """The CPU time ``pid`` has used (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _ignore_errors(call, *args, **kwargs) -> None:
    with contextlib.suppress(httpx.HTTPError):
        call(*args, **kwargs)


def test_a_start_ends_children_whose_parent_is_gone_and_nothing_else(tmp_path):
    folder = tmp_path / "children"
    folder.mkdir()
    request = json.dumps({"mode": "text", "limits": asdict(PdfLimits()), "parent": os.getpid()})
    # real sandbox children, waiting for their PDF on stdin
    stray, kept = (
        subprocess.Popen(
            [sys.executable, "-m", "service.reading.sandbox_child", request], stdin=subprocess.PIPE
        )
        for _ in range(2)
    )
    unrelated = subprocess.Popen(["sleep", "600"])
    try:
        (folder / f"{stray.pid}.child").write_text(str(dead_pid()))  # its server was killed
        (folder / f"{kept.pid}.child").write_text(str(os.getpid()))  # its server still waits on it
        (folder / f"{unrelated.pid}.child").write_text(str(dead_pid()))  # a reused pid: not our child
        (folder / f"{dead_pid()}.child").write_text(str(dead_pid()))  # a child that ended long ago
        assert end_stray_children(folder) == 1
        assert stray.wait(timeout=60) == -signal.SIGKILL
        assert kept.poll() is None and unrelated.poll() is None
        assert sorted(p.name for p in folder.iterdir()) == [f"{kept.pid}.child"]
    finally:
        for process in (stray, kept, unrelated):
            process.kill()
            process.wait()


# --- 9c: slow clients are cut off ------------------------------------------------------------------
def closed_by_server(connection: socket.socket, seconds: float) -> bool:
    """Whether the server closes ``connection`` (reads to the end) within ``seconds``."""
    connection.settimeout(seconds)
    try:
        while connection.recv(65536):
            pass
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True
    return True


def test_slow_headers_slow_bodies_and_silent_connections_are_cut_off(tmp_path):
    env = {**os.environ, "GAPLENS_DATA_DIR": str(tmp_path / "data"), "GAPLENS_AUTH": "local"}
    env.pop("DATABASE_URL", None)
    env.update({"GAPLENS_REQUEST_HEADER_SECONDS": "2", "GAPLENS_REQUEST_BODY_SECONDS": "3"})
    server = GapLensServer(env, tmp_path / "server.log")
    host, port = server.url.removeprefix("http://").split(":")
    try:
        silent, slow_headers, slow_body = (socket.create_connection((host, int(port))) for _ in range(3))
        slow_headers.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # and never the blank line
        slow_body.sendall(
            b"POST /v1/classify HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Content-Length: 1000\r\n\r\n" + b'{"items": ['
        )
        # 20x the bounds, for a loaded machine; without the bounds none of them is ever closed
        for name, connection in (
            ("silent", silent),
            ("slow headers", slow_headers),
            ("slow body", slow_body),
        ):
            with connection:
                assert closed_by_server(connection, 60), f"the {name} connection was never closed"
        # a client that sends its request in time is served as before
        assert httpx.get(f"{server.url}/health", timeout=120).status_code == 200
        answer = httpx.post(
            f"{server.url}/v1/classify",
            json={"items": [{"id": "a", "text": "We cut emissions."}]},
            timeout=300,
        )
        assert answer.status_code == 200 and answer.json()[0]["id"] == "a"
    finally:
        server.stop()
