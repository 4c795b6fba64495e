"""The rubric's `met` conditions and a learned indicator check, against analysts' pair labels and references.

The rubric decides an indicator from the passages its sub-element reader lets through (candidates) and the
`met_*` conditions of corpora/dd_rubric.yaml. Read as an analyst, many `met` decisions rest on a passage
about the wrong subject (product testing as a risk assessment, customer complaints as grievances). This
script asks how often, and whether a model of the analyst's pair judgement fixes that:

0. **The rubric against the pairs** (``--rules-only`` prints just this): for every labelled pair of our
   analysts, what the rubric's `met_*` conditions say of the passage (met, or only partly) beside the
   analyst's met / partly / no, per indicator; and for the wide pairs (passages beyond the gate of the two
   indicators whose sub-elements the reader did not learn) whether the gate admits them.
1. **The check.** Analysts labelled 1,006 (indicator, candidate passage) pairs of train reports without a
   hand assessment met / partly / no (corpora/indicator_labels/analyst_pairs.jsonl, drawn by
   eval/indicator_pairs.py, guide eval/LABELLING_INDICATORS.md); the AIMS experts' sentence criteria label
   1,164 candidate pairs of the AIMS train statements evidence / no (aims_train_pairs.jsonl, made by
   eval/aims_indicator_pairs.py). Two logistic regressions over all indicators at once on
   ``[v, v in the indicator's block, the indicator's bias]`` (feature augmentation, Daume 2007) of the
   passage's int8 classifier vector: evidence (met or partly) against no, and met against partly.
2. **Out of fold on the pairs**, folds grouped by report: how well it predicts the analysts.
3. **Downstream**, the check fitted on all train pairs: candidates it reads as no evidence are dropped
   (``reject``) or only demoted to `partly` and ranked last (``demote``), at several thresholds; the met
   head may also demote `met` to `partly`. Scored against the 12 hand assessments (eval/RUBRIC_ASSESSMENT.md;
   the 4 dev reports apart from the 8 others) as exact decision agreement, evidence-backed agreement (same
   decision and, unless not met, the first evidence on a page the assessor cited) and the share of
   first evidence on an assessor's page; and against the AIMS dev statements (eval/expert_documents.py).
   The AIMS test statements and the locked test reports are not read.

    PYTHONPATH=$PWD HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 .venv/bin/python eval/indicator_check.py
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import yaml
from scipy import sparse
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold

sys.path.insert(0, str(Path(__file__).resolve().parent))
import expert_documents as ed  # noqa: E402
from eval_rubric import load_assessments  # noqa: E402
from readings import ensure_readings, load_reading  # noqa: E402

from classifiers.linear import TUNED_DIR  # noqa: E402
from classifiers.training.part_training import ENGLISH_ENCODER, _platt_threshold  # noqa: E402
from classifiers.training.tuned_training import part_encoders  # noqa: E402
from service.encoding.inputs import model_input  # noqa: E402
from service.judging.rubric import (  # noqa: E402
    Rubric,
    RubricInput,
    candidates,
    decide,
    is_candidate,
    load_rubric,
    reads_as,
    step_scores,
    unmet,
)
from service.judging.scoring import rubric_input  # noqa: E402
from service.pipeline import analyze_documents  # noqa: E402
from service.records import IndicatorResult, LabelScores, Passage  # noqa: E402
from service.settings import Settings, get_settings  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
_PARTS_META = ROOT / "classifiers" / "models" / "tuned" / "oecd_parts-gaplens-minilm-int8.json"
PART_THRESHOLDS = dict(
    zip(
        *(json.loads(_PARTS_META.read_text(encoding="utf-8"))[k] for k in ("parts", "thresholds")),
        strict=True,
    )
)
LABELS = ROOT / "corpora" / "indicator_labels"
FOLDS = 5
AIMS_WEIGHT = 0.6
THRESHOLDS = (0.1, 0.2, 0.3, 0.4)
Encode = Callable[[list[str]], np.ndarray]


@dataclass(frozen=True)
class Pair:
    """One labelled (indicator, passage) pair."""

    indicator: str
    text: str
    label: str  # met, partly, no; evidence (the experts' pairs: met or partly)
    report: str
    weight: float


def load_pairs() -> list[Pair]:
    """The English labelled pairs (the int8 encoder reads English)."""
    pairs = []
    # the wide pairs (two indicators, beyond the gate) came later and measure the gate, not the check
    for path in (LABELS / "analyst_pairs.jsonl", LABELS / "aims_train_pairs.jsonl"):
        for line in path.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            if row.get("lang", "en") != "en":
                continue
            weight = AIMS_WEIGHT if str(row["report"]).startswith("aims:") else 1.0
            text = model_input(row["text"], row.get("heading", ""))
            pairs.append(Pair(row["indicator"], text, row["label"], row["report"], weight))
    return pairs


def augmented(vectors: np.ndarray, rows: np.ndarray, n: int) -> sparse.csr_matrix:
    """``[v, v in the indicator's block, the indicator's bias]`` per pair."""
    dim = len(vectors[0])
    blocks = sparse.lil_matrix((len(rows), n * dim))
    for i, k in enumerate(rows):
        blocks[i, k * dim : (k + 1) * dim] = vectors[i]
    onehot = sparse.csr_matrix((np.ones(len(rows)), (np.arange(len(rows)), rows)), shape=(len(rows), n))
    return sparse.hstack([sparse.csr_matrix(vectors), blocks.tocsr(), onehot]).tocsr()


@dataclass(frozen=True)
class Head:
    """One head of the check: per-indicator weights, Platt curve, threshold, out-of-fold probabilities."""

    weights: np.ndarray  # (indicators x dim), the shared weights folded into each block
    bias: np.ndarray
    platt: np.ndarray
    threshold: float
    oof: np.ndarray  # out-of-fold probabilities of the training pairs

    def probability(self, vector: np.ndarray, k: int) -> float:
        margin = float(vector @ self.weights[k] + self.bias[k])
        return float(1 / (1 + np.exp(-(self.platt[0] * margin + self.platt[1]))))


def fit_head(
    vectors: np.ndarray,
    rows: np.ndarray,
    y: np.ndarray,
    w: np.ndarray,
    groups: Sequence[str],
    n: int,
    c: float,
) -> Head:
    """One augmented logistic regression, calibrated on out-of-fold margins grouped by report."""
    x = augmented(vectors, rows, n)

    def fit(index: np.ndarray) -> LogisticRegression:
        model = LogisticRegression(C=c, max_iter=5000, class_weight="balanced")
        return model.fit(x[index], y[index], sample_weight=w[index])

    margins = np.zeros(len(y))
    for train, held in GroupKFold(FOLDS).split(x, y, groups):
        margins[held] = fit(train).decision_function(x[held])
    platt, threshold = _platt_threshold(margins, y)
    coef = fit(np.arange(len(y)))
    dim = vectors.shape[1]
    shared, blocks = coef.coef_[0][:dim], coef.coef_[0][dim : dim + n * dim].reshape(n, dim)
    bias = coef.coef_[0][dim + n * dim :] + coef.intercept_[0]
    oof = 1 / (1 + np.exp(-(platt[0] * margins + platt[1])))
    return Head(shared[None, :] + blocks, bias, platt, threshold, oof)


def fit_check(
    pairs: Sequence[Pair], vectors: np.ndarray, indicators: Sequence[str], c: float
) -> tuple[Head, Head, np.ndarray]:
    """The evidence head (every pair) and the met head (the analysts' met and partly pairs)."""
    index = {ind: k for k, ind in enumerate(indicators)}
    rows = np.array([index[p.indicator] for p in pairs])
    weight = np.array([p.weight for p in pairs])
    groups = [p.report for p in pairs]
    evidence = fit_head(
        vectors, rows, np.array([p.label != "no" for p in pairs], np.int8), weight, groups, len(indicators), c
    )
    judged = np.array([i for i, p in enumerate(pairs) if p.label in ("met", "partly")])
    y = np.array([pairs[i].label == "met" for i in judged], np.int8)
    met = fit_head(
        vectors[judged], rows[judged], y, weight[judged], [groups[i] for i in judged], len(indicators), c
    )
    return evidence, met, judged


def f1(pred: np.ndarray, gold: np.ndarray) -> float:
    return 2 * float((pred & gold).sum()) / max(float(pred.sum() + gold.sum()), 1.0)


def print_out_of_fold(pairs: Sequence[Pair], evidence: Head, met: Head, judged: np.ndarray, c: float) -> None:
    """How the check predicts the analysts' labels on reports it did not see, beside the rubric's reading."""
    analysts = np.array([not p.report.startswith("aims:") for p in pairs])
    gold = np.array([p.label != "no" for p in pairs])[analysts]
    said = (evidence.oof >= evidence.threshold)[analysts]
    rejected_right = float(((~said) & (~gold)).sum())
    no_precision, no_recall = rejected_right / max((~said).sum(), 1), rejected_right / max((~gold).sum(), 1)
    print(
        f"C={c}: evidence accuracy {float((said == gold).mean()):.3f} (every candidate evidence, as the "
        f"rubric takes it: {float(gold.mean()):.3f}); 'no' precision {no_precision:.3f} "
        f"recall {no_recall:.3f} at threshold {evidence.threshold:.2f}; "
        f"met F1 {f1(met.oof >= met.threshold, np.array([pairs[i].label == 'met' for i in judged])):.3f} "
        f"at {met.threshold:.2f}"
    )


@dataclass(frozen=True)
class Variant:
    """How the check is applied to the rubric's decisions."""

    name: str
    threshold: float | None  # None: the rubric as shipped
    reject: bool
    met_check: bool
    # another gate: the sub-element reader's parts at this probability, not at its own thresholds (and
    # with ``only_wider`` at the lower of the two), without its cap of three parts per passage
    widen: float | None = None
    only_wider: bool = False


def decisions(
    data: RubricInput,
    rubric: Rubric,
    check: tuple[Head, Head],
    vectors: dict[str, np.ndarray],
    variant: Variant,
) -> list[IndicatorResult]:
    """Every indicator decided with the check applied as ``variant`` says."""
    evidence, met = check
    if variant.widen is not None:
        gate = {
            p: min(t, variant.widen) if variant.only_wider else variant.widen
            for p, t in PART_THRESHOLDS.items()
        }
        data = replace(data, dd_scores=tuple(widened(r, gate) for r in data.dd_scores))
    results = []
    for k, indicator in enumerate(rubric.indicators):
        if variant.widen is not None:  # the variant's gate alone, not also the rubric's gate_probability
            indicator = replace(indicator, gate_probability=1.0)
        result = decide(indicator, data, rubric)
        if variant.threshold is None:
            results.append(result)
            continue
        found = candidates(indicator, data)
        rejected = {
            r.passage_id for r in found if evidence.probability(vectors[r.passage_id], k) < variant.threshold
        }
        if variant.reject:
            result = decide(indicator, replace(data, excluded=data.excluded | rejected), rubric)
        else:
            kept = decide(indicator, replace(data, excluded=data.excluded | rejected), rubric)
            if kept.decision != "not_met" or result.decision == "not_met":
                result = kept
            else:
                result = _partly(result, rubric)
        first = result.evidence[0].passage_id if result.evidence else ""
        if (
            variant.met_check
            and result.decision == "met"
            and met.probability(vectors[first], k) < met.threshold
        ):
            result = _partly(result, rubric)
        results.append(result)
    return results


def widened(reading: LabelScores, gate: dict[str, float]) -> LabelScores:
    """The reading with every learned sub-element scored at least its ``gate`` among its parts."""
    learned = tuple(part for part, score in reading.part_scores.items() if score >= gate[part])
    return replace(reading, parts=learned + tuple(p for p in reading.parts if p not in reading.part_scores))


def _partly(result: IndicatorResult, rubric: Rubric) -> IndicatorResult:
    return replace(result, decision="partly", points=rubric.points["partly"])


def passage_vectors(passages: Sequence[Passage], encode: Encode) -> dict[str, np.ndarray]:
    vectors = encode([model_input(p.text, p.heading) for p in passages])
    return {p.id: v for p, v in zip(passages, vectors, strict=True)}


def assessed_inputs(
    settings: Settings, encode: Encode
) -> dict[str, tuple[RubricInput, dict[str, np.ndarray]]]:
    """The cached readings of the 12 hand-assessed reports, their rubric input and passage vectors."""
    out = {}
    for name in sorted(load_assessments()):
        data, _readings = report_input(name, settings.corpora_dir)
        out[name] = (data, passage_vectors(list(data.passages.values()), encode))
    return out


def agreement(results: dict[str, list[IndicatorResult]], assessments: dict, names: Sequence[str]) -> str:
    exact = backed = shown = on_page = total = 0
    for name in names:
        for result in results[name]:
            row = assessments[name].get(result.id)
            if row is None:
                continue
            total += 1
            same = result.decision == row["decision"]
            first_on_page = bool(result.evidence) and result.evidence[0].page in set(row["pages"])
            exact += same
            backed += same and (result.decision == "not_met" or first_on_page)
            if result.decision != "not_met":
                shown += 1
                on_page += first_on_page
    return (
        f"exact {exact / total:.3f}  evidence-backed {backed / total:.3f}  "
        f"first evidence on an assessor's page {on_page / max(shown, 1):.3f} (n={total})"
    )


def aims_dev(
    settings: Settings, rubric: Rubric, check: tuple[Head, Head], encode: Encode, variants: Sequence[Variant]
) -> None:
    """The AIMS dev statements as documents (eval/expert_documents.py), each variant's evidence P / R."""
    statements = ed.build_documents("dev", settings)
    analyses = analyze_documents([s.document for s in statements], settings, ed.VectorFiles())
    corpora = settings.corpora_dir
    prepared = []
    for analysis in analyses:
        passages = analysis.passages
        data = rubric_input(passages, analysis.sdg, analysis.dd, corpora)
        prepared.append((data, passage_vectors(passages, encode)))
    for variant in variants:
        results = []
        for statement, (data, vectors) in zip(statements, prepared, strict=True):
            said = decisions(data, rubric, check, vectors, variant)
            calls = {
                r.id: ed.IndicatorCall(
                    r.decision, tuple(data.passages[e.passage_id].text for e in r.evidence)
                )
                for r in said
            }
            scores = step_scores(said, [str(s) for s in range(1, 7)])
            results.append(ed.StatementResult(statement.key, calls, scores, len(data.passages)))
        overall = ed.score(results, statements)["overall"]
        precision, recall = overall["precision"]["value"], overall["recall"]["value"]
        print(f"  {variant.name:34} precision {precision:.3f}  recall {recall:.3f}  F1 {overall['f1']:.3f}")


def report_input(name: str, corpora: Path) -> tuple[RubricInput, dict[str, LabelScores]]:
    """What the rubric reads about a cached report, and its due-diligence readings by passage."""
    _document, passages, sdg, dd = load_reading(name)
    data = rubric_input(passages, sdg, dd, corpora)
    return data, {r.passage_id: r for r in dd}


def pair_rows(file: str, corpora: Path) -> Iterator[tuple[dict, RubricInput, LabelScores]]:
    """Each labelled pair of corpora/indicator_labels/<file>, its report's rubric input and reading."""
    lines = (LABELS / file).read_text(encoding="utf-8").splitlines()
    ensure_readings(sorted({json.loads(line)["report"] for line in lines}))
    inputs: dict[str, tuple[RubricInput, dict[str, LabelScores]]] = {}
    for line in lines:
        row = json.loads(line)
        if row["report"] not in inputs:
            inputs[row["report"]] = report_input(row["report"], corpora)
        data, readings = inputs[row["report"]]
        yield row, data, readings[row["passage_id"]]


def print_rules_against_pairs(settings: Settings, rubric: Rubric) -> None:
    """Per indicator: the analysts' labels of the pairs the rubric calls met, partly, or no evidence.

    "no evidence": the passage is not a candidate of the indicator (the gate, or off the subject its
    `partly_needs` asks for). The pairs were drawn from candidates of an earlier gate, so most are candidates.
    """
    by_id = {i.id: i for i in rubric.indicators}
    counts: dict[str, Counter[tuple[str, str]]] = {i.id: Counter() for i in rubric.indicators}
    for row, data, reading in pair_rows("analyst_pairs.jsonl", settings.corpora_dir):
        indicator = by_id[row["indicator"]]
        rules = "partly" if unmet(indicator, reading, data) else "met"
        admitted = is_candidate(indicator, reading, data)
        counts[row["indicator"]][(rules if admitted else "no", row["label"])] += 1
    print("The rubric on the analysts' pairs: analysts' met/partly/no where the rubric says")
    print(f"{'indicator':28} {'met':>13} {'only partly':>13} {'no evidence':>13}")
    total: Counter[tuple[str, str]] = Counter()
    for indicator in rubric.indicators:
        mine = counts[indicator.id]
        total.update(mine)
        print(f"{indicator.id:28} {_triple(mine, 'met')} {_triple(mine, 'partly')} {_triple(mine, 'no')}")
    print(f"{'all':28} {_triple(total, 'met')} {_triple(total, 'partly')} {_triple(total, 'no')}")
    agree = sum(total[(label, label)] for label in ("met", "partly", "no"))
    print(f"pairs where the rubric's reading is the analyst's (met, partly, no): {agree} of {total.total()}")


def print_wide_gates(settings: Settings, rubric: Rubric) -> None:
    """The wide pairs (eval/indicator_pairs.py --wide): which the gate admits, and what it then says."""
    by_id = {i.id: i for i in rubric.indicators}
    counts: dict[str, Counter[tuple[str, str]]] = {}
    for row, data, reading in pair_rows("analyst_wide_pairs.jsonl", settings.corpora_dir):
        indicator = by_id[row["indicator"]]
        said = "not a candidate"
        if reads_as(indicator, reading, data.passages[reading.passage_id].text):
            said = "partly" if unmet(indicator, reading, data) else "met"
        counts.setdefault(indicator.id, Counter())[(said, row["label"])] += 1
    print(
        "\nWide pairs (beyond the gate): the analysts' met/partly/no by what the rubric makes of the passage"
    )
    for indicator_id, count in counts.items():
        cells = "  ".join(
            f"{said}: {_triple(count, said).strip()}" for said in ("met", "partly", "not a candidate")
        )
        print(f"{indicator_id:28} {cells}")


def _triple(counts: Counter[tuple[str, str]], rules: str) -> str:
    return "/".join(f"{counts[(rules, label)]:>3}" for label in ("met", "partly", "no")).rjust(13)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--c", type=float, nargs="*", default=[0.25, 1.0, 4.0])
    parser.add_argument("--rules-only", action="store_true", help="only the rubric against the pairs")
    args = parser.parse_args()
    settings = get_settings()
    rubric = load_rubric(settings.corpora_dir)
    print_rules_against_pairs(settings, rubric)
    print_wide_gates(settings, rubric)
    if args.rules_only:
        return
    indicators = [i.id for i in rubric.indicators]
    encode = part_encoders(TUNED_DIR, False)[ENGLISH_ENCODER]
    pairs = load_pairs()
    vectors = encode([p.text for p in pairs]).astype(np.float64)
    print(f"{len(pairs)} English pairs ({sum(not p.report.startswith('aims:') for p in pairs)} analysts')")
    print("\nOut of fold on the analysts' pairs (folds grouped by report)")
    fitted = {}
    for c in args.c:
        evidence, met, judged = fit_check(pairs, vectors, indicators, c)
        print_out_of_fold(pairs, evidence, met, judged, c)
        fitted[c] = (evidence, met)
    check = fitted[1.0] if 1.0 in fitted else fitted[args.c[0]]
    variants = [Variant("rubric as shipped", None, False, False)]
    variants += [Variant(f"reject below {t}", t, True, False) for t in THRESHOLDS]
    variants += [Variant(f"demote below {t}", t, False, False) for t in THRESHOLDS]
    variants += [Variant(f"demote below {t} + met check", t, False, True) for t in (0.2, 0.4)]
    for wide in (0.2, 0.25, 0.3, 0.35, 0.4, 0.5):
        variants.append(Variant(f"gate at {wide}", 0.0, True, False, wide))
    for wide in (0.2, 0.3, 1.0):
        variants.append(Variant(f"gate at min(threshold, {wide})", 0.0, True, False, wide, True))
    for wide in (0.3, 0.35):
        variants += [Variant(f"gate at {wide}, drop below {t}", t, True, False, wide) for t in (0.1, 0.2)]
    assessments = load_assessments()
    splits = yaml.safe_load((ROOT / "corpora" / "report_splits.yaml").read_text(encoding="utf-8"))
    inputs = assessed_inputs(settings, encode)
    dev = [n for n in inputs if n in splits["dev"]]
    rest = [n for n in inputs if n not in splits["dev"]]
    print(f"\nThe 12 hand assessments (dev: {len(dev)} reports, others: {len(rest)})")
    for variant in variants:
        results = {n: decisions(d, rubric, check, v, variant) for n, (d, v) in inputs.items()}
        print(f"  {variant.name:34} dev  {agreement(results, assessments, dev)}")
        print(f"  {'':34} rest {agreement(results, assessments, rest)}")
    print("\nAIMS dev statements (9), evidence precision and recall of the seven mapped indicators")
    aims_dev(settings, rubric, check, encode, variants)


if __name__ == "__main__":
    main()
