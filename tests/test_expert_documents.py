"""eval/expert_documents.py: AIMS statements rebuilt as documents, and the scoring of indicator decisions.

Real data (../shared/data/aims_uk_ca, dev split) and the real segmentation; no model is run.
"""

import math
import re

import pytest

from eval.expert_documents import (
    SENTENCES_PER_PAGE,
    IndicatorCall,
    Statement,
    StatementResult,
    as_line,
    build_documents,
    contains,
    load_mapping,
    score,
)
from service.reading.segment import passages_from_document
from service.settings import Settings

S = Settings()


@pytest.fixture(scope="module")
def two_statements() -> list[Statement]:
    """CA-SID_209 (all four criteria marked) and CA-SID_223 (no effectiveness sentence)."""
    statements = {s.key: s for s in build_documents("dev", S)}
    return [statements["CA-SID_209"], statements["CA-SID_223"]]


def _tokens(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


def test_dev_statements_are_the_dev_split_in_sentence_order(two_statements):
    statements = build_documents("dev", S)
    assert len(statements) == 9 and all(s.key.startswith(("CA-", "UK-")) for s in statements)
    for statement in two_statements:
        numbers = [s.number for s in statement.sentences]
        assert numbers == sorted(numbers) and len(set(numbers)) == len(numbers)
        pages = statement.document.pages
        assert len(pages) == math.ceil(len(statement.sentences) / SENTENCES_PER_PAGE)
        lines = [line for page in pages for line in page.text.split("\n")]
        assert len(lines) == len(statement.sentences)
        for line, sentence in zip(lines, statement.sentences, strict=True):
            # the words, not the characters: the sections reader spaces glued sentences ("www. TRXgold.com")
            assert _tokens(line) == _tokens(sentence.text)
    with pytest.raises(ValueError, match="unknown split"):
        build_documents("validation", S)


def test_passages_cover_every_sentence_in_order(two_statements):
    for statement in two_statements:
        passages = passages_from_document(statement.document, S.max_passage_words)
        # the passages partition the statement's words: nothing dropped as a heading, nothing repeated
        assert [t for p in passages for t in _tokens(p.text)] == [
            t for s in statement.sentences for t in _tokens(s.text)
        ]
        assert all(any(contains(p.text, s.text) for p in passages) for s in statement.sentences)


def test_containment_finds_a_positive_sentence_in_the_passage_built_from_it(two_statements):
    statement = two_statements[0]
    positive = next(
        s for s in statement.sentences if "c4_remediation" in s.criteria and len(s.text.split()) > 10
    )
    passages = passages_from_document(statement.document, S.max_passage_words)
    index = next(i for i, p in enumerate(passages) if " ".join(positive.text.split()) in p.text)
    assert contains(passages[index].text, positive.text)
    elsewhere = [p for i, p in enumerate(passages) if abs(i - index) > 2]
    assert not any(contains(p.text, positive.text) for p in elsewhere)
    words = positive.text.split()
    assert contains(" ".join(words[: math.ceil(0.7 * len(words))]), positive.text)
    assert not contains(" ".join(words[: len(words) // 2]), positive.text)


def _first(statement: Statement, criterion: str | None) -> str:
    """The first sentence with ``criterion`` (None: with no criterion at all)."""
    wanted = {criterion} if criterion else set()
    return next(s.text for s in statement.sentences if set(s.criteria) == wanted or criterion in s.criteria)


def test_a_fragment_runs_on_into_the_sentence_that_continues_it():
    assert as_line("Our suppliers must") == "Our suppliers must."
    assert as_line("Our suppliers must", continued=True) == "Our suppliers must"
    assert as_line("  Risk   assessment?") == "Risk assessment?"


def test_score_of_hand_made_decisions(two_statements):
    a, b = two_statements
    indicators = list(load_mapping()[0])
    not_met = IndicatorCall("not_met", ())
    calls_a = dict.fromkeys(indicators, not_met)
    calls_a["dd2.assessment_process"] = IndicatorCall("met", (_first(a, "c4_risk_mitigation"),))
    calls_a["dd3.prevention_measures"] = IndicatorCall(
        "partly", (_first(a, None), _first(a, "c4_risk_mitigation"))
    )
    calls_b = dict.fromkeys(indicators, not_met)
    # b has no effectiveness sentence: a mitigation sentence as its evidence is a miss
    calls_b["dd4.effectiveness"] = IndicatorCall("met", (_first(b, "c4_risk_mitigation"),))
    results = [
        StatementResult(a.key, calls_a, {"2": 50, "3": 80, "4": 0, "6": 0}),
        StatementResult(b.key, calls_b, {"2": 10, "3": 20, "4": 0, "6": 0}),
    ]
    table = score(results, two_statements)
    overall = table["overall"]
    # said: 3 pairs; first passage backed: 1, any passage: 2; experts: a all 7 indicators, b 5 (no c5)
    assert (overall["precision"]["hits"], overall["precision"]["total"]) == (1, 3)
    assert (overall["precision_any"]["hits"], overall["precision_any"]["total"]) == (2, 3)
    assert (overall["recall"]["hits"], overall["recall"]["total"]) == (2, 12)
    assert overall["f1"] == pytest.approx(2 / 9)
    assert table["indicators"]["dd4.effectiveness"]["recall"]["total"] == 1
    assert table["indicators"]["dd4.effectiveness"]["precision"]["value"] == 0.0
    steps = table["steps"]
    # c3: a 2 sentences, b 4 (scores 50 / 10: -1); c4 mitigation: 16 / 7 (80 / 20: +1); steps 4, 6 constant
    assert steps["2"]["score_rho"] == pytest.approx(-1.0) and steps["3"]["score_rho"] == pytest.approx(1.0)
    assert steps["4"]["score_rho"] is None and steps["mean_score_rho"] == pytest.approx(0.0)
    assert steps["mean_length_rho"] == pytest.approx(0.5)
