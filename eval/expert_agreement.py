"""How far our labels on the expert calibration sample are from the experts' (issue 24 part 1).

Reads one of our label files on the sample drawn by eval/expert_sample.py (blind ids x001..) and re-draws
the gold with ``expert_sample.draw()`` (seeded), so no gold file is needed.

- AIMS (modern-slavery sentences): each expert criterion is mapped to the OECD step GapLens is scored on
  (c3 risk description -> 2, c4 risk mitigation -> 3, c5 effectiveness -> 4, c4 remediation -> 6); per step:
  precision, recall, F1 and Cohen's kappa of "our steps contain the step" against "the experts marked the
  criterion". Then a confusion table: for the sentences with each criterion, how often our labels give each
  step (and none), and where our negatives fall.
- corporate_actions (one goal each): per goal, whether the gold goal is among ours (recall), how many goals
  we give, and which goals we give instead when we miss it.

The sample is stratified (criteria and goals drawn evenly, negatives undersampled), so precision here is not
the precision on a statement, and the sample is the one the revised guide was calibrated on: use it to
compare conventions, not as a model score.

    PYTHONPATH=$PWD .venv/bin/python eval/expert_agreement.py corpora/labels_expert_sample/blind_v2.jsonl
    PYTHONPATH=$PWD .venv/bin/python eval/expert_agreement.py OLD.jsonl NEW.jsonl   # before / after
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from eval.expert_sample import SampleItem, draw

STEP_OF_CRITERION = {
    "c3_risk_description": 2,
    "c4_risk_mitigation": 3,
    "c5_effectiveness": 4,
    "c4_remediation": 6,
}
SHORT = {
    "c3_risk_description": "c3",
    "c4_risk_mitigation": "c4m",
    "c5_effectiveness": "c5",
    "c4_remediation": "c4r",
}


@dataclass(frozen=True)
class Scores:
    """Binary agreement of one label over the items scored."""

    tp: int
    fp: int
    fn: int
    tn: int

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    @property
    def kappa(self) -> float:
        """Cohen's kappa: agreement beyond what the two raters' base rates give by chance."""
        n = self.tp + self.fp + self.fn + self.tn
        observed = (self.tp + self.tn) / n
        ours, theirs = (self.tp + self.fp) / n, (self.tp + self.fn) / n
        chance = ours * theirs + (1 - ours) * (1 - theirs)
        return (observed - chance) / (1 - chance) if chance < 1 else 1.0


def scores(pairs: list[tuple[bool, bool]]) -> Scores:
    """(ours, gold) pairs -> counts."""
    count = Counter(pairs)
    return Scores(count[True, True], count[True, False], count[False, True], count[False, False])


def load(path: Path) -> dict[str, dict]:
    return {r["id"]: r for r in map(json.loads, path.read_text(encoding="utf-8").splitlines()) if r}


def step_scores(items: list[SampleItem], ours: dict[str, dict]) -> dict[str, Scores]:
    """Per mapped step over the AIMS items, plus c4m read as step 2 or 3 (the OECD's "assess and address")."""
    aims = [i for i in items if i.source == "aims"]
    result = {
        f"step {step} <- {SHORT[criterion]}": scores(
            [(step in ours[i.id]["steps"], criterion in i.criteria) for i in aims]
        )
        for criterion, step in STEP_OF_CRITERION.items()
    }
    result["step 2|3 <- c4m"] = scores(
        [(bool({2, 3} & set(ours[i.id]["steps"])), "c4_risk_mitigation" in i.criteria) for i in aims]
    )
    result["any of 2,3,4,6 <- any"] = scores(
        [
            (bool({2, 3, 4, 6} & set(ours[i.id]["steps"])), bool(set(STEP_OF_CRITERION) & set(i.criteria)))
            for i in aims
        ]
    )
    return result


def confusion(items: list[SampleItem], ours: dict[str, dict]) -> list[str]:
    """Rows: expert criterion (or none); columns: how many of them we gave each step, none, a negative."""
    rows = {**{SHORT[c]: c for c in STEP_OF_CRITERION}, "other": "other", "none": "none"}
    head = (
        f"{'criterion':<10}{'n':>5}"
        + "".join(f"{'s' + str(s):>6}" for s in range(1, 7))
        + f"{'none':>6}{'neg':>6}"
    )
    lines = [head]
    for name, criterion in rows.items():
        if criterion == "none":
            members = [i for i in items if i.source == "aims" and not i.criteria]
        elif criterion == "other":
            members = [
                i
                for i in items
                if i.source == "aims" and i.criteria and not set(STEP_OF_CRITERION) & set(i.criteria)
            ]
        else:
            members = [i for i in items if i.source == "aims" and criterion in i.criteria]
        steps = Counter(s for i in members for s in ours[i.id]["steps"])
        nones = sum(not ours[i.id]["steps"] for i in members)
        negs = sum(bool(ours[i.id]["negative"]) for i in members)
        lines.append(
            f"{name:<10}{len(members):>5}"
            + "".join(f"{steps[s]:>6}" for s in range(1, 7))
            + f"{nones:>6}{negs:>6}"
        )
    return lines


def negatives_by_kind(items: list[SampleItem], ours: dict[str, dict]) -> list[str]:
    """Our negative kinds on AIMS sentences against whether the experts marked any mapped criterion."""
    count: Counter[tuple[str, str]] = Counter()
    for i in (i for i in items if i.source == "aims"):
        expert = "+".join(SHORT[c] for c in STEP_OF_CRITERION if c in i.criteria) or "none"
        count[ours[i.id]["negative"] or "-", expert] += 1
    return [
        f"  {neg:<14} expert {expert:<10} {n}" for (neg, expert), n in sorted(count.items()) if neg != "-"
    ]


def goal_table(items: list[SampleItem], ours: dict[str, dict]) -> tuple[list[str], dict[str, float]]:
    """Per gold goal: recall, mean goals given, empty rate, the goals given instead."""
    lines = [f"{'goal':>4}{'n':>4}{'recall':>8}{'#ours':>7}{'empty':>7}  instead (when missed)"]
    corp = [i for i in items if i.source == "corporate_actions"]
    for goal in range(1, 18):
        members = [i for i in corp if i.sdg == goal]
        hits = sum(goal in ours[i.id]["sdgs"] for i in members)
        given = sum(len(ours[i.id]["sdgs"]) for i in members) / len(members)
        empty = sum(not ours[i.id]["sdgs"] for i in members)
        instead = Counter(g for i in members if goal not in ours[i.id]["sdgs"] for g in ours[i.id]["sdgs"])
        top = ", ".join(f"{g}x{n}" for g, n in instead.most_common(4))
        lines.append(f"{goal:>4}{len(members):>4}{hits / len(members):>8.2f}{given:>7.2f}{empty:>7}  {top}")
    recalls = [
        sum(i.sdg in ours[i.id]["sdgs"] for i in corp if i.sdg == g) / max(1, sum(i.sdg == g for i in corp))
        for g in range(1, 18)
    ]
    summary = {
        "macro recall": sum(recalls) / 17,
        "micro recall": sum(i.sdg in ours[i.id]["sdgs"] for i in corp) / len(corp),
        "goals per text": sum(len(ours[i.id]["sdgs"]) for i in corp) / len(corp),
        "empty": sum(not ours[i.id]["sdgs"] for i in corp) / len(corp),
        "gold only goal": sum(ours[i.id]["sdgs"] == [i.sdg] for i in corp) / len(corp),
    }
    return lines, summary


def report(path: Path, items: list[SampleItem]) -> tuple[dict[str, Scores], dict[str, float]]:
    ours = load(path)
    missing = [i.id for i in items if i.id not in ours]
    if missing:
        raise SystemExit(f"{path}: {len(missing)} sample items unlabelled, e.g. {missing[:5]}")
    print(f"\n=== {path} ===")
    print(
        f"AIMS ({sum(i.source == 'aims' for i in items)} sentences): our steps against the experts' criteria"
    )
    print(f"{'label':<24}{'gold':>5}{'ours':>5}{'P':>7}{'R':>7}{'F1':>7}{'kappa':>7}")
    steps = step_scores(items, ours)
    for name, s in steps.items():
        print(
            f"{name:<24}{s.tp + s.fn:>5}{s.tp + s.fp:>5}"
            f"{s.precision:>7.2f}{s.recall:>7.2f}{s.f1:>7.2f}{s.kappa:>7.2f}"
        )
    print("\nconfusion: sentences with each expert criterion x the steps we gave (one can count in several)")
    print("\n".join(confusion(items, ours)))
    print("\nour negatives on AIMS sentences, by the experts' mapped criteria:")
    print("\n".join(negatives_by_kind(items, ours)))
    lines, summary = goal_table(items, ours)
    print(f"\ncorporate_actions ({sum(i.source == 'corporate_actions' for i in items)} texts, one goal each)")
    print("\n".join(lines))
    print("  " + "; ".join(f"{k} {v:.2f}" for k, v in summary.items()))
    return steps, summary


def compare(
    before: tuple[dict[str, Scores], dict[str, float]], after: tuple[dict[str, Scores], dict[str, float]]
) -> None:
    print("\n=== before -> after ===")
    print(f"{'label':<24}{'P':>13}{'R':>13}{'F1':>13}{'kappa':>13}")
    for name, was in before[0].items():
        now = after[0][name]
        cells = [
            (was.precision, now.precision),
            (was.recall, now.recall),
            (was.f1, now.f1),
            (was.kappa, now.kappa),
        ]
        print(f"{name:<24}" + "".join(f"{a:>6.2f}->{b:<5.2f}" for a, b in cells))
    for key, value in before[1].items():
        print(f"corporate_actions {key:<17}{value:>6.2f}->{after[1][key]:<5.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("labels", type=Path, nargs="+", help="our label file(s); two: before and after")
    args = parser.parse_args()
    items = draw()
    results = [report(path, items) for path in args.labels]
    if len(results) == 2:
        compare(results[0], results[1])


if __name__ == "__main__":
    main()
