"""Draw the items of the second labelled set (eval/LABELLING_V2.md) from all 33 shared reports.

Users send GapLens single sentences, ~90-word passages and whole pages, so each report gives all three:

- pages: whole pages (section texts for the parsed reports) of 60-1,200 words, at random;
- passages: as the pipeline segments the report (service/reading/segment.py): random ones, ones matching a
  broad
  SDG / due-diligence vocabulary, ones matching the rare step-5/6 vocabulary, and hard negatives (content
  index lines, "not material / not disclosed", financial tables, boilerplate);
- sentences: single sentences of 8-60 words from passages not drawn, at random and by vocabulary.

Every drawn item is labelled, none skipped; ``drawn`` records which draw it came from. Seeded: re-running
reproduces the same items. Items of one report are never split across train and test
(corpora/report_splits.yaml).

    python eval/sample_items.py --out .labelling/items      # one JSONL of unlabelled items per report
"""

from __future__ import annotations

import argparse
import json
import random
import re
from pathlib import Path

import yaml

from service.reading.ingest import document_from_path
from service.reading.segment import passages_from_document, sentencizer
from service.records import Document, Passage
from service.settings import REPO_ROOT, Settings

SEED = 20261201
VOCABULARY = re.compile(
    r"due diligence|human rights|supplier|supply chain|code of conduct|grievance|whistleblow|remed|"
    r"audit|risk assessment|assess|salient|forced labo|child labo|corrective|stakeholder|complain|"
    r"violation|monitor|policy|living wage|worker|bribery|corruption|emission|climate|energy|water|"
    r"waste|biodiversity|diversity|gender|health|safety|training|education|community|poverty|circular|"
    r"recycl|renewable|SDG|Sustainable Development Goal",
    re.IGNORECASE,
)
RARE_STEPS = re.compile(
    r"grievance|whistleblow|remed|hotline|helpline|speak up|complaint|compensat|reimburs|"
    r"publish|disclos|transparen|statement|track|KPI|target|progress",
    re.IGNORECASE,
)
HARD_NEGATIVE = re.compile(
    r"not (?:material|disclosed|applicable|reported|relevant)|\bn/a\b|GRI \d{1,3}-\d|ESRS [ESG]\d|"
    r"content index|EUR (?:thousand|million|k|m)\b|€ ?(?:thousand|million|m)|balance sheet|"
    r"forward-looking|table of contents|we support the (?:UN )?SDGs|auditor|remuneration|dividend|"
    r"IFRS|goodwill|depreciation|annual general meeting",
    re.IGNORECASE,
)
PER_REPORT = {"pages": 10, "random": 30, "vocabulary": 25, "rare": 8, "negative": 12, "sentences": 50}


def report_paths(shared: Path) -> dict[str, Path]:
    """Report name (file stem) -> file, for the 33 shared reports."""
    reports = shared / "reports"
    files = [*reports.glob("pdf/*.pdf"), *reports.glob("pool/*.pdf"), *reports.glob("text/*.json")]
    return {path.stem: path for path in sorted(files)}


def words(text: str) -> int:
    return len(text.split())


def item(report: str, kind: str, drawn: str, page: int, text: str, heading: str = "") -> dict:
    return {
        "report": report,
        "granularity": kind,
        "drawn": drawn,
        "page": page,
        "heading": heading,
        "text": text,
    }


def write_items(out: Path, name: str, rows: list[dict], split: str) -> None:
    """One report's drawn items as ``out/<name>.jsonl``, numbered ``<name>-NNN`` in drawing order."""
    for n, row in enumerate(rows):
        row["id"] = f"{name}-{n:03d}"
        row["split"] = split
    lines = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    (out / f"{name}.jsonl").write_text(lines, encoding="utf-8")


def sample_report(report: str, document: Document, rng: random.Random) -> list[dict]:
    """The items of one report, in draw order (ids are added by the caller)."""
    rows = []
    pages = [p for p in document.pages if 60 <= words(p.text) <= 1200]
    for page in rng.sample(pages, min(PER_REPORT["pages"], len(pages))):
        rows.append(item(report, "page", "random", page.number, page.text))
    passages = [p for p in passages_from_document(document, 90) if 12 <= words(p.text) <= 90]
    taken: set[str] = set()

    def draw(candidates: list[Passage], count: int, drawn: str) -> None:
        free = [p for p in candidates if p.id not in taken]
        for passage in rng.sample(free, min(count, len(free))):
            taken.add(passage.id)
            rows.append(item(report, "passage", drawn, passage.page, passage.text, passage.heading))

    draw(passages, PER_REPORT["random"], "random")
    draw([p for p in passages if VOCABULARY.search(p.text)], PER_REPORT["vocabulary"], "vocabulary")
    draw([p for p in passages if RARE_STEPS.search(p.text)], PER_REPORT["rare"], "rare-step")
    draw([p for p in passages if HARD_NEGATIVE.search(p.text)], PER_REPORT["negative"], "hard-negative")
    nlp = sentencizer(document.language)
    sentences = [
        (p, s.text.strip())
        for p in passages
        if p.id not in taken
        for s in nlp(p.text).sents
        if 8 <= words(s.text) <= 60
    ]
    half = PER_REPORT["sentences"] // 2
    chosen = rng.sample(sentences, min(half, len(sentences)))
    rest = [s for s in sentences if s not in chosen and VOCABULARY.search(s[1])]
    for drawn, group in (("random", chosen), ("vocabulary", rng.sample(rest, min(half, len(rest))))):
        for passage, text in group:
            rows.append(item(report, "sentence", drawn, passage.page, text, passage.heading))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO_ROOT / ".labelling" / "items")
    args = parser.parse_args()
    shared = Settings().shared_data_dir
    splits = yaml.safe_load((REPO_ROOT / "corpora" / "report_splits.yaml").read_text(encoding="utf-8"))
    args.out.mkdir(parents=True, exist_ok=True)
    total = 0
    for report, path in report_paths(shared).items():
        split = next(s for s in ("train", "dev", "test") if report in splits[s])
        rows = sample_report(report, document_from_path(path), random.Random(f"{SEED}-{report}"))
        write_items(args.out, report, rows, split)
        total += len(rows)
        print(f"{split:5} {report}: {len(rows)} items")
    print(f"{total} items -> {args.out}")


if __name__ == "__main__":
    main()
