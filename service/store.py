"""Store: reports, jobs, passages and cached embeddings in SQL (SQLite by default, PostgreSQL by URL).

Every write that changes more than one row happens in one transaction, so a failure half-way leaves
what was stored before untouched.
"""

from __future__ import annotations

import fcntl
import json
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
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
    event,
    func,
    inspect,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

from service.embed import embedding_key
from service.errors import NotFound, StoreInUse
from service.records import Analysis

JOB_STATES = ("queued", "running", "done", "failed")
UNFINISHED = ("queued", "running")
# Every store has this tenant, with id 1: `make run`'s single-tenant mode and rows from before tenants.
LOCAL_TENANT = "local"
LOCAL_TENANT_ID = 1
# A report is "rejected" when its bytes are bad input: the same bytes would fail the same way.
REPORT_STATES = ("queued", "running", "done", "failed", "rejected")


# SQLite files this process serves: path -> [lock file descriptor, holders] (Store.hold_for_serving)
_SERVING: dict[str, list[int]] = {}
_SERVING_LOCK = threading.Lock()


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes for timezone-aware columns; they were stored as UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    """SQLAlchemy declarative base for GapLens tables."""


class TenantRow(Base):
    """A customer: its reports, jobs and passages are visible to its own keys only."""

    __tablename__ = "tenants"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


class ApiKeyRow(Base):
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
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


class JobRow(Base):
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
        # hide_parameters: a failing statement's values (report text, a tenant's fields) stay out of logs
        self.engine = create_engine(url, pool_pre_ping=True, hide_parameters=True)
        if url.startswith("sqlite"):
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    def create_schema(self) -> None:
        """Create missing tables, columns and indexes, and the local tenant (idempotent)."""
        Base.metadata.create_all(self.engine)
        self._add_missing_columns()
        self._update_indexes()
        local = self.tenant_id(LOCAL_TENANT, create=True)
        if local != LOCAL_TENANT_ID:
            raise RuntimeError(f"the {LOCAL_TENANT!r} tenant must have id {LOCAL_TENANT_ID}, not {local}")

    def _update_indexes(self) -> None:
        """Indexes a newer GapLens declares, created on an older store.

        Before tenants a report's sha256 was unique on its own; now it is unique per tenant, so the old
        unique index gives way to a plain one of the same name.
        """
        inspector = inspect(self.engine)
        with self.engine.begin() as connection:
            for table in Base.metadata.sorted_tables:
                present = {ix["name"]: ix for ix in inspector.get_indexes(table.name)}
                for index in table.indexes:
                    old = present.get(index.name or "")
                    if old is not None and bool(old["unique"]) != bool(index.unique):
                        connection.execute(text(f"DROP INDEX {index.name}"))
                        old = None
                    if old is None:
                        index.create(connection)

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

    def hold_for_serving(self) -> None:
        """Refuse a second serving process on one SQLite file, with a clear message (StoreInUse).

        SQLite has no row leases worth the name across processes, and two servers on one file would
        each run the other's jobs. The lock is an flock beside the file, so it goes when the process
        does, however it ends; in one process (tests, several apps) it is counted, not refused.
        """
        if self.engine.url.get_backend_name() != "sqlite" or not self.engine.url.database:
            return
        path = f"{self.engine.url.database}.serving.lock"
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        with _SERVING_LOCK:
            if path in _SERVING:
                _SERVING[path][1] += 1
                return
            handle = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                other = os.read(handle, 32).decode(errors="replace").strip() or "?"
                os.close(handle)
                raise StoreInUse(
                    f"another gaplens serve (pid {other}) already serves {self.engine.url.database}: one "
                    "process per SQLite file. Stop it, or use PostgreSQL (DATABASE_URL) to run several."
                ) from None
            os.ftruncate(handle, 0)
            os.write(handle, str(os.getpid()).encode())
            _SERVING[path] = [handle, 1]

    def release_serving(self) -> None:
        """Undo one hold_for_serving."""
        path = f"{self.engine.url.database}.serving.lock"
        with _SERVING_LOCK:
            entry = _SERVING.get(path)
            if entry is None:
                return
            entry[1] -= 1
            if entry[1] == 0:
                os.close(entry[0])
                del _SERVING[path]

    def ping(self) -> None:
        """Raise unless the database answers a query."""
        with self.engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A transaction: committed on success, rolled back on any error."""
        with self._sessions() as session, session.begin():
            yield session

    # --- jobs -------------------------------------------------------------------------------
    def create_job(
        self,
        filename: str,
        sha256: str = "",
        status: str = "queued",
        error: str = "",
        tenant_id: int = LOCAL_TENANT_ID,
        report_id: int | None = None,
    ) -> JobRow:
        with self.session() as s:
            job = JobRow(
                filename=filename,
                sha256=sha256,
                status=status,
                stage=status,
                error=error,
                tenant_id=tenant_id,
                report_id=report_id,
            )
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

    def get_job(self, job_id: int, tenant_id: int | None = None) -> JobRow:
        """A job; with ``tenant_id``, only that tenant's (another tenant's job is simply not found)."""
        with self.session() as s:
            job = s.get(JobRow, job_id)
            if job is None or (tenant_id is not None and job.tenant_id != tenant_id):
                raise NotFound(f"no job with id {job_id}")
            return job

    def unfinished_jobs(self, tenant_id: int | None = None) -> list[JobRow]:
        with self.session() as s:
            query = select(JobRow).where(JobRow.status.in_(UNFINISHED)).order_by(JobRow.id)
            if tenant_id is not None:
                query = query.where(JobRow.tenant_id == tenant_id)
            return list(s.scalars(query))

    def requeue_abandoned_jobs(self, owner_alive: Callable[[str], bool]) -> int:
        """Put running jobs whose lease ran out, or whose owner is gone, back in the queue; how many.

        A job another live process is running keeps its lease by heartbeats and is left alone.
        """
        now = time.time()
        with self.session() as s:
            running = s.execute(
                select(JobRow.id, JobRow.lease_owner, JobRow.lease_expires).where(JobRow.status == "running")
            ).all()
            abandoned = [(i, o) for i, o, until in running if until < now or not owner_alive(o)]
            for job_id, owner in abandoned:
                s.execute(
                    update(JobRow)
                    .where(JobRow.id == job_id, JobRow.status == "running", JobRow.lease_owner == owner)
                    .values(status="queued", stage="queued", progress=0.0, lease_owner="", updated_at=_now())
                )
            return len(abandoned)

    def renew_leases(self, owner: str, seconds: float) -> None:
        """The heartbeat: ``owner``'s running jobs are still being worked on for ``seconds`` more."""
        with self.session() as s:
            s.execute(
                update(JobRow)
                .where(JobRow.status == "running", JobRow.lease_owner == owner)
                .values(lease_expires=time.time() + seconds)
            )

    def _next_queued(self, s: Session, max_running_per_tenant: int | None) -> int | None:
        """The queued job to run next, fairly across tenants.

        The tenant with the fewest jobs running goes first, then the one served longest ago, and its
        oldest job; a tenant already running ``max_running_per_tenant`` jobs waits. So a tenant with a
        long queue (or a long scan) takes turns with the others instead of holding them up.
        """
        running = Counter(s.scalars(select(JobRow.tenant_id).where(JobRow.status == "running")))
        queued = s.execute(
            select(JobRow.tenant_id, func.min(JobRow.id))
            .where(JobRow.status == "queued")
            .group_by(JobRow.tenant_id)
        ).all()
        served = dict(
            s.execute(select(JobRow.tenant_id, func.max(JobRow.claimed_at)).group_by(JobRow.tenant_id)).all()
        )
        ready = [
            (running[tenant], served.get(tenant) or 0.0, first)
            for tenant, first in queued
            if max_running_per_tenant is None or running[tenant] < max_running_per_tenant
        ]
        return min(ready)[2] if ready else None

    def claim_next_job(
        self, owner: str = "", lease_seconds: float = 60.0, max_running_per_tenant: int | None = None
    ) -> JobRow | None:
        """Take the next queued job (``_next_queued``) for ``owner``, with a lease of ``lease_seconds``.

        The claim is one conditional UPDATE, so two workers (threads or processes) never take the same job.
        """
        while True:
            with self.session() as s:
                job_id = self._next_queued(s, max_running_per_tenant)
                if job_id is None:
                    return None
                now = time.time()
                claimed = s.execute(
                    update(JobRow)
                    .where(JobRow.id == job_id, JobRow.status == "queued")
                    .values(
                        status="running",
                        stage="parsing",
                        attempts=JobRow.attempts + 1,
                        lease_owner=owner,
                        lease_expires=now + lease_seconds,
                        claimed_at=now,
                        updated_at=_now(),
                    )
                )
                if claimed.rowcount == 1:  # type: ignore[attr-defined]
                    return s.get(JobRow, job_id)

    def latest_job_for_report(self, report_id: int) -> JobRow | None:
        with self.session() as s:
            query = select(JobRow).where(JobRow.report_id == report_id).order_by(JobRow.id.desc()).limit(1)
            return s.scalars(query).first()

    # --- reports ----------------------------------------------------------------------------
    def report_by_sha(self, sha256: str, tenant_id: int = LOCAL_TENANT_ID) -> ReportRow | None:
        with self.session() as s:
            query = select(ReportRow).where(ReportRow.sha256 == sha256, ReportRow.tenant_id == tenant_id)
            return s.scalars(query).first()

    def get_or_create_report(
        self, sha256: str, tenant_id: int = LOCAL_TENANT_ID, **meta: Any
    ) -> tuple[ReportRow, bool]:
        """The tenant's report with this hash, creating it if new; the flag says whether it was created."""
        existing = self.report_by_sha(sha256, tenant_id)
        if existing is not None:
            return existing, False
        try:
            with self.session() as s:
                values = {k: v for k, v in meta.items() if v is not None}
                report = ReportRow(sha256=sha256, tenant_id=tenant_id, **values)
                s.add(report)
                s.flush()
                return report, True
        except IntegrityError:
            # A concurrent upload of the same bytes inserted it first: that row is the report.
            winner = self.report_by_sha(sha256, tenant_id)
            if winner is None:
                raise
            return winner, False

    def get_report(self, report_id: int, tenant_id: int | None = None) -> ReportRow:
        """A report; with ``tenant_id``, only that tenant's (another tenant's is simply not found)."""
        with self.session() as s:
            report = s.get(ReportRow, report_id)
            if report is None or (tenant_id is not None and report.tenant_id != tenant_id):
                raise NotFound(f"no report with id {report_id}")
            return report

    def list_reports(self, tenant_id: int | None = None) -> list[ReportRow]:
        with self.session() as s:
            query = select(ReportRow).order_by(ReportRow.id.desc())
            if tenant_id is not None:
                query = query.where(ReportRow.tenant_id == tenant_id)
            return list(s.scalars(query))

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

    def reports_by_sha(self, shas: Sequence[str], tenant_id: int = LOCAL_TENANT_ID) -> dict[str, ReportRow]:
        with self.session() as s:
            query = select(ReportRow).where(
                ReportRow.sha256.in_(list(shas)), ReportRow.tenant_id == tenant_id
            )
            return {row.sha256: row for row in s.scalars(query)}

    @staticmethod
    def _visible(query: Any, tenant_id: int | None, shared: bool) -> Any:
        """Reports a tenant may use: its own, and with ``shared`` other tenants' shareable ones too."""
        if tenant_id is None:
            return query
        if shared:
            return query.where(or_(ReportRow.tenant_id == tenant_id, ReportRow.shareable.is_(True)))
        return query.where(ReportRow.tenant_id == tenant_id)

    def done_reports(
        self,
        sector: str | None = None,
        company: str | None = None,
        tenant_id: int | None = None,
        shared: bool = False,
    ) -> list[ReportRow]:
        """Analysed reports, optionally of one sector or one company (case-insensitive), oldest first.

        With ``tenant_id``: that tenant's, plus (``shared``) the reports other tenants made shareable.
        """
        with self.session() as s:
            query = select(ReportRow).where(ReportRow.status == "done").order_by(ReportRow.id)
            if sector:
                query = query.where(func.lower(ReportRow.sector) == sector.lower())
            if company:
                query = query.where(func.lower(ReportRow.company) == company.lower())
            return list(s.scalars(self._visible(query, tenant_id, shared)))

    def sectors(self, tenant_id: int | None = None, shared: bool = False) -> dict[str, int]:
        """Sector (lower case) -> number of analysed reports in it; reports with no sector are left out."""
        with self.session() as s:
            sector = func.lower(ReportRow.sector)
            query = select(sector, func.count()).where(ReportRow.status == "done", ReportRow.sector != "")
            query = self._visible(query, tenant_id, shared).group_by(sector).order_by(sector)
            return {sector: count for sector, count in s.execute(query)}

    def set_shareable(self, report_id: int, tenant_id: int, shareable: bool) -> ReportRow:
        with self.session() as s:
            report = s.get(ReportRow, report_id)
            if report is None or report.tenant_id != tenant_id:
                raise NotFound(f"no report with id {report_id}")
            report.shareable = shareable
            return report

    # --- tenants and keys ---------------------------------------------------------------------
    def tenant_id(self, name: str, create: bool = False) -> int:
        """The id of the tenant called ``name``; with ``create``, made when it does not exist yet."""
        with self.session() as s:
            found = s.scalars(select(TenantRow.id).where(TenantRow.name == name)).first()
            if found is not None:
                return found
            if not create:
                raise NotFound(f"no tenant called {name!r}")
        try:
            with self.session() as s:
                tenant = TenantRow(name=name)
                s.add(tenant)
                s.flush()
                return tenant.id
        except IntegrityError:  # made by a concurrent call
            return self.tenant_id(name)

    def add_api_key(self, tenant_id: int, key_hash: str, prefix: str, admin: bool) -> ApiKeyRow:
        with self.session() as s:
            row = ApiKeyRow(tenant_id=tenant_id, key_hash=key_hash, prefix=prefix, admin=admin)
            s.add(row)
            s.flush()
            return row

    def key_owner(self, key_hash: str) -> tuple[ApiKeyRow, TenantRow] | None:
        """The live (not revoked) key with this hash and its tenant."""
        with self.session() as s:
            query = (
                select(ApiKeyRow, TenantRow)
                .join(TenantRow, TenantRow.id == ApiKeyRow.tenant_id)
                .where(ApiKeyRow.key_hash == key_hash, ApiKeyRow.revoked_at.is_(None))
            )
            row = s.execute(query).first()
            return (row[0], row[1]) if row else None

    def add_session(self, key_id: int, token_hash: str, expires_at: datetime) -> None:
        with self.session() as s:
            s.add(SessionRow(key_id=key_id, token_hash=token_hash, expires_at=expires_at))

    def session_owner(self, token_hash: str) -> tuple[ApiKeyRow, TenantRow] | None:
        """The live key and tenant behind an unexpired session; None when it ended or its key was revoked."""
        with self.session() as s:
            query = (
                select(SessionRow, ApiKeyRow, TenantRow)
                .join(ApiKeyRow, ApiKeyRow.id == SessionRow.key_id)
                .join(TenantRow, TenantRow.id == ApiKeyRow.tenant_id)
                .where(SessionRow.token_hash == token_hash, ApiKeyRow.revoked_at.is_(None))
            )
            row = s.execute(query).first()
            if row is None or _aware(row[0].expires_at) < _now():
                return None
            return row[1], row[2]

    def end_session(self, token_hash: str) -> None:
        """Forget a session, and every expired one with it."""
        with self.session() as s:
            s.query(SessionRow).filter(
                or_(SessionRow.token_hash == token_hash, SessionRow.expires_at < _now())
            ).delete()

    def api_keys(self) -> list[tuple[ApiKeyRow, str]]:
        """Every key with its tenant's name (hashes only: the keys themselves are never stored)."""
        with self.session() as s:
            query = (
                select(ApiKeyRow, TenantRow.name)
                .join(TenantRow, TenantRow.id == ApiKeyRow.tenant_id)
                .order_by(ApiKeyRow.id)
            )
            return [(key, name) for key, name in s.execute(query)]

    def revoke_api_key(self, prefix: str) -> int:
        """Revoke the live keys that start with ``prefix``; returns how many."""
        with self.session() as s:
            result = s.execute(
                update(ApiKeyRow)
                .where(ApiKeyRow.prefix == prefix, ApiKeyRow.revoked_at.is_(None))
                .values(revoked_at=_now())
            )
            return int(result.rowcount)  # type: ignore[attr-defined]

    def save_analysis(self, report_id: int, analysis: Analysis, model: str, scope: str = "") -> list[int]:
        """Replace the report's passages and result in one transaction; returns passage row ids.

        ``scope`` is the embedding cache's scope the vectors were stored under (service.embed.ScopedCache).
        """
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
                    embedding_key=embedding_key(model, analysis.encoder_input(n), scope),
                    sdg=_scores_json(sdg),
                    dd=_scores_json(dd),
                )
                for n, (p, sdg, dd) in enumerate(
                    zip(analysis.passages, analysis.sdg, analysis.dd, strict=True)
                )
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

    def last_passage_id(self) -> int:
        """The highest passage row id (0 without passages): whether the index has missed any."""
        with self.session() as s:
            return int(s.scalar(select(func.max(PassageRow.id))) or 0)

    def passages_by_ids(self, ids: Sequence[int]) -> dict[int, PassageRow]:
        with self.session() as s:
            rows = s.scalars(select(PassageRow).where(PassageRow.id.in_(list(ids))))
            return {row.id: row for row in rows}

    def passage_ids(
        self, report_id: int | None = None, sector: str | None = None, tenant_id: int | None = None
    ) -> list[int]:
        """Row ids of passages, optionally of one tenant, one report or one sector's reports."""
        with self.session() as s:
            query = select(PassageRow.id).join(ReportRow, PassageRow.report_id == ReportRow.id)
            if tenant_id is not None:
                query = query.where(ReportRow.tenant_id == tenant_id)
            if report_id is not None:
                query = query.where(PassageRow.report_id == report_id)
            if sector:
                query = query.where(func.lower(ReportRow.sector) == sector.lower())
            return list(s.scalars(query))

    def all_passage_vectors(self, model: str, after: int = 0) -> tuple[list[int], np.ndarray]:
        """Every stored passage id (above ``after``) with its cached vector (for the index)."""
        with self.session() as s:
            query = (
                select(PassageRow.id, EmbeddingRow.vector)
                .join(EmbeddingRow, EmbeddingRow.key == PassageRow.embedding_key)
                .where(EmbeddingRow.model == model, PassageRow.id > after)
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
