"""The due-diligence side: trained step classifier, issue and value-chain tags, follow-through, profile."""

import json
from pathlib import Path

import numpy as np
import pytest

from classifiers.base import model_files
from service.encoding.models import head_of
from service.judging.dd_tags import load_tag_rules, passage_tags
from service.judging.gap import follow_through_advice, issue_follow_through, value_chain_gap
from service.judging.substance import load_substance_rules
from service.pipeline import analyze_document, classify_texts
from service.records import LabelScores, Passage
from service.settings import CLASSIFIER_ENCODERS, UNTUNED_MULTILINGUAL, Settings

S = Settings()
REPO = Path(__file__).resolve().parents[1]
TAGS = load_tag_rules(S.corpora_dir)
SUBSTANCE = load_substance_rules(S.corpora_dir)


def rows(path: str) -> dict[str, dict]:
    """Labelled report passages by id: eval/data (dev) or corpora/ (training), real report text."""
    lines = (REPO / path).read_text(encoding="utf-8").splitlines()
    return {r["id"]: r for r in map(json.loads, lines)}


DEV = rows("eval/data/dd_dev_passages.jsonl")
DEV_NL = rows("eval/data/dd_dev_nl.jsonl")
TRAIN = rows("corpora/dd_report_passages.jsonl")


def steps(texts: list[str]) -> list[set[int]]:
    return [{int(s) for s in d.labels} for d in classify_texts(texts, S)[1]]


def test_shipped_dd_model_files_are_small_arrays_and_json():
    for encoder in (CLASSIFIER_ENCODERS["trained"], head_of(UNTUNED_MULTILINGUAL)):
        arrays_path, meta_path = model_files("oecd_dd", encoder)
        arrays = np.load(arrays_path, allow_pickle=False)
        assert arrays["weights"].shape[0] == 6 and len(arrays["thresholds"]) == 6
        meta = json.loads(meta_path.read_text())
        assert meta["labels"] == [str(s) for s in range(1, 7)] and meta["top1_floor"] is None


@pytest.mark.parametrize(
    ("passage", "step"),
    [
        (DEV["dd018"], 1),  # H&M: responsible sourcing approach follows the OECD guidance and the UNGPs
        (TRAIN["ddt221"], 2),  # KION: ESG supplier risk assessment before contracts
        pytest.param(
            DEV["dd051"],
            3,
            marks=pytest.mark.xfail(
                strict=True,
                reason="known regression of the expert-trained release (eval/RESULTS.md): remediation "
                "timelines with ending relationships read as step 6 only (0.99), step 3 at 0.27; the "
                "experts' AIMS criteria count corrective action as remediation, the revised guide as 3 and 6",
            ),
        ),  # AEO: remediation timelines, ending relationships for non-compliance
        (DEV["dd007"], 4),  # H&M: wage trend at tier-1 suppliers
        (TRAIN["ddt157"], 5),  # Meta: its Anti-Slavery and Human Trafficking Statement
        (TRAIN["ddt208"], 6),  # KION: whistleblowing cases followed up
    ],
)
def test_each_step_is_found_in_a_real_report_passage(passage, step):
    assert step in passage["steps"]
    assert step in steps([passage["text"]])[0]


def test_boilerplate_and_business_text_take_no_step():
    texts = [DEV["dd239"]["text"], DEV["dd076"]["text"], TRAIN["ddt032"]["text"]]
    assert all(not found for found in steps(texts))


@pytest.mark.xfail(
    strict=True,
    reason="known regression of the Dutch heads (eval/RESULTS.md): on the distilled e5 the speak-up passage "
    "reads as step 3 only again, but the tracking passage also as step 2 (0.17) and the remedy passage also "
    "as step 3 (0.17); before the tuned e5 the three read right",
)
def test_dutch_passages_are_read_through_the_multilingual_head():
    found = steps([DEV_NL["nl-dd004"]["text"], DEV_NL["nl-dd013"]["text"], DEV_NL["nl-dd049"]["text"]])
    assert found == [{3}, {4}, {6}]
    assert S.classifier_encoder("oecd_dd", "nl") == S.multilingual_model


def test_issue_tags_cover_every_family_on_real_text():
    families = {
        "human_rights": DEV["dd066"]["text"],  # AEO: Xinjiang, forced labour
        "environment": DEV["dd065"]["text"],  # AEO: water leadership programme
        "bribery_corruption": DEV["dd210"]["text"],  # ENGIE: corruption prevention
        "consumer_interests": TRAIN["ddt105"]["text"],  # Mastercard: privacy by design
        "tax": TRAIN["ddt296"]["text"] + " " + TRAIN["ddt269"]["text"],  # POLYTEC: tax returns
    }
    for family, text in families.items():
        issues = passage_tags(text, TAGS).issues
        assert family in {TAGS.family_of(i) for i in issues}, (family, issues)
    assert {"forced_labour", "discrimination"} <= set(passage_tags(DEV["dd066"]["text"], TAGS).issues)


def test_value_chain_positions_on_real_text():
    assert "deeper" in passage_tags(DEV["dd059"]["text"], TAGS).value_chain  # AEO: beyond tier 1
    assert "finance" in passage_tags(DEV["dd101"]["text"], TAGS).value_chain  # JPMorgan: financing
    assert "raw" in passage_tags(DEV["dd046"]["text"], TAGS).value_chain  # AEO: cotton
    assert "suppliers" in passage_tags(DEV["dd041"]["text"], TAGS).value_chain
    # "deter-mining" is not mining: a materiality paragraph was tagged raw materials and met beyond tier 1
    materiality = "The material topics were determined in a materiality analysis, determining what matters."
    assert passage_tags(materiality, TAGS).value_chain == ()
    assert "raw" in passage_tags("Mining of cobalt is a risk in our battery supply chain.", TAGS).value_chain
    assert "finance" not in passage_tags("We blend biofuels into petrol; blending rose.", TAGS).value_chain
    # post-consumer recycled plastic is a material, not the company's customers
    assert passage_tags("Our bottles contain 50% post-consumer recycled plastic.", TAGS).value_chain == ()
    assert "customers" in passage_tags("We survey consumers on product safety.", TAGS).value_chain


def test_concrete_case_needs_a_case_and_something_done():
    assert passage_tags(DEV["dd066"]["text"], TAGS, SUBSTANCE).concrete_case  # Xinjiang ban
    assert not passage_tags(DEV["dd018"]["text"], TAGS, SUBSTANCE).concrete_case  # a policy
    future = "We aim to ensure that complaints raised by workers will be investigated from 2025 onwards."
    assert not passage_tags(future, TAGS, SUBSTANCE).concrete_case


def _passage(pid: str, text: str, page: int) -> Passage:
    return Passage(pid, page, 0, len(text), text)


def test_issue_named_in_risk_identification_but_never_acted_on_is_a_gap():
    passages = [
        _passage("a", "Our risk assessment found a high risk of forced labour at cotton farms.", 4),
        _passage("b", "We reduced greenhouse gas emissions by 12% through energy efficiency.", 9),
    ]
    readings = [
        LabelScores("a", "oecd_dd", {"2": 0.9}, ("2",)),
        LabelScores("b", "oecd_dd", {"3": 0.8, "4": 0.7}, ("3", "4")),
    ]
    tags = {p.id: passage_tags(p.text, TAGS) for p in passages}
    issues = {i.issue: i for i in issue_follow_through(readings, passages, TAGS, tags)}
    assert issues["forced_labour"].missing_steps == ("3", "4") and issues["forced_labour"].pages == (4,)
    assert issues["climate"].missing_steps == ()  # never named in steps 1-2: nothing to follow through
    advice = follow_through_advice(tuple(issues.values()), TAGS)
    assert advice and advice[0].startswith("Forced labour is named") and "page 4" in advice[0]
    assert value_chain_gap({"suppliers": 3}, TAGS) and not value_chain_gap({"suppliers": 3, "raw": 1}, TAGS)


def test_hm_report_shows_due_diligence_with_issues_and_value_chain(hm_doc):
    report = analyze_document(hm_doc, S).report
    assert report.due_diligence_score >= 40 and len(report.missing_steps) <= 2
    assert report.profile in {"integrated", "due-diligence-only"}
    assert {"suppliers", "deeper"} <= set(report.value_chain)
    named = {i.issue for i in report.salient_issues}
    assert {"living_wage", "forced_labour", "water"} <= named
    assert report.dd_substance.get("action", 0) + report.dd_substance.get("result", 0) > 0
    evidence = [e for c in report.due_diligence for e in c.evidence]
    assert all(e.page >= 1 and e.text for e in evidence)
    assert any(e.issues for e in evidence) and any(e.value_chain for e in evidence)
