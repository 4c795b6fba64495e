"""The pipeline: the ordered stages from PDF bytes to GapReport, timed one by one.

The API's background jobs, the CLI and batch runs all call ``analyze_pdf`` / ``analyze_document``;
none of them has its own copy of these steps.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace

import numpy as np

from classifiers import get_classifier
from service.coverage import Substance, framework_coverage
from service.embed import EmbeddingCache, embed_texts
from service.frameworks import load_framework, load_profiles
from service.gap import recommendations, report_profile
from service.ingest import detect_language, document_from_pdf
from service.records import Document, GapReport, LabelScores, Passage
from service.segment import chunks_of_text, passages_from_document
from service.settings import Settings
from service.substance import evidence_type, load_substance_rules, substance_advice

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
    vectors: np.ndarray,
    passage_ids: Sequence[str],
    settings: Settings,
    texts: Sequence[str] | None = None,
    sdg_vectors: np.ndarray | None = None,
    sdg_model: str | None = None,
) -> tuple[list[LabelScores], list[LabelScores]]:
    """SDG and due-diligence scores for embedded passages.

    ``vectors`` come from ``settings.embedding_model``. The SDG classifier may read other vectors
    (``sdg_vectors`` from ``sdg_model``: the multilingual encoder for non-English text).
    """
    corpora = settings.corpora_dir
    sdg_model = sdg_model or settings.embedding_model
    sdg_vectors = vectors if sdg_vectors is None else sdg_vectors
    sdg = get_classifier("sdg", settings.sdg_classifier, corpora, sdg_model)
    dd = get_classifier("oecd_dd", settings.dd_classifier, corpora, settings.embedding_model)
    return sdg.predict(sdg_vectors, passage_ids, texts), dd.predict(vectors, passage_ids, texts)


def embed_for_classification(
    texts: Sequence[str], language: str, settings: Settings, cache: EmbeddingCache | None = None
) -> tuple[np.ndarray, np.ndarray, str]:
    """(main vectors, SDG vectors, SDG encoder name) for texts in one language."""
    batch = settings.embedding_batch_size
    vectors = embed_texts(texts, settings.embedding_model, cache, batch)
    sdg_model = settings.sdg_encoder(language)
    if sdg_model == settings.embedding_model:
        return vectors, vectors, sdg_model
    return vectors, embed_texts(texts, sdg_model, cache, batch), sdg_model


def merge_scores(item_id: str, chunks: Sequence[LabelScores]) -> LabelScores:
    """One reading of a text from the readings of its chunks: best score per label, every label found."""
    if len(chunks) == 1:
        return replace(chunks[0], passage_id=item_id)
    scores = {label: max(c.scores[label] for c in chunks) for label in chunks[0].scores}
    found = {label for c in chunks for label in c.labels}
    labels = tuple(sorted(found, key=lambda label: -scores[label]))
    parts = tuple(dict.fromkeys(p for c in chunks for p in c.parts))
    return LabelScores(item_id, chunks[0].framework, scores, labels, parts)


def classify_texts(
    texts: Sequence[str], settings: Settings, cache: EmbeddingCache | None = None
) -> tuple[list[LabelScores], list[LabelScores]]:
    """SDG and due-diligence readings of free texts, in order; ids are the positions as strings.

    Each text's language picks the SDG encoder; long texts are read chunk by chunk and merged.
    """
    languages = [detect_language(t) for t in texts]
    chunk_rows = [
        (i, chunk)
        for i, (text, language) in enumerate(zip(texts, languages, strict=True))
        for chunk in chunks_of_text(text, language, settings.max_passage_words)
    ]
    sdg_of: dict[int, LabelScores] = {}
    dd_of: dict[int, LabelScores] = {}
    for language in sorted(set(languages)):
        rows = [(k, i, c) for k, (i, c) in enumerate(chunk_rows) if languages[i] == language]
        chunk_texts = [c for _, _, c in rows]
        vectors, sdg_vectors, sdg_model = embed_for_classification(chunk_texts, language, settings, cache)
        ids = [str(k) for k, _, _ in rows]
        sdg, dd = classify_vectors(vectors, ids, settings, chunk_texts, sdg_vectors, sdg_model)
        for (k, _, _), s, d in zip(rows, sdg, dd, strict=True):
            sdg_of[k], dd_of[k] = s, d
    per_text: dict[int, list[int]] = {}
    for k, (i, _) in enumerate(chunk_rows):
        per_text.setdefault(i, []).append(k)
    sdg_out = [merge_scores(str(i), [sdg_of[k] for k in per_text[i]]) for i in range(len(texts))]
    dd_out = [merge_scores(str(i), [dd_of[k] for k in per_text[i]]) for i in range(len(texts))]
    return sdg_out, dd_out


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
    rules = load_substance_rules(settings.corpora_dir)
    substance = Substance({p.id: evidence_type(p.text, rules) for p in passages}, rules.weights)
    sdg = framework_coverage(sdg_fw, passages, sdg_scores, substance, limit)
    dd = framework_coverage(dd_fw, passages, dd_scores, substance, limit)
    profile, sdg_score, dd_score = report_profile(sdg, dd)
    advice = recommendations(profile, dd, dd_fw, load_profiles(settings.corpora_dir))
    sdg_substance = dict(Counter(substance.types[s.passage_id] for s in sdg_scores if s.labels))
    if thin := substance_advice(sdg_substance, rules):
        advice = (*advice, thin)
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
        sdg_substance=sdg_substance,
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
    texts = [p.text for p in passages]
    with _timed(timings, "embedding", progress):
        vectors, sdg_vectors, sdg_model = embed_for_classification(texts, document.language, settings, cache)
    with _timed(timings, "classifying", progress):
        ids = [p.id for p in passages]
        sdg, dd = classify_vectors(vectors, ids, settings, texts, sdg_vectors, sdg_model)
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
