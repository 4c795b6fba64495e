"""The worker: threads that claim queued jobs from the database, read the report and store the result.

The job queue is the jobs table: worker threads claim queued jobs from the database, so a restart
after a crash finds every job that was acknowledged and not finished, and runs it again.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time

from service.encoding.embed import ScopedCache
from service.errors import BadInput, JobTimeout
from service.judging.substance import load_substance_rules, passage_types
from service.pipeline import analyze_pdf, load_models
from service.reading.sandbox import CHILDREN, RECORDS, child_budget, end_stray_children
from service.records import Analysis
from service.serving.base import ServiceBase, pid_alive, sweep_temp_files
from service.store import JobRow, Store

log = logging.getLogger("gaplens")
# A job whose worker died this many times (a crash, kill -9) is given up rather than tried forever.
MAX_ATTEMPTS = 3
# A running job's lease: renewed every quarter of it; a process silent for longer loses its jobs.
LEASE_SECONDS = 60.0


def owner_alive(owner: str) -> bool:
    """Whether a lease owner ("host:pid:token") may still be running.

    A process on another host is trusted until its lease runs out; one on this host is checked
    directly, so a kill -9 frees its jobs at the next start rather than a lease later.
    """
    host, _, rest = owner.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return bool(owner)
    return pid_alive(int(pid))


class Worker(ServiceBase):
    """Starting and stopping the service, its heartbeat, and running the jobs."""

    # --- lifecycle -------------------------------------------------------------------------
    def start(self, resume: bool = True) -> None:
        """Create the schema, load the index, requeue what a dead process left, start the workers.

        Jobs are leased: a running job's process renews its lease by heartbeat, and ``resume``
        (here, then every heartbeat) requeues only jobs whose lease ran out or whose process is gone
        (a crash or kill -9), never the jobs of another live server on the same PostgreSQL.
        One serving process per SQLite file (Store.hold_for_serving).
        """
        self.store = Store.open(self.settings, serving=True)
        self.uploads.mkdir(parents=True, exist_ok=True)
        self.pages.mkdir(parents=True, exist_ok=True)
        swept = sweep_temp_files(self.uploads) + sweep_temp_files(self.pages)
        if swept:
            log.info("removed %d temp files that writers which are gone left behind", swept)
        children = self.settings.data_dir / "children"
        RECORDS.keep_in(children)
        end_stray_children(children)
        CHILDREN.resize(self.settings.pdf_children())
        self.index  # noqa: B018 - loads or rebuilds the index now rather than on the first search
        load_models(self.settings)  # and everything else a job reads, rather than in the first job
        self._resume = resume
        self._requeue_abandoned()
        self._heartbeat = threading.Thread(target=self._beat, name="gaplens-heartbeat", daemon=True)
        self._heartbeat.start()
        for number in range(self.settings.job_workers):
            worker = threading.Thread(target=self._work, name=f"gaplens-job-{number}", daemon=True)
            worker.start()
            self._workers.append(worker)

    def close(self) -> None:
        """Stop taking jobs and wait for the running ones to finish."""
        self._stop.set()
        self._wake.set()
        for worker in self._workers:
            worker.join()
        self.store.release_serving()

    def _requeue_abandoned(self) -> None:
        if not self._resume:
            return
        requeued = self._every.requeue_abandoned_jobs(owner_alive)
        if requeued:
            log.info("requeued %d jobs whose process is gone", requeued)

    def _beat(self) -> None:
        """Renew this process's job leases, requeue jobs whose process is gone, forget expired sessions."""
        while not self._stop.wait(LEASE_SECONDS / 4):
            try:
                self._every.renew_leases(self.owner, LEASE_SECONDS)
                self._requeue_abandoned()
                self.store.sweep_sessions()
            except Exception:  # a database hiccup must not stop the heartbeat for good
                log.exception("heartbeat failed; trying again")

    def health_problems(self) -> list[str]:
        """What keeps the service from working: the database not answering, the data folder read-only."""
        problems = []
        try:
            self.store.ping()
        except Exception:  # any fault of the database is a problem to report, not to raise
            log.exception("health: the database does not answer")
            problems.append("the database does not answer")
        probe = self.uploads / f".health-{os.getpid()}-{threading.get_ident()}"
        try:
            probe.write_bytes(b"ok")
            probe.unlink()
        except OSError:
            log.exception("health: the uploads folder cannot be written")
            problems.append("the data folder's uploads cannot be written")
        return problems

    def _work(self) -> None:
        while not self._stop.is_set():
            job = self._every.claim_next_job(self.owner, LEASE_SECONDS, self._per_tenant)
            if job is None:
                self._wake.wait(timeout=1.0)
                self._wake.clear()
                continue
            self.run_job(job)

    def run_job(self, job: JobRow) -> None:
        """Analyse the job's PDF and store the result; any failure is recorded on the job."""
        report_id = job.report_id
        jobs = self.store.for_tenant(job.tenant_id)  # the job's own tenant, for all it reads and writes
        if report_id is None:
            jobs.fail_job(job.id, "the job names no report")
            return
        if job.attempts > MAX_ATTEMPTS:
            reason = f"given up after {MAX_ATTEMPTS} attempts: the worker stopped while reading it each time"
            jobs.fail_job(job.id, reason)
            jobs.set_report_status(report_id, "failed", reason)
            return
        if jobs.get_report(report_id).status == "done":  # a second job for work already done
            jobs.update_job(job.id, status="done", stage="done", progress=1.0)
            return
        jobs.set_report_status(report_id, "running")
        deadline = time.monotonic() + self.settings.max_job_seconds

        def progress(stage: str, fraction: float) -> None:
            if time.monotonic() > deadline:
                raise JobTimeout(
                    f"reading the report took longer than the limit of {self.settings.max_job_seconds:.0f} s"
                )
            jobs.update_job(job.id, stage=stage, progress=round(fraction, 3))

        # Vectors are cached per tenant: a shared cache would tell a tenant, by how fast its report is
        # read, whether another tenant's report holds the same passages.
        scope = f"tenant:{job.tenant_id}"
        try:
            data = self.upload_path(job.sha256).read_bytes()
            with child_budget(str(job.tenant_id), None, deadline):
                progress("parsing", 0.0)
                cache = ScopedCache(self.store, scope)
                page_texts = self.stored_page_texts(job.sha256)
                analysis = analyze_pdf(data, job.filename, self.settings, cache, progress, page_texts)
            model = self.settings.search_encoder(analysis.document.language)
            ids = jobs.save_analysis(report_id, analysis, model, self._evidence_types(analysis), scope)
            read = analysis.embedded()
            if read:  # no passage read, nothing to search
                index = self.index_part_for(model, analysis.vectors.shape[1])
                index.add([ids[k] for k in read], analysis.vectors[read])
        except Exception as exc:  # a job must end in a recorded state, whatever went wrong
            log.exception("job %s failed", job.id)
            reason = job_error(exc, job.id)
            jobs.fail_job(job.id, reason)
            # bad input stays bad: the same bytes would fail the same way
            jobs.set_report_status(report_id, "rejected" if isinstance(exc, BadInput) else "failed", reason)
            return
        jobs.update_job(job.id, status="done", stage="done", progress=1.0)

    def _evidence_types(self, analysis: Analysis) -> list[str]:
        """Each passage's evidence type, decided once here and stored with it."""
        rules = load_substance_rules(self.settings.corpora_dir)
        return passage_types(analysis.passages, analysis.dd, rules)


def job_error(exc: Exception, job_id: int) -> str:
    """What the tenant is told: our own errors say what to do; anything else only that it failed.

    Exception text can hold internal paths and SQL; it goes to the operator's log, not to tenants.
    """
    if isinstance(exc, BadInput | JobTimeout):
        return str(exc)
    return f"an internal error stopped the analysis; the operator's log has the details (job {job_id})"
