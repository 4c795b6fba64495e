"""Jobs: the queue of uploads and analyses, claimed by workers under leases, fairly across tenants."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from service.errors import NotFound
from service.store.db import ScopedQueries
from service.store.schema import UNFINISHED, JobRow, utc_now


class JobQueries(ScopedQueries):
    """The jobs of one scope (a tenant's, or ALL_TENANTS' for the workers and the admin)."""

    def create_job(
        self,
        filename: str,
        sha256: str = "",
        status: str = "queued",
        error: str = "",
        report_id: int | None = None,
    ) -> JobRow:
        """A new job of the scope's tenant."""
        with self._db.session() as s:
            job = JobRow(
                filename=filename,
                sha256=sha256,
                status=status,
                stage=status,
                error=error,
                tenant_id=self._owner(),
                report_id=report_id,
            )
            s.add(job)
            s.flush()
            return job

    def queue_job_once(self, filename: str, sha256: str, report_id: int) -> tuple[JobRow, bool]:
        """The report's unfinished job, or a new queued one; the flag says whether it was created.

        Insert-or-get on the partial unique index (one unfinished job per report): of parallel uploads
        of the same bytes, in threads or in servers on one PostgreSQL, one makes the job and the others
        answer with it.
        """
        existing = self._unfinished_job_of(report_id)
        if existing is not None:
            return existing, False
        try:
            return self.create_job(filename, sha256, report_id=report_id), True
        except IntegrityError:
            winner = self._unfinished_job_of(report_id)
            if winner is None:  # it finished in between: a clash we cannot explain, so say so
                raise
            return winner, False

    def _unfinished_job_of(self, report_id: int) -> JobRow | None:
        with self._db.session() as s:
            query = select(JobRow).where(JobRow.report_id == report_id, JobRow.status.in_(UNFINISHED))
            return s.scalars(self._own(query, JobRow.tenant_id)).first()

    def _job(self, s: Session, job_id: int) -> JobRow:
        job = s.get(JobRow, job_id)
        if job is None or not self._sees(job.tenant_id):
            raise NotFound(f"no job with id {job_id}")
        return job

    def update_job(self, job_id: int, **fields: Any) -> None:
        with self._db.session() as s:
            job = self._job(s, job_id)
            for name, value in fields.items():
                setattr(job, name, value)
            job.updated_at = utc_now()

    def fail_job(self, job_id: int, reason: str) -> None:
        self.update_job(job_id, status="failed", stage="failed", error=reason)

    def get_job(self, job_id: int) -> JobRow:
        """A job of the scope (another tenant's job is simply not found)."""
        with self._db.session() as s:
            return self._job(s, job_id)

    def unfinished_jobs(self) -> list[JobRow]:
        with self._db.session() as s:
            query = select(JobRow).where(JobRow.status.in_(UNFINISHED)).order_by(JobRow.id)
            return list(s.scalars(self._own(query, JobRow.tenant_id)))

    def latest_job_for_report(self, report_id: int) -> JobRow | None:
        with self._db.session() as s:
            query = select(JobRow).where(JobRow.report_id == report_id).order_by(JobRow.id.desc()).limit(1)
            return s.scalars(self._own(query, JobRow.tenant_id)).first()

    def requeue_abandoned_jobs(self, owner_alive: Callable[[str], bool]) -> int:
        """Put running jobs whose lease ran out, or whose owner is gone, back in the queue; how many.

        A job another live process is running keeps its lease by heartbeats and is left alone.
        """
        now = time.time()
        with self._db.session() as s:
            query = select(JobRow.id, JobRow.lease_owner, JobRow.lease_expires).where(
                JobRow.status == "running"
            )
            running = s.execute(self._own(query, JobRow.tenant_id)).all()
            abandoned = [(i, o) for i, o, until in running if until < now or not owner_alive(o)]
            for job_id, owner in abandoned:
                s.execute(
                    update(JobRow)
                    .where(JobRow.id == job_id, JobRow.status == "running", JobRow.lease_owner == owner)
                    .values(
                        status="queued", stage="queued", progress=0.0, lease_owner="", updated_at=utc_now()
                    )
                )
            return len(abandoned)

    def renew_leases(self, owner: str, seconds: float) -> None:
        """The heartbeat: ``owner``'s running jobs are still being worked on for ``seconds`` more."""
        with self._db.session() as s:
            query = update(JobRow).where(JobRow.status == "running", JobRow.lease_owner == owner)
            s.execute(self._own(query, JobRow.tenant_id).values(lease_expires=time.time() + seconds))

    def _next_queued(self, s: Session, max_running_per_tenant: int | None) -> int | None:
        """The queued job to run next, fairly across tenants.

        The tenant with the fewest jobs running goes first, then the one served longest ago, and its
        oldest job; a tenant already running ``max_running_per_tenant`` jobs waits. So a tenant with a
        long queue (or a long scan) takes turns with the others instead of holding them up.
        """
        tenant = JobRow.tenant_id
        running = Counter(s.scalars(self._own(select(tenant).where(JobRow.status == "running"), tenant)))
        queued = s.execute(
            self._own(select(tenant, func.min(JobRow.id)).where(JobRow.status == "queued"), tenant).group_by(
                tenant
            )
        ).all()
        served = dict(
            s.execute(self._own(select(tenant, func.max(JobRow.claimed_at)), tenant).group_by(tenant)).all()
        )
        ready = [
            (running[owner], served.get(owner) or 0.0, first)
            for owner, first in queued
            if max_running_per_tenant is None or running[owner] < max_running_per_tenant
        ]
        return min(ready)[2] if ready else None

    def claim_next_job(
        self, owner: str = "", lease_seconds: float = 60.0, max_running_per_tenant: int | None = None
    ) -> JobRow | None:
        """Take the next queued job (``_next_queued``) for ``owner``, with a lease of ``lease_seconds``.

        The claim is one conditional UPDATE, so two workers (threads or processes) never take the same job.
        """
        while True:
            with self._db.session() as s:
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
                        updated_at=utc_now(),
                    )
                )
                if claimed.rowcount == 1:  # type: ignore[attr-defined]
                    return s.get(JobRow, job_id)
