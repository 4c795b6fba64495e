"""Store: reports, jobs, passages and cached embeddings in SQL (SQLite by default, PostgreSQL by URL).

Every write that changes more than one row happens in one transaction, so a failure half-way leaves
what was stored before untouched.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import numpy as np
from sqlalchemy import (
    JSON,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    create_engine,
    event,
    func,
    inspect,
    select,
    text,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

from service.embed import embedding_key
from service.errors import NotFound
from service.pipeline import Analysis

JOB_STATES = ("queued", "running", "done", "failed")
# A report is "rejected" when its bytes are bad input: the same bytes would fail the same way.
REPORT_STATES = ("queued", "running", "done", "failed", "rejected")


def _now() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    """SQLAlchemy declarative base for GapLens tables."""


class ReportRow(Base):
    """One distinct report (by sha256) and, once analysed, its gap report as JSON."""

    __tablename__ = "reports"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True, index=True)
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


class JobRow(Base):
    """One upload or analysis request; failed uploads are kept here with their reason."""

    __tablename__ = "jobs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    report_id: Mapped[int | None] = mapped_column(ForeignKey("reports.id"), nullable=True)
    sha256: Mapped[str] = mapped_column(String(64), default="")
    filename: Mapped[str] = mapped_column(String(512), default="")
    status: Mapped[str] = mapped_column(String(16), default="queued", index=True)
    stage: Mapped[str] = mapped_column(String(32), default="queued")
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


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


class EmbeddingRow(Base):
    """A cached vector, keyed by sha256(model, text)."""

    __tablename__ = "embeddings"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    model: Mapped[str] = mapped_column(String(256))
    vector: Mapped[bytes] = mapped_column(LargeBinary)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets the web page read while a background job writes; foreign keys are off by default.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def _scores_json(scores: Any) -> dict[str, Any]:
    return {"scores": scores.scores, "labels": list(scores.labels), "parts": list(scores.parts)}


class Store:
    """All database access goes through here; callers never see a Session."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = create_engine(url, pool_pre_ping=True)
        if url.startswith("sqlite"):
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    def create_schema(self) -> None:
        """Create missing tables and columns (idempotent)."""
        Base.metadata.create_all(self.engine)
        self._add_missing_columns()

    def _add_missing_columns(self) -> None:
        """Columns a newer GapLens declares, added to a store an older one made, keeping its rows.

        ``create_all`` never alters an existing table; every column added since the first release
        has a server default, so adding it is one ALTER TABLE.
        """
        inspector = inspect(self.engine)
        with self.engine.begin() as connection:
            for table in Base.metadata.sorted_tables:
                present = {c["name"] for c in inspector.get_columns(table.name)}
                for column in table.columns:
                    if column.name in present or column.server_default is None:
                        continue
                    kind = column.type.compile(self.engine.dialect)
                    default = column.server_default.arg  # type: ignore[attr-defined]
                    connection.execute(
                        text(f"ALTER TABLE {table.name} ADD COLUMN {column.name} {kind} DEFAULT '{default}'")
                    )

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A transaction: committed on success, rolled back on any error."""
        with self._sessions() as session, session.begin():
            yield session

    # --- jobs -------------------------------------------------------------------------------
    def create_job(self, filename: str, sha256: str = "", status: str = "queued", error: str = "") -> JobRow:
        with self.session() as s:
            job = JobRow(filename=filename, sha256=sha256, status=status, stage=status, error=error)
            s.add(job)
            s.flush()
            return job

    def update_job(self, job_id: int, **fields: Any) -> None:
        with self.session() as s:
            job = s.get(JobRow, job_id)
            if job is None:
                raise NotFound(f"no job {job_id}")
            for name, value in fields.items():
                setattr(job, name, value)
            job.updated_at = _now()

    def fail_job(self, job_id: int, reason: str) -> None:
        self.update_job(job_id, status="failed", stage="failed", error=reason)

    def get_job(self, job_id: int) -> JobRow:
        with self.session() as s:
            job = s.get(JobRow, job_id)
            if job is None:
                raise NotFound(f"no job with id {job_id}")
            return job

    def unfinished_jobs(self) -> list[JobRow]:
        with self.session() as s:
            rows = s.scalars(select(JobRow).where(JobRow.status.in_(("queued", "running"))))
            return list(rows)

    # --- reports ----------------------------------------------------------------------------
    def report_by_sha(self, sha256: str) -> ReportRow | None:
        with self.session() as s:
            return s.scalars(select(ReportRow).where(ReportRow.sha256 == sha256)).first()

    def get_or_create_report(self, sha256: str, **meta: Any) -> tuple[ReportRow, bool]:
        """The report with this hash, creating it if new; the flag says whether it was created."""
        existing = self.report_by_sha(sha256)
        if existing is not None:
            return existing, False
        try:
            with self.session() as s:
                report = ReportRow(sha256=sha256, **{k: v for k, v in meta.items() if v is not None})
                s.add(report)
                s.flush()
                return report, True
        except IntegrityError:
            # A concurrent upload of the same bytes inserted it first: that row is the report.
            winner = self.report_by_sha(sha256)
            if winner is None:
                raise
            return winner, False

    def get_report(self, report_id: int) -> ReportRow:
        with self.session() as s:
            report = s.get(ReportRow, report_id)
            if report is None:
                raise NotFound(f"no report with id {report_id}")
            return report

    def list_reports(self) -> list[ReportRow]:
        with self.session() as s:
            return list(s.scalars(select(ReportRow).order_by(ReportRow.id.desc())))

    def set_report_status(self, report_id: int, status: str, error: str = "") -> None:
        with self.session() as s:
            report = s.get(ReportRow, report_id)
            if report is not None:
                report.status = status
                report.error = error

    def set_report_meta(self, report_id: int, **meta: Any) -> None:
        """Company, sector, year, country as the latest source (upload form, manifest) gives them."""
        with self.session() as s:
            report = s.get(ReportRow, report_id)
            if report is None:
                raise NotFound(f"no report with id {report_id}")
            for name, value in meta.items():
                if value not in (None, ""):
                    setattr(report, name, value)

    def reports_by_sha(self, shas: Sequence[str]) -> dict[str, ReportRow]:
        with self.session() as s:
            rows = s.scalars(select(ReportRow).where(ReportRow.sha256.in_(list(shas))))
            return {row.sha256: row for row in rows}

    def done_reports(self, sector: str | None = None, company: str | None = None) -> list[ReportRow]:
        """Analysed reports, optionally of one sector or one company (case-insensitive), oldest first."""
        with self.session() as s:
            query = select(ReportRow).where(ReportRow.status == "done").order_by(ReportRow.id)
            if sector:
                query = query.where(func.lower(ReportRow.sector) == sector.lower())
            if company:
                query = query.where(func.lower(ReportRow.company) == company.lower())
            return list(s.scalars(query))

    def sectors(self) -> dict[str, int]:
        """Sector (lower case) -> number of analysed reports in it; reports with no sector are left out."""
        with self.session() as s:
            sector = func.lower(ReportRow.sector)
            query = (
                select(sector, func.count())
                .where(ReportRow.status == "done", ReportRow.sector != "")
                .group_by(sector)
                .order_by(sector)
            )
            return {sector: count for sector, count in s.execute(query)}

    def save_analysis(self, report_id: int, analysis: Analysis, model: str) -> list[int]:
        """Replace the report's passages and result in one transaction; returns passage row ids."""
        with self.session() as s:
            report = s.get(ReportRow, report_id)
            if report is None:
                raise NotFound(f"no report with id {report_id}")
            s.query(PassageRow).filter(PassageRow.report_id == report_id).delete()
            rows = [
                PassageRow(
                    report_id=report_id,
                    passage_key=p.id,
                    page=p.page,
                    start=p.start,
                    end=p.end,
                    heading=p.heading,
                    text=p.text,
                    embedding_key=embedding_key(model, p.text),
                    sdg=_scores_json(sdg),
                    dd=_scores_json(dd),
                )
                for p, sdg, dd in zip(analysis.passages, analysis.sdg, analysis.dd, strict=True)
            ]
            s.add_all(rows)
            report.status = "done"
            report.error = ""
            report.language = analysis.document.language
            report.pages = analysis.document.page_count
            report.result = json.loads(json.dumps(analysis.report.to_dict()))
            s.flush()
            return [row.id for row in rows]

    def passages(self, report_id: int, offset: int = 0, limit: int | None = 100) -> list[PassageRow]:
        with self.session() as s:
            query = (
                select(PassageRow)
                .where(PassageRow.report_id == report_id)
                .order_by(PassageRow.id)
                .offset(offset)
                .limit(limit)
            )
            return list(s.scalars(query))

    def passages_by_ids(self, ids: Sequence[int]) -> dict[int, PassageRow]:
        with self.session() as s:
            rows = s.scalars(select(PassageRow).where(PassageRow.id.in_(list(ids))))
            return {row.id: row for row in rows}

    def passage_ids(self, report_id: int | None = None, sector: str | None = None) -> list[int]:
        """Row ids of passages, optionally of one report or of one sector's reports."""
        with self.session() as s:
            query = select(PassageRow.id).join(ReportRow, PassageRow.report_id == ReportRow.id)
            if report_id is not None:
                query = query.where(PassageRow.report_id == report_id)
            if sector:
                query = query.where(func.lower(ReportRow.sector) == sector.lower())
            return list(s.scalars(query))

    def all_passage_vectors(self, model: str) -> tuple[list[int], np.ndarray]:
        """Every stored passage id with its cached vector (for rebuilding the index)."""
        with self.session() as s:
            query = (
                select(PassageRow.id, EmbeddingRow.vector)
                .join(EmbeddingRow, EmbeddingRow.key == PassageRow.embedding_key)
                .where(EmbeddingRow.model == model)
                .order_by(PassageRow.id)
            )
            pairs = list(s.execute(query))
        if not pairs:
            return [], np.zeros((0, 0), dtype=np.float32)
        vectors = np.stack([np.frombuffer(v, dtype=np.float32) for _, v in pairs])
        return [i for i, _ in pairs], vectors

    # --- embedding cache (implements service.embed.EmbeddingCache) --------------------------
    def get_vectors(self, keys: Sequence[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        unique = list(dict.fromkeys(keys))
        with self.session() as s:
            for i in range(0, len(unique), 500):
                chunk = unique[i : i + 500]
                rows = s.execute(
                    select(EmbeddingRow.key, EmbeddingRow.vector).where(EmbeddingRow.key.in_(chunk))
                )
                found.update({k: np.frombuffer(v, dtype=np.float32) for k, v in rows})
        return found

    def put_vectors(self, model: str, vectors: dict[str, np.ndarray]) -> None:
        with self.session() as s:
            existing = set(s.scalars(select(EmbeddingRow.key).where(EmbeddingRow.key.in_(list(vectors)))))
            s.add_all(
                EmbeddingRow(key=k, model=model, vector=np.asarray(v, np.float32).tobytes())
                for k, v in vectors.items()
                if k not in existing
            )
