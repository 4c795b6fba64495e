"""Draw the expert calibration sample: expert-labelled sentences that we label blind with our own guide.

Issue 24 part 1: before tuning anything on expert data, measure how our labelling conventions
(eval/LABELLING_V2.md) differ from the experts'. The sample is drawn only from parts of the expert sets
that no score is ever taken on:

- 240 AIMS sentences (../shared/data/aims_uk_ca) from *train and dev* statements of
  corpora/expert_splits.yaml (never a test statement), stratified by the criteria that map to OECD steps:
  ~45 each with c3 risk description, c4 risk mitigation, c4 remediation, c5 effectiveness, and ~60 with
  no criterion at all (texts under 5 words, i.e. headings and fragments, are skipped);
- 150 corporate_actions sentences (../shared/data/sdg_labelled) from the *train* part of its fixed hash
  split (classifiers/labelled.py ``is_dev_text``), stratified over the 17 goals.

The blind file holds an opaque id and the text only, shuffled, so that the labeller sees neither the
source's labels nor its order (corporate_actions.csv is sorted by goal). The gold stays in a separate file.
Seeded: re-running reproduces the same items; eval/expert_agreement.py re-draws the gold with ``draw()``.

    PYTHONPATH=$PWD .venv/bin/python eval/expert_sample.py      # writes .labelling/expert_{blind,gold}.jsonl
"""

from __future__ import annotations

import argparse
import csv
import json
import random
from dataclasses import asdict, dataclass
from pathlib import Path

import yaml

from classifiers.labelled import is_dev_text
from service.settings import REPO_ROOT, Settings

SEED = 20261207
AIMS_STRATA = {
    "c3_risk_description": 45,
    "c4_risk_mitigation": 45,
    "c4_remediation": 45,
    "c5_effectiveness": 45,
}
AIMS_NONE = 60
CORPORATE_ACTIONS = 150
MIN_WORDS = 5


@dataclass(frozen=True)
class SampleItem:
    """One drawn sentence with its experts' labels (the gold, never shown to the labeller)."""

    id: str
    text: str
    source: str
    source_id: str
    stratum: str
    criteria: tuple[str, ...] = ()
    sdg: int = 0


def aims_usable_statements(corpora_dir: Path) -> set[str]:
    """Train and dev statement keys of the locked AIMS split; test statements are never read."""
    splits = yaml.safe_load((corpora_dir / "expert_splits.yaml").read_text(encoding="utf-8"))["aims_uk_ca"]
    return set(splits["train"]) | set(splits["dev"])


def aims_rows(shared: Path, corpora_dir: Path) -> list[dict]:
    """AIMS sentences of train and dev statements, at least MIN_WORDS long, one per distinct text."""
    usable = aims_usable_statements(corpora_dir)
    rows, seen = [], set()
    with (shared / "aims_uk_ca" / "aims_uk_ca_sentences.jsonl").open(encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            if f"{row['jurisdiction']}-{row['statement_id']}" not in usable:
                continue
            text = " ".join(row["text"].split())
            if len(text.split()) < MIN_WORDS or text.lower() in seen:
                continue
            seen.add(text.lower())
            rows.append(row | {"text": text})
    return rows


def draw_aims(rows: list[dict], rng: random.Random) -> list[SampleItem]:
    """Stratified by criterion (a sentence drawn for one criterion keeps all its criteria), then no-label."""
    drawn: list[SampleItem] = []
    taken: set[str] = set()
    strata = [(name, n, [r for r in rows if r["labels"][name]]) for name, n in AIMS_STRATA.items()]
    strata.append(("none", AIMS_NONE, [r for r in rows if not r["label_list"]]))
    for name, n, pool in strata:
        pool = [r for r in pool if r["id"] not in taken]
        for row in rng.sample(pool, min(n, len(pool))):
            taken.add(row["id"])
            criteria = tuple(sorted(k for k, v in row["labels"].items() if v))
            drawn.append(SampleItem("", row["text"], "aims", row["id"], name, criteria))
    return drawn


def draw_corporate_actions(shared: Path, rng: random.Random) -> list[SampleItem]:
    """Train-split sentences, CORPORATE_ACTIONS in all, as even over the 17 goals as the count allows."""
    with (shared / "sdg_labelled" / "corporate_actions.csv").open(encoding="utf-8") as handle:
        rows = [(n, r["Text"].strip(), int(r["SDG"])) for n, r in enumerate(csv.DictReader(handle))]
    by_goal: dict[int, list[tuple[int, str]]] = {}
    for n, text, goal in rows:
        if text and not is_dev_text(text):
            by_goal.setdefault(goal, []).append((n, " ".join(text.split())))
    goals = sorted(by_goal)
    extra = set(rng.sample(goals, CORPORATE_ACTIONS % len(goals)))
    drawn = []
    for goal in goals:
        count = CORPORATE_ACTIONS // len(goals) + (goal in extra)
        for n, text in rng.sample(by_goal[goal], count):
            source_id = f"corporate_actions:{n}"
            drawn.append(SampleItem("", text, "corporate_actions", source_id, str(goal), sdg=goal))
    return drawn


def draw(settings: Settings | None = None) -> list[SampleItem]:
    """The whole sample, shuffled, with opaque ids x001.. in shuffled order."""
    settings = settings or Settings()
    rng = random.Random(SEED)
    items = draw_aims(aims_rows(settings.shared_data_dir, settings.corpora_dir), rng)
    items += draw_corporate_actions(settings.shared_data_dir, rng)
    rng.shuffle(items)
    return [SampleItem(**(asdict(item) | {"id": f"x{n:03d}"})) for n, item in enumerate(items, 1)]


def write(items: list[SampleItem], out: Path) -> None:
    """The blind file (id + text) and the gold file, in a folder git ignores."""
    out.mkdir(parents=True, exist_ok=True)
    (out / ".gitignore").write_text("*\n", encoding="utf-8")
    with (out / "expert_blind.jsonl").open("w", encoding="utf-8") as blind:
        for item in items:
            blind.write(json.dumps({"id": item.id, "text": item.text}, ensure_ascii=False) + "\n")
    with (out / "expert_gold.jsonl").open("w", encoding="utf-8") as gold:
        for item in items:
            gold.write(json.dumps(asdict(item), ensure_ascii=False) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=REPO_ROOT / ".labelling")
    args = parser.parse_args()
    items = draw()
    write(items, args.out)
    print(f"{len(items)} items -> {args.out}/expert_blind.jsonl (gold: expert_gold.jsonl)")


if __name__ == "__main__":
    main()
