"""Invariance of the rubric scores on real reports: length alone never raises a score.

A report is changed the way a long report differs from a short one (its pages repeated, unrelated
financial pages appended, a page of "not disclosed" index lines added) and the real pipeline scores it
again; no goal, step or headline score may rise. Taking the due-diligence pages out must lower the
due-diligence score. The embedding cache is shared, so each variant embeds only its new pages.
"""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from service.encoding.embed import MemoryCache
from service.pipeline import analyze_document
from service.reading.ingest import document_from_pdf
from service.records import Document, GapReport, Page
from service.settings import Settings
from tests.conftest import MAX_AUTOMATION, PDFS

POLYTEC = PDFS / "polytec_annual_financial_report_2023.pdf"
# Pages of the accounts: balance sheet, notes, auditor's report; none that speaks of people, suppliers or
# the environment (those would be related pages, and may well raise a score).
ACCOUNTS = re.compile(r"\bIFRS\b|balance sheet|cash flows?|carrying amount|impairment", re.IGNORECASE)
SUSTAINABILITY = re.compile(
    r"employees|women|gender|divers|emission|energy|climate|environment|sustainab|social|safety|training",
    re.IGNORECASE,
)
DUE_DILIGENCE = re.compile(
    r"human rights|due diligence|supply chain|suppliers?|grievance|whistle|complaint|LkSG|child labou?r"
    r"|forced labou?r|code of conduct",
    re.IGNORECASE,
)
NOT_DISCLOSED = "\n".join(
    (
        "ESRS index",
        "S1-17 Incidents, complaints and severe human rights impacts: Not disclosed",
        "S2-3 Processes to remediate negative impacts and channels for value chain workers: Not material",
        "S2-4 Taking action on material impacts on value chain workers: Not material",
        "E1-6 Gross Scopes 1, 2, 3 and total GHG emissions: Not disclosed",
        "E4-5 Impact metrics related to biodiversity and ecosystems change: Not applicable",
        "G1-1 Business conduct policies and corporate culture: omitted",
        "GRI 408-1 Operations and suppliers at significant risk for incidents of child labor: Not disclosed",
    )
)
S = Settings()


def with_pages(document: Document, texts: list[str], tag: str) -> Document:
    """The document with these page texts, numbered from 1, under its own id."""
    pages = tuple(Page(i + 1, text) for i, text in enumerate(texts))
    return replace(document, pages=pages, page_count=len(pages), sha256=f"{document.sha256[:48]}{tag:>16}")


def scores(report: GapReport) -> dict[str, int]:
    """Every score of a report by name."""
    found = {"sdg_score": report.sdg_score, "dd_score": report.due_diligence_score}
    found |= {f"sdg_{c.label}": c.score for c in report.sdg}
    found |= {f"dd_{c.label}": c.score for c in report.due_diligence}
    return found


def raised(before: GapReport, after: GapReport) -> dict[str, tuple[int, int]]:
    old, new = scores(before), scores(after)
    return {k: (old[k], new[k]) for k in old if new[k] > old[k]}


@pytest.fixture(scope="module")
def cache() -> MemoryCache:
    return MemoryCache()


@pytest.fixture(scope="module")
def max_doc() -> Document:
    return document_from_pdf(MAX_AUTOMATION.read_bytes(), MAX_AUTOMATION.name)


@pytest.fixture(scope="module")
def baseline(max_doc: Document, cache: MemoryCache) -> GapReport:
    return analyze_document(max_doc, S, cache).report


def texts(document: Document) -> list[str]:
    return [p.text for p in document.pages]


@pytest.mark.slow
def test_duplicating_the_pages_raises_no_score(max_doc, baseline, cache):
    doubled = with_pages(max_doc, texts(max_doc) * 2, "doubled")
    report = analyze_document(doubled, S, cache).report
    assert report.passages == 2 * baseline.passages
    assert raised(baseline, report) == {}
    assert scores(report) == scores(baseline)


@pytest.mark.slow
def test_appending_unrelated_financial_pages_raises_no_score(max_doc, baseline, cache):
    polytec = document_from_pdf(POLYTEC.read_bytes(), POLYTEC.name)
    accounts = [
        p.text
        for p in polytec.pages
        if ACCOUNTS.search(p.text) and not DUE_DILIGENCE.search(p.text) and not SUSTAINABILITY.search(p.text)
    ]
    assert len(accounts) >= 20
    longer = with_pages(max_doc, texts(max_doc) + accounts[:40], "accounts")
    report = analyze_document(longer, S, cache).report
    assert report.passages > baseline.passages + 100
    assert raised(baseline, report) == {}


@pytest.mark.slow
def test_a_page_of_not_disclosed_lines_never_raises_coverage(max_doc, baseline, cache):
    extended = with_pages(max_doc, [*texts(max_doc), NOT_DISCLOSED], "negative")
    report = analyze_document(extended, S, cache).report
    assert raised(baseline, report) == {}
    last = len(extended.pages)
    on_page = [n for n in report.negative_evidence if n.page == last]
    assert on_page and all(n.index for n in on_page)
    assert {n.kind for n in on_page} <= {"not_disclosed", "not_material", "not_applicable"}
    indicator_pages = {e.page for i in report.indicators for e in i.evidence}
    assert last not in indicator_pages


@pytest.mark.slow
def test_removing_the_due_diligence_pages_lowers_the_due_diligence_score(max_doc, baseline, cache):
    kept = [t for t in texts(max_doc) if not DUE_DILIGENCE.search(t)]
    assert 5 <= len(kept) < len(max_doc.pages)
    report = analyze_document(with_pages(max_doc, kept, "no-dd"), S, cache).report
    assert report.due_diligence_score < baseline.due_diligence_score
    assert sum(i.decision == "met" for i in report.indicators) < sum(
        i.decision == "met" for i in baseline.indicators
    )
