"""Batch scoring: many reports through the same pipeline, in local worker processes or on Ray.

Each report is identified by the sha256 of its bytes, so a re-run skips what is done and a file
listed twice is scored once. Workers only compute: they read a few reports, run
``analyze_documents`` on them together (one encoder pass across reports) and send the analyses
back. Only this process writes to the store, one transaction per report, so a kill at any moment
loses at most the reports in flight; the result files are written from the store at the end.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from service.encoding.embed import EmbeddingCache, MemoryCache, embedding_key
from service.errors import BadInput
from service.judging.substance import load_substance_rules, passage_types
from service.pipeline import analyze_documents, with_timings
from service.reading.ingest import document_from_file
from service.records import Analysis
from service.serving.export import write_results
from service.serving.manifest import BatchItem, file_sha256
from service.settings import Settings
from service.store import LOCAL_TENANT, Store, TenantStore


@dataclass(frozen=True)
class Task:
    """What a worker gets: a few reports, by path, or with their bytes when the worker is remote."""

    items: tuple[tuple[str, BatchItem], ...]  # (sha256, item)
    data: tuple[bytes, ...] = ()


@dataclass(frozen=True)
class Outcome:
    """A worker's answer for one report: its analysis, or why there is none."""

    sha256: str
    analysis: Analysis | None
    error: str = ""
    # bad input: the same bytes fail the same way, so it is not retried
    final: bool = False


@dataclass
class BatchSummary:
    """What a run did; the CLI prints it and the benchmark reads it."""

    total: int = 0
    scored: int = 0
    skipped: int = 0
    failed: int = 0
    pages: int = 0
    passages: int = 0
    seconds: float = 0.0
    outputs: dict[str, Path] = field(default_factory=dict)


def score_task(task: Task, settings: Settings, cache: EmbeddingCache | None = None) -> list[Outcome]:
    """Read the task's reports and analyse the readable ones together; bad input is an outcome."""
    outcomes: dict[str, Outcome] = {}
    documents, parse_seconds = [], {}
    for k, (sha, item) in enumerate(task.items):
        start = time.perf_counter()
        data = task.data[k] if task.data else item.path.read_bytes()
        try:
            document = document_from_file(data, item.path.name, settings.pdf_backend, settings.pdf_limits())
        except BadInput as exc:
            outcomes[sha] = Outcome(sha, None, f"{type(exc).__name__}: {exc}", final=True)
            continue
        if item.language:
            document = replace(document, language=item.language)
        documents.append(replace(document, sha256=sha))
        parse_seconds[sha] = round(time.perf_counter() - start, 3)
    for analysis in analyze_documents(documents, settings, cache):
        sha = analysis.document.sha256
        timed = with_timings(analysis, {"parsing": parse_seconds[sha], **analysis.timings})
        outcomes[sha] = Outcome(sha, timed)
    return [outcomes[sha] for sha, _ in task.items]


# Per worker process: the settings and the vectors it has seen (set by the pool's initializer).
_worker: dict[str, Any] = {}


def _start_worker(settings: Settings, threads: int) -> None:
    from service.encoding.models import use_encoder_threads

    use_encoder_threads(threads)
    _worker.update(settings=settings, cache=MemoryCache())


def _score_in_worker(task: Task) -> list[Outcome]:
    return score_task(task, _worker["settings"], _worker["cache"])


Results = Iterator[tuple[Task, list[Outcome] | BaseException]]


def _inline_results(tasks: Iterable[Task], settings: Settings) -> Results:
    """One worker: this process, with every core for the encoder."""
    cache = MemoryCache()
    for task in tasks:
        try:
            yield task, score_task(task, settings, cache)
        except Exception as exc:  # the batch boundary: the report fails, the batch goes on
            yield task, exc


def _local_results(tasks: Iterable[Task], settings: Settings, workers: int) -> Results:
    """Worker processes that each load the models once and share the cores between them."""
    threads = max(1, (os.cpu_count() or 1) // workers)
    context = multiprocessing.get_context("spawn")  # torch and fork do not mix
    with ProcessPoolExecutor(workers, context, _start_worker, (settings, threads)) as pool:
        futures = {pool.submit(_score_in_worker, task): task for task in tasks}
        for future in as_completed(futures):
            try:
                yield futures[future], future.result()
            except Exception as exc:  # includes a worker killed by the OS (BrokenProcessPool)
                yield futures[future], exc


class RayScorer:
    """A Ray actor that holds the models, as a local worker process does."""

    def __init__(self, settings: Settings, threads: int) -> None:
        _start_worker(settings, threads)

    def score(self, task: Task) -> list[Outcome]:
        return _score_in_worker(task)


def _ray_results(tasks: Iterable[Task], settings: Settings, workers: int, address: str) -> Results:
    """The same tasks on a Ray cluster; the bytes travel with each task (nodes share no disk)."""
    import ray

    ray.init(address=address, logging_level=logging.WARNING, log_to_driver=False)
    try:
        cpus = int(ray.cluster_resources().get("CPU", 1))
        threads = max(1, cpus // workers)
        actor = ray.remote(num_cpus=min(threads, cpus))(RayScorer)
        idle = [actor.remote(settings, threads) for _ in range(workers)]  # type: ignore[attr-defined]
        running: dict[Any, tuple[Task, Any]] = {}
        queue = iter(tasks)
        while True:
            for task in queue:
                shipped = replace(task, data=tuple(item.path.read_bytes() for _, item in task.items))
                handle = idle.pop()
                running[handle.score.remote(shipped)] = (task, handle)  # type: ignore[attr-defined]
                if not idle:
                    break
            if not running:
                return
            [ref], _ = ray.wait(list(running), num_returns=1)
            task, handle = running.pop(ref)
            idle.append(handle)
            try:
                yield task, ray.get(ref)
            except Exception as exc:  # a failed actor call fails its reports, not the batch
                yield task, exc
    finally:
        ray.shutdown()


# --- the run -----------------------------------------------------------------------------------
Progress = Callable[[BatchSummary, str], None]


def _tasks(todo: Sequence[tuple[str, BatchItem]], per_task: int) -> list[Task]:
    # Reports of one language share a task, so their passages share the encoder's batches.
    # Largest files first, so the last task to finish is a small one and no worker idles long.
    ordered = sorted(todo, key=lambda pair: (pair[1].language, -pair[1].path.stat().st_size))
    return [Task(tuple(ordered[i : i + per_task])) for i in range(0, len(ordered), per_task)]


def _save(store: Store, reports: TenantStore, report_id: int, analysis: Analysis, settings: Settings) -> None:
    # The vectors first: the search index is rebuilt from them, and a kill between the two writes
    # leaves only a harmless cache entry.
    model = settings.search_encoder(analysis.document.language)
    read = analysis.embedded()  # passages the relevance gate skipped have no vector to keep
    store.put_vectors(
        model, {embedding_key(model, analysis.encoder_input(n)): analysis.vectors[n] for n in read}
    )
    rules = load_substance_rules(settings.corpora_dir)
    types = passage_types(analysis.passages, analysis.dd, rules)
    reports.save_analysis(report_id, analysis, model, types)


def run_batch(
    items: Sequence[BatchItem],
    out_dir: Path,
    settings: Settings,
    workers: int = 2,
    ray_address: str | None = None,
    reports_per_task: int = 2,
    progress: Progress | None = None,
    tenant: str = LOCAL_TENANT,
    shareable: bool = False,
) -> BatchSummary:
    """Score every report not done yet, retry unexpected failures once, then write the result files.

    The reports belong to ``tenant``; ``shareable`` lets other tenants' sector benchmarks count them.
    """
    started = time.perf_counter()
    store = Store.open(settings)
    reports = store.for_tenant(store.tenant_id(tenant, create=True))
    summary = BatchSummary(total=len(items))
    report_ids: dict[str, int] = {}
    listed: list[tuple[str, BatchItem]] = []
    missing: list[BatchItem] = []
    for item in items:
        if not item.path.is_file():
            missing.append(item)
            continue
        sha = file_sha256(item.path)
        report, _ = reports.get_or_create_report(sha, filename=item.path.name, shareable=shareable)
        reports.set_report_meta(
            report.id, company=item.company, sector=item.sector, year=item.year, country=item.country
        )
        report_ids[sha] = report.id
        listed.append((sha, item))
    status = {sha: row.status for sha, row in reports.reports_by_sha(list(report_ids)).items()}
    todo = list({sha: item for sha, item in listed if status[sha] not in ("done", "rejected")}.items())
    summary.skipped = sum(status[sha] == "done" for sha in dict(listed))
    # Rejected before (bad bytes) and missing files stay failures; they are reported, not retried.
    summary.failed = len(missing) + sum(status[sha] == "rejected" for sha in dict(listed))

    def tally(outcome: Outcome, last_try: bool) -> bool:
        """Store one outcome; True when it should be tried again."""
        report_id = report_ids[outcome.sha256]
        if outcome.analysis is not None:
            _save(store, reports, report_id, outcome.analysis, settings)
            summary.scored += 1
            summary.pages += outcome.analysis.document.page_count
            summary.passages += len(outcome.analysis.passages)
        elif outcome.final or last_try:
            reports.set_report_status(report_id, "rejected" if outcome.final else "failed", outcome.error)
            summary.failed += 1
        else:
            return True
        if progress:
            progress(summary, outcome.sha256)
        return False

    pending = _tasks(todo, reports_per_task)
    for last_try in (False, True):
        retry: list[Task] = []
        if ray_address:
            results = _ray_results(pending, settings, workers, ray_address)
        elif workers > 1 and len(pending) > 1:
            results = _local_results(pending, settings, workers)
        else:
            results = _inline_results(pending, settings)
        for task, answer in results:
            if isinstance(answer, BaseException):
                reason = f"{type(answer).__name__}: {answer}"
                answer = [Outcome(sha, None, reason) for sha, _ in task.items]
            retry += [Task(((o.sha256, dict(task.items)[o.sha256]),)) for o in answer if tally(o, last_try)]
        pending = retry  # a failure is tried once more, alone, so a bad report cannot sink its task
        if not pending:
            break
    summary.seconds = round(time.perf_counter() - started, 3)
    summary.outputs = write_results(reports, listed, missing, out_dir)
    return summary
