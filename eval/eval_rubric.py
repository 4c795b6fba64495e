"""Discrimination and agreement of the rubric scores on the shared reports.

Scores every cached reading (``python eval/readings.py`` makes them once) with ``gap_report`` and prints:

- one line per report: pages, passages, SDG score, due-diligence score, profile and the six step scores;
- the spread of both headline scores (min, quartiles, max, standard deviation) and the profile counts,
  over all reports and over the reports not hand-assessed (the only ones thresholds were tuned on);
- once hand assessments exist in ``eval/data/rubric_assessments/`` (guide: ``eval/RUBRIC_ASSESSMENT.md``):
  agreement per indicator (exact, and Cohen's kappa over all decisions), the Spearman rank correlation of
  each step's score and of the due-diligence score between GapLens and the assessors, and agreement on
  the SDG ladder rungs.

``--summary`` prints only the headline scores and profiles, which the scorer before the rubric also had:
``PYTHONPATH=/tmp/gaplens-main python eval/eval_rubric.py --summary`` scores the same readings with an
export of the main branch (``git archive main service corpora classifiers | tar -x -C /tmp/gaplens-main``).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from collections import Counter, defaultdict
from dataclasses import replace
from pathlib import Path
from typing import Any

from readings import CACHE, corpora_with_rubric_of, load_reading, report_name, shared_reports
from scipy.stats import spearmanr

from service.pipeline import gap_report
from service.settings import Settings

ASSESSMENTS = Path(__file__).resolve().parent / "data" / "rubric_assessments"
POINTS = {"met": 1.0, "partly": 0.5, "not_met": 0.0}
STEPS = ("1", "2", "3", "4", "5", "6")


def score_all(names: list[str], settings: Settings, readers: bool = True) -> dict[str, Any]:
    """Each cached report's GapReport; ``readers=False`` scores as before the learned readers existed.

    Without the readers the rubric gates indicators on steps and cue words and the rules decide evidence
    types, exactly as the code before them did on the same classifier readings.
    """
    reports = {}
    for name in names:
        document, passages, sdg, dd = load_reading(name)
        if not readers:
            dd = [replace(r, part_scores={}, evidence_type="") for r in dd]
        reports[name] = gap_report(document, passages, sdg, dd, settings)
    return reports


def spread(values: list[int]) -> str:
    """Minimum, q1 / median / q3 / max and standard deviation."""
    q1, median, q3 = statistics.quantiles(values, n=4) if len(values) > 1 else (values[0],) * 3
    sd = statistics.pstdev(values)
    return f"min {min(values)}  q1 {q1:.0f}  median {median:.0f}  q3 {q3:.0f}  max {max(values)}  sd {sd:.1f}"


def print_table(reports: dict[str, Any], summary: bool) -> None:
    """One line per report."""
    print(f"{'report':46} {'pages':>5} {'pass':>5} {'sdg':>4} {'dd':>4}  {'profile':19} steps 1-6")
    for name, r in reports.items():
        steps = "" if summary else " ".join(f"{c.score:>3}" for c in r.due_diligence)
        scores = f"{r.sdg_score:>4} {r.due_diligence_score:>4}"
        print(f"{name:46} {r.pages:>5} {r.passages:>5} {scores}  {r.profile:19} {steps}")


def print_spread(reports: dict[str, Any], assessed: set[str]) -> None:
    """Spread of both scores and the profile counts, for all reports and the tuning set."""
    groups = {"all": list(reports)}
    if assessed:
        groups["not hand-assessed"] = [n for n in reports if n not in assessed]
    for group, names in groups.items():
        if not names:
            continue
        print(f"\n{group} ({len(names)} reports)")
        print("  SDG score            ", spread([reports[n].sdg_score for n in names]))
        print("  due-diligence score  ", spread([reports[n].due_diligence_score for n in names]))
        print("  profiles             ", dict(Counter(reports[n].profile for n in names).most_common()))
        length = [reports[n].passages for n in names]
        for side, key in (("SDG", "sdg_score"), ("due-diligence", "due_diligence_score")):
            rho = spearmanr(length, [getattr(reports[n], key) for n in names]).statistic
            print(f"  Spearman of the {side} score with the number of passages: {rho:+.2f}")


def load_assessments() -> dict[str, dict[str, dict[str, Any]]]:
    """Report -> indicator -> the assessor's line (the last line wins if an indicator repeats)."""
    found: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
    for path in sorted(ASSESSMENTS.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                found[row["report"]][row["indicator"]] = row
    return dict(found)


def kappa(pairs: list[tuple[str, str]]) -> float:
    """Cohen's kappa of two raters' decisions."""
    n = len(pairs)
    observed = sum(a == b for a, b in pairs) / n
    left, right = Counter(a for a, _ in pairs), Counter(b for _, b in pairs)
    expected = sum(left[k] * right[k] for k in left) / (n * n)
    return (observed - expected) / (1 - expected) if expected < 1 else 1.0


def human_step_scores(rows: dict[str, dict[str, Any]], step: str) -> float | None:
    """The assessor's step score, by the same points as GapLens."""
    points = [POINTS[r["decision"]] for i, r in rows.items() if i.startswith(f"dd{step}.")]
    return 100 * sum(points) / len(points) if points else None


def print_agreement(reports: dict[str, Any], assessments: dict[str, dict[str, dict[str, Any]]]) -> None:
    """Per-indicator agreement, kappa, Spearman of step scores, SDG rung agreement."""
    names = [n for n in assessments if n in reports]
    print(f"\nAgreement with hand assessments ({len(names)} reports: {', '.join(names)})")
    pairs_by: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for name in names:
        ours = {i.id: i.decision for i in reports[name].indicators}
        for indicator, row in assessments[name].items():
            if indicator in ours:
                pairs_by[indicator].append((ours[indicator], row["decision"]))
    every = [p for pairs in pairs_by.values() for p in pairs]
    if not every:
        return
    print(f"{'indicator':28} {'n':>3} {'exact':>6} {'±1 level':>9}  GapLens met/partly/not vs assessor")
    order = [i.id for i in next(iter(reports.values())).indicators]
    for indicator in order:
        pairs = pairs_by.get(indicator, [])
        if pairs:
            exact = sum(a == b for a, b in pairs) / len(pairs)
            near = sum(abs(POINTS[a] - POINTS[b]) <= 0.5 for a, b in pairs) / len(pairs)
            ours, theirs = Counter(a for a, _ in pairs), Counter(b for _, b in pairs)
            counts = "/".join(str(ours[k]) for k in POINTS) + " vs "
            counts += "/".join(str(theirs[k]) for k in POINTS)
            print(f"{indicator:28} {len(pairs):>3} {exact:>6.2f} {near:>9.2f}  {counts}")
    exact = sum(a == b for a, b in every) / len(every)
    print(f"{'all indicators':28} {len(every):>3} {exact:>6.2f}   kappa {kappa(every):.2f}")
    print("\nSpearman of step scores across reports (GapLens vs assessors)")
    for step in (*STEPS, "dd"):
        ours_s, theirs_s = [], []
        for name in names:
            if step == "dd":
                human = [human_step_scores(assessments[name], s) for s in STEPS]
                if None in human:
                    continue
                theirs_s.append(sum(h for h in human if h is not None) / len(STEPS))
                ours_s.append(reports[name].due_diligence_score)
            elif (h := human_step_scores(assessments[name], step)) is not None:
                theirs_s.append(h)
                ours_s.append(next(c.score for c in reports[name].due_diligence if c.label == step))
        if len(ours_s) >= 3:
            rho = spearmanr(ours_s, theirs_s).statistic
            what = f"step {step}" if step != "dd" else "due-diligence score"
            print(f"  {what:22} n={len(ours_s):>2}  rho {rho:+.2f}")
        if step == "dd" and len(ours_s) >= 3:
            length = [reports[n].passages for n in names if n in reports][: len(ours_s)]
            human, gaplens = spearmanr(length, theirs_s).statistic, spearmanr(length, ours_s).statistic
            print(f"  with the number of passages: assessors {human:+.2f}, GapLens {gaplens:+.2f}")
    print_ladder_agreement(reports, names, assessments)


def print_ladder_agreement(
    reports: dict[str, Any], names: list[str], assessments: dict[str, dict[str, dict[str, Any]]]
) -> None:
    """Exact and within-one-rung agreement on the SDG ladder, for the goals the assessors rated."""
    levels = {"": 0, "none": 0, "mentioned": 1, "commitment": 2, "target_kpi": 3, "result": 4, "un_target": 5}
    pairs = []
    for name in names:
        ours = {f"sdg{g.goal}": g.level for g in reports[name].sdg_ladder}
        for indicator, row in assessments[name].items():
            if indicator in ours and row["decision"] in levels:
                pairs.append((ours[indicator], levels[row["decision"]]))
    if pairs:
        exact = sum(a == b for a, b in pairs) / len(pairs)
        near = sum(abs(a - b) <= 1 for a, b in pairs) / len(pairs)
        rho = spearmanr([a for a, _ in pairs], [b for _, b in pairs]).statistic if len(pairs) > 2 else 0.0
        print(f"\nSDG ladder: {len(pairs)} goals rated; exact rung {exact:.2f}, within one rung {near:.2f}")
        print(f"  Spearman of rungs {rho:+.2f}")


def main() -> None:
    """Score every cached reading and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--summary", action="store_true", help="headline scores and profiles only")
    parser.add_argument(
        "--without-readers",
        action="store_true",
        help="decide indicators by steps and cue words and evidence types by rules (before issue 25 part 1)",
    )
    parser.add_argument(
        "--rubric-from",
        metavar="REV",
        help="first the agreement with corpora/dd_rubric.yaml as at git revision REV, from the same readings",
    )
    args = parser.parse_args()
    names = [report_name(p) for p in shared_reports() if (CACHE / f"{report_name(p)}.json").exists()]
    if args.rubric_from:
        with tempfile.TemporaryDirectory() as folder:
            corpora = corpora_with_rubric_of(args.rubric_from, Path(folder))
            before = score_all(names, Settings(corpora_dir=corpora), readers=not args.without_readers)
        print(f"== the rubric of {args.rubric_from} ==")
        print_agreement(before, load_assessments())
        print("\n== the rubric as it is ==")
    reports = score_all(names, Settings(), readers=not args.without_readers)
    assessments = {} if args.summary else load_assessments()
    print_table(reports, args.summary)
    print_spread(reports, set(assessments))
    if assessments:
        print_agreement(reports, assessments)


if __name__ == "__main__":
    main()
