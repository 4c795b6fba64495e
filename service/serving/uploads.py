"""Uploads and jobs: a PDF is validated, stored durably and queued before it is acknowledged.

Uploads are validated (in a bounded child process) and written to disk, content-addressed by sha256
and fsynced, before a job is acknowledged.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from service.errors import BadInput, TooManyRequests
from service.reading.ingest import pdf_page_texts, safe_filename, sha256_of
from service.reading.sandbox import child_budget
from service.serving.auth import Tenant
from service.serving.base import ServiceBase, write_durably
from service.store import UNFINISHED, JobRow

# What a tenant with a full queue is told to wait before trying again, in seconds.
QUEUE_FULL_RETRY_AFTER = 30


@dataclass(frozen=True)
class ReportMeta:
    """What the uploader may tell us about a report (used for sector benchmarks and filters)."""

    company: str = ""
    sector: str = ""
    year: int | None = None
    shareable: bool = False


class Uploads(ServiceBase):
    """Taking a tenant's PDF: validate it, keep it, queue its job (or answer with the one it has)."""

    def submit_pdf(
        self, data: bytes, filename: str, tenant: Tenant, meta: ReportMeta | None = None
    ) -> JobRow:
        """Validate, store and queue a PDF for ``tenant``; the job is in the database when this returns.

        Bad input is recorded as a failed job, then raised. Uploading bytes the tenant uploaded before
        is idempotent: it answers with that report's job instead of queueing the work again. A full
        queue is refused before the PDF is read, and checked again, under a lock, before the job is
        made: parallel uploads cannot all pass the check at once.
        """
        filename = safe_filename(filename)
        sha = sha256_of(data) if data else ""
        meta = meta or ReportMeta()
        with self._submitting:
            known = self._known_upload(sha, filename, tenant, meta)
            if known is not None:
                return known
            self._check_queue(tenant)
        try:
            with child_budget(str(tenant.id), self.settings.pdf_child_wait_seconds):
                page_texts = pdf_page_texts(data, self.settings.pdf_limits())
        except BadInput as exc:
            self._of(tenant).create_job(filename, sha, status="failed", error=str(exc))
            raise
        with self._submitting:
            # another upload of the same bytes may have been queued (or finished) while this was read
            known = self._known_upload(sha, filename, tenant, meta)
            if known is not None:
                return known
            self._check_queue(tenant)
            job = self._queue(data, sha, filename, tenant, meta, page_texts)
        self._wake.set()
        return job

    def _known_upload(self, sha: str, filename: str, tenant: Tenant, meta: ReportMeta) -> JobRow | None:
        """The job that answers a re-upload of the tenant's own report; None for new bytes."""
        own = self._of(tenant)
        existing = own.report_by_sha(sha) if sha else None
        if existing is None:
            return None
        own.set_report_meta(existing.id, company=meta.company, sector=meta.sector, year=meta.year)
        if meta.shareable:
            own.set_shareable(existing.id, True)
        latest = own.latest_job_for_report(existing.id)
        if latest is not None and (latest.status in UNFINISHED or existing.status in ("done", "rejected")):
            return latest
        if existing.status == "done":
            return own.create_job(filename, sha, "done", "", existing.id)
        return None

    def _check_queue(self, tenant: Tenant) -> None:
        unfinished = len(self._of(tenant).unfinished_jobs())
        if unfinished >= self.settings.max_jobs_per_tenant:
            raise TooManyRequests(
                f"{unfinished} of your reports are queued or being read, the most at a time; "
                f"try again in {QUEUE_FULL_RETRY_AFTER} s",
                QUEUE_FULL_RETRY_AFTER,
            )

    def _queue(
        self, data: bytes, sha: str, filename: str, tenant: Tenant, meta: ReportMeta, page_texts: list[str]
    ) -> JobRow:
        """Store the PDF and its page texts durably, then its report and job.

        A failing store leaves no orphaned file. The page texts are written before the job exists, so a
        job never finds a half-written file (it falls back to parsing when there is none).
        """
        path = self.upload_path(sha)
        created = not path.exists()
        if created:
            write_durably(path, data)
        if not self.page_texts_path(sha).exists():
            write_durably(self.page_texts_path(sha), json.dumps(page_texts, ensure_ascii=False).encode())
        own = self._of(tenant)
        try:
            report, _ = own.get_or_create_report(
                sha,
                filename=filename,
                shareable=meta.shareable,
                company=meta.company,
                sector=meta.sector,
                year=meta.year,
            )
            # insert-or-get: servers on one PostgreSQL may queue the same bytes at the same moment
            return own.queue_job_once(filename, sha, report.id)[0]
        except Exception:
            if created and own.report_by_sha(sha) is None:
                path.unlink(missing_ok=True)
                self.page_texts_path(sha).unlink(missing_ok=True)
            raise
