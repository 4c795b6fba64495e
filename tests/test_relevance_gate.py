"""The relevance gate and the int8 encoder it works with: what skips the encoder, and what never does."""

from __future__ import annotations

import json

import numpy as np
import pytest

from classifiers.linear import TUNED_DIR
from classifiers.relevance import MIN_DEV_RECALL, load_gate
from service.encoding.embed import encode
from service.encoding.inputs import model_input
from service.encoding.models import TUNED_INT8
from service.pipeline import analyze_document, needs_encoder
from service.reading.ingest import document_from_pdf
from service.serving.auth import LOCAL
from service.serving.engine import GapLensService
from service.settings import Settings
from tests.conftest import MAX_AUTOMATION

S = Settings()
FINANCIAL = (
    "Notes to the consolidated financial statements\nTrade receivables 12,431 11,902 Other receivables 1,204 "
    "998 Deferred tax assets 3,311 3,020 Total current assets 45,889 41,206 in EUR thousand"
)
EVIDENCE = (
    "Human rights\nWe assessed 240 suppliers for forced labour risks in 2023 and terminated two contracts "
    "after audits found recruitment fees charged to migrant workers."
)


def test_the_shipped_gate_was_calibrated_on_dev_to_keep_the_evidence():
    meta = json.loads((TUNED_DIR / "relevance.json").read_text())
    assert meta["dev_recall_of_evidence"] >= MIN_DEV_RECALL and 0 < meta["threshold"] < 0.5
    assert (TUNED_DIR / "relevance.npz").stat().st_size < 1_000_000


def test_a_financial_note_skips_the_encoder_and_evidence_or_a_named_goal_never_does():
    texts = [FINANCIAL, EVIDENCE, FINANCIAL + " This supports SDG 8."]
    keep = needs_encoder(texts, texts, "en", S)
    assert keep.tolist() == [False, True, True]
    assert load_gate(TUNED_DIR).needs_encoder([FINANCIAL]).tolist() == [False]
    assert needs_encoder(texts, texts, "nl", S).all()  # the gate reads English only
    off = S.model_copy(update={"relevance_gate": False})
    assert needs_encoder(texts, texts, "en", off).all()


def test_an_int8_vector_does_not_depend_on_the_texts_beside_it():
    alone = encode([EVIDENCE], TUNED_INT8)
    beside = encode([FINANCIAL, EVIDENCE, "Short.", FINANCIAL * 3], TUNED_INT8)
    assert np.array_equal(alone[0], beside[1])


@pytest.mark.slow
def test_gated_passages_get_no_label_no_vector_and_stay_out_of_the_index(settings):
    analysis = analyze_document(document_from_pdf(MAX_AUTOMATION.read_bytes(), MAX_AUTOMATION.name), S)
    read = set(analysis.embedded())
    gated = [n for n in range(len(analysis.passages)) if n not in read]
    assert gated and len(gated) < len(analysis.passages) / 2
    for n in gated:
        assert not analysis.sdg[n].labels and not analysis.dd[n].labels
        assert not np.any(analysis.vectors[n]) and max(analysis.sdg[n].scores.values()) == 0.0
    inputs = [model_input(p.text, p.heading) for p in analysis.passages]
    texts = [p.text for p in analysis.passages]
    assert sorted(read) == np.flatnonzero(needs_encoder(inputs, texts, "en", S)).tolist()
    service = GapLensService(settings.model_copy(update={"job_workers": 0}))
    service.start()
    try:
        job = service.submit_pdf(MAX_AUTOMATION.read_bytes(), MAX_AUTOMATION.name, LOCAL)
        service.run_job(service.job(job.id, LOCAL))
        assert service.index.count() == len(read)
    finally:
        service.close()
