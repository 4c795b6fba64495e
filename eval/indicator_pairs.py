"""Draw (indicator, candidate passage) pairs from train reports for analysts to label met / partly / no.

The labels show, and the learned indicator check (eval/indicator_check.py) learns, what the rubric's cue
words cannot see: whether a passage the sub-element reader let through is about the indicator's subject at
all (a product-quality test is not a human-rights risk assessment) and whether it meets the indicator's
written `met` definition. Pairs come from the cached readings (eval/readings.py) of **train** reports that
are not among the 12 hand assessments (eval/data/rubric_assessments), so neither the locked test nor the
agreement set is read. Per report and indicator: the two best-ranked candidates and up to two others drawn
at random (seeded), so labels cover strong and marginal candidates. The labeller sees the passage, the
indicator's question and its met / partly definitions, never GapLens's decision.

    PYTHONPATH=$PWD .venv/bin/python eval/indicator_pairs.py --out /tmp/pairs.jsonl
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
from collections.abc import Sequence
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from readings import load_reading  # noqa: E402

from service.judging.rubric import Indicator, RubricInput, _rank, candidates, load_rubric, unmet  # noqa: E402
from service.judging.scoring import rubric_input  # noqa: E402
from service.records import LabelScores  # noqa: E402
from service.settings import Settings  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
ASSESSED = ROOT / "eval" / "data" / "rubric_assessments"
TOP, RANDOM = 2, 2
SEED = 7


def dutch_train() -> list[str]:
    """The Dutch train reports of corpora/expert_splits.yaml."""
    splits = yaml.safe_load((ROOT / "corpora" / "expert_splits.yaml").read_text(encoding="utf-8"))
    return list(splits["dutch_reports"]["train"])


def train_reports() -> list[str]:
    """Train reports of corpora/report_splits.yaml without a hand assessment, and cached Dutch train ones."""
    splits = yaml.safe_load((ROOT / "corpora" / "report_splits.yaml").read_text(encoding="utf-8"))
    assessed = {p.stem for p in ASSESSED.glob("*.jsonl")}
    names = [n for n in splits["train"] if n not in assessed]
    cache = ROOT / ".cache_readings"
    names += [n for n in dutch_train() if (cache / f"{n}.json").exists()]
    return names


# ``--wide``: for indicators whose sub-elements the reader did not learn, candidates beyond the rubric's
# gate: any passage read as a due-diligence step whose reader score for one of the indicator's parts reaches
# WIDE_SCORE or whose text matches the broad words below (the rubric's `partly` texts: "general stakeholder
# communication", "a policy of termination or escalation"), at most WIDE_PER per report, strongest first.
# Other indicators (drawn later, for the two step-5 indicators whose reader candidates analysts rejected
# 82 of 88 times) count a passage as worded when it matches the indicator's own cues or met cues.
WIDE_SCORE = 0.05
WIDE_PER = 8
WIDE_WORDED = ("dd3.cease_or_disengage", "dd5.affected_communication")
WIDE_WORDS = re.compile(
    r"\b(stakeholders?|belanghebbenden|dialogue|dialoog|engagement|feedback|inform\w*|communicat\w*|"
    r"terminat\w*|suspend\w*|exclu\w*|divest\w*|escalat\w*|disengag\w*|uitsluit\w*|beëindig\w*)\b",
    re.IGNORECASE,
)


def is_worded(indicator: Indicator, text: str) -> bool:
    """Whether a passage uses the words a wide draw looks for (see WIDE_WORDED)."""
    if indicator.id in WIDE_WORDED:
        return bool(WIDE_WORDS.search(text))
    return bool(indicator.cues.search(text) or (indicator.met_cues and indicator.met_cues.search(text)))


def wide_candidates(indicator: Indicator, data: RubricInput) -> list[LabelScores]:
    """Passages read as some step that score for the indicator's parts or use its broad words."""
    found = []
    for reading in data.dd_scores:
        if not reading.labels or reading.passage_id in data.excluded:
            continue
        score = max((reading.part_scores.get(p, 0.0) for p in indicator.parts), default=0.0)
        worded = is_worded(indicator, data.passages[reading.passage_id].text)
        if score >= WIDE_SCORE or worded:
            found.append((not worded, -score, reading))
    return [reading for *_key, reading in sorted(found, key=lambda f: f[:2])][:WIDE_PER]


def drawn_as(wide: Sequence[str], stepless: bool, rank: int) -> str:
    """Which draw a pair came from, as its ``drawn`` field says."""
    if wide:
        return "stepless" if stepless else "wide"
    return "top" if rank < TOP else "random"


def pairs_of(
    name: str, settings: Settings, rng: random.Random, wide: Sequence[str] = (), stepless: bool = False
) -> list[dict[str, object]]:
    """The drawn pairs of one report.

    With ``wide``: those indicators' wide candidates instead; with ``stepless`` too, their candidates that no
    due-diligence step reads (a wide draw never offers them).
    """
    _document, passages, sdg, dd = load_reading(name)
    corpora = settings.corpora_dir
    data = rubric_input(passages, sdg, dd, corpora)
    rubric = load_rubric(corpora)
    rows = []
    for indicator in rubric.indicators:
        if wide and indicator.id not in wide:
            continue
        found = candidates(indicator, data)
        ranked = sorted(found, key=lambda r: _rank(indicator, r, unmet(indicator, r, data), data))
        rest = ranked[TOP:]
        drawn = ranked[:TOP] + rng.sample(rest, min(RANDOM, len(rest)))
        # after the usual draw, which advances the seeded generator the committed files were drawn with
        if wide and stepless:
            drawn = [r for r in found if not r.labels][:WIDE_PER]
        elif wide:
            drawn = wide_candidates(indicator, data)
        for rank, reading in enumerate(drawn):
            passage = data.passages[reading.passage_id]
            rows.append(
                {
                    "pair": f"{name}:{indicator.id}:{passage.id}",
                    "report": name,
                    "page": passage.page,
                    "passage_id": passage.id,
                    "indicator": indicator.id,
                    "drawn": drawn_as(wide, stepless, rank),
                    "lang": "nl" if name in dutch_train() else "en",
                    "heading": passage.heading,
                    "text": passage.text,
                }
            )
    return rows


LABEL_ORDER = ("no", "partly", "met")
LABELLED = (
    "2026-12-07, by hand (AI-assistant helper sessions, one shard each), eval/LABELLING_INDICATORS.md v2"
)


def merge(pairs_path: Path, label_paths: Sequence[Path], out: Path) -> None:
    """The drawn pairs with their labels; a pair labelled twice takes the lower label (the guide's rule).

    Prints the agreement of the double-labelled pairs (exact, and evidence-or-not).
    """
    labels: dict[str, list[dict]] = {}
    for path in label_paths:
        for line in path.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            labels.setdefault(row["pair"], []).append(row)
    twice = [v for v in labels.values() if len(v) > 1]
    exact = sum(v[0]["label"] == v[1]["label"] for v in twice)
    evidence = sum((v[0]["label"] == "no") == (v[1]["label"] == "no") for v in twice)
    print(f"double-labelled {len(twice)}: exact {exact}, evidence-or-not {evidence}", file=sys.stderr)
    rows = []
    for line in pairs_path.read_text(encoding="utf-8").splitlines():
        pair = json.loads(line)
        given = labels.get(pair["pair"])
        if not given:
            continue
        lowest = min(given, key=lambda r: LABEL_ORDER.index(r["label"]))
        pair.update(
            label=lowest["label"],
            note=lowest.get("note", ""),
            labeller="+".join(r["labeller"] for r in given),
            labelled=LABELLED,
        )
        rows.append(pair)
    with out.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"{len(rows)} labelled pairs -> {out}", file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--reports", nargs="*", default=None)
    parser.add_argument("--merge", type=Path, help="the drawn pairs file, to merge with --labels into --out")
    parser.add_argument("--labels", type=Path, nargs="*", default=[])
    parser.add_argument("--wide", nargs="*", default=[], help="draw these indicators' wide candidates only")
    parser.add_argument(
        "--stepless", action="store_true", help="with --wide: their candidates that no step reads instead"
    )
    args = parser.parse_args()
    if args.merge:
        merge(args.merge, args.labels, args.out)
        return
    settings = Settings()
    rng = random.Random(SEED)
    names = args.reports or train_reports()
    rows = [row for name in names for row in pairs_of(name, settings, rng, args.wide, args.stepless)]
    rng.shuffle(rows)
    with args.out.open("w", encoding="utf-8") as out:
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"{len(rows)} pairs of {len({r['report'] for r in rows})} reports -> {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
