import pytest

from classifiers import get_classifier
from service.encoding.embed import embed_texts
from service.errors import UnknownName
from service.settings import CLASSIFIER_ENCODERS, Settings

S = Settings()


def classify(framework, texts):
    encoder = CLASSIFIER_ENCODERS["zero-shot"]
    clf = get_classifier(framework, "zero-shot", S.corpora_dir, encoder)
    vectors = embed_texts(texts, encoder)
    return clf.predict(vectors, [str(i) for i in range(len(texts))])


@pytest.mark.parametrize(
    ("text", "goal"),
    [
        (
            "We cut our scope 1 and 2 greenhouse gas emissions by 35% and target net zero by 2050.",
            "13",
        ),
        ("Solar and wind now supply 60% of the renewable electricity used at our sites.", "7"),
        (
            "We increased the share of women in senior leadership to 38% and closed the gender pay gap.",
            "5",
        ),
        (
            "Water withdrawal in water-stressed areas fell by 18% thanks to wastewater recycling.",
            "6",
        ),
    ],
)
def test_clear_passages_land_in_their_goal(text, goal):
    [result] = classify("sdg", [text])
    assert goal in result.labels
    assert max(result.scores, key=result.scores.get) == goal


def test_target_attribution_names_targets_of_the_goal():
    [result] = classify(
        "sdg",
        ["We eliminate forced labour, modern slavery and child labour from our supply chain."],
    )
    assert result.parts and all(p.split(".")[0] in result.labels for p in result.parts)


@pytest.mark.parametrize(
    ("text", "step"),
    [
        (
            "Workers in our supply chain can raise complaints through an anonymous grievance mechanism, "
            "and every complaint is investigated.",
            "6",
        ),
        ("We carried out human rights risk assessments of our high-risk suppliers.", "2"),
        (
            "Our human rights policy, approved by the Board, commits us to the UN Guiding Principles.",
            "1",
        ),
    ],
)
def test_clear_passages_land_in_their_due_diligence_step(text, step):
    [result] = classify("oecd_dd", [text])
    assert step in result.labels


def test_unrelated_text_gets_no_due_diligence_step():
    [result] = classify("oecd_dd", ["The annual general meeting will take place in May in Vienna."])
    assert result.labels == ()


def test_scores_cover_every_label_and_are_probabilities():
    [sdg] = classify("sdg", ["Any text at all."])
    assert set(sdg.scores) == {str(i) for i in range(1, 18)}
    assert all(0.0 <= v <= 1.0 for v in sdg.scores.values())


def test_unknown_classifier_lists_the_known_ones():
    with pytest.raises(UnknownName, match="zero-shot"):
        get_classifier("sdg", "nope", S.corpora_dir, S.embedding_model)
