"""The expert calibration sample (issue 24) respects the locked splits and our label files cover it."""

import json

import yaml

from classifiers.labelled import corporate_actions
from eval.expert_agreement import load, step_scores
from eval.expert_sample import draw
from eval.relabel_candidates import label_files
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


def test_relabelling_never_reads_or_writes_a_test_report():
    splits = yaml.safe_load((S.corpora_dir / "report_splits.yaml").read_text(encoding="utf-8"))
    assert not {p.stem for p in label_files()} & set(splits["test"])
    for path in sorted((S.corpora_dir / "labels").glob("*.jsonl")):
        if path.stem in splits["test"]:
            rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
            assert not any("relabelled" in row for row in rows), path.name
