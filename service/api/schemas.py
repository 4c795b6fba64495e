"""Request and response bodies of the HTTP API (kept apart from the store's tables)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from service.http.deps import CleanText, TenantNameText


class JobOut(BaseModel):
    """A processing job: poll it until status is done or failed."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    report_id: int | None
    filename: str
    status: str
    stage: str
    progress: float
    error: str
    created_at: datetime
    updated_at: datetime


class ReportOut(BaseModel):
    """A stored report's metadata."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    sha256: str
    filename: str
    company: str
    sector: str
    year: int | None
    language: str
    pages: int
    status: str
    shareable: bool
    created_at: datetime


class ReportPatch(BaseModel):
    """What a tenant may change on its report."""

    shareable: bool


class KeyIn(BaseModel):
    """A new API key for a tenant (made if new)."""

    tenant: TenantNameText = Field(min_length=1, max_length=128)
    admin: bool = False


class KeyOut(BaseModel):
    """A new key: shown once, stored only as its hash."""

    tenant: str
    admin: bool
    key: str


class PassageOut(BaseModel):
    """A passage with its page, heading, label scores and evidence type (as stored with it)."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    report_id: int
    page: int
    start: int
    end: int
    heading: str
    text: str
    sdg: dict[str, Any]
    dd: dict[str, Any]
    evidence_type: str


class EvidenceOut(BaseModel):
    """A passage that supports a goal or step, with its page and evidence type."""

    passage_id: int
    page: int
    heading: str
    text: str
    score: float
    parts: list[str]
    evidence_type: str


class ClassifyItem(BaseModel):
    """One text to classify."""

    id: CleanText = Field(max_length=200)
    text: CleanText = Field(max_length=20000)


# Texts per request are capped in characters too: 1,000 texts of 20,000 characters would hold a
# worker for minutes.
MAX_CLASSIFY_CHARS = 200_000


class ClassifyIn(BaseModel):
    """Texts to classify (at most 1,000 per request, 200,000 characters in all)."""

    items: list[ClassifyItem] = Field(max_length=1000)

    @model_validator(mode="after")
    def _not_too_long(self) -> ClassifyIn:
        total = sum(len(item.text) for item in self.items)
        if total > MAX_CLASSIFY_CHARS:
            raise ValueError(f"the texts have {total} characters in all; the limit is {MAX_CLASSIFY_CHARS}")
        return self


class ClassifyOut(BaseModel):
    """One classified text, in the same contract as ``gaplens classify``."""

    id: str
    sdgs: list[int]
    sdg_scores: dict[str, float]
    targets: list[str]
    dd_steps: list[int]
    dd_scores: dict[str, float]


class SearchHitOut(BaseModel):
    """A search result: the passage, its report and the similarity."""

    score: float
    passage: PassageOut


class ErrorOut(BaseModel):
    """Every error answer has this shape."""

    error: str
    detail: str
