"""A store as the last release before migrations (commit 4d22e17) made it, for the upgrade tests.

``PreviousBase`` is that release's table classes copied verbatim, so ``create_all`` emits the DDL that
release emitted on SQLite and PostgreSQL; ``make_previous_store`` fills it with rows of every table the
way that release wrote them (no version table, passages without an evidence type).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
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
    create_engine,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

LOCAL_TENANT_ID = 1


def _now() -> datetime:
    return datetime.now(UTC)


class PreviousBase(DeclarativeBase):
    """The previous release's declarative base (its own metadata, apart from service.store's)."""


class TenantRow(PreviousBase):
    """A customer: its reports, jobs and passages are visible to its own keys only."""

    __tablename__ = "tenants"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


class ApiKeyRow(PreviousBase):
    """An API key, stored as the sha256 of the key (keys are 256 random bits, so no salt is needed)."""

    __tablename__ = "api_keys"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # the first characters of the key, so a person can tell keys apart in `gaplens keys list`
    prefix: Mapped[str] = mapped_column(String(16))
    admin: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class SessionRow(PreviousBase):
    """A web page's sign-in: the browser's cookie holds a random token, the store only its sha256."""

    __tablename__ = "sessions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    key_id: Mapped[int] = mapped_column(ForeignKey("api_keys.id"), index=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ReportRow(PreviousBase):
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
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


class JobRow(PreviousBase):
    """One upload or analysis request; failed uploads are kept here with their reason."""

    __tablename__ = "jobs"
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
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


class PassageRow(PreviousBase):
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


class EmbeddingRow(PreviousBase):
    """A cached vector, keyed by sha256(model, text)."""

    __tablename__ = "embeddings"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    model: Mapped[str] = mapped_column(String(256))
    vector: Mapped[bytes] = mapped_column(LargeBinary)


def _scores(scores: Any) -> dict[str, Any]:
    return {"scores": scores.scores, "labels": list(scores.labels), "parts": list(scores.parts)}


def drop_everything(url: str) -> None:
    """An empty database: every table, of any release, and the migrations' version table."""
    engine = create_engine(url)
    with engine.begin() as connection:
        for table in (
            "alembic_version",
            "reviews",
            "sessions",
            "api_keys",
            "passages",
            "jobs",
            "reports",
            "embeddings",
        ):
            connection.execute(text(f"DROP TABLE IF EXISTS {table}"))
        connection.execute(text("DROP TABLE IF EXISTS tenants"))
    engine.dispose()


def make_previous_store(url: str, analysis: Any, model: str = "all-MiniLM-L6-v2") -> dict[str, Any]:
    """Create the previous release's tables at ``url`` with rows in each; returns what was written.

    Two tenants: the local one with an analysed report (its passages and their cached vectors), and
    "acme" with a key, a sign-in session, a failed report and jobs in every state.
    """
    from service.encoding.embed import embedding_key

    engine = create_engine(url)
    PreviousBase.metadata.create_all(engine)
    scope = f"tenant:{LOCAL_TENANT_ID}"
    keys = [embedding_key(model, analysis.encoder_input(n), scope) for n in range(len(analysis.passages))]
    result = json.loads(json.dumps(analysis.report.to_dict()))
    with Session(engine, expire_on_commit=False) as s, s.begin():
        s.add_all([TenantRow(id=LOCAL_TENANT_ID, name="local"), TenantRow(id=2, name="acme")])
        s.flush()
        s.add(ApiKeyRow(id=1, tenant_id=2, key_hash="h" * 64, prefix="glk_abcdefgh", admin=True))
        s.flush()
        s.add(SessionRow(token_hash="t" * 64, key_id=1, expires_at=datetime.now(UTC) + timedelta(hours=1)))
        done = ReportRow(
            tenant_id=LOCAL_TENANT_ID, sha256="d" * 64, filename="max.pdf", company="Max",
            sector="industrial", year=2023, language=analysis.document.language,
            pages=analysis.document.page_count, status="done", result=result, shareable=True,
        )  # fmt: skip
        failed = ReportRow(
            tenant_id=2, sha256="f" * 64, filename="bad.pdf", status="rejected", error="no text"
        )
        s.add_all([done, failed])
        s.flush()
        s.add_all(
            PassageRow(
                report_id=done.id,
                passage_key=p.id,
                page=p.page,
                start=p.start,
                end=p.end,
                heading=p.heading,
                text=p.text,
                embedding_key=key,
                sdg=_scores(sdg),
                dd=_scores(dd),
            )  # fmt: skip
            for p, sdg, dd, key in zip(analysis.passages, analysis.sdg, analysis.dd, keys, strict=True)
        )
        s.add_all(
            EmbeddingRow(key=key, model=model, vector=vector.astype("float32").tobytes())
            for key, vector in dict(zip(keys, analysis.vectors, strict=True)).items()
        )
        s.add_all(
            [
                JobRow(
                    tenant_id=LOCAL_TENANT_ID, report_id=done.id, sha256="d" * 64, status="done", stage="done"
                ),
                JobRow(tenant_id=2, report_id=failed.id, sha256="f" * 64, status="failed", error="no text"),
                JobRow(tenant_id=2, filename="queued.pdf", status="queued"),
                JobRow(tenant_id=2, filename="run.pdf", status="running", lease_owner="gone:1:x", attempts=1),
            ]
        )
    engine.dispose()
    return {"result": result, "passages": [p.text for p in analysis.passages], "keys": keys, "done": done.id}
