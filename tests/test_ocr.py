"""OCR of scanned pages: a page of a shared PDF rendered to an image-only PDF is read back by tesseract.

Needs Debian's tesseract-ocr with English and Dutch data (`make test` installs them); CI fails rather
than skipping when they are missing.
"""

from __future__ import annotations

import os
import re

import pytest
from fastapi.testclient import TestClient

from eval.hostile import scanned as scan_of
from service.app import create_app
from service.errors import NoTextLayer
from service.reading.ingest import document_from_pdf
from service.reading.pdf_limits import NO_OCR, PdfLimits
from service.reading.sandbox import ocr_languages_available
from service.settings import Settings
from tests.conftest import MAX_AUTOMATION
from tests.test_api import wait_for

if ocr_languages_available("eng+nld") != "eng+nld":
    if os.environ.get("CI"):
        pytest.fail("CI must run the OCR tests: tesseract-ocr with eng and nld is missing", pytrace=False)
    pytest.skip("no tesseract-ocr with eng+nld (make test installs it)", allow_module_level=True)

OCR = PdfLimits(ocr_languages="eng+nld")
WORD = re.compile(r"[^\W\d_]{4,}")


def scanned(pages: list[int], dpi: int = 200) -> bytes:
    """Pages of MAX Automation's report as pictures only, the way a scanner would deliver them."""
    return scan_of(MAX_AUTOMATION, pages, dpi)


def words(text: str) -> set[str]:
    return {w.lower() for w in WORD.findall(text)}


def test_a_scanned_page_is_read_by_ocr_and_refused_without_it():
    data = scanned([9])
    with pytest.raises(NoTextLayer):
        document_from_pdf(data, "scan.pdf", limits=NO_OCR)
    document = document_from_pdf(data, "scan.pdf", limits=OCR)
    assert document.ocr_pages == (1,) and document.language == "en"
    original = words(document_from_pdf(MAX_AUTOMATION.read_bytes()).pages[8].text)
    recall = len(original & words(document.pages[0].text)) / len(original)
    assert len(original) > 200 and recall > 0.85, recall


def test_a_digital_report_is_not_sent_through_ocr():
    document = document_from_pdf(MAX_AUTOMATION.read_bytes(), limits=OCR)
    assert document.ocr_pages == ()


@pytest.mark.slow
def test_a_scanned_report_is_analysed_end_to_end(tmp_path):
    settings = Settings(data_dir=tmp_path / "data", database_url=None, auth="local", ocr="auto")
    with TestClient(create_app(settings), base_url="http://127.0.0.1") as client:
        files = {"file": ("scan.pdf", scanned([2, 3]), "application/pdf")}
        answer = client.post("/v1/reports", files=files)
        assert answer.status_code == 202, answer.text
        job = wait_for(client, answer.json()["id"])
        assert job["status"] == "done", job["error"]
        analysis = client.get(f"/v1/reports/{job['report_id']}/analysis").json()
        assert analysis["pages"] == 2 and analysis["passages"] >= 10
        assert any(c["addressed"] for c in analysis["sdg"])
