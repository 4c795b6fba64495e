import json
import re

import yaml

from classifiers.labelled import dutch_report_splits, report_splits, v2_labels
from service.frameworks import load_framework, load_profiles
from service.settings import Settings

CORPORA = Settings().corpora_dir
NEGATIVES = {"", "not_disclosed", "content_index", "financial", "boilerplate", "governance", "topic_only"}


def test_sdg_framework_has_17_goals_and_169_targets():
    sdg = load_framework("sdg", CORPORA)
    assert sdg.label_ids == tuple(str(i) for i in range(1, 18))
    targets = [p.id for label in sdg.labels for p in label.parts]
    assert len(targets) == len(set(targets)) == 169
    assert {"8.7", "14.a", "17.19"} <= set(targets)
    assert all(re.fullmatch(r"\d{1,2}\.(\d{1,2}|[a-d])", t) for t in targets)
    assert all(label.name_nl and label.colour.startswith("#") for label in sdg.labels)
    assert any("A/RES/70/1" in s["from"] for s in sdg.sources)


def test_sdg_target_text_is_the_official_wording():
    sdg = load_framework("sdg", CORPORA)
    target = next(p for p in sdg.label("8").parts if p.id == "8.7")
    assert "forced labour" in target.text and "child labour" in target.text


def test_oecd_framework_has_six_steps_with_sub_elements_and_sources():
    dd = load_framework("oecd_dd", CORPORA)
    assert dd.label_ids == ("1", "2", "3", "4", "5", "6")
    assert all(len(step.parts) >= 2 for step in dd.labels)
    assert all(step.recommendation for step in dd.labels)
    assert any("2018" in s["from"] for s in dd.sources)
    grievance = " ".join(p.text for p in dd.label("6").parts)
    assert "grievance" in grievance


def test_every_profile_has_a_next_step():
    profiles = load_profiles(CORPORA)
    assert set(profiles) == {"integrated", "due-diligence-only", "sdg-only", "neither"}
    assert all(p["next_step"].strip() for p in profiles.values())


def test_real_dutch_label_rows_are_valid_and_split_by_whole_report():
    """corpora/labels/nl-<report>.jsonl: labels of real Dutch text, split as in corpora/expert_splits.yaml."""
    rows = [
        (path, json.loads(line))
        for path in sorted((CORPORA / "labels").glob("nl-*.jsonl"))
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    assert rows
    targets = {p.id for label in load_framework("sdg", CORPORA).labels for p in label.parts}
    parts = {p.id for label in load_framework("oecd_dd", CORPORA).labels for p in label.parts}
    splits = dutch_report_splits(CORPORA)
    assert not set(splits) & set(report_splits(CORPORA))
    for path, row in rows:
        assert path.stem == f"nl-{row['report']}" and row["id"].startswith(f"nl-{row['report']}-"), row["id"]
        assert row["lang"] == "nl" and row["translated"] is False and row["labeller"] and row["labelled"]
        assert row["granularity"] in {"sentence", "passage", "page"} and row["text"].strip()
        assert all(1 <= g <= 17 for g in row["sdgs"]), row["id"]
        # eval/LABELLING_V2.md, revision rule 5: up to 4 goals for sentences and passages, 6 for pages
        assert len(row["sdgs"]) <= (6 if row["granularity"] == "page" else 4), row["id"]
        assert all(t in targets and int(t.split(".")[0]) in row["sdgs"] for t in row["targets"]), row["id"]
        assert all(1 <= s <= 6 for s in row["steps"]), row["id"]
        subs = row["sub_elements"]
        assert all(e in parts and int(e.split(".")[0]) in row["steps"] for e in subs), row["id"]
        labelled = bool(row["sdgs"] or row["steps"])
        assert row["evidence_type"] in ({"result", "action", "commitment", "mention"} if labelled else {""})
        assert row["negative"] in NEGATIVES and not (labelled and row["negative"]), row["id"]
    assert len({row["id"] for _, row in rows}) == len(rows)
    loaded = [t for t in v2_labels(CORPORA) if t.id.startswith("nl-")]
    assert len(loaded) == len(rows) and all(t.split == splits[t.report] and not t.translated for t in loaded)
    expert = yaml.safe_load((CORPORA / "expert_splits.yaml").read_text(encoding="utf-8"))["dutch_reports"]
    assert {t.report for t in loaded if t.split == "test"} == set(expert["test"])
