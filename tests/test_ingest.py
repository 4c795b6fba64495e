import re
from collections import Counter

import pdfplumber
import pytest

from service.reading.ingest import clean_pages, detect_language, join_hyphenated, raw_pages_pdfplumber
from tests.conftest import ENGIE, SHELL


def _lines(doc):
    return [line for page in doc.pages for line in page.text.split("\n")]


def test_shell_has_every_page_numbered_as_the_pdf(shell_doc):
    assert shell_doc.page_count == 93
    assert [p.number for p in shell_doc.pages] == list(range(1, 94))
    assert shell_doc.language == "en"


def test_shell_page_text_matches_an_independent_extractor(shell_doc):
    # pdfplumber (pdfminer) reads the same physical page; our page 10 must hold its words.
    with pdfplumber.open(SHELL) as pdf:
        other = pdf.pages[9].extract_text()
    ours = shell_doc.pages[9].text
    assert "Report Review Panel" in ours and "Report Review Panel" in other
    assert "Report Review Panel" not in shell_doc.pages[20].text


def test_running_headers_and_navigation_are_removed(shell_doc):
    lines = _lines(shell_doc)
    assert not any(re.fullmatch(r"\d+ Shell Sustainability Report 2021", ln) for ln in lines)
    counts = Counter(lines)
    # No line survives on a fifth of the pages (the navigation bar was on all of them).
    assert max(counts.values()) < 0.2 * shell_doc.page_count


def test_no_standalone_page_numbers(shell_doc):
    assert not any(re.fullmatch(r"\d{1,3}", ln.strip()) for ln in _lines(shell_doc))


def test_engie_designer_pages_leave_no_one_letter_lines(engie_doc):
    lines = [ln for ln in _lines(engie_doc) if ln.strip()]
    short = [ln for ln in lines if len(ln.strip()) <= 2]
    assert not short
    single_letter_heavy = [ln for ln in lines if sum(len(t) == 1 for t in ln.split()) > 3]
    assert len(single_letter_heavy) / len(lines) < 0.01


def test_engie_rotated_value_creation_page_reads_as_text(engie_doc):
    page = engie_doc.pages[18].text
    assert "31 GW of renewable electricity production capacity" in page


def test_pdfplumber_backend_drops_rotated_letters_too():
    raw = raw_pages_pdfplumber(ENGIE.read_bytes())
    cleaned = clean_pages(raw)
    lines = [ln for page in cleaned for ln in page.split("\n") if ln.strip()]
    assert len(cleaned) == 60
    assert not [ln for ln in lines if len(ln.strip()) <= 2]


def test_hyphenation_is_joined_unless_the_document_spells_a_hyphen():
    vocabulary = {"sustainability-related", "decarbonisation"}
    lines = join_hyphenated(["our decarbon-", "isation plan and sustainability-", "related data"], vocabulary)
    assert lines == ["our decarbonisation plan and sustainability-related data"]


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("We reduced our greenhouse gas emissions and invested in renewable energy.", "en"),
        (
            "Wij verminderen onze uitstoot van broeikasgassen en investeren in duurzame energie "
            "voor al onze klanten en medewerkers.",
            "nl",
        ),
    ],
)
def test_language_detection(text, language):
    assert detect_language(text) == language


def test_text_reports_become_one_page_per_section(hm_doc):
    assert hm_doc.source == "sections"
    assert hm_doc.page_count > 100
    assert "&amp;" not in " ".join(p.text for p in hm_doc.pages)
    assert "ever.Alongside" not in hm_doc.pages[3].text
