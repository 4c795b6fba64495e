"""Join the drawn items, their labels and the Dutch translations into corpora/labels/<report>.jsonl.

    python eval/merge_labels.py --work .labelling      # items/, labels/, nl/ under the work folder

Each output row is one labelled text with its provenance: who labelled it (``labeller``), how
(``labelled``), and for Dutch rows who translated which English item (``translated_from``, ``translator``).
Every label row is checked first (eval/check_labels.py); a report with a problem is not written.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from eval.check_labels import check
from service.settings import REPO_ROOT

HOW = (
    "2026-12-01, by hand (an AI-assistant helper session per group of reports) following eval/LABELLING_V2.md"
)
LABEL_FIELDS = ("sdgs", "targets", "steps", "sub_elements", "evidence_type", "negative", "note")


def _jsonl(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def merged_rows(items: list[dict], labels: dict[str, dict], dutch: dict[str, dict]) -> list[dict]:
    """English rows in item order, each followed by its Dutch translation when there is one."""
    rows = []
    for item in items:
        label = labels[item["id"]]
        row = {
            "id": item["id"],
            "report": item["report"],
            "granularity": item["granularity"],
            "drawn": item["drawn"],
            "page": item["page"],
            "heading": item["heading"],
            "lang": "en",
            "text": item["text"],
            **{
                k: label.get(k, "" if k in ("evidence_type", "negative", "note") else [])
                for k in LABEL_FIELDS
            },
            "labeller": label["labeller"],
            "labelled": HOW,
        }
        rows.append(row)
        if item["id"] in dutch:
            nl = dutch[item["id"]]
            rows.append(
                {
                    **row,
                    "id": f"{item['id']}-nl",
                    "lang": "nl",
                    "heading": nl.get("heading_nl", ""),
                    "text": nl["text_nl"],
                    "translated_from": item["id"],
                    "translator": nl["translator"],
                }
            )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=REPO_ROOT / ".labelling")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "corpora" / "labels")
    args = parser.parse_args()
    dutch = {r["id"]: r for path in sorted((args.work / "nl").glob("*_nl.jsonl")) for r in _jsonl(path)}
    args.out.mkdir(parents=True, exist_ok=True)
    for items_path in sorted((args.work / "items").glob("*.jsonl")):
        labels_path = args.work / "labels" / items_path.name
        problems = check(items_path, labels_path) if labels_path.exists() else ["no labels yet"]
        if problems:
            print(f"skipped {items_path.stem}: {problems[:3]}")
            continue
        labels = {r["id"]: r for r in _jsonl(labels_path)}
        rows = merged_rows(_jsonl(items_path), labels, dutch)
        text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
        (args.out / items_path.name).write_text(text, encoding="utf-8")
        print(f"{items_path.stem}: {len(rows)} rows ({sum(r['lang'] == 'nl' for r in rows)} Dutch)")


if __name__ == "__main__":
    main()
