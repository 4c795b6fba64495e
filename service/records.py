"""The records that flow between pipeline stages.

PDF bytes -> Document(pages) -> Passages -> embeddings -> LabelScores -> Coverage -> GapReport.
Beside Coverage, the rubric stages make IndicatorResult (due diligence), GoalLadder (SDGs),
NegativeEvidence and RegulatoryView records, all carried by the GapReport; Analysis holds one run's outputs.
Each stage is a function from these plain dataclasses to the next ones; nothing here does work.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from functools import lru_cache
from typing import Any, Literal

import numpy as np
from pydantic import TypeAdapter

Profile = Literal["integrated", "due-diligence-only", "sdg-only", "neither"]
Decision = Literal["met", "partly", "not_met"]
# What kind of evidence a passage gives, from the most to the least substantive (service/judging/substance.py,
# classifiers/parts.py).
EvidenceType = Literal["result", "action", "commitment", "mention"]
EVIDENCE_TYPES: tuple[EvidenceType, ...] = ("result", "action", "commitment", "mention")


@dataclass(frozen=True)
class Page:
    """Cleaned text of one physical page (1-based, as a PDF viewer numbers it)."""

    number: int
    text: str


@dataclass(frozen=True)
class Document:
    """A report as ingested: its identity (sha256 of the bytes) and its cleaned pages."""

    sha256: str
    pages: tuple[Page, ...]
    language: str
    filename: str = ""
    # Where the text came from: "pdf" (pypdfium2 / pdfplumber) or "sections" (pre-parsed JSON).
    source: str = "pdf"
    page_count: int = 0
    # pages whose text came from OCR (a scanned PDF)
    ocr_pages: tuple[int, ...] = ()


@dataclass(frozen=True)
class Passage:
    """A few consecutive sentences of one page; offsets index into ``Page.text``."""

    id: str
    page: int
    start: int
    end: int
    text: str
    heading: str = ""


@dataclass(frozen=True)
class LabelScores:
    """One classifier's reading of one passage for one framework (``sdg`` or ``oecd_dd``)."""

    passage_id: str
    framework: str
    # label id -> probability-like score in [0, 1]
    scores: dict[str, float]
    # labels whose score passed the decision rule
    labels: tuple[str, ...]
    # best-matching sub-elements (SDG targets such as "8.7", OECD sub-elements such as "2.2")
    parts: tuple[str, ...] = ()
    # OECD only, from the learned sub-element reader (classifiers/parts.py): sub-element -> probability;
    # empty where no reader was trained (then ``parts`` come from similarity to the sub-elements' texts)
    part_scores: dict[str, float] = field(default_factory=dict)
    # OECD only: the passage's evidence type from the learned reader ("" where none: the rules decide)
    evidence_type: str = ""


@dataclass(frozen=True)
class Evidence:
    """A passage that supports a label, with what a reader needs to check it."""

    passage_id: str
    page: int
    text: str
    score: float
    heading: str = ""
    parts: tuple[str, ...] = ()
    # result / action / commitment / mention (service/judging/substance.py)
    evidence_type: str = ""
    # salient issues and value-chain positions the passage names, and whether it tells a concrete
    # case (service/judging/dd_tags.py)
    issues: tuple[str, ...] = ()
    value_chain: tuple[str, ...] = ()
    concrete_case: bool = False


@dataclass(frozen=True)
class Coverage:
    """How well a report covers one label (an SDG or an OECD step). See README for the formula."""

    framework: str
    label: str
    name: str
    score: int
    addressed: bool
    evidence_count: int
    evidence: tuple[Evidence, ...]
    parts_touched: tuple[str, ...]
    parts_missing: tuple[str, ...]
    # how many supporting passages of each evidence type (result, action, commitment, mention)
    evidence_types: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class IssueFollowThrough:
    """One salient issue across the due-diligence steps: where it is named and what never follows."""

    issue: str
    name: str
    family: str
    # step id -> number of the report's due-diligence passages on this issue
    steps: dict[str, int]
    # pages where the issue is named in policy or risk identification (steps 1-2)
    pages: tuple[int, ...]
    # of steps 3 (prevent/mitigate) and 4 (track): those with no passage on the issue, when named
    missing_steps: tuple[str, ...]


@dataclass(frozen=True)
class NegativeEvidence:
    """A passage that says a disclosure is missing, not material, not applicable or only planned.

    It is never coverage; the report shows it as a gap on its page. ``index`` marks a line of an
    ESRS or GRI content index; ``labels`` are the goals ("sdg-13") and steps ("dd-2") it was read as.
    """

    passage_id: str
    page: int
    kind: str
    text: str
    index: bool = False
    labels: tuple[str, ...] = ()


@dataclass(frozen=True)
class IndicatorResult:
    """One rubric indicator of one OECD step, decided from the evidence (corpora/dd_rubric.yaml)."""

    id: str
    step: str
    name: str
    decision: Decision
    points: float
    # the passages behind the decision, strongest first (those that make it "met" lead)
    evidence: tuple[Evidence, ...] = ()
    # what to do next, when not met (English and Dutch)
    advice: str = ""
    advice_nl: str = ""
    name_nl: str = ""
    # why, in words: the first evidence's type, issues and value-chain positions and, when partly, what it
    # lacks for met; when not met, the question no passage answers (corpora/decision_reasons.yaml)
    reason: str = ""
    # the `met_*` conditions the first evidence fails (evidence_type, cues, issues, value_chain,
    # concrete_case); empty when met, and when not met (no evidence at all)
    missing_for_met: tuple[str, ...] = ()


@dataclass(frozen=True)
class GoalLadder:
    """How deep a report goes on one SDG: the highest rung of corpora/sdg_ladder.yaml it reaches."""

    goal: str
    name: str
    level: int
    # rung id at that level ("" at level 0)
    rung: str
    score: int
    # whether the goal counts toward the SDG score (engaged with or named by the report)
    engaged: bool
    named: bool
    # the passage that reached each rung, by rung id
    evidence: dict[str, Evidence] = field(default_factory=dict)
    next_step: str = ""
    next_step_nl: str = ""


@dataclass(frozen=True)
class ViewItem:
    """One article or element of a regulatory view, and whether the report evidences it."""

    id: str
    name: str
    reference: str
    # "evidenced" (mean indicator points >= 0.75), "partly" (> 0) or "not_evidenced"
    status: str
    indicators: tuple[str, ...]
    name_nl: str = ""


@dataclass(frozen=True)
class RegulatoryView:
    """The rubric's indicators read through one legal or sector text (corpora/regulatory_views.yaml)."""

    id: str
    name: str
    version: str
    items: tuple[ViewItem, ...]
    remark: str = ""


@dataclass(frozen=True)
class ProfileMargin:
    """How close the profile is to changing: the nearest score threshold whose crossing changes it."""

    # the headline score at that threshold: "sdg_score" or "due_diligence_score"
    boundary: str
    threshold: int
    score: int
    # how many points the score must move to cross the threshold (down to threshold - 1, or up to it)
    points_from_boundary: int
    # within the margin of corpora/profiles.yaml (on_the_line.points) and crossing changes the profile
    on_the_line: bool
    # the profile on the other side of the threshold (the same profile when no crossing changes it)
    would_be: Profile
    # the score the crossing takes it to
    crossed: int
    margin: int


@dataclass(frozen=True)
class GapReport:
    """The answer for one report: coverage on both sides, what is missing, the profile, next steps."""

    document_sha256: str
    filename: str
    language: str
    pages: int
    passages: int
    sdg: tuple[Coverage, ...]
    due_diligence: tuple[Coverage, ...]
    sdg_score: int
    due_diligence_score: int
    profile: Profile
    missing_sdgs: tuple[str, ...]
    missing_steps: tuple[str, ...]
    recommendations: tuple[str, ...]
    # SDG evidence by type over the whole report: does it report results, or only mention goals?
    sdg_substance: dict[str, int] = field(default_factory=dict)
    # the same for the due-diligence evidence
    dd_substance: dict[str, int] = field(default_factory=dict)
    # salient issues the due-diligence evidence names, most evidence first
    salient_issues: tuple[IssueFollowThrough, ...] = ()
    # value-chain position -> number of due-diligence passages that cover it
    value_chain: dict[str, int] = field(default_factory=dict)
    # due-diligence passages that describe a concrete case (a supplier, a site, a grievance and its outcome)
    concrete_cases: tuple[Evidence, ...] = ()
    # the due-diligence rubric: every indicator decided, with its evidence and advice
    indicators: tuple[IndicatorResult, ...] = ()
    # the SDG ladder: one rung per goal
    sdg_ladder: tuple[GoalLadder, ...] = ()
    # "not disclosed", "not material", "we plan to" ...: gaps, with their pages
    negative_evidence: tuple[NegativeEvidence, ...] = ()
    # CSDDD articles, ESRS 2 GOV-4 core elements, the Dutch textile covenant's elements
    regulatory_views: tuple[RegulatoryView, ...] = ()
    timings: dict[str, float] = field(default_factory=dict)
    # whether a headline score sits within a few points of a profile threshold (None in older reports)
    profile_margin: ProfileMargin | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (tuples become lists)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GapReport:
        """The report again from ``to_dict``'s form (or its JSON), nested records and all.

        Pydantic checks every field against the dataclasses above, so a stored report that no longer
        fits them fails here, at the store's edge, not as a KeyError in a page. Fields added since a
        report was stored take their defaults.
        """
        return _gap_report_adapter().validate_python(data)


@lru_cache(maxsize=1)
def _gap_report_adapter() -> TypeAdapter[GapReport]:
    """Built once, on first use: pydantic reads the dataclasses' annotations into a validator."""
    return TypeAdapter(GapReport)


@dataclass
class Analysis:
    """Everything one run produced; the store keeps passages and scores, the API shows the report."""

    document: Document
    passages: list[Passage]
    # Each passage's search vector, by the encoder Settings.search_encoder names for the report's language.
    vectors: np.ndarray
    sdg: list[LabelScores]
    dd: list[LabelScores]
    report: GapReport
    timings: dict[str, float] = field(default_factory=dict)
    # What the encoder read for each passage (the passage under its heading): its vector's cache key.
    inputs: list[str] = field(default_factory=list)

    def embedded(self) -> list[int]:
        """Positions of the passages the encoder read (a passage the relevance gate skipped has no vector)."""
        return (
            [int(i) for i in np.flatnonzero(np.any(self.vectors != 0, axis=1))] if self.vectors.size else []
        )

    def encoder_input(self, index: int) -> str:
        """The text passage ``index`` was embedded as (its text, when no inputs were recorded)."""
        return self.inputs[index] if self.inputs else self.passages[index].text
