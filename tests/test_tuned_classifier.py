"""The tuned classifiers as shipped: load offline from a fresh clone, read clear texts right in English and
Dutch, agree across a sentence, its passage and its page, and retrain to a model of the same quality."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import numpy as np
import pytest

from classifiers import get_classifier
from classifiers.base import model_files
from classifiers.labelled import all_labelled, select
from classifiers.linear import TUNED_DIR
from classifiers.parts import evidence_type_files, part_files
from service.encoding.embed import encode
from service.encoding.models import (
    TUNED_ENCODER,
    TUNED_INT8,
    e5_layers_path,
    head_of,
    shipped_int8_path,
)
from service.pipeline import classify_texts
from service.settings import REPO_ROOT, Settings
from tests.conftest import SHELL

S = Settings()


def labels(texts: list[str]) -> tuple[list[tuple[str, ...]], list[tuple[str, ...]]]:
    sdg, dd = classify_texts(texts, S)
    return [s.labels for s in sdg], [d.labels for d in dd]


def test_shipped_files_are_small_and_name_their_encoder():
    encoder = TUNED_DIR / TUNED_ENCODER
    assert (encoder / "model.safetensors").stat().st_size < 60_000_000
    assert shipped_int8_path().stat().st_size < 30_000_000
    assert e5_layers_path().stat().st_size < 24_000_000  # the distilled e5 ships as its six layers only
    for framework, n in (("sdg", 17), ("oecd_dd", 6)):
        # The multilingual heads ship under the encoder they were fitted on: the distilled e5's int8 copy.
        for name in (TUNED_ENCODER, TUNED_INT8, head_of(S.multilingual_model)):
            arrays_path, meta_path = model_files(framework, name, TUNED_DIR)
            arrays = np.load(arrays_path, allow_pickle=False)
            assert arrays["weights"].shape[0] == n and arrays["thresholds_short"].shape == (n,)
            meta = json.loads(meta_path.read_text())
            assert meta["encoder"] == name and set(meta["thresholds_by_length"]) == {"short", "passage"}
    # the indicator readers ship for the default encoder and the multilingual one (classifiers/parts.py)
    for name in (TUNED_INT8, S.multilingual_model):
        parts_path, parts_meta = part_files(name, TUNED_DIR)
        kinds_path, kinds_meta = evidence_type_files(name, TUNED_DIR)
        assert parts_path.stat().st_size < 200_000 and kinds_path.stat().st_size < 200_000
        assert json.loads(parts_meta.read_text())["encoder"] == name
        assert json.loads(kinds_meta.read_text())["types"] == ["action", "commitment", "mention", "result"]
        assert len(json.loads(parts_meta.read_text())["learned"]) >= 12


def test_a_fresh_clone_classifies_offline(tmp_path):
    """The committed model files are all a clone needs: no hub, no cache, no home directory."""
    clone = tmp_path / "clone"
    subprocess.run(
        ["git", "clone", "-q", "--depth", "1", f"file://{REPO_ROOT}", str(clone)], check=True, timeout=120
    )
    code = (
        "import os; assert os.environ['HF_HUB_OFFLINE'] == '1';"
        "from service.pipeline import classify_texts; from service.settings import Settings;"
        "s, d = classify_texts(['We doubled our solar power capacity.'], Settings());"
        "print(','.join(s[0].labels))"
    )
    env = {
        "HF_HUB_OFFLINE": "1",
        "PATH": "/usr/bin:/bin",
        "HOME": "/nonexistent",
        "PYTHONPATH": str(clone),
        "GAPLENS_MODEL_CACHE": str(tmp_path / "cache"),
    }
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=clone, env=env, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "7" in out.stdout.strip().split(",")


def test_the_default_int8_encoder_reads_its_own_calibrated_heads_and_tracks_fp32():
    """int8 is the default; its heads are the fp32 weights with thresholds chosen on its own dev vectors."""
    assert S.embedding_model == TUNED_INT8 and S.classifier_encoder("sdg", "en") == TUNED_INT8
    texts = [
        t.text
        for t in select(
            all_labelled(S.corpora_dir, S.shared_data_dir, REPO_ROOT / "eval" / "data"), "dev", lang="en"
        )[:64]
    ]
    int8, fp32 = encode(texts, TUNED_INT8), encode(texts, TUNED_ENCODER)
    assert float(np.min(np.sum(int8 * fp32, axis=1))) > 0.95
    for framework in ("sdg", "oecd_dd"):
        own = json.loads(model_files(framework, TUNED_INT8, TUNED_DIR)[1].read_text())
        base = np.load(model_files(framework, TUNED_ENCODER, TUNED_DIR)[0])
        assert own["calibration"]["weights_of"] == TUNED_ENCODER
        assert np.array_equal(
            np.load(model_files(framework, TUNED_INT8, TUNED_DIR)[0])["weights"], base["weights"]
        )
        clf = get_classifier(framework, "tuned", S.corpora_dir, TUNED_INT8)
        assert clf.meta["encoder"] == TUNED_INT8  # type: ignore[attr-defined]


CLEAR = [
    (
        "Scope 1 and 2 emissions fell 41% against our 2019 baseline as we move to net zero by 2040.",
        "13",
        None,
    ),
    ("Every supplier was screened for forced labour and child labour risks before onboarding.", "8", "2"),
    (
        "Workers at our suppliers can raise complaints anonymously through our grievance hotline, "
        "and each case is investigated and remedied.",
        None,
        "6",
    ),
    ("Our Human Rights Policy, approved by the Board, commits us to the UN Guiding Principles.", None, "1"),
    (
        "Onze CO2-uitstoot daalde met 35% ten opzichte van 2019 dankzij groene stroom en "
        "elektrische bestelwagens.",
        "13",
        None,
    ),
    (
        "Alle nieuwe leveranciers worden vooraf beoordeeld op risico's van kinderarbeid en dwangarbeid.",
        "8",
        "2",
    ),
    (
        "Medewerkers van leveranciers kunnen via ons klachtenmechanisme anoniem een klacht indienen; "
        "elke melding wordt onderzocht en hersteld.",
        None,
        "6",
    ),
]


@pytest.mark.parametrize(("text", "goal", "step"), CLEAR)
def test_clear_texts_land_right_in_english_and_dutch(text, goal, step):
    sdg, dd = labels([text])
    if goal:
        assert goal in sdg[0]
    if step:
        assert step in dd[0]


@pytest.fixture(scope="module")
def shell_page() -> str:
    """A real report page with no due-diligence or climate claim of its own: Shell's contents page."""
    from service.reading.ingest import document_from_pdf

    document = document_from_pdf(SHELL.read_bytes(), SHELL.name)
    return document.pages[1].text


@pytest.mark.parametrize(
    ("text", "goal", "step"), [c for c in CLEAR if not c[0].startswith(("Onze", "Alle", "Mede"))]
)
def test_a_sentence_its_passage_and_its_page_agree(shell_page, text, goal, step):
    """The same claim, sent alone, as a passage, and as a section of a whole page, keeps its label.

    On the page the passage stands under its own heading, as report sections do; a claim buried in the
    middle of another paragraph is read with that paragraph (eval/RESULTS.md, "Pages").
    """
    passage = f"{text} This is reported in line with our group reporting principles for the financial year."
    page = f"{shell_page}\nOUR PROGRESS IN 2021\n{passage}\n{shell_page}"
    sdg, dd = labels([text, passage, page])
    for found in sdg if goal else dd:
        assert (goal or step) in found


@pytest.mark.slow
@pytest.mark.timeout(2400)
def test_retraining_from_scratch_reproduces_the_locked_test_score(tmp_path):
    """`gaplens train tuned` on 2 cores (English side), scored on the locked test split's passages."""
    from classifiers.training.tuned_training import train_tuned
    from eval.cross_domain import scores as passage_scores

    train_tuned(S.corpora_dir, S.shared_data_dir, REPO_ROOT / "eval" / "data", tmp_path, multilingual=False)
    texts = all_labelled(S.corpora_dir, S.shared_data_dir, REPO_ROOT / "eval" / "data")
    test = [t for t in select(texts, "test", lang="en") if t.granularity == "passage"]
    for int8 in (False, True):
        scores = {
            name: passage_scores(folder, test, S, int8)
            for name, folder in (("shipped", TUNED_DIR), ("retrained", tmp_path))
        }
        assert abs(scores["retrained"][0] - scores["shipped"][0]) < 0.03, (int8, scores)
        assert abs(scores["retrained"][1] - scores["shipped"][1]) < 0.04, (int8, scores)


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_the_dutch_heads_retrain_to_the_shipped_ones(tmp_path):
    """`gaplens train e5 --readers-only` refits what reads Dutch from the labels and layers in the repository.

    The shipped Dutch heads and readers must be what the committed labels give on the shipped distilled layers
    (with real Dutch text weighted as tuned_training.REAL_TEXT_WEIGHT says), not files nobody can rebuild.
    Another CPU may round the int8 encoder's vectors differently, so the heads are compared by their scores on
    the Dutch dev rows.
    """
    from typer.testing import CliRunner

    from service.cli import app

    started = time.time()
    result = CliRunner().invoke(app, ["train", "e5", "--readers-only", "--models-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert (tmp_path / e5_layers_path().name).read_bytes() == e5_layers_path().read_bytes()
    texts = all_labelled(S.corpora_dir, S.shared_data_dir, REPO_ROOT / "eval" / "data")
    dutch = [t.text for t in select(texts, "dev") if t.lang == "nl" and not t.translated][:120]
    vectors = encode(dutch, S.multilingual_model)
    for framework in ("sdg", "oecd_dd"):
        shipped, retrained = (
            np.load(model_files(framework, S.multilingual_model, folder)[0])
            for folder in (TUNED_DIR, tmp_path)
        )
        margins = [vectors @ heads["weights"].T + heads["bias"] for heads in (shipped, retrained)]
        assert np.corrcoef(margins[0].ravel(), margins[1].ravel())[0, 1] > 0.99, framework
        assert np.abs(shipped["thresholds"] - retrained["thresholds"]).max() <= 0.05 + 1e-9, framework
    for files in (part_files, evidence_type_files):
        shipped_meta, retrained_meta = (
            json.loads(files(S.multilingual_model, f)[1].read_text()) for f in (TUNED_DIR, tmp_path)
        )
        assert retrained_meta["encoder"] == shipped_meta["encoder"] == S.multilingual_model
        assert files(S.multilingual_model, tmp_path)[0].stat().st_mtime >= started  # refit, not the seed copy
