"""Every kind of bad file gets a clear error, and nothing already stored is harmed."""

import io

import pypdf
import pypdfium2 as pdfium
import pytest

from service.errors import (
    CorruptPdf,
    EmptyFile,
    EncryptedPdf,
    FileTooLarge,
    NotAPdf,
    NoTextLayer,
)
from service.reading.ingest import document_from_pdf
from service.reading.pdf_limits import NO_OCR, PdfLimits
from service.serving.auth import LOCAL
from service.serving.engine import GapLensService
from service.store import ALL_TENANTS
from tests.conftest import MAX_AUTOMATION


def encrypted_pdf() -> bytes:
    reader = pypdf.PdfReader(MAX_AUTOMATION)
    writer = pypdf.PdfWriter()
    writer.add_page(reader.pages[0])
    writer.encrypt(user_password="secret", owner_password="owner")
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def scanned_pdf() -> bytes:
    """A real report page rendered to an image and saved as an image-only PDF."""
    page = pdfium.PdfDocument(MAX_AUTOMATION)[2]
    image = page.render(scale=1).to_pil().convert("RGB")
    buffer = io.BytesIO()
    image.save(buffer, format="PDF")
    return buffer.getvalue()


def corrupt_pdf() -> bytes:
    data = MAX_AUTOMATION.read_bytes()
    return data[:2000] + bytes(range(256)) * 40


BAD_FILES = {
    "empty": (lambda: b"", EmptyFile, 400),
    "not a pdf": (lambda: b"Annual report 2023\nThis is plain text.", NotAPdf, 415),
    "corrupt": (corrupt_pdf, CorruptPdf, 422),
    "encrypted": (encrypted_pdf, EncryptedPdf, 422),
    "scanned": (scanned_pdf, NoTextLayer, 422),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_ingest_rejects_bad_files_with_a_clear_error(case):
    make, error, status = BAD_FILES[case]
    with pytest.raises(error) as info:
        document_from_pdf(make(), limits=NO_OCR)  # with OCR a scan is read (tests/test_ocr.py)
    assert info.value.status_code == status
    assert len(str(info.value)) > 10


def test_file_over_the_limit_is_refused():
    with pytest.raises(FileTooLarge, match="limit"):
        document_from_pdf(MAX_AUTOMATION.read_bytes(), limits=PdfLimits(max_bytes=1_000_000))


def test_bad_upload_is_recorded_as_failed_job_and_store_survives(settings):
    # Without OCR a scan is refused at the upload (with OCR it is read: tests/test_ocr.py).
    service = GapLensService(settings.model_copy(update={"ocr": "off"}))
    service.start()
    try:
        every = service.store.for_tenant(ALL_TENANTS)
        before = every.list_reports()
        for case in sorted(BAD_FILES):
            make, error, _ = BAD_FILES[case]
            with pytest.raises(error):
                service.submit_pdf(make(), f"{case}.pdf", LOCAL)
        failed = [every.get_job(i) for i in range(1, len(BAD_FILES) + 1)]
        assert all(job.status == "failed" and job.error for job in failed)
        assert every.list_reports() == before
        assert not list(service.uploads.iterdir())
    finally:
        service.close()
