"""Find the labelled items that a rule of the 2026-12-07 guide revision may change, and apply relabels.

eval/LABELLING_V2.md was revised on 2026-12-07 to follow the experts' conventions (issue 24 part 1). Items
of corpora/labels/*.jsonl labelled before then may need new labels where a changed rule applies. This
script finds candidates by label pattern and vocabulary, English rows only (a Dutch row translates an
English one and takes its labels when that one changes). By default it reads and writes **train and dev
reports only** (corpora/report_splits.yaml; test reports are never read). ``--split test`` reads and writes
the locked test reports only, so that the test split is relabelled by the same rules, as a separate,
explicit step (its rows get their own ``relabelled`` stamp).

    python eval/relabel_candidates.py find --out .labelling/relabel/candidates.jsonl   # review file + counts
    python eval/relabel_candidates.py apply DECISIONS.jsonl                          # edit rows in place
    python eval/relabel_candidates.py find --split test --out .labelling/relabel/test_candidates.jsonl
    python eval/relabel_candidates.py apply --split test \
        --candidates .labelling/relabel/test_candidates.jsonl DECISIONS.jsonl

A decision row is ``{"id", "rules": [...], "sdgs"?, "steps"?, "targets"?, "sub_elements"?,
"evidence_type"?, "negative"?}``: the fields given replace the row's; the row (and its ``-nl`` translation)
gets ``relabelled``. A candidate reviewed and kept as it was needs no decision row; ``apply`` counts
checked and changed rows per rule from the candidates file and the decisions.
"""

from __future__ import annotations

import argparse
import json
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml

from service.settings import REPO_ROOT

LABELS = REPO_ROOT / "corpora" / "labels"
RELABELLED = {
    "train+dev": "2026-12-07, revised guide (expert conventions), E1",
    "test": "2026-12-07, revised guide (expert conventions), applied to the locked test split, E2",
}
SPLITS = tuple(RELABELLED)
LABEL_FIELDS = ("sdgs", "targets", "steps", "sub_elements", "evidence_type", "negative")


def _words(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


GOAL_TOPICS = _words(
    r"climate|emission|carbon|energy|renewable|water|waste|recycl|circular|biodivers|forest|ocean|marine|"
    r"poverty|hunger|food|health|safety|education|training|gender|women|diversity|inclusion|equal|"
    r"human rights|labou?r|wage|employ|job|housing|cities|urban|transport|infrastructure|innovation|"
    r"corruption|bribery|ethic|partnership|communit|supplier|sourcing"
)
FINANCE_ACCESS = _words(
    r"financial inclusion|access to (finance|credit|capital|banking)|microfinanc|underbanked|unbanked"
)
SOCIAL_PROTECTION = _words(
    r"social protection|social security|employee benefits|insurance for employees|pension plan"
)
PARTNERSHIP = _words(
    r"global value chain|local (suppliers|business)|small business|market access|export|partnership"
)
RIGHTS = _words(
    r"human rights|forced labou?r|child labou?r|modern slavery|traffick|harass|migrant|refugee|discriminat|"
    r"exploitation|children's rights"
)
TRANSPARENCY = _words(r"transparen|accountab|beneficial owner|anti-corruption|anti-bribery")
MEASURE_IN_OPERATION = _words(
    r"code of conduct|supplier code|policy|policies|contract|terms and conditions|clause|training|trained|"
    r"e-learning|awareness"
)
RISK_SUBJECT = _words(
    r"human rights|labou?r|slavery|traffick|corruption|bribery|safety|environment|emission|discriminat|"
    r"harass|ethic|compliance"
)
ASSESSMENT_PROCESS = _words(
    r"audit|assess|screen|ecovadis|sedex|questionnaire|self-assessment|site visit|due diligence|"
    r"risk analysis|mapping|traceab"
)
NO_FINDING = _words(
    r"(not|no|none|never)\b.{0,60}\b(identified|found|detected|cases?|incidents?|violations?|risks?)"
)
BREACH_RESPONSE = _words(
    r"corrective action|terminat|suspen|investigat|sanction|remediat|re-audit|follow-up audit|non-?complian|"
    r"breach|violation|disciplin"
)
GRIEVANCE = _words(
    r"whistle|grievance|speak ?up|hotline|complaint|reporting channel|ombuds|tell us|integrity line"
)
TRACKING_MEASURE = _words(
    r"\d+ ?%|percent|number of|completed|completion|participants|trained|were audited|audits? (were|was) "
    r"(conducted|carried out)|reviewed|updated|revised|effectiveness|KPI"
)
CODE_ENFORCEMENT = _words(
    r"code of conduct|code of (business )?ethics|disciplin|compliance with (the|our) code"
)


@dataclass(frozen=True)
class Rule:
    """One changed rule: which rows it may change, by label pattern and vocabulary."""

    name: str
    about: str
    applies: Callable[[dict], bool]
    vocabulary: re.Pattern[str]


def _has(row: dict, key: str, value: int) -> bool:
    return value in row[key]


RULES = (
    Rule(
        "S1-goal-by-subject",
        "topic_only or unlabelled text whose subject falls under a goal",
        lambda r: not r["sdgs"] and r["negative"] in ("topic_only", ""),
        GOAL_TOPICS,
    ),
    Rule(
        "S2-finance-access",
        "access to finance -> 1, 8, 9",
        lambda r: not {1, 8, 9} <= set(r["sdgs"]),
        FINANCE_ACCESS,
    ),
    Rule(
        "S2-social-protection",
        "social protection -> 1, 10",
        lambda r: not {1, 10} <= set(r["sdgs"]),
        SOCIAL_PROTECTION,
    ),
    Rule(
        "S2-partnership",
        "value chains, trade, partnerships -> 17",
        lambda r: not _has(r, "sdgs", 17),
        PARTNERSHIP,
    ),
    Rule(
        "S3-human-rights",
        "human rights: goal of the right and the group (5, 10, 16 beside 8)",
        lambda r: bool(r["sdgs"]) and not {5, 10, 16} & set(r["sdgs"]),
        RIGHTS,
    ),
    Rule(
        "S4-transparency",
        "transparency, accountability -> 16 (a governance negative or an unlabelled text)",
        lambda r: not r["sdgs"] and r["negative"] in ("governance", ""),
        TRANSPARENCY,
    ),
    Rule(
        "D6-measure-in-operation",
        "policy / code / clause / training in operation against a risk -> steps 1 and 3",
        lambda r: _has(r, "steps", 1) and not _has(r, "steps", 3),
        MEASURE_IN_OPERATION,
    ),
    Rule(
        "D7-assessment-process",
        "audits, assessments, screening -> steps 2 and 3",
        lambda r: _has(r, "steps", 2) and not _has(r, "steps", 3),
        ASSESSMENT_PROCESS,
    ),
    Rule(
        "D8-D11-findings-not-gaps",
        "no risks found / no remediation needed: step 2 or 6, not not_disclosed",
        lambda r: r["negative"] == "not_disclosed",
        NO_FINDING,
    ),
    Rule(
        "D9-breach-response",
        "responses to a found breach -> steps 3 and 6",
        lambda r: bool(set(r["steps"]) & {2, 3, 4}) and not _has(r, "steps", 6),
        BREACH_RESPONSE,
    ),
    Rule(
        "D10-grievance",
        "grievance / whistle-blowing channels -> steps 6 and 3",
        lambda r: _has(r, "steps", 6) and not _has(r, "steps", 3),
        GRIEVANCE,
    ),
    Rule(
        "D12-tracking-measures",
        "tracking measures (training figures, reviews, audit results) -> step 4",
        lambda r: bool(set(r["steps"]) & {1, 2, 3}) and not _has(r, "steps", 4),
        TRACKING_MEASURE,
    ),
    Rule(
        "D13-code-enforcement",
        "code of conduct enforcement is not a governance negative",
        lambda r: r["negative"] == "governance",
        CODE_ENFORCEMENT,
    ),
)


def usable_reports(split: str = "train+dev") -> set[str]:
    """The reports of one split: train and dev (default; test labels are then never read) or test."""
    splits = yaml.safe_load((REPO_ROOT / "corpora" / "report_splits.yaml").read_text(encoding="utf-8"))
    if split == "test":
        return set(splits["test"])
    if split == "train+dev":
        return set(splits["train"]) | set(splits["dev"])
    raise ValueError(f"unknown split {split!r}; one of {SPLITS}")


def label_files(split: str = "train+dev") -> list[Path]:
    """Label files of the split's reports only (one file per report)."""
    usable = usable_reports(split)
    return [p for p in sorted(LABELS.glob("*.jsonl")) if p.stem in usable]


def rows_of(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def snippets(text: str, vocabulary: re.Pattern[str], width: int = 160, most: int = 3) -> list[str]:
    """The text around the first few vocabulary hits, for the reviewer."""
    found = []
    for match in list(vocabulary.finditer(text))[:most]:
        start, end = max(0, match.start() - width), min(len(text), match.end() + width)
        found.append(" ".join(text[start:end].split()))
    return found


def candidates(split: str = "train+dev") -> list[dict]:
    """Every (English row, rule) pair of the split's reports where the rule may change the row."""
    found = []
    for path in label_files(split):
        for row in rows_of(path):
            if row.get("lang", "en") != "en":
                continue
            text = f"{row.get('heading', '')}\n{row['text']}"
            rules = [rule.name for rule in RULES if rule.applies(row) and rule.vocabulary.search(text)]
            if rules:
                labels = {key: row.get(key) for key in LABEL_FIELDS}
                hits = {
                    name: snippets(text, next(r for r in RULES if r.name == name).vocabulary)
                    for name in rules
                }
                found.append(
                    {
                        "id": row["id"],
                        "granularity": row["granularity"],
                        "rules": rules,
                        **labels,
                        "hits": hits,
                    }
                )
    return found


def find(out: Path, split: str = "train+dev") -> None:
    found = candidates(split)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8") as handle:
        for row in found:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    count = Counter(name for row in found for name in row["rules"])
    print(f"{len(found)} candidate rows -> {out}")
    for rule in RULES:
        print(f"  {rule.name:<28}{count[rule.name]:>5}  {rule.about}")


def apply(decisions_path: Path, candidates_path: Path, split: str = "train+dev") -> None:
    """Edit the label rows of the split's reports in place; print checked / changed per rule.

    A decision naming a row of a report outside the split stops the run before any file is written.
    """
    decisions = {d["id"]: d for d in rows_of(decisions_path)}
    checked = Counter(name for row in rows_of(candidates_path) for name in row["rules"])
    changed: Counter[str] = Counter()
    usable = usable_reports(split)
    every = [(path, rows_of(path)) for path in sorted(LABELS.glob("*.jsonl"))]
    touched = [(p, rows) for p, rows in every if any(r["id"].removesuffix("-nl") in decisions for r in rows)]
    outside = [path.name for path, _ in touched if path.stem not in usable]
    if outside:
        raise SystemExit(f"{', '.join(outside)}: a decision names a row outside the {split} split")
    done: set[str] = set()
    for path, rows in touched:
        for row in rows:
            decision = decisions.get(row["id"].removesuffix("-nl"))
            if decision is None:
                continue
            new = {key: decision[key] for key in LABEL_FIELDS if key in decision}
            if any(row.get(key) != value for key, value in new.items()):
                row.update(new)
                row["relabelled"] = RELABELLED[split]
                if row.get("lang", "en") == "en":
                    changed.update(decision["rules"])
                    done.add(row["id"])
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    print(f"{len(done)} English rows changed (their Dutch translations follow)")
    for rule in RULES:
        print(f"  {rule.name:<28} checked {checked[rule.name]:>4}  changed {changed[rule.name]:>4}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    split_help = "train+dev (default) or test: the locked test reports only, never together"
    find_cmd = sub.add_parser("find")
    find_cmd.add_argument("--split", choices=SPLITS, default="train+dev", help=split_help)
    find_cmd.add_argument(
        "--out", type=Path, default=REPO_ROOT / ".labelling" / "relabel" / "candidates.jsonl"
    )
    apply_cmd = sub.add_parser("apply")
    apply_cmd.add_argument("decisions", type=Path)
    apply_cmd.add_argument("--split", choices=SPLITS, default="train+dev", help=split_help)
    apply_cmd.add_argument(
        "--candidates", type=Path, default=REPO_ROOT / ".labelling" / "relabel" / "candidates.jsonl"
    )
    args = parser.parse_args()
    if args.command == "find":
        find(args.out, args.split)
    else:
        apply(args.decisions, args.candidates, args.split)


if __name__ == "__main__":
    main()
