"""GapLensService: the store, the search index and the job queue around the pipeline.

The API and the CLI are thin shells over this one object. Every read takes the calling tenant and
sees only that tenant's rows. Uploads are validated (in a bounded child process) and written to disk,
content-addressed by sha256 and fsynced, before a job is acknowledged. The job queue is the jobs table:
worker threads claim queued jobs from the database, so a restart after a crash finds every job that
was acknowledged and not finished, and runs it again.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from service import auth, benchmark
from service.auth import Tenant
from service.embed import ScopedCache, embed_texts
from service.errors import BadInput, JobTimeout, NotFound, PdfTooComplex, StorageUnavailable, TooManyRequests
from service.evidence import EvidenceItem, Side, label_evidence
from service.frameworks import load_framework
from service.index import PassageIndex
from service.ingest import pdf_page_texts, safe_filename, sha256_of
from service.models import get_encoder
from service.negative import load_negative_rules
from service.pipeline import analyze_pdf, classify_texts, load_models
from service.records import Analysis, GapReport, LabelScores
from service.report_table import stored_report
from service.sandbox import CHILDREN, RECORDS, child_budget, end_stray_children, render_page_png
from service.settings import Settings
from service.store import ALL_TENANTS, UNFINISHED, JobRow, PassageRow, ReportRow, Store, TenantStore
from service.substance import evidence_type, load_substance_rules

log = logging.getLogger("gaplens")
# A job whose worker died this many times (a crash, kill -9) is given up rather than tried forever.
MAX_ATTEMPTS = 3
# A running job's lease: renewed every quarter of it; a process silent for longer loses its jobs.
LEASE_SECONDS = 60.0
# A temp file this old is a leftover whoever wrote it: no single write takes an hour.
STALE_TEMP_SECONDS = 3600.0
# What a tenant with a full queue is told to wait before trying again, in seconds.
QUEUE_FULL_RETRY_AFTER = 30


@dataclass(frozen=True)
class ReportMeta:
    """What the uploader may tell us about a report (used for sector benchmarks and filters)."""

    company: str = ""
    sector: str = ""
    year: int | None = None
    shareable: bool = False


@dataclass(frozen=True)
class SearchHit:
    """A passage found by semantic search."""

    passage: PassageRow
    score: float


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


def cached_render(stem: Path, refused: Path, render: Callable[[], bytes]) -> bytes:
    """``stem``.png if it was drawn before; else draw it and keep it.

    A page that could not be drawn is remembered at ``refused``, one file per page whatever passage
    was asked for: a render bomb costs one child's time limit, not one per passage on its page.
    """
    png = stem.with_suffix(".png")
    if refused.exists():
        raise PdfTooComplex(refused.read_text())
    try:
        image = png.read_bytes()
        os.utime(png)  # the file's time is its last use: the cache evicts the least recently used
        return image
    except FileNotFoundError:
        pass
    try:
        image = render()
    except PdfTooComplex as exc:
        write_durably(refused, str(exc).encode())
        raise
    write_durably(png, image)
    return image


def evict_least_recently_used(files: list[Path], limit_bytes: int) -> None:
    """Delete the least recently used of ``files`` (oldest modification first) until they fit in the limit."""
    sized = []
    for path in files:
        try:
            stat = path.stat()
        except FileNotFoundError:  # evicted by a parallel request
            continue
        sized.append((stat.st_mtime, stat.st_size, path))
    total = sum(size for _, size, _ in sized)
    for _, size, path in sorted(sized, key=lambda item: item[0]):
        if total <= limit_bytes:
            return
        path.unlink(missing_ok=True)
        total -= size


def write_durably(path: Path, data: bytes) -> None:
    """Write ``path`` so that it survives a crash once this returns: temp file, fsync, rename, fsync dir."""
    tmp = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        with tmp.open("wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        tmp.replace(path)
    except BaseException:  # a full disk, an I/O error: no partial file stays behind
        tmp.unlink(missing_ok=True)
        raise
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def sweep_temp_files(folder: Path) -> int:
    """Remove temp files (``*.<pid>.<thread>.tmp``) that no live writer will finish; how many.

    A writer that died mid-write (a crash, kill -9, a full disk before this was cleaned up) leaves its
    temp file. Another live process's temp file (servers sharing a data folder) is left alone unless it
    is older than STALE_TEMP_SECONDS, which no single write takes.
    """
    removed = 0
    for path in folder.glob("*.tmp"):
        pid = path.name.split(".")[-3] if path.name.count(".") >= 3 else ""
        try:
            stale = time.time() - path.stat().st_mtime > STALE_TEMP_SECONDS
        except FileNotFoundError:
            continue
        if stale or not pid.isdigit() or not pid_alive(int(pid)):
            path.unlink(missing_ok=True)
            removed += 1
    return removed


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid runs on this machine (of any user)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class GapLensService:
    """Everything the API and CLI need, over one store and one index."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.store: Store  # opened by start()
        self.uploads = settings.data_dir / "uploads"
        self.pages = settings.data_dir / "pages"
        self._index: PassageIndex | None = None
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._workers: list[threading.Thread] = []
        self._submitting = threading.Lock()
        self._resume = True
        self._heartbeat: threading.Thread | None = None
        # which process (and which start of it) holds a job's lease: "host:pid:token"
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        # With several workers one tenant may hold all but one, so others always have a turn.
        workers = settings.job_workers
        self._per_tenant = workers - 1 if workers > 1 else None
        self._index_upto = 0
        self._index_sync = threading.Lock()

    @property
    def _every(self) -> TenantStore:
        """The workers' and the index's view: every tenant's jobs and passages (each job names its tenant)."""
        return self.store.for_tenant(ALL_TENANTS)

    def _of(self, tenant: Tenant) -> TenantStore:
        return self.store.for_tenant(tenant.id)

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
        """Renew the leases of this process's running jobs; requeue jobs whose process is gone."""
        while not self._stop.wait(LEASE_SECONDS / 4):
            try:
                self._every.renew_leases(self.owner, LEASE_SECONDS)
                self._requeue_abandoned()
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

    @property
    def index(self) -> PassageIndex:
        if self._index is None:
            model = self.settings.embedding_model
            dim = get_encoder(model, self.settings.encoder_runtime).dim
            index = PassageIndex(self.settings.data_dir / "index", model, int(dim or 0))
            ids, vectors = self._every.all_passage_vectors(model)
            if not index.load(expected_count=len(ids)):
                log.info("rebuilding the passage index from the store (%d passages)", len(ids))
                index.rebuild(ids, vectors)
            self._index_upto = max(ids, default=0)
            self._index = index
        return self._index

    def _catch_up_index(self) -> None:
        """Add passages another process stored (a second server on the same PostgreSQL) to our index.

        One cheap query per search when nothing is new; the store is the truth, the index a copy.
        """
        if self._every.last_passage_id() <= self._index_upto:
            return
        with self._index_sync:
            ids, vectors = self._every.all_passage_vectors(self.settings.embedding_model, self._index_upto)
            if ids:
                self.index.add(ids, vectors)
                self._index_upto = max(self._index_upto, max(ids))

    # --- uploads and jobs ------------------------------------------------------------------
    def upload_path(self, sha256: str) -> Path:
        """Where an uploaded PDF is kept: content-addressed, so a re-upload finds the same file."""
        return self.uploads / f"{sha256}.pdf"

    def page_texts_path(self, sha256: str) -> Path:
        """Where the raw page texts read while validating an upload are kept, beside the PDF."""
        return self.uploads / f"{sha256}.pages.json"

    def stored_page_texts(self, sha256: str) -> list[str] | None:
        """The page texts kept at upload; None for an upload from before they were kept, or a bad file."""
        try:
            texts = json.loads(self.page_texts_path(sha256).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        valid = isinstance(texts, list) and all(isinstance(t, str) for t in texts)
        return texts if valid else None

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
            ids = jobs.save_analysis(
                report_id, analysis, self.settings.embedding_model, self._evidence_types(analysis), scope
            )
            read = analysis.embedded()
            self.index.add([ids[k] for k in read], analysis.vectors[read])
        except Exception as exc:  # a job must end in a recorded state, whatever went wrong
            log.exception("job %s failed", job.id)
            reason = job_error(exc, job.id)
            jobs.fail_job(job.id, reason)
            # bad input stays bad: the same bytes would fail the same way
            jobs.set_report_status(report_id, "rejected" if isinstance(exc, BadInput) else "failed", reason)
            return
        jobs.update_job(job.id, status="done", stage="done", progress=1.0)

    # --- reading ---------------------------------------------------------------------------
    def analysis(self, report_id: int, tenant: Tenant) -> GapReport:
        """The tenant's report's gap analysis, read back as the pipeline made it."""
        return stored_report(self._of(tenant).get_report(report_id))

    def evidence(
        self, report_id: int, tenant: Tenant, side: Side, label: str, part: str = "", limit: int = 20
    ) -> list[EvidenceItem]:
        """Every passage of the report that supports one goal or step (or one target of it), best first."""
        report = self._of(tenant).get_report(report_id)
        load_framework(side, self.settings.corpora_dir).label(label)
        rows = self._of(tenant).passages(report.id, 0, None)
        negative = load_negative_rules(self.settings.corpora_dir)
        return label_evidence(rows, side, label, part, limit, negative)

    def page_image(self, report_id: int, tenant: Tenant, page: int, passage_id: int | None = None) -> bytes:
        """A page of the report's PDF as PNG, with one of its passages highlighted.

        Rendered once in a bounded child (a page of a million shapes costs minutes and gigabytes in
        PDFium), then served from data_dir/pages; a page that failed to render fails fast next time.
        """
        own = self._of(tenant)
        report = own.get_report(report_id)
        path = self._stored_pdf(own, report)
        highlight = ""
        if passage_id is not None:
            row = own.passages_by_ids([passage_id]).get(passage_id)
            if row is None or row.report_id != report.id or row.page != page:
                raise NotFound(f"report {report_id} has no passage {passage_id} on page {page}")
            highlight = row.text
        # per tenant: a fast answer must not tell one tenant that another rendered the same PDF
        prefix = self.pages / f"{tenant.id}-{report.sha256}-{page}"
        cached = prefix.with_name(f"{prefix.name}-{sha256_of(highlight.encode())[:16]}")
        refused = prefix.with_name(f"{prefix.name}.refused")
        image = cached_render(cached, refused, lambda: self._render(path, page, highlight, tenant))
        limit = int(self.settings.page_cache_mb * 2**20)
        evict_least_recently_used(list(self.pages.glob(f"{tenant.id}-*")), limit)
        return image

    def _stored_pdf(self, own: TenantStore, report: ReportRow) -> Path:
        """Where the report's uploaded PDF is; NotFound for a report scored without one.

        A report that came in as an upload (it has a job) but whose file is gone lost its data folder:
        that is a storage fault (503), not a report without a PDF.
        """
        path = self.upload_path(report.sha256)
        if path.exists():
            return path
        if own.latest_job_for_report(report.id) is not None:
            log.error("report %s: its uploaded PDF is missing from %s", report.id, self.uploads)
            raise StorageUnavailable("the report's stored PDF cannot be read; try again later")
        raise NotFound(f"report {report.id} has no stored PDF (it was scored from text or in a batch)")

    def _render(self, path: Path, page: int, highlight: str, tenant: Tenant) -> bytes:
        with child_budget(str(tenant.id), self.settings.pdf_child_wait_seconds):
            return render_page_png(path.read_bytes(), page, highlight, self.settings.pdf_limits())

    def search(
        self, query: str, tenant: Tenant, k: int = 10, report_id: int | None = None, sector: str | None = None
    ) -> list[SearchHit]:
        """The tenant's passages closest in meaning to ``query``, optionally within a report or a sector."""
        vector = embed_texts([query], self.settings.embedding_model, runtime=self.settings.encoder_runtime)[0]
        self._catch_up_index()
        allowed = self._of(tenant).passage_ids(report_id=report_id, sector=sector)
        hits = self.index.search(vector, k, allowed)
        rows = self._of(tenant).passages_by_ids([i for i, _ in hits])
        return [SearchHit(rows[i], score) for i, score in hits if i in rows]

    def job(self, job_id: int, tenant: Tenant) -> JobRow:
        return self._of(tenant).get_job(job_id)

    def reports(self, tenant: Tenant) -> list[ReportRow]:
        """The tenant's reports, newest first."""
        return self._of(tenant).list_reports()

    def report(self, report_id: int, tenant: Tenant) -> ReportRow:
        return self._of(tenant).get_report(report_id)

    def done_reports(self, tenant: Tenant, sector: str | None = None) -> list[ReportRow]:
        """The tenant's analysed reports (of one sector), oldest first."""
        return self._of(tenant).done_reports(sector=sector)

    def set_shareable(self, report_id: int, tenant: Tenant, shareable: bool) -> ReportRow:
        return self._of(tenant).set_shareable(report_id, shareable)

    def passages(self, report_id: int, tenant: Tenant, offset: int = 0, limit: int = 100) -> list[PassageRow]:
        """One of the tenant's reports' passages in reading order (NotFound for another's report)."""
        own = self._of(tenant)
        own.get_report(report_id)
        return own.passages(report_id, offset, limit)

    def unfinished_jobs(self) -> list[JobRow]:
        """Every tenant's queued and running jobs: the admin's view of the queue."""
        return self._every.unfinished_jobs()

    # --- benchmarks (the peer rule is service.benchmark's) -----------------------------------
    def sectors(self, tenant: Tenant) -> dict[str, int]:
        return benchmark.benchmark_sectors(self.store, tenant.id)

    def sector_reports(self, sector: str, tenant: Tenant) -> list[ReportRow]:
        """The reports the tenant's benchmark of ``sector`` counts (only ever shown in aggregates)."""
        return benchmark.benchmark_reports(self.store, sector, tenant.id)

    def sector_benchmark(self, sector: str, tenant: Tenant) -> benchmark.SectorBenchmark:
        return benchmark.sector_benchmark(self.store, sector, tenant.id)

    def report_percentiles(self, report_id: int, tenant: Tenant) -> dict[str, Any]:
        return benchmark.report_percentiles(self.store, report_id, tenant.id)

    def company_history(self, company: str, tenant: Tenant) -> dict[str, Any]:
        return benchmark.company_history(self.store, company, tenant.id)

    # --- keys and sign-in (service.auth over the store's keys) -------------------------------
    def tenant_for_key(self, key: str) -> Tenant:
        return auth.tenant_for_key(self.store, key)

    def tenant_for_session(self, token: str) -> Tenant:
        return auth.tenant_for_session(self.store, token)

    def start_session(self, tenant: Tenant) -> str:
        return auth.start_session(self.store, tenant)

    def end_session(self, token: str) -> None:
        auth.end_session(self.store, token)

    def create_api_key(self, tenant_name: str, admin: bool = False) -> str:
        return auth.create_api_key(self.store, tenant_name, admin)

    def _evidence_types(self, analysis: Analysis) -> list[str]:
        """Each passage's evidence type, decided once here and stored with it."""
        rules = load_substance_rules(self.settings.corpora_dir)
        return [evidence_type(p.text, rules) for p in analysis.passages]

    def classify(self, texts: Sequence[str]) -> tuple[list[LabelScores], list[LabelScores]]:
        """SDG and due-diligence scores for free texts: not stored, and no cache is consulted.

        A cache shared with reports would answer faster for a text that stands in another tenant's
        report (a membership oracle), and writing the vectors would store the client's text.
        """
        return classify_texts(texts, self.settings, None)


def job_error(exc: Exception, job_id: int) -> str:
    """What the tenant is told: our own errors say what to do; anything else only that it failed.

    Exception text can hold internal paths and SQL; it goes to the operator's log, not to tenants.
    """
    if isinstance(exc, BadInput | JobTimeout):
        return str(exc)
    return f"an internal error stopped the analysis; the operator's log has the details (job {job_id})"


def classification_rows(
    ids: Sequence[str], sdg: Sequence[LabelScores], dd: Sequence[LabelScores]
) -> list[dict[str, Any]]:
    """The stable classify contract used by the CLI, the API and external evaluation."""
    return [
        {
            "id": item_id,
            "sdgs": [int(label) for label in s.labels],
            "sdg_scores": s.scores,
            "targets": list(s.parts),
            "dd_steps": [int(label) for label in d.labels],
            "dd_scores": d.scores,
        }
        for item_id, s, d in zip(ids, sdg, dd, strict=True)
    ]
