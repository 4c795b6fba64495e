"""Every limit answers clearly: upload size, page count, processing time, jobs per tenant, request
rate; PDF bombs end in a clean error within bounded time and memory; file names cannot walk folders."""

from __future__ import annotations

import re
import resource
import time
import zlib

import pytest
from fastapi.testclient import TestClient

from eval.hostile import one_page_pdf, pdf_file
from service.app import create_app
from service.errors import BadInput, PdfTooComplex
from service.reading.ingest import document_from_pdf, raw_pages_pdfplumber, safe_filename
from service.reading.pdf_limits import PdfLimits
from service.reading.sandbox import render_page_image
from service.serving.auth import create_api_key
from service.settings import Settings
from service.store import Store
from tests.conftest import ENGIE, MAX_AUTOMATION
from tests.test_api import wait_for

BOMB_LIMITS = PdfLimits(memory_mb=512, seconds=20)


def page_count_bomb(pages: int = 100_000) -> bytes:
    """A hundred thousand blank pages in a few megabytes."""
    kids = b" ".join(b"%d 0 R" % (3 + i) for i in range(pages))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [" + kids + b"] /Count %d >>" % pages,
    ]
    objects += [b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >>"] * pages
    return pdf_file(objects)


def page_tree_bomb(levels: int = 30) -> bytes:
    """2**30 pages in a few hundred bytes: every page-tree node lists its one child twice."""
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>"]
    for level in range(levels):
        child = 3 + level
        objects.append(
            b"<< /Type /Pages /Kids [%d 0 R %d 0 R] /Count %d >>" % (child, child, 2 ** (levels - level))
        )
    objects.append(b"<< /Type /Page /MediaBox [0 0 612 792] >>")
    return pdf_file(objects)


def decompression_bomb(megabytes: int = 1500) -> bytes:
    """One page whose content stream inflates from about a megabyte to ``megabytes`` of text operators."""
    packer = zlib.compressobj(9)
    chunk = b"BT /F1 12 Tf 72 720 Td (GapLens) Tj ET\n" * 26000  # about 1 MB
    stream = b"".join(packer.compress(chunk) for _ in range(megabytes)) + packer.flush()
    return one_page_pdf(stream)


def nesting_bomb(depth: int = 200_000) -> bytes:
    """A page dictionary holding an array nested ``depth`` deep."""
    return pdf_file(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Deep "
            + b"[" * depth
            + b"]" * depth
            + b" >>",
        ]
    )


@pytest.mark.parametrize("bomb", [page_count_bomb, page_tree_bomb, decompression_bomb, nesting_bomb])
def test_pdf_bombs_end_in_a_clean_error_within_bounded_time_and_memory(bomb):
    data = bomb()
    assert len(data) < 15_000_000  # well under the 50 MB upload limit
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.monotonic()
    with pytest.raises(BadInput) as info:
        document_from_pdf(data, "bomb.pdf", limits=BOMB_LIMITS)
    # bounded by the child's time limit (with room for a loaded machine), not a hang
    assert time.monotonic() - started < BOMB_LIMITS.seconds + 120
    # the PDF is read in a child process capped at 512 MB; this process did not grow
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before) / 1024
    assert grown_mb < 100
    assert len(str(info.value)) > 20


def test_the_page_count_bomb_is_refused_for_its_pages():
    with pytest.raises(PdfTooComplex, match="100000 pages; the limit is 1500"):
        document_from_pdf(page_count_bomb(), "bomb.pdf", limits=PdfLimits())


def test_the_pdfplumber_backend_and_page_images_read_under_the_childs_limits():
    """Both once opened the PDF in the service's own process, past every time and memory cap."""
    data = ENGIE.read_bytes()
    started = time.monotonic()
    with pytest.raises(PdfTooComplex, match="reading the PDF took longer than 1 s"):
        raw_pages_pdfplumber(data, PdfLimits(seconds=0.1))  # layout reading gets 10x the time
    with pytest.raises(PdfTooComplex, match="drawing the page took longer than 0 s"):
        render_page_image(data, 31, "", PdfLimits(render_seconds=0.05))
    assert time.monotonic() - started < 120  # both were cut off, not run to the end
    # within its limits the child answers (the pdfplumber text itself: tests/test_ingest.py)
    assert render_page_image(data, 31, "", PdfLimits()).png.startswith(b"\x89PNG")


def test_file_names_cannot_walk_folders():
    assert safe_filename("../../../../etc/passwd") == "passwd"
    assert safe_filename("..\\..\\Windows\\report.pdf") == "report.pdf"
    assert safe_filename("/abs/path/.hidden.pdf") == "hidden.pdf"
    assert safe_filename("a\x00b\r\n.pdf") == "ab.pdf"
    assert safe_filename("../..") == "upload.pdf" and safe_filename("") == "upload.pdf"
    assert len(safe_filename("x" * 5000 + ".pdf")) == 200


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def keyed_client(tmp_path, **limits) -> tuple[TestClient, dict[str, str], dict[str, str], Settings]:
    settings = Settings(data_dir=tmp_path / "data", database_url=None, auth="keys", ocr="off", **limits)
    store = Store.open(settings)
    one, two = create_api_key(store, "one"), create_api_key(store, "two")
    return TestClient(create_app(settings)), bearer(one), bearer(two), settings


def upload(client, headers, path, name=None):
    files = {"file": (name or path.name, path.read_bytes(), "application/pdf")}
    return client.post("/v1/reports", headers=headers, files=files)


@pytest.mark.slow
def test_upload_size_and_page_count_limits(tmp_path):
    client, one, _, settings = keyed_client(tmp_path, max_upload_bytes=3_000_000, max_pages=20)
    with client:
        too_big = upload(client, one, ENGIE)
        assert too_big.status_code == 413 and too_big.json()["error"] == "FileTooLarge"
        too_long = upload(client, one, MAX_AUTOMATION)
        assert too_long.status_code == 413 and too_long.json()["error"] == "PdfTooComplex"
        assert "35 pages; the limit is 20" in too_long.json()["detail"]
        assert not list((settings.data_dir / "uploads").iterdir())


@pytest.mark.slow
def test_per_report_time_limit_fails_the_job_clearly(tmp_path):
    client, one, _, _ = keyed_client(tmp_path, max_job_seconds=0.01)
    with client:
        job = wait_for(client, upload(client, one, MAX_AUTOMATION).json()["id"], headers=one)
        assert job["status"] == "failed" and "longer than the limit" in job["error"]
        report = client.get(f"/v1/reports/{job['report_id']}", headers=one).json()
        assert report["status"] == "failed"


@pytest.mark.slow
def test_jobs_per_tenant_limit_answers_429_and_reuploads_are_idempotent(tmp_path):
    client, one, two, settings = keyed_client(tmp_path, max_jobs_per_tenant=1)
    with client:
        first = upload(client, one, MAX_AUTOMATION, name="../../../../tmp/evil.pdf")
        assert first.status_code == 202 and first.json()["filename"] == "evil.pdf"
        full = upload(client, one, ENGIE)
        assert full.status_code == 429 and int(full.headers["retry-after"]) > 0
        assert "try again" in full.json()["detail"]
        # another tenant's queue is its own
        assert upload(client, two, ENGIE).status_code == 202
        # the same bytes again: the same job, not a second one (and not refused as queue-full)
        again = upload(client, one, MAX_AUTOMATION)
        assert again.status_code == 202 and again.json()["id"] == first.json()["id"]
        done = wait_for(client, first.json()["id"], headers=one)
        assert done["status"] == "done"
        after = upload(client, one, MAX_AUTOMATION)
        assert after.json()["id"] == first.json()["id"] and after.json()["status"] == "done"
        reports = client.get("/v1/reports", headers=one).json()
        assert [r["id"] for r in reports] == [done["report_id"]]
        # uploads (and the page texts read at upload) are stored under their sha256 only; the path in the
        # name went nowhere
        stored = sorted(p.name for p in (settings.data_dir / "uploads").iterdir())
        assert stored and all(re.fullmatch(r"[0-9a-f]{64}\.(pdf|pages\.json)", name) for name in stored)
        assert {n.split(".")[0] for n in stored if n.endswith(".pdf")} == {
            n.split(".")[0] for n in stored if n.endswith(".pages.json")
        }
        assert not (tmp_path / "evil.pdf").exists() and not (settings.data_dir / "evil.pdf").exists()


@pytest.mark.slow
def test_request_rate_per_key(tmp_path):
    client, one, two, _ = keyed_client(tmp_path, rate_limit="5/minute")
    with client:
        assert all(client.get("/v1/me", headers=one).status_code == 200 for _ in range(5))
        limited = client.get("/v1/me", headers=one)
        assert limited.status_code == 429 and 0 < int(limited.headers["retry-after"]) <= 60
        assert client.get("/v1/me", headers=two).status_code == 200
        assert client.get("/health").status_code == 200
