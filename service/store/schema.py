"""The tables: one row class per table, as the newest migration (service/store/migrations) leaves them.

The migrations, not these classes, create and change a database's tables; a test checks that the two agree.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

JOB_STATES = ("queued", "running", "done", "failed")
UNFINISHED = ("queued", "running")
# the partial unique index that keeps one unfinished job per report (migration 0003)
UNFINISHED_JOB_INDEX = "uq_jobs_unfinished_report"
UNFINISHED_JOB_WHERE = "status IN ('queued', 'running')"
# Every store has this tenant, with id 1: `make run`'s single-tenant mode and rows from before tenants.
LOCAL_TENANT = "local"
LOCAL_TENANT_ID = 1
# A report is "rejected" when its bytes are bad input: the same bytes would fail the same way.
REPORT_STATES = ("queued", "running", "done", "failed", "rejected")


def utc_now() -> datetime:
    """Now, timezone-aware, as every timestamp column stores it."""
    return datetime.now(UTC)


def as_utc(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes for timezone-aware columns; they were stored as UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    """SQLAlchemy declarative base for GapLens tables."""


class TenantRow(Base):
    """A customer: its reports, jobs and passages are visible to its own keys only."""

    __tablename__ = "tenants"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)


class ApiKeyRow(Base):
    """An API key, stored as the sha256 of the key (keys are 256 random bits, so no salt is needed)."""

    __tablename__ = "api_keys"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # the first characters of the key, so a person can tell keys apart in `gaplens keys list`
    prefix: Mapped[str] = mapped_column(String(16))
    admin: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class SessionRow(Base):
    """A web page's sign-in: the browser's cookie holds a random token, the store only its sha256."""

    __tablename__ = "sessions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    key_id: Mapped[int] = mapped_column(ForeignKey("api_keys.id"), index=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ReportRow(Base):
    """One distinct report of a tenant (by sha256) and, once analysed, its gap report as JSON."""

    __tablename__ = "reports"
    # The same bytes uploaded by two tenants are two reports: neither learns of the other's upload.
    __table_args__ = (Index("uq_reports_tenant_sha256", "tenant_id", "sha256", unique=True),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(
        ForeignKey("tenants.id"), default=LOCAL_TENANT_ID, server_default=str(LOCAL_TENANT_ID), index=True
    )
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    # whether other tenants' sector benchmarks may count this report (in aggregates only, never by name)
    shareable: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    filename: Mapped[str] = mapped_column(String(512), default="")
    company: Mapped[str] = mapped_column(String(256), default="")
    sector: Mapped[str] = mapped_column(String(128), default="", index=True)
    year: Mapped[int | None] = mapped_column(Integer, nullable=True)
    country: Mapped[str] = mapped_column(String(64), default="", server_default="")
    language: Mapped[str] = mapped_column(String(8), default="")
    pages: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16), default="queued")
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    # why the last analysis failed ("failed": may succeed on retry; "rejected": bad input, final)
    error: Mapped[str] = mapped_column(Text, default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)


class JobRow(Base):
    """One upload or analysis request; failed uploads are kept here with their reason."""

    __tablename__ = "jobs"
    # At most one unfinished job per report: parallel uploads of the same bytes (threads, or servers on
    # one PostgreSQL) share one job instead of each queueing the work (JobQueries.queue_job_once).
    __table_args__ = (
        Index(
            UNFINISHED_JOB_INDEX,
            "report_id",
            unique=True,
            sqlite_where=text(UNFINISHED_JOB_WHERE),
            postgresql_where=text(UNFINISHED_JOB_WHERE),
        ),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(
        ForeignKey("tenants.id"), default=LOCAL_TENANT_ID, server_default=str(LOCAL_TENANT_ID), index=True
    )
    report_id: Mapped[int | None] = mapped_column(ForeignKey("reports.id"), nullable=True)
    sha256: Mapped[str] = mapped_column(String(64), default="")
    filename: Mapped[str] = mapped_column(String(512), default="")
    status: Mapped[str] = mapped_column(String(16), default="queued", index=True)
    stage: Mapped[str] = mapped_column(String(32), default="queued")
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    error: Mapped[str] = mapped_column(Text, default="")
    # how often a worker has started this job: a job that keeps killing its worker is given up
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # the lease of the process running it ("host:pid:token"), renewed by its heartbeat until this time
    # (Unix seconds); another process requeues the job only once the lease ran out or its owner died
    lease_owner: Mapped[str] = mapped_column(String(96), default="", server_default="")
    lease_expires: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    # when it was last claimed (Unix seconds): the tenant served longest ago goes next
    claimed_at: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)


class PassageRow(Base):
    """A passage with its label scores; ``row id`` is also its id in the faiss index."""

    __tablename__ = "passages"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id"), index=True)
    passage_key: Mapped[str] = mapped_column(String(24), index=True)
    page: Mapped[int] = mapped_column(Integer)
    start: Mapped[int] = mapped_column(Integer)
    end: Mapped[int] = mapped_column(Integer)
    heading: Mapped[str] = mapped_column(Text, default="")
    text: Mapped[str] = mapped_column(Text)
    embedding_key: Mapped[str] = mapped_column(String(64))
    sdg: Mapped[dict[str, Any]] = mapped_column(JSON)
    dd: Mapped[dict[str, Any]] = mapped_column(JSON)
    # result / action / commitment / mention (service.judging.substance), decided once when the passage is
    # saved
    evidence_type: Mapped[str] = mapped_column(String(16), default="", server_default="")


class EmbeddingRow(Base):
    """A cached vector, keyed by sha256(model, text)."""

    __tablename__ = "embeddings"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    model: Mapped[str] = mapped_column(String(256))
    vector: Mapped[bytes] = mapped_column(LargeBinary)


class ReviewRow(Base):
    """One analyst's change to a report's machine analysis (issue 25): who, when, what it was and became.

    Keyed by the report's tenant and sha256, not only its row, so a review still applies when the same
    PDF is uploaded or analysed again. Undoing sets ``undone_at``; no review is ever deleted.
    """

    __tablename__ = "reviews"
    __table_args__ = (Index("ix_reviews_tenant_sha256", "tenant_id", "report_sha256"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    report_sha256: Mapped[str] = mapped_column(String(64))
    # the report row it was made on (a later upload of the same bytes by the tenant is the same row)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id"))
    # evidence_confirm, evidence_reject, indicator_decision, evidence_attach, goal_rung
    # (service.serving.reviews)
    kind: Mapped[str] = mapped_column(String(24))
    # an indicator id, a goal, or a passage id
    target: Mapped[str] = mapped_column(String(64))
    before: Mapped[dict[str, Any]] = mapped_column(JSON)
    after: Mapped[dict[str, Any]] = mapped_column(JSON)
    note: Mapped[str] = mapped_column(Text, default="", server_default="")
    reviewer: Mapped[str] = mapped_column(String(160))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    undone_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
