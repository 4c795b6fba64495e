"""Check a file of label rows (eval/LABELLING_V2.md) against the items it labels.

    python eval/check_labels.py ITEMS.jsonl LABELS.jsonl     # prints problems; exit 1 if any

Every item must have exactly one label row; every field must have the guide's form. Used by the labellers
after each report and by the merge into corpora/labels/.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import yaml

from service.settings import REPO_ROOT

EVIDENCE_TYPES = {"", "result", "action", "commitment", "mention"}
NEGATIVE = {"", "not_disclosed", "content_index", "financial", "boilerplate", "governance", "topic_only"}


def known_parts() -> tuple[set[str], set[str]]:
    """SDG target ids and OECD sub-element ids from corpora/."""
    sdg = yaml.safe_load((REPO_ROOT / "corpora" / "sdg.yaml").read_text(encoding="utf-8"))
    dd = yaml.safe_load((REPO_ROOT / "corpora" / "oecd_due_diligence.yaml").read_text(encoding="utf-8"))
    targets = {str(t["id"]) for g in sdg["goals"] for t in g["targets"]}
    subs = {str(e["id"]) for s in dd["steps"] for e in s["sub_elements"]}
    return targets, subs


def problems_of(row: dict, targets: set[str], subs: set[str]) -> list[str]:
    """What is wrong with one label row (empty: nothing)."""
    found = []
    sdgs, steps = row.get("sdgs"), row.get("steps")
    if not isinstance(sdgs, list) or not all(isinstance(g, int) and 1 <= g <= 17 for g in sdgs):
        found.append("sdgs must be a list of goal numbers 1-17")
        sdgs = []
    if not isinstance(steps, list) or not all(isinstance(s, int) and 1 <= s <= 6 for s in steps):
        found.append("steps must be a list of step numbers 1-6")
        steps = []
    for t in row.get("targets", []):
        if t not in targets or int(re.split(r"\.", t)[0]) not in sdgs:
            found.append(f"target {t!r} unknown or its goal is not in sdgs")
    for s in row.get("sub_elements", []):
        if s not in subs or int(s.split(".")[0]) not in steps:
            found.append(f"sub-element {s!r} unknown or its step is not in steps")
    if row.get("evidence_type", "") not in EVIDENCE_TYPES:
        found.append("evidence_type must be one of result/action/commitment/mention/''")
    if row.get("negative", "") not in NEGATIVE:
        found.append(f"negative must be one of {sorted(NEGATIVE)}")
    if row.get("negative") in ("not_disclosed", "content_index") and (sdgs or steps):
        found.append("a not_disclosed / content_index text takes no goal and no step")
    if (sdgs or steps) and not row.get("evidence_type"):
        found.append("a text with a goal or step needs an evidence_type")
    return found


def check(items_path: Path, labels_path: Path) -> list[str]:
    items = [json.loads(line) for line in items_path.read_text(encoding="utf-8").splitlines() if line.strip()]
    targets, subs = known_parts()
    problems, seen = [], set()
    for n, line in enumerate(labels_path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(f"line {n}: not JSON ({exc})")
            continue
        if row.get("id") in seen:
            problems.append(f"line {n}: {row.get('id')} labelled twice")
        seen.add(row.get("id"))
        problems += [f"{row.get('id')}: {p}" for p in problems_of(row, targets, subs)]
    ids = {i["id"] for i in items}
    problems += [f"{i}: no label row" for i in sorted(ids - seen)]
    problems += [f"{i}: not an item of {items_path.name}" for i in sorted(seen - ids)]
    return problems


if __name__ == "__main__":
    found = check(Path(sys.argv[1]), Path(sys.argv[2]))
    print("\n".join(found) or "ok")
    sys.exit(1 if found else 0)
