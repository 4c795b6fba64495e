import re

from service.frameworks import load_framework, load_profiles
from service.settings import Settings

CORPORA = Settings().corpora_dir


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
