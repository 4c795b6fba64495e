"""The pipeline: the ordered stages from PDF bytes to GapReport, timed one by one.

The API's background jobs, the CLI and batch runs all call ``analyze_pdf`` / ``analyze_document``;
none of them has its own copy of these steps.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import replace

import numpy as np

from classifiers import get_classifier
from classifiers.linear import named_labels
from classifiers.relevance import load_gate
from service.encoding.embed import EmbeddingCache, embed_texts
from service.encoding.inputs import model_input
from service.frameworks import Framework, load_framework
from service.judging.scoring import TextReadings, gap_report, text_readings
from service.reading.ingest import detect_language, document_from_page_texts, document_from_pdf
from service.reading.segment import chunks_of_text, passages_from_document
from service.records import EVIDENCE_TYPES, Analysis, Document, LabelScores, Page, Passage
from service.settings import Settings

# Called with (stage name, fraction of the whole job done) as the pipeline advances.
Progress = Callable[[str, float], None]
STAGES = ("parsing", "segmenting", "embedding", "classifying", "scoring")


@contextmanager
def _timed(timings: dict[str, float], stage: str, progress: Progress | None) -> Iterator[None]:
    if progress:
        progress(stage, STAGES.index(stage) / len(STAGES))
    start = time.perf_counter()
    yield
    # A stage may run once per language in a batch: its time adds up.
    timings[stage] = round(timings.get(stage, 0.0) + time.perf_counter() - start, 3)


def _within(stage: str, progress: Progress | None) -> Callable[[float], None] | None:
    """Progress inside a long stage: a fraction of the stage becomes a fraction of the whole job."""
    if progress is None:
        return None
    start = STAGES.index(stage)
    return lambda fraction: progress(stage, (start + fraction) / len(STAGES))


# A page that touches every stage (goals, steps, evidence types, tags), read once when a server starts.
_WARM_UP = (
    "Warm-up\nWe cut greenhouse gas emissions by 10% in 2023. Our human rights policy commits us to audit "
    "suppliers for forced labour, and workers can raise grievances through our hotline."
)


def load_models(settings: Settings, language: str = "en") -> None:
    """Load everything reading a report needs: encoders, classifiers, the sentencizer, the rules files.

    A server calls it at start (by analysing one short page), so its first upload is not the one that
    pays for loading them.
    """
    page = Page(number=1, text=_WARM_UP)
    analyze_document(Document("warm-up", (page,), language, "warm-up", "warm-up", 1), settings)


def needs_encoder(
    inputs: Sequence[str], texts: Sequence[str], language: str, settings: Settings
) -> np.ndarray:
    """Which passages go through the encoder: all but those the relevance gate rules out.

    The gate (classifiers/relevance.py) reads English only; a passage that names a goal or a step
    instrument outright is always read.
    """
    gate = load_gate(settings.tuned_dir) if settings.relevance_gate and language == "en" else None
    if gate is None:
        return np.ones(len(inputs), dtype=bool)
    keep = gate.needs_encoder(inputs)
    matchers = [m for m in (named_labels(f, settings.corpora_dir) for f in ("sdg", "oecd_dd")) if m]
    for k in np.flatnonzero(~keep):  # only a passage the gate would skip needs the matchers here
        keep[k] = any(m(texts[int(k)]) for m in matchers)
    return keep


def unread(
    ids: Sequence[str], kept: np.ndarray, readings: Sequence[LabelScores], framework: Framework
) -> list[LabelScores]:
    """Readings for every passage: the encoder's for those it read, no label and zero scores for the rest."""
    nothing = dict.fromkeys(framework.label_ids, 0.0)
    out = [LabelScores(pid, framework.id, dict(nothing), (), ()) for pid in ids]
    for k, reading in zip(kept, readings, strict=True):
        out[k] = reading
    return out


def classify_vectors(
    vectors: dict[str, np.ndarray],
    passage_ids: Sequence[str],
    settings: Settings,
    texts: Sequence[str] | None = None,
    language: str = "en",
) -> tuple[list[LabelScores], list[LabelScores]]:
    """SDG and due-diligence scores for passages in one language, embedded by every encoder needed.

    ``vectors`` maps encoder name to vectors (``embed_for_classification``): each framework's
    classifier reads the encoder ``settings.classifier_encoder`` names for the language.
    """
    readings = []
    for framework_id, name in (("sdg", settings.sdg_classifier), ("oecd_dd", settings.dd_classifier)):
        model = settings.classifier_encoder(framework_id, language)
        classifier = get_classifier(framework_id, name, settings.corpora_dir, model, settings.tuned_dir)
        readings.append(classifier.predict(vectors[model], passage_ids, texts))
    return readings[0], readings[1]


def embed_for_classification(
    texts: Sequence[str],
    language: str,
    settings: Settings,
    cache: EmbeddingCache | None = None,
    on_progress: Callable[[float], None] | None = None,
) -> dict[str, np.ndarray]:
    """Vectors of texts in one language from its search encoder and every classifier encoder.

    For Dutch these are one encoder (e5), so a passage takes one pass, not a second one for search.
    """
    models = dict.fromkeys(
        (
            settings.search_encoder(language),
            settings.classifier_encoder("sdg", language),
            settings.classifier_encoder("oecd_dd", language),
        )
    )
    size, runtime = settings.embedding_batch_size, settings.encoder_runtime
    vectors = {}
    for number, model in enumerate(models):

        def heard(fraction: float, number: int = number) -> None:
            if on_progress:
                on_progress((number + fraction) / len(models))

        vectors[model] = embed_texts(texts, model, cache, size, runtime, heard)
    return vectors


def merge_scores(item_id: str, chunks: Sequence[LabelScores]) -> LabelScores:
    """One reading of a text from the readings of its chunks: best score per label, every label found."""
    if len(chunks) == 1:
        return replace(chunks[0], passage_id=item_id)
    scores = {label: max(c.scores[label] for c in chunks) for label in chunks[0].scores}
    found = {label for c in chunks for label in c.labels}
    labels = tuple(sorted(found, key=lambda label: -scores[label]))
    parts = tuple(dict.fromkeys(p for c in chunks for p in c.parts))
    part_scores = {part: max(c.part_scores[part] for c in chunks) for part in chunks[0].part_scores}
    kinds = [c.evidence_type for c in chunks if c.evidence_type]
    kind = min(kinds, key=EVIDENCE_TYPES.index) if kinds else ""
    return LabelScores(item_id, chunks[0].framework, scores, labels, parts, part_scores, kind)


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
        vectors = embed_for_classification(chunk_texts, language, settings, cache)
        ids = [str(k) for k, _, _ in rows]
        sdg, dd = classify_vectors(vectors, ids, settings, chunk_texts, language)
        for (k, _, _), s, d in zip(rows, sdg, dd, strict=True):
            sdg_of[k], dd_of[k] = s, d
    per_text: dict[int, list[int]] = {}
    for k, (i, _) in enumerate(chunk_rows):
        per_text.setdefault(i, []).append(k)
    sdg_out = [merge_scores(str(i), [sdg_of[k] for k in per_text[i]]) for i in range(len(texts))]
    dd_out = [merge_scores(str(i), [dd_of[k] for k in per_text[i]]) for i in range(len(texts))]
    return sdg_out, dd_out


def analyze_documents(
    documents: Sequence[Document],
    settings: Settings,
    cache: EmbeddingCache | None = None,
    progress: Progress | None = None,
) -> list[Analysis]:
    """Segment, embed, classify and score several documents together.

    All passages of one language go through the encoder in one call, so the batch path shares
    batches (and identical passages, by hash) across reports. Each report's timings apportion the
    shared stages by its share of the passages.
    """
    shared: dict[str, float] = {}
    with _timed(shared, "segmenting", progress):
        passages = [passages_from_document(d, settings.max_passage_words) for d in documents]
    # The rules' readings of the words need no model: they are made while the encoder runs (it leaves
    # the interpreter free), off the critical path.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="gaplens-tags") as pool:
        readings = [pool.submit(text_readings, ps, settings.corpora_dir) for ps in passages]
        return _embed_classify_score(documents, passages, readings, shared, settings, cache, progress)


def _embed_classify_score(
    documents: Sequence[Document],
    passages: list[list[Passage]],
    readings: list[Future[TextReadings]],
    shared: dict[str, float],
    settings: Settings,
    cache: EmbeddingCache | None,
    progress: Progress | None,
) -> list[Analysis]:
    """The model stages per language, then each report's scoring with its text readings."""
    sdg: list[list[LabelScores]] = [[] for _ in documents]
    dd: list[list[LabelScores]] = [[] for _ in documents]
    main: list[np.ndarray] = [np.zeros((0, 0), np.float32) for _ in documents]
    # The encoder reads each passage under its heading; cue words are looked for in the passage alone.
    read = [[model_input(p.text, p.heading if settings.read_headings else "") for p in ps] for ps in passages]
    for language in sorted({d.language for d in documents}):
        members = [i for i, d in enumerate(documents) if d.language == language]
        texts = [p.text for i in members for p in passages[i]]
        ids = [p.id for i in members for p in passages[i]]
        inputs = [text for i in members for text in read[i]]
        kept = np.flatnonzero(needs_encoder(inputs, texts, language, settings))
        with _timed(shared, "embedding", progress):
            vectors = embed_for_classification(
                [inputs[k] for k in kept], language, settings, cache, _within("embedding", progress)
            )
        with _timed(shared, "classifying", progress):
            sdg_kept, dd_kept = classify_vectors(
                vectors, [ids[k] for k in kept], settings, [texts[k] for k in kept], language
            )
        sdg_all = unread(ids, kept, sdg_kept, load_framework("sdg", settings.corpora_dir))
        dd_all = unread(ids, kept, dd_kept, load_framework("oecd_dd", settings.corpora_dir))
        found = vectors[settings.search_encoder(language)]
        main_all = np.zeros((len(ids), found.shape[1]), np.float32)  # a passage not read: no vector
        main_all[kept] = found
        start = 0
        for i in members:
            end = start + len(passages[i])
            sdg[i], dd[i] = sdg_all[start:end], dd_all[start:end]
            main[i] = main_all[start:end]
            start = end
    total_passages = max(sum(len(p) for p in passages), 1)
    analyses = []
    for i, document in enumerate(documents):
        share = len(passages[i]) / total_passages if len(documents) > 1 else 1.0
        timings = {stage: round(seconds * share, 3) for stage, seconds in shared.items()}
        with _timed(timings, "scoring", progress):
            report = gap_report(document, passages[i], sdg[i], dd[i], settings, readings[i].result())
        analyses.append(Analysis(document, passages[i], main[i], sdg[i], dd[i], report, timings, read[i]))
    if progress:
        progress("done", 1.0)
    return analyses


def analyze_document(
    document: Document,
    settings: Settings,
    cache: EmbeddingCache | None = None,
    progress: Progress | None = None,
    timings: dict[str, float] | None = None,
) -> Analysis:
    """Segment, embed, classify and score one ingested document; ``timings`` may hold earlier stages."""
    analysis = analyze_documents([document], settings, cache, progress)[0]
    return with_timings(analysis, {**(timings or {}), **analysis.timings})


def with_timings(analysis: Analysis, timings: dict[str, float]) -> Analysis:
    """The analysis with its stage timings (and their total) set on it and on its report."""
    timings = {k: v for k, v in timings.items() if k != "total"}
    timings["total"] = round(sum(timings.values()), 3)
    return replace(analysis, report=replace(analysis.report, timings=timings), timings=timings)


def analyze_pdf(
    data: bytes,
    filename: str,
    settings: Settings,
    cache: EmbeddingCache | None = None,
    progress: Progress | None = None,
    page_texts: list[str] | None = None,
) -> Analysis:
    """The whole path for one PDF. Bad input raises a BadInput subclass before any model work.

    ``page_texts``: the raw page texts read when the PDF was validated at upload, so it is parsed once.
    """
    timings: dict[str, float] = {}
    backend, limits = settings.pdf_backend, settings.pdf_limits()
    with _timed(timings, "parsing", progress):
        if page_texts is None:
            document = document_from_pdf(data, filename, backend, limits)
        else:
            document = document_from_page_texts(data, page_texts, filename, backend, limits)
    return analyze_document(document, settings, cache, progress, timings)
