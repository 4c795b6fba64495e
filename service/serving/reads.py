"""The read side: a tenant's reports, evidence, page images, search and sector benchmarks.

Every read takes the calling tenant and sees only that tenant's rows.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from service.encoding.embed import embed_query
from service.encoding.index import interleave
from service.errors import NotFound, PdfTooComplex, StorageUnavailable
from service.frameworks import load_framework
from service.judging.evidence import EvidenceItem, Side, label_evidence
from service.judging.negative import load_negative_rules
from service.pipeline import classify_texts
from service.reading.ingest import sha256_of
from service.reading.sandbox import child_budget, render_page_png
from service.records import GapReport, LabelScores
from service.serving import benchmark
from service.serving.auth import Tenant
from service.serving.base import ServiceBase, write_durably
from service.serving.report_table import stored_report
from service.store import JobRow, PassageRow, ReportRow, TenantStore

log = logging.getLogger("gaplens")


@dataclass(frozen=True)
class SearchHit:
    """A passage found by semantic search."""

    passage: PassageRow
    score: float


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


class Reads(ServiceBase):
    """What the shells read back: reports, jobs, passages, evidence, pages, search, benchmarks."""

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
        """The tenant's passages closest in meaning to ``query``, optionally within a report or a sector.

        Each part of the index (one per encoder: English passages by MiniLM, others by e5) is searched
        with the query embedded by its own encoder, and the parts' hits are merged rank by rank.
        """
        self.index  # noqa: B018 - the main part is there from the first search on, as it always was
        self._catch_up_index()
        allowed = self._of(tenant).passage_ids(report_id=report_id, sector=sector)
        parts = []
        for model in self.search_models():
            index = self.index_part(model)
            if index is not None and index.count():
                vector = embed_query(query, model, self.settings.encoder_runtime)
                parts.append(index.search(vector, k, allowed))
        hits = interleave(parts, k)
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

    # --- benchmarks (the peer rule is service.serving.benchmark's) -----------------------------------
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

    def classify(self, texts: Sequence[str]) -> tuple[list[LabelScores], list[LabelScores]]:
        """SDG and due-diligence scores for free texts: not stored, and no cache is consulted.

        A cache shared with reports would answer faster for a text that stands in another tenant's
        report (a membership oracle), and writing the vectors would store the client's text.
        """
        return classify_texts(texts, self.settings, None)
