from service.coverage import ADDRESSED_AT, Substance, coverage_score, framework_coverage
from service.frameworks import load_framework, load_profiles
from service.gap import recommendations, report_profile
from service.records import Coverage, LabelScores, Passage
from service.settings import Settings

S = Settings()


def cov(label, score):
    return Coverage("x", label, label, score, score >= ADDRESSED_AT, 0, (), (), ())


def test_coverage_grows_with_evidence_and_breadth():
    assert coverage_score(0, 0, 10) == 0
    assert coverage_score(1, 1, 10) < coverage_score(3, 1, 10) < coverage_score(10, 1, 10)
    assert coverage_score(3, 1, 10) < coverage_score(3, 3, 10)
    assert coverage_score(100, 3, 10) == 100
    assert coverage_score(100, 2, 2) == 100  # a label with two parts needs only those two


def test_framework_coverage_counts_evidence_with_pages():
    dd = load_framework("oecd_dd", S.corpora_dir)
    passages = [Passage(f"p{i}", i + 1, 0, 10, f"text {i}") for i in range(4)]
    scores = [
        LabelScores("p0", "oecd_dd", {"6": 0.9}, ("6",), ("6.2",)),
        LabelScores("p1", "oecd_dd", {"6": 0.8}, ("6",), ("6.1",)),
        LabelScores("p2", "oecd_dd", {"6": 0.2}, (), ()),
        LabelScores("p3", "oecd_dd", {"2": 0.7}, ("2",), ("2.2",)),
    ]
    substance = Substance({}, {})
    by_step = {c.label: c for c in framework_coverage(dd, passages, scores, substance)}
    six = by_step["6"]
    assert six.evidence_count == 2 and [e.page for e in six.evidence] == [1, 2]
    assert six.parts_touched == ("6.1", "6.2") and six.parts_missing == ()
    assert by_step["2"].parts_missing == ("2.1", "2.3", "2.4")
    assert by_step["4"].score == 0 and not by_step["4"].addressed


def test_profiles():
    strong_sdg = [cov(str(i), 80 if i <= 5 else 0) for i in range(1, 18)]
    weak_sdg = [cov(str(i), 10) for i in range(1, 18)]
    strong_dd = [cov(str(i), 70) for i in range(1, 7)]
    weak_dd = [cov(str(i), 70 if i == 1 else 0) for i in range(1, 7)]
    assert report_profile(strong_sdg, strong_dd)[0] == "integrated"
    assert report_profile(weak_sdg, strong_dd)[0] == "due-diligence-only"
    assert report_profile(strong_sdg, weak_dd)[0] == "sdg-only"
    assert report_profile(weak_sdg, weak_dd)[0] == "neither"
    assert report_profile(strong_sdg, strong_dd)[1:] == (80, 70)


def test_recommendations_name_missing_steps_in_order():
    dd = load_framework("oecd_dd", S.corpora_dir)
    coverage = [cov(str(i), 70 if i in (1, 2) else 0) for i in range(1, 7)]
    advice = recommendations("sdg-only", coverage, dd, load_profiles(S.corpora_dir))
    assert advice[0] == load_profiles(S.corpora_dir)["sdg-only"]["next_step"].strip()
    assert [a.split(" ")[1] for a in advice[1:]] == ["3", "4", "5", "6"]


def test_results_count_more_than_mentions():
    sdg = load_framework("sdg", S.corpora_dir)
    passages = [Passage(f"p{i}", 1, 0, 10, f"text {i}") for i in range(6)]
    scores = [LabelScores(p.id, "sdg", {"13": 0.9}, ("13",), ("13.2",)) for p in passages]
    weights = {"result": 1.0, "mention": 0.3}
    results = Substance({p.id: "result" for p in passages}, weights)
    mentions = Substance({p.id: "mention" for p in passages}, weights)
    [by_results] = [c for c in framework_coverage(sdg, passages, scores, results) if c.label == "13"]
    [by_mentions] = [c for c in framework_coverage(sdg, passages, scores, mentions) if c.label == "13"]
    assert by_results.score > by_mentions.score
    assert by_results.evidence_types == {"result": 6} and by_mentions.evidence_types == {"mention": 6}
    assert by_results.evidence[0].evidence_type == "result"
