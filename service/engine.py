"""GapLensService: the store, the search index and the job queue around the pipeline.

The API and the CLI are thin shells over this one object. Uploads are validated and written to disk
(content-addressed by sha256) before a job is acknowledged; jobs run one at a time in a worker thread
because the encoder already uses both cores.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from service.embed import embed_texts
from service.errors import BadInput, NotFound
from service.evidence import EvidenceItem, Side, label_evidence
from service.frameworks import load_framework
from service.index import PassageIndex
from service.ingest import pdf_page_texts, sha256_of
from service.models import get_encoder
from service.page_images import PageImage, render_page
from service.pipeline import analyze_pdf, classify_texts
from service.records import LabelScores
from service.settings import Settings
from service.store import JobRow, PassageRow, Store
from service.substance import load_substance_rules

log = logging.getLogger("gaplens")


@dataclass(frozen=True)
class ReportMeta:
    """What the uploader may tell us about a report (used for sector benchmarks and filters)."""

    company: str = ""
    sector: str = ""
    year: int | None = None


@dataclass(frozen=True)
class SearchHit:
    """A passage found by semantic search."""

    passage: PassageRow
    score: float


class GapLensService:
    """Everything the API and CLI need, over one store and one index."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.store = Store(settings.resolved_database_url())
        self.uploads = settings.data_dir / "uploads"
        self._index: PassageIndex | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gaplens-job")

    # --- lifecycle -------------------------------------------------------------------------
    def start(self, resume: bool = True) -> None:
        """Create the schema, load models and index, and requeue jobs a previous run left."""
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.uploads.mkdir(parents=True, exist_ok=True)
        self.store.create_schema()
        self.index  # noqa: B018 - loads or rebuilds the index now rather than on the first search
        if resume:
            for job in self.store.unfinished_jobs():
                self._executor.submit(self.run_job, job.id)

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=False)

    @property
    def index(self) -> PassageIndex:
        if self._index is None:
            model = self.settings.embedding_model
            dim = get_encoder(model, self.settings.encoder_runtime).dim
            index = PassageIndex(self.settings.data_dir / "index", model, int(dim or 0))
            ids, vectors = self.store.all_passage_vectors(model)
            if not index.load(expected_count=len(ids)):
                log.info("rebuilding the passage index from the store (%d passages)", len(ids))
                index.rebuild(ids, vectors)
            self._index = index
        return self._index

    # --- uploads and jobs ------------------------------------------------------------------
    def upload_path(self, sha256: str) -> Path:
        """Where an uploaded PDF is kept: content-addressed, so a re-upload finds the same file."""
        return self.uploads / f"{sha256}.pdf"

    def submit_pdf(
        self, data: bytes, filename: str, meta: ReportMeta | None = None
    ) -> tuple[JobRow, Future[None] | None]:
        """Validate, store and queue a PDF. Bad input is recorded as a failed job, then raised."""
        sha = sha256_of(data) if data else ""
        try:
            pdf_page_texts(data, self.settings.max_upload_bytes)
        except BadInput as exc:
            self.store.create_job(filename, sha, status="failed", error=str(exc))
            raise
        path = self.upload_path(sha)
        if not path.exists():
            tmp = path.with_suffix(".tmp")
            tmp.write_bytes(data)
            tmp.replace(path)
        meta = meta or ReportMeta()
        report, _created = self.store.get_or_create_report(
            sha, filename=filename, company=meta.company, sector=meta.sector, year=meta.year
        )
        job = self.store.create_job(filename, sha)
        self.store.update_job(job.id, report_id=report.id)
        if report.status == "done":
            self.store.update_job(job.id, status="done", stage="done", progress=1.0)
            return self.store.get_job(job.id), None
        return self.store.get_job(job.id), self._executor.submit(self.run_job, job.id)

    def run_job(self, job_id: int) -> None:
        """Analyse the job's PDF and store the result; any failure is recorded on the job."""
        job = self.store.get_job(job_id)
        if job.report_id is None:
            self.store.fail_job(job_id, "the job names no report")
            return
        self.store.update_job(job_id, status="running", stage="parsing", progress=0.0)
        self.store.set_report_status(job.report_id, "running")

        def progress(stage: str, fraction: float) -> None:
            self.store.update_job(job_id, stage=stage, progress=round(fraction, 3))

        try:
            data = self.upload_path(job.sha256).read_bytes()
            analysis = analyze_pdf(data, job.filename, self.settings, self.store, progress)
            ids = self.store.save_analysis(job.report_id, analysis, self.settings.embedding_model)
            self.index.add(ids, analysis.vectors)
        except Exception as exc:  # a job must end in a recorded state, whatever went wrong
            log.exception("job %s failed", job_id)
            reason = f"{type(exc).__name__}: {exc}"
            self.store.fail_job(job_id, reason)
            self.store.set_report_status(job.report_id, "failed", reason)
            return
        self.store.update_job(job_id, status="done", stage="done", progress=1.0)

    # --- reading ---------------------------------------------------------------------------
    def analysis(self, report_id: int) -> dict[str, Any]:
        report = self.store.get_report(report_id)
        if report.result is None:
            raise NotFound(f"report {report_id} has no analysis yet (status: {report.status})")
        return report.result

    def evidence(
        self, report_id: int, side: Side, label: str, part: str = "", limit: int = 20
    ) -> list[EvidenceItem]:
        """Every passage of the report that supports one goal or step (or one target of it), best first."""
        report = self.store.get_report(report_id)
        load_framework(side, self.settings.corpora_dir).label(label)
        rows = self.store.passages(report.id, 0, None)
        rules = load_substance_rules(self.settings.corpora_dir)
        return label_evidence(rows, side, label, part, rules, limit)

    def page_image(self, report_id: int, page: int, passage_id: int | None = None) -> PageImage:
        """A page of the report's PDF as PNG, with one of its passages highlighted."""
        report = self.store.get_report(report_id)
        path = self.upload_path(report.sha256)
        if not path.exists():
            raise NotFound(f"report {report_id} has no stored PDF (it was scored from text or in a batch)")
        highlight = ""
        if passage_id is not None:
            row = self.store.passages_by_ids([passage_id]).get(passage_id)
            if row is None or row.report_id != report.id or row.page != page:
                raise NotFound(f"report {report_id} has no passage {passage_id} on page {page}")
            highlight = row.text
        return render_page(path.read_bytes(), page, highlight)

    def search(
        self, query: str, k: int = 10, report_id: int | None = None, sector: str | None = None
    ) -> list[SearchHit]:
        """Passages closest in meaning to ``query``, optionally within a report or a sector."""
        vector = embed_texts([query], self.settings.embedding_model, runtime=self.settings.encoder_runtime)[0]
        allowed = None
        if report_id is not None or sector:
            allowed = self.store.passage_ids(report_id=report_id, sector=sector)
        hits = self.index.search(vector, k, allowed)
        rows = self.store.passages_by_ids([i for i, _ in hits])
        return [SearchHit(rows[i], score) for i, score in hits if i in rows]

    def classify(self, texts: Sequence[str]) -> tuple[list[LabelScores], list[LabelScores]]:
        """SDG and due-diligence scores for free texts (not stored)."""
        return classify_texts(texts, self.settings, self.store)


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
