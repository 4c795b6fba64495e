"""The records that flow between pipeline stages.

PDF bytes -> Document(pages) -> Passages -> embeddings -> LabelScores -> Coverage -> GapReport.
Each stage is a function from these plain dataclasses to the next ones; nothing here does work.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Profile = Literal["integrated", "due-diligence-only", "sdg-only", "neither"]


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


@dataclass(frozen=True)
class Evidence:
    """A passage that supports a label, with what a reader needs to check it."""

    passage_id: str
    page: int
    text: str
    score: float
    heading: str = ""
    parts: tuple[str, ...] = ()
    # result / action / commitment / mention (service/substance.py)
    evidence_type: str = ""
    # salient issues and value-chain positions the passage names, and whether it tells a concrete
    # case (service/dd_tags.py)
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
    timings: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (tuples become lists)."""
        return asdict(self)
