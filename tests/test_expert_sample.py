"""The expert calibration sample (issue 24) respects the locked splits and our label files cover it."""

import json

import pytest
import yaml

from classifiers.labelled import corporate_actions
from eval.expert_agreement import load, step_scores
from eval.expert_sample import draw
from eval.relabel_candidates import RELABELLED, apply, candidates, label_files
from service.settings import REPO_ROOT, Settings

S = Settings()
SAMPLE = REPO_ROOT / "corpora" / "labels_expert_sample"


def test_the_sample_never_touches_a_locked_test_statement_or_a_dev_sentence():
    items = draw(S)
    splits = yaml.safe_load((S.corpora_dir / "expert_splits.yaml").read_text(encoding="utf-8"))["aims_uk_ca"]
    aims = [i for i in items if i.source == "aims"]
    corporate = [i for i in items if i.source == "corporate_actions"]
    assert (len(aims), len(corporate)) == (240, 150)
    statements = {i.source_id.rsplit("-", 1)[0] for i in aims}
    assert not statements & set(splits["test"])
    assert statements <= set(splits["train"]) | set(splits["dev"])
    split_of = {t.id: t.split for t in corporate_actions(S.shared_data_dir)}
    assert {split_of[i.source_id] for i in corporate} == {"train"}
    assert sorted({i.sdg for i in corporate}) == list(range(1, 18))


def test_the_sample_is_the_same_on_every_draw():
    assert draw(S) == draw(S)


def test_both_label_files_cover_every_item_and_the_revision_agrees_better_with_the_experts():
    items = draw(S)
    before, after = (load(SAMPLE / name) for name in ("blind_v2.jsonl", "blind_v3.jsonl"))
    assert {i.id for i in items} == set(before) == set(after)
    was, now = step_scores(items, before), step_scores(items, after)
    assert all(now[name].f1 > was[name].f1 for name in ("step 3 <- c4m", "step 4 <- c5", "step 6 <- c4r"))


def test_relabelling_by_default_never_reads_a_test_report_and_the_test_option_reads_only_test_reports():
    splits = yaml.safe_load((S.corpora_dir / "report_splits.yaml").read_text(encoding="utf-8"))
    default, test = {p.stem for p in label_files()}, {p.stem for p in label_files("test")}
    assert default == set(splits["train"]) | set(splits["dev"])
    assert test == set(splits["test"])
    assert not {row["id"].rsplit("-", 1)[0] for row in candidates()} & test
    assert {row["id"].rsplit("-", 1)[0] for row in candidates("test")} <= test


def test_each_relabelled_row_carries_the_stamp_of_its_own_split():
    splits = yaml.safe_load((S.corpora_dir / "report_splits.yaml").read_text(encoding="utf-8"))
    for path in sorted((S.corpora_dir / "labels").glob("*.jsonl")):
        split = "test" if path.stem in splits["test"] else "train+dev"
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
        stamps = {row["relabelled"] for row in rows if "relabelled" in row}
        assert stamps <= {RELABELLED[split]}, path.name


def test_apply_refuses_a_decision_outside_its_split_and_writes_nothing(tmp_path):
    splits = yaml.safe_load((S.corpora_dir / "report_splits.yaml").read_text(encoding="utf-8"))
    test_file = S.corpora_dir / "labels" / f"{sorted(splits['test'])[0]}.jsonl"
    train_file = S.corpora_dir / "labels" / f"{sorted(splits['train'])[0]}.jsonl"
    before = {path: path.read_bytes() for path in (test_file, train_file)}
    for split, path in (("train+dev", test_file), ("test", train_file)):
        first = json.loads(path.read_text(encoding="utf-8").splitlines()[0])
        decisions = tmp_path / f"{split}.jsonl"
        decisions.write_text(
            json.dumps({"id": first["id"], "rules": [], "sdgs": [99]}) + "\n", encoding="utf-8"
        )
        with pytest.raises(SystemExit, match="outside"):
            apply(decisions, decisions, split)
    assert {path: path.read_bytes() for path in before} == before
