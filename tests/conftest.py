"""Shared fixtures: real reports from ../shared/data, the real model (loaded once per session)."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from service.pipeline import analyze_document
from service.reading.ingest import document_from_pdf, document_from_sections
from service.records import Document, GapReport, IndicatorResult, Page
from service.settings import Settings

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
PDFS = SHARED / "reports" / "pdf"
TEXTS = SHARED / "reports" / "text"
SHELL = PDFS / "shell-sustainability-report-2021.pdf"
ENGIE = PDFS / "engie-integrated-report-2021.pdf"
MAX_AUTOMATION = PDFS / "max_automation_nonfinancial_statement_2023.pdf"


def pytest_configure(config: pytest.Config) -> None:
    if not PDFS.is_dir():
        raise pytest.UsageError(f"shared test data not found at {SHARED}")


@pytest.fixture(scope="session")
def shell_doc() -> Document:
    return document_from_pdf(SHELL.read_bytes(), SHELL.name)


@pytest.fixture(scope="session")
def engie_doc() -> Document:
    return document_from_pdf(ENGIE.read_bytes(), ENGIE.name)


@pytest.fixture(scope="session")
def hm_doc() -> Document:
    sections = json.loads((TEXTS / "hm-sustainability-2022.json").read_text())
    return document_from_sections(sections, "hm-sustainability-2022.json")


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", database_url=None)


@pytest.fixture(scope="session")
def postgres_url() -> str:
    url = os.environ.get("GAPLENS_TEST_POSTGRES_URL", "")
    if not url:
        if os.environ.get("CI"):
            pytest.fail("CI must run the PostgreSQL test: GAPLENS_TEST_POSTGRES_URL is not set")
        pytest.skip("no PostgreSQL (make test starts one)")
    return url


def report_of_pages(tmp_path_factory: pytest.TempPathFactory, texts: list[str], name: str) -> GapReport:
    """The real pipeline's gap report of a document whose pages are ``texts`` (page 1 first)."""
    pages = tuple(Page(n, text) for n, text in enumerate(texts, start=1))
    sha = hashlib.sha256("\n".join(texts).encode()).hexdigest()
    document = Document(sha, pages, "en", f"{name}.txt", "sections", len(pages))
    settings = Settings(data_dir=tmp_path_factory.mktemp(name) / "data", database_url=None)
    return analyze_document(document, settings).report


def indicator_of(report: GapReport, indicator_id: str) -> IndicatorResult:
    """One rubric indicator's decision in a gap report."""
    return next(i for i in report.indicators if i.id == indicator_id)
