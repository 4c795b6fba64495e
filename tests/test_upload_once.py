"""One parse per upload: the page texts validated at upload are kept with the PDF and the job reads them.

The spy below counts calls of the real sandboxed reader (it still reads): no model or stage is faked.
"""

from __future__ import annotations

import json

import pytest

from service.reading import ingest
from service.reading.ingest import document_from_page_texts, document_from_pdf, pdf_page_texts
from service.serving.auth import LOCAL
from service.serving.engine import GapLensService
from tests.conftest import MAX_AUTOMATION

pytestmark = pytest.mark.slow


@pytest.fixture
def gaplens(settings):
    gaplens = GapLensService(settings.model_copy(update={"job_workers": 0}))
    gaplens.start()
    yield gaplens
    gaplens.close()


@pytest.fixture
def reads(monkeypatch):
    """How often a PDF's page texts are read in a sandbox child (each call still reads them)."""
    calls: list[int] = []
    real = ingest.read_page_texts

    def counted(data, limits):
        calls.append(len(data))
        return real(data, limits)

    monkeypatch.setattr(ingest, "read_page_texts", counted)
    return calls


def test_the_upload_keeps_its_page_texts_and_the_job_does_not_parse_again(gaplens, reads):
    data = MAX_AUTOMATION.read_bytes()
    job = gaplens.submit_pdf(data, MAX_AUTOMATION.name, LOCAL)
    assert len(reads) == 1
    kept = json.loads(gaplens.page_texts_path(job.sha256).read_text(encoding="utf-8"))
    assert kept == pdf_page_texts(data, gaplens.settings.pdf_limits())
    assert document_from_page_texts(data, kept, MAX_AUTOMATION.name) == document_from_pdf(
        data, MAX_AUTOMATION.name
    )
    reads.clear()
    gaplens.run_job(gaplens.job(job.id, LOCAL))
    assert reads == []
    assert gaplens.job(job.id, LOCAL).status == "done"
    assert gaplens.report(job.report_id, LOCAL).pages == len(kept)


def test_an_upload_from_before_page_texts_were_kept_is_parsed_in_the_job(gaplens, reads):
    data = MAX_AUTOMATION.read_bytes()
    job = gaplens.submit_pdf(data, MAX_AUTOMATION.name, LOCAL)
    gaplens.page_texts_path(job.sha256).unlink()
    reads.clear()
    gaplens.run_job(gaplens.job(job.id, LOCAL))
    assert len(reads) == 1
    assert gaplens.job(job.id, LOCAL).status == "done"
