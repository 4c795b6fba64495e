"""The pipeline: the ordered stages from PDF bytes to GapReport, timed one by one.

The API's background jobs, the CLI and batch runs all call ``analyze_pdf`` / ``analyze_document``;
none of them has its own copy of these steps.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace

import numpy as np

from classifiers import get_classifier
from service.coverage import framework_coverage
from service.embed import EmbeddingCache, embed_texts
from service.frameworks import load_framework, load_profiles
from service.gap import recommendations, report_profile
from service.ingest import document_from_pdf
from service.records import Document, GapReport, LabelScores, Passage
from service.segment import passages_from_document
from service.settings import Settings

# Called with (stage name, fraction of the whole job done) as the pipeline advances.
Progress = Callable[[str, float], None]
STAGES = ("parsing", "segmenting", "embedding", "classifying", "scoring")


@dataclass
class Analysis:
    """Everything one run produced; the store keeps passages and scores, the API shows the report."""

    document: Document
    passages: list[Passage]
    vectors: np.ndarray
    sdg: list[LabelScores]
    dd: list[LabelScores]
    report: GapReport
    timings: dict[str, float] = field(default_factory=dict)


@contextmanager
def _timed(timings: dict[str, float], stage: str, progress: Progress | None) -> Iterator[None]:
    if progress:
        progress(stage, STAGES.index(stage) / len(STAGES))
    start = time.perf_counter()
    yield
    timings[stage] = round(time.perf_counter() - start, 3)


def classify_vectors(
    vectors: np.ndarray, passage_ids: Sequence[str], settings: Settings
) -> tuple[list[LabelScores], list[LabelScores]]:
    """SDG and due-diligence scores for embedded passages."""
    corpora, model = settings.corpora_dir, settings.embedding_model
    sdg = get_classifier("sdg", settings.sdg_classifier, corpora, model)
    dd = get_classifier("oecd_dd", settings.dd_classifier, corpora, model)
    return sdg.predict(vectors, passage_ids), dd.predict(vectors, passage_ids)


def gap_report(
    document: Document,
    passages: Sequence[Passage],
    sdg_scores: Sequence[LabelScores],
    dd_scores: Sequence[LabelScores],
    settings: Settings,
) -> GapReport:
    """Coverage on both sides, the profile and the recommendations."""
    sdg_fw = load_framework("sdg", settings.corpora_dir)
    dd_fw = load_framework("oecd_dd", settings.corpora_dir)
    limit = settings.evidence_per_label
    sdg = framework_coverage(sdg_fw, passages, sdg_scores, limit)
    dd = framework_coverage(dd_fw, passages, dd_scores, limit)
    profile, sdg_score, dd_score = report_profile(sdg, dd)
    advice = recommendations(profile, dd, dd_fw, load_profiles(settings.corpora_dir))
    return GapReport(
        document_sha256=document.sha256,
        filename=document.filename,
        language=document.language,
        pages=document.page_count,
        passages=len(passages),
        sdg=sdg,
        due_diligence=dd,
        sdg_score=sdg_score,
        due_diligence_score=dd_score,
        profile=profile,
        missing_sdgs=tuple(c.label for c in sdg if not c.addressed),
        missing_steps=tuple(c.label for c in dd if not c.addressed),
        recommendations=advice,
    )


def analyze_document(
    document: Document,
    settings: Settings,
    cache: EmbeddingCache | None = None,
    progress: Progress | None = None,
    timings: dict[str, float] | None = None,
) -> Analysis:
    """Segment, embed, classify and score an ingested document."""
    timings = {} if timings is None else timings
    with _timed(timings, "segmenting", progress):
        passages = passages_from_document(document, settings.max_passage_words)
    with _timed(timings, "embedding", progress):
        vectors = embed_texts(
            [p.text for p in passages],
            settings.embedding_model,
            cache,
            settings.embedding_batch_size,
        )
    with _timed(timings, "classifying", progress):
        sdg, dd = classify_vectors(vectors, [p.id for p in passages], settings)
    with _timed(timings, "scoring", progress):
        report = gap_report(document, passages, sdg, dd, settings)
    timings["total"] = round(sum(v for k, v in timings.items() if k != "total"), 3)
    report = replace(report, timings=dict(timings))
    if progress:
        progress("done", 1.0)
    return Analysis(document, passages, vectors, sdg, dd, report, timings)


def analyze_pdf(
    data: bytes,
    filename: str,
    settings: Settings,
    cache: EmbeddingCache | None = None,
    progress: Progress | None = None,
) -> Analysis:
    """The whole path for one PDF. Bad input raises a BadInput subclass before any model work."""
    timings: dict[str, float] = {}
    with _timed(timings, "parsing", progress):
        document = document_from_pdf(data, filename, settings.pdf_backend, settings.max_upload_bytes)
    return analyze_document(document, settings, cache, progress, timings)
