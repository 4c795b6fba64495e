"""`met` asks for what the rubric's own `met` text says, not for any word or digit near the subject.

Analysts labelled 1,006 (indicator, passage) pairs of train reports (corpora/indicator_labels,
eval/LABELLING_INDICATORS.md). Where the rubric said `met`, they said `no` for 102 of 254 pairs: "we publish a
report under the GRI Standards" met supply-chain transparency, a machine-safety risk assessment met the
due-diligence assessment process, a page number met "grievances received". The `met_*` conditions of
corpora/dd_rubric.yaml were rewritten from each indicator's `met` text (eval/RESULTS.md). The texts below are
our own of the same kinds, read by the real pipeline; each test also shows that a passage which does meet
the indicator still meets it, so it fails if the indicator simply stopped being met.
"""

from __future__ import annotations

import pytest

from service.records import GapReport
from tests.conftest import indicator_of, report_of_pages

GRI_REPORT = (
    "Reporting. This report is our non-financial statement under sections 289b to 289e of the German "
    "Commercial Code and follows the GRI Standards. We publish it every year together with our CDP and TCFD "
    "disclosures, and we report the progress on our sustainability targets on our website."
)
MACHINE_SAFETY = (
    "Product safety. Every machine we build undergoes a risk assessment in accordance with EN ISO 12100 "
    "before it is delivered. In 2023 our engineers assessed 140 machine types, identified mechanical and "
    "electrical hazards and eliminated them in the design or reduced them with guards."
)
HOTLINE_WITHOUT_COUNT = (
    "Whistleblower system. Reports received through our hotline are handled by the compliance officer "
    "within 30 days, as described in section 4.2 of our Code of Conduct adopted in 2021."
)
SUPPLIER_LIST = (
    "Supply-chain transparency. In 2023 we published the list of our tier 1 supplier factories, with names "
    "and addresses of all 212 factories in 14 sourcing countries, in the Open Supply Hub, and 38 workers' "
    "organisations used it to raise concerns with us."
)
HOTLINE_WITH_COUNT = (
    "Grievances in 2023. Our grievance channel, open to workers at our suppliers, received 46 reports, 12 of "
    "them from supply-chain workers. We investigated all of them; 9 were substantiated and the workers "
    "concerned received back pay."
)
SUPPLIER_RISK_ANALYSIS = (
    "Risk analysis. In 2023 we carried out our annual human-rights risk analysis of all 1,800 direct "
    "suppliers, screening country and sector risks for forced labour, child labour and unsafe working "
    "conditions, and sent self-assessment questionnaires to the 120 suppliers rated high risk."
)


EXCLUSION_POLICY = (
    "Exclusion policy. Our responsible investment policy excludes companies that seriously violate the UN "
    "Global Compact principles or the OECD Guidelines, and producers of controversial weapons. Where "
    "engagement with a company fails, exclusion is our last resort."
)
EXCLUSIONS_APPLIED = (
    "Exclusions in 2023. After two years of engagement without progress, we excluded 14 companies for "
    "violations of labour rights in their supply chains and sold our holdings in them; our exclusion list "
    "now names 212 companies."
)
STAKEHOLDER_DIALOGUE = (
    "Stakeholder dialogue. We engage with our stakeholders, including employees, customers, suppliers and "
    "investors, in regular meetings and surveys on our sustainability topics, and their feedback informs our "
    "materiality analysis and our sustainability strategy."
)

LIFECYCLE_IMPACTS = (
    "Product footprint. Our lifecycle assessment considers the greenhouse gas emissions, energy, water and "
    "other environmental impacts of our devices, from the extraction of raw materials to their use and end "
    "of life, and we publish its results for each product line."
)
SALIENT_ISSUES = (
    "Salient issues. Our 2023 human-rights risk assessment found forced labour in cotton farming and unsafe "
    "working conditions at our garment suppliers to be our most severe risks to people; our supplier audits "
    "now prioritise them."
)

SUPPLIER_CODE_EXPECTED = (
    "Suppliers. Our Supplier Code of Conduct sets out what we expect of our suppliers on human rights, "
    "working conditions and the environment. Any violation of the code must be reported to our compliance "
    "team."
)
SUPPLIER_CODE_SIGNED = (
    "Supplier contracts. All direct suppliers are required to sign our Supplier Code of Conduct, which "
    "prohibits forced and child labour, before their first order; in 2023, 96% of our purchasing volume "
    "came from suppliers who had signed it."
)

HUMAN_RIGHTS_STATEMENT = (
    "Modern slavery. In March 2023 we published our second Modern Slavery Statement under the UK Modern "
    "Slavery Act, signed by the Executive Board and available on our website."
)


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> GapReport:
    texts = [GRI_REPORT, MACHINE_SAFETY, HOTLINE_WITHOUT_COUNT, SUPPLIER_LIST, HOTLINE_WITH_COUNT]
    return report_of_pages(tmp_path_factory, [*texts, SUPPLIER_RISK_ANALYSIS, HUMAN_RIGHTS_STATEMENT], "met")


def _met_only_by(report: GapReport, indicator_id: str, page: int, not_by: int) -> None:
    indicator = indicator_of(report, indicator_id)
    assert indicator.decision == "met", indicator.reason
    assert indicator.evidence[0].page == page, (indicator_id, indicator.reason)
    later = [e for e in indicator.evidence if e.page == not_by]
    # the disputed passage may still be shown, as lesser evidence, never as the one that meets it
    assert all(indicator.evidence.index(e) > 0 for e in later), (indicator_id, indicator.reason)


def test_a_report_published_under_gri_is_not_a_supplier_list(report: GapReport) -> None:
    _met_only_by(report, "dd5.transparency", page=4, not_by=1)


def test_a_machine_safety_assessment_is_not_a_human_rights_risk_assessment(report: GapReport) -> None:
    _met_only_by(report, "dd2.assessment_process", page=6, not_by=2)


def test_grievances_received_need_a_count_not_a_digit(report: GapReport) -> None:
    _met_only_by(report, "dd6.grievance_outcomes", page=5, not_by=3)


def test_due_diligence_reporting_is_a_statement_or_findings_not_a_reporting_frame(report: GapReport) -> None:
    """Analysts rejected 51 of the 58 passages the 5.1 reader offered (reporting frames like page 1)."""
    indicator = indicator_of(report, "dd5.process_reported")
    assert indicator.decision == "met" and indicator.evidence[0].page == 7, indicator.reason
    assert 1 not in [e.page for e in indicator.evidence], indicator.reason


@pytest.fixture(scope="module")
def investor(tmp_path_factory: pytest.TempPathFactory) -> GapReport:
    return report_of_pages(
        tmp_path_factory, [EXCLUSION_POLICY, EXCLUSIONS_APPLIED, STAKEHOLDER_DIALOGUE], "investor"
    )


def test_an_exclusion_policy_is_partly_and_exclusions_carried_out_meet_disengagement(
    investor: GapReport,
) -> None:
    """Analysts labelled stated exclusion policies `partly` (9 of 9); the rubric had called 6 met."""
    _met_only_by(investor, "dd3.cease_or_disengage", page=2, not_by=1)


def test_general_stakeholder_dialogue_is_partly_communication_with_the_affected(investor: GapReport) -> None:
    """The rubric's own `partly` text; before, only passages read as step 5 or 6 could be candidates."""
    indicator = indicator_of(investor, "dd5.affected_communication")
    assert indicator.decision == "partly", indicator.reason
    assert indicator.evidence[0].page == 3 and "cues" in indicator.missing_for_met, indicator.reason


@pytest.fixture(scope="module")
def footprint(tmp_path_factory: pytest.TempPathFactory) -> GapReport:
    return report_of_pages(tmp_path_factory, [LIFECYCLE_IMPACTS], "footprint")


def test_impacts_of_a_product_are_not_salient_issues(footprint: GapReport) -> None:
    """Salient issues are named as the most severe risks found.

    "Environmental impacts of our devices" met it before (on Microsoft's dev report the assessors said
    partly); analysts called none of the train pairs met.
    """
    indicator = indicator_of(footprint, "dd2.salient_issues")
    assert indicator.decision == "partly" and "cues" in indicator.missing_for_met, indicator.reason


def test_the_most_severe_risks_found_are_salient_issues(tmp_path_factory: pytest.TempPathFactory) -> None:
    risks = report_of_pages(tmp_path_factory, [LIFECYCLE_IMPACTS, SALIENT_ISSUES], "risks")
    _met_only_by(risks, "dd2.salient_issues", page=2, not_by=1)


def test_a_supplier_code_binds_suppliers_only_when_they_sign_or_must_comply(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """Analysts called none of the 6 train pairs `met` that "must" or "required" anywhere in a passage met."""
    expected = report_of_pages(tmp_path_factory, [SUPPLIER_CODE_EXPECTED], "expected")
    indicator = indicator_of(expected, "dd1.suppliers")
    assert indicator.decision == "partly" and "cues" in indicator.missing_for_met, indicator.reason
    signed = report_of_pages(tmp_path_factory, [SUPPLIER_CODE_EXPECTED, SUPPLIER_CODE_SIGNED], "signed")
    _met_only_by(signed, "dd1.suppliers", page=2, not_by=1)


STAKEHOLDER_SURVEY = (
    "Materiality. In 2023 we surveyed 400 stakeholders, among them employees, suppliers, investors and "
    "lenders, on their perception of our challenges, and our management board ranked the results to set "
    "the priorities of our sustainability strategy."
)
COTTON_TRACED = (
    "Raw materials. In 2023 we traced the cotton in our garments beyond our direct suppliers to 31 spinning "
    "mills and the farms that supply them in Turkey and India, and assessed forced-labour risks at each of "
    "them with an independent auditor."
)


def test_a_passage_off_the_subject_is_no_evidence_not_partial_evidence(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """Where `partly` still names a subject, a passage without it is not met (corpora/dd_rubric.yaml
    `partly_needs`): analysts said `no` to 45 of 50 beyond-tier-1 candidates reaching nothing beyond tier 1
    and to 29 of 31 salient-issues candidates naming neither risks nor an issue; GapLens had said partly."""
    tier1 = report_of_pages(tmp_path_factory, [SUPPLIER_RISK_ANALYSIS, STAKEHOLDER_SURVEY], "tier1")
    indicator = indicator_of(tier1, "dd2.beyond_tier1")
    assert indicator.decision == "not_met" and not indicator.evidence, indicator.reason
    # the risk analysis names forced and child labour (partly: not as its salient risks); the survey, nothing
    indicator = indicator_of(tier1, "dd2.salient_issues")
    assert [e.page for e in indicator.evidence] == [1], indicator.reason
    deeper = report_of_pages(tmp_path_factory, [SUPPLIER_RISK_ANALYSIS, COTTON_TRACED], "deeper")
    indicator = indicator_of(deeper, "dd2.beyond_tier1")
    assert indicator.decision != "not_met" and [e.page for e in indicator.evidence] == [2], indicator.reason


SAFETY_TRAINING = (
    "Occupational safety. In addition to the risk assessment, we maintain written safety concepts on which "
    "affected employees and contractors are trained. Work at height on radio towers is of particular "
    "importance, so precautions are taken to meet the high safety requirements."
)
WORKER_CONSULTATION = (
    "Consulting those affected. For our 2023 human-rights risk assessment we interviewed 240 workers at 12 "
    "supplier factories and held meetings with two trade unions and a local NGO in Bangladesh; their input "
    "changed which risks we rank highest."
)


def test_consulting_the_affected_needs_a_consultation_not_only_an_affected_group(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """`met` asks for consultations with affected groups; "affected employees are trained" met it before."""
    trained = report_of_pages(tmp_path_factory, [SAFETY_TRAINING], "trained")
    indicator = indicator_of(trained, "dd2.stakeholders")
    assert indicator.decision != "met", indicator.reason
    both = report_of_pages(tmp_path_factory, [SAFETY_TRAINING, WORKER_CONSULTATION], "consulted")
    _met_only_by(both, "dd2.stakeholders", page=2, not_by=1)
