"""The expert-labelled sets join training without leaking their locked test statements (no model needed)."""

from collections import Counter

import numpy as np

from classifiers.labelled import aims_known_steps, aims_sentences, expert_splits
from classifiers.training.finetune import known_mask
from classifiers.training.tuned_training import english_training
from service.settings import Settings

S = Settings()


def test_every_aims_statement_has_one_split_and_test_is_a_quarter():
    splits = expert_splits(S.corpora_dir)["aims_uk_ca"]
    texts = aims_sentences(S.shared_data_dir, S.corpora_dir)
    assert {t.report.removeprefix("aims:") for t in texts} == set(splits)
    per_split = Counter(splits.values())
    assert per_split["test"] >= 20 and per_split["dev"] >= 5 and per_split["train"] >= 50
    assert all(t.sdgs is None and t.source == "aims" for t in texts)


def test_aims_criteria_read_as_steps_2_3_4_6_and_steps_1_and_5_stay_unknown():
    texts = {t.id: t for t in aims_sentences(S.shared_data_dir, S.corpora_dir)}
    steps = Counter(s for t in texts.values() for s in t.steps or ())
    assert set(steps) == {2, 3, 4, 6} and steps[3] > steps[2]
    assert all(1 not in (t.known_steps or ()) and 5 not in (t.known_steps or ()) for t in texts.values())
    # a mitigation sentence may describe an assessment process: step 2 is not asserted absent there
    assert aims_known_steps({"c4_risk_mitigation"}) == (3, 4, 6)
    assert aims_known_steps(set()) == (2, 3, 4, 6)
    assert aims_known_steps({"c4_remediation"}) == (4, 6)


def test_training_never_sees_a_locked_test_statement():
    from classifiers.labelled import all_labelled
    from service.settings import REPO_ROOT

    texts = all_labelled(S.corpora_dir, S.shared_data_dir, REPO_ROOT / "eval" / "data")
    train = english_training(texts, frozenset())
    test_statements = {k for k, v in expert_splits(S.corpora_dir)["aims_uk_ca"].items() if v == "test"}
    trained_aims = {t.report.removeprefix("aims:") for t in train if t.source == "aims"}
    assert trained_aims and not trained_aims & test_statements


def test_the_loss_mask_covers_only_the_known_steps():
    texts = aims_sentences(S.shared_data_dir, S.corpora_dir)[:50]
    mask = known_mask(texts, "oecd_dd", 6)
    assert mask.shape == (50, 6)
    assert np.all(mask[:, 0] == 0) and np.all(mask[:, 4] == 0)
    assert np.all(mask[:, 2] + mask[:, 5] >= 1)
