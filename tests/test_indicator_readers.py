"""Indicators decided by learned readers: the passages analysts disputed no longer meet what they met.

An analyst reading a bank's result page found "Track: indicators" and "Track: over time" met by a paragraph
on customer complaints, "names its salient issues" by climate risk in the loan book, and "communicates with
affected stakeholders" by a whistle-blowing procedure (issue 25). The texts below are our own of the same
kinds, read by the real pipeline and model; each test also shows that a passage which does evidence the
indicator still meets it, so the test fails if the indicator simply stopped being met.
"""

from __future__ import annotations

import pytest
from sklearn.metrics import f1_score

from classifiers.labelled import all_labelled, reviewed_texts, select
from classifiers.training.part_training import evidence_type_rows, report_examples, review_examples
from service.encoding.inputs import model_input
from service.frameworks import load_framework
from service.judging.rubric import load_rubric
from service.judging.substance import evidence_type, load_substance_rules
from service.pipeline import analyze_document, classify_texts
from service.reading.ingest import document_from_pdf
from service.records import GapReport
from service.settings import REPO_ROOT, Settings
from tests.conftest import SHARED, indicator_of, report_of_pages

COMPLAINTS = (
    "Customer complaints. We handle every customer complaint within ten working days. In 2023 we received "
    "4,812 complaints (2022: 5,190), 38% of them about payment services, and resolved 96% within the "
    "deadline (2022: 91%). Complaint volumes and resolution times are reported to the Management Board "
    "every quarter."
)
LOAN_BOOK_CLIMATE = (
    "Climate risk in the loan book. Physical and transition risks from climate change can affect the "
    "credit quality of our borrowers. We assess the exposure of our corporate loan book to carbon-intensive "
    "sectors and to flood risk in the regions where our mortgage collateral is located, and we include "
    "climate scenarios in our credit-risk stress tests."
)
WHISTLEBLOWING = (
    "Whistleblowing. Employees can report suspected breaches of the law or of our Code of Conduct "
    "anonymously through our whistleblowing system, by phone or online, around the clock. Reports are "
    "handled confidentially by the Compliance department, and whistleblowers are protected from retaliation."
)
SUPPLIER_TRACKING = (
    "Tracking our supplier measures. We track the effectiveness of our human-rights measures in the supply "
    "chain with indicators: in 2023, 412 supplier audits (2022: 365) found 57 cases of excessive working "
    "hours and 3 cases of withheld wages; 88% of the corrective action plans were closed within six months "
    "(2022: 74%). Repeat audits at high-risk suppliers showed fewer findings on working hours."
)


def _met_by_page(report: GapReport, indicator_id: str, page: int) -> bool:
    indicator = indicator_of(report, indicator_id)
    return indicator.decision == "met" and indicator.evidence[0].page == page


@pytest.fixture(scope="module")
def disputed(tmp_path_factory: pytest.TempPathFactory) -> GapReport:
    """The three disputed kinds of passage, then one that does evidence tracking (page 4)."""
    return report_of_pages(
        tmp_path_factory, [COMPLAINTS, LOAN_BOOK_CLIMATE, WHISTLEBLOWING, SUPPLIER_TRACKING], "readers"
    )


def test_customer_complaints_do_not_meet_the_tracking_indicators(disputed: GapReport) -> None:
    for indicator_id in ("dd4.indicators", "dd4.over_time"):
        indicator = indicator_of(disputed, indicator_id)
        assert all(e.page != 1 for e in indicator.evidence), (indicator_id, indicator.reason)
        # the supplier-tracking passage is what meets them
        assert _met_by_page(disputed, indicator_id, 4), (indicator_id, indicator.reason)


def test_loan_book_climate_risk_does_not_name_salient_issues(disputed: GapReport) -> None:
    indicator = indicator_of(disputed, "dd2.salient_issues")
    assert all(e.page != 2 for e in indicator.evidence), indicator.reason


def test_whistleblowing_is_a_grievance_channel_not_communication_with_the_affected(
    disputed: GapReport,
) -> None:
    communication = indicator_of(disputed, "dd5.affected_communication")
    assert all(e.page != 3 for e in communication.evidence), communication.reason
    grievance = indicator_of(disputed, "dd6.grievance_mechanism")
    assert grievance.decision != "not_met" and grievance.evidence[0].page == 3, grievance.reason


def test_learned_evidence_types_agree_with_the_labels_more_than_the_rules() -> None:
    """On the dev split's labelled English rows, the learned reader beats the cue rules it replaces.

    Measured when it was trained: macro-F1 0.566 against 0.481 (eval/RESULTS.md); this guards the shipped
    files against a retrain or a change of encoder that loses that.
    """
    settings = Settings()
    texts = all_labelled(settings.corpora_dir, settings.shared_data_dir, REPO_ROOT / "eval" / "data")
    rows = [t for t in evidence_type_rows(select(texts, "dev", lang="en")) if t.source == "v2"]
    assert len(rows) > 300
    _, dd = classify_texts([model_input(t.text, t.heading) for t in rows], settings)
    truth = [t.evidence_type for t in rows]
    rules = load_substance_rules(settings.corpora_dir)
    learned = f1_score(truth, [r.evidence_type for r in dd], average="macro")
    by_rules = f1_score(truth, [evidence_type(t.text, rules) for t in rows], average="macro")
    assert learned > by_rules + 0.03, (learned, by_rules)


@pytest.fixture(scope="module")
def bank(tmp_path_factory: pytest.TempPathFactory) -> GapReport:
    """A bank's report with its own due-diligence section (on the Supply Chain Act, p. 32)."""
    pdf = SHARED / "reports" / "pool" / "commerzbank-2023.pdf"
    settings = Settings(data_dir=tmp_path_factory.mktemp("bank") / "data", database_url=None)
    return analyze_document(document_from_pdf(pdf.read_bytes(), pdf.name), settings).report


def test_a_reports_own_due_diligence_section_is_its_best_step_1_evidence(bank: GapReport) -> None:
    """Oversight, its owner, its procedures and supplier expectations are evidenced first by that section.

    Before the learned readers the supplier indicator found no passage there (it was not met) and a
    human-resources paragraph could outrank the section; the policy indicator still prefers a passage that
    names the OECD Guidelines (an anti-corruption one on the same page), as its `met` asks for a standard.
    """
    for indicator_id in ("dd1.oversight", "dd1.process_owner", "dd1.procedures", "dd1.suppliers"):
        indicator = indicator_of(bank, indicator_id)
        # The section says the act requires the bank to prevent violations at its suppliers, not that the
        # suppliers are bound by a code: `partly` for supplier expectations, as analysts label such passages.
        assert indicator.decision == ("partly" if indicator_id == "dd1.suppliers" else "met"), (
            indicator.reason
        )
        best = indicator.evidence[0]
        assert "Due Diligence" in best.heading and best.page == 32, (indicator_id, best.heading, best.page)


def test_a_reviewed_passage_teaches_the_readers_only_about_the_indicators_it_was_reviewed_for() -> None:
    """`train tuned --reviews` and `train parts --reviews` build the same rows from a review export line.

    The reviewed passage as a step-labelled text (how `train tuned` folds it into the encoder) is not also a
    row of "no sub-element": a rejection for one indicator says nothing about the passage's other parts.
    """
    settings = Settings()
    rubric = load_rubric(settings.corpora_dir)
    parts = {i.id: i.parts for i in rubric.indicators}
    all_parts = [
        p.id for label in load_framework("oecd_dd", settings.corpora_dir).labels for p in label.parts
    ]
    line = {
        "type": "passage",
        "id": "abc-p1",
        "text": WHISTLEBLOWING,
        "sdgs": [],
        "dd_steps": [6],
        "rejected_dd_steps": [5],
        "indicators": ["dd6.grievance_mechanism"],
        "rejected_indicators": ["dd5.affected_communication"],
        "language": "en",
    }
    (row,) = review_examples([line], parts, all_parts)
    assert row.parts == {"6.2"} and row.known == {"6.2", "5.2"}
    # only rejected: as a step-labelled text it has no step, which must not read as "no sub-element at all"
    rejected = {**line, "dd_steps": [], "indicators": []}
    (as_text,) = reviewed_texts([rejected])
    assert as_text.steps == () and report_examples([as_text], all_parts) == []
    (row,) = review_examples([rejected], parts, all_parts)
    assert row.parts == set() and row.known == {"5.2"}
