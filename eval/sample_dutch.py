"""Draw the items of the real Dutch labelled set (issue 24 part 4) from the 12 shared Dutch reports.

Modelled on eval/sample_items.py, smaller per report (the Dutch reports are 12, labelled by hand):

- pages: 4 whole pages of 60-1,200 words, at random;
- passages, as the pipeline segments the report (service/reading/segment.py, with headings): 10 at random,
  9 matching a Dutch due-diligence / SDG vocabulary, 5 hard negatives (tables of figures, index lines,
  disclaimers);
- sentences: 10 single sentences of 8-60 words from passages not drawn, half at random, half by vocabulary.

The reports are split by whole report in corpora/expert_splits.yaml (``dutch_reports``), fixed before any
item was drawn. Seeded: re-running reproduces the same items. Labelled rows go to
corpora/labels/nl-<report>.jsonl (eval/LABELLING_V2.md, ``"translated": false``).

    python eval/sample_dutch.py --split test   # one JSONL of unlabelled items per report in .labelling/dutch

Round 2 (``--round 2``, train and dev reports only) draws more passages and sentences per report with its own
seed, leaving out every text already labelled in corpora/labels/nl-<report>.jsonl; its ids are
``nl-<report>-r2-NNN``. It exists because 250 real Dutch train items were too few to teach the Dutch heads
real Dutch phrasing (issue 24: real Dutch recall stayed near 0.5).
"""

from __future__ import annotations

import argparse
import json
import random
import re
from pathlib import Path

import yaml

from eval.sample_items import words, write_items
from service.reading.ingest import document_from_path
from service.reading.segment import passages_from_document, sentencizer
from service.records import Document, Passage
from service.settings import REPO_ROOT, Settings

SEED = 20261207
VOCABULARY = re.compile(
    r"mensenrechten|due diligence|gepaste zorgvuldigheid|toeleverancier|leverancier|keten|uitsluit|"
    r"engagement|klacht|klokkenluid|herstel|(?:ESG|duurzaamheids|klimaat|mensenrechten|milieu)-?risico|beoordel|monitor|uitstoot|CO2|CO₂|broeikas|klimaat|"
    r"energie|water|afval|circulair|recycl|biodiversiteit|ontbossing|diversiteit|inclusie|gezondheid|"
    r"veiligheid|ongeval|verzuim|opleiding|training|kinderarbeid|dwangarbeid|leefbaar loon|corruptie|"
    r"omkoping|IMVO|convenant|stemgedrag|stemmen|SDG|duurzame ontwikkelingsdoelen|duurzaam|MVO|ESG",
    re.IGNORECASE,
)
HARD_NEGATIVE = re.compile(
    r"(?:\d[\d.,]*\s+){5,}|\bGRI \d{1,3}(?:-\d)?|inhoudsopgave|pagina \d|zie pagina|"
    r"\b(?:x|in) € ?(?:1\.000|miljoen|mln)|toekomstgerichte|disclaimer|aan deze (?:publicatie|uitgave)|"
    r"geen rechten|accountant|controleverklaring|balans|dividend|bezoldiging|jaarrekening",
    re.IGNORECASE,
)
PER_REPORT = {"pages": 4, "random": 10, "vocabulary": 9, "negative": 5, "sentences": 10}
# Round 2 draws no pages: the Dutch heads train on sentences and passages only.
PER_REPORT_ROUND = {2: {"pages": 0, "random": 20, "vocabulary": 16, "negative": 4, "sentences": 16}}
SPLITS = ("test", "dev", "train")


def dutch_splits() -> dict[str, list[str]]:
    """Split -> report names (file stems), as fixed in corpora/expert_splits.yaml."""
    raw = yaml.safe_load((REPO_ROOT / "corpora" / "expert_splits.yaml").read_text(encoding="utf-8"))
    return {split: list(raw["dutch_reports"][split]) for split in SPLITS}


def report_paths(shared: Path) -> dict[str, Path]:
    """Report name (file stem) -> file, for the 12 Dutch reports (PDFs and form-feed text files)."""
    folder = shared / "reports" / "dutch"
    files = [*folder.glob("pdf/*.pdf"), *folder.glob("txt/*.txt")]
    return {path.stem: path for path in sorted(files)}


def unique(passages: list[Passage]) -> list[Passage]:
    """The first of passages with the same text: running text repeated on many pages is drawn once."""
    return list({" ".join(p.text.split()): p for p in reversed(passages)}.values())[::-1]


def item(report: str, kind: str, drawn: str, page: int, text: str, heading: str = "") -> dict:
    return {
        "report": report,
        "granularity": kind,
        "drawn": drawn,
        "page": page,
        "heading": heading,
        "lang": "nl",
        "text": text,
    }


def labelled_texts(report: str) -> set[str]:
    """Texts already labelled for a report (whitespace-normalised): a later round never draws them again."""
    path = REPO_ROOT / "corpora" / "labels" / f"nl-{report}.jsonl"
    if not path.exists():
        return set()
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return {" ".join(row["text"].split()) for row in rows}


def sample_report(
    report: str,
    document: Document,
    rng: random.Random,
    counts: dict[str, int] = PER_REPORT,
    exclude: frozenset[str] = frozenset(),
) -> list[dict]:
    """The items of one report, in draw order (ids are added by the caller); never a text in ``exclude``."""
    rows = []
    pages = [p for p in document.pages if 60 <= words(p.text) <= 1200]
    for page in rng.sample(pages, min(counts["pages"], len(pages))):
        rows.append(item(report, "page", "random", page.number, page.text))
    passages = unique([p for p in passages_from_document(document, 90) if 12 <= words(p.text) <= 90])
    passages = [p for p in passages if " ".join(p.text.split()) not in exclude]
    taken: set[str] = set()

    def draw(candidates: list[Passage], count: int, drawn: str) -> None:
        free = [p for p in candidates if p.id not in taken]
        for passage in rng.sample(free, min(count, len(free))):
            taken.add(passage.id)
            rows.append(item(report, "passage", drawn, passage.page, passage.text, passage.heading))

    draw(passages, counts["random"], "random")
    draw([p for p in passages if VOCABULARY.search(p.text)], counts["vocabulary"], "vocabulary")
    draw([p for p in passages if HARD_NEGATIVE.search(p.text)], counts["negative"], "hard-negative")
    nlp = sentencizer(document.language)
    drawn_texts = {" ".join(row["text"].split()) for row in rows} | exclude
    sentences = [
        (p, s.text.strip())
        for p in passages
        if p.id not in taken
        for s in nlp(p.text).sents
        if 8 <= words(s.text) <= 60 and " ".join(s.text.split()) not in drawn_texts
    ]
    sentences = list({text: (p, text) for p, text in sentences}.values())
    half = counts["sentences"] // 2
    chosen = rng.sample(sentences, min(half, len(sentences)))
    rest = [s for s in sentences if s not in chosen and VOCABULARY.search(s[1])]
    for drawn, group in (("random", chosen), ("vocabulary", rng.sample(rest, min(half, len(rest))))):
        for passage, text in group:
            rows.append(item(report, "sentence", drawn, passage.page, text, passage.heading))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", choices=(*SPLITS, "all"), default="all")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / ".labelling" / "dutch")
    parser.add_argument("--round", type=int, choices=(1, 2), default=1, help="2: more train/dev items")
    args = parser.parse_args()
    paths = report_paths(Settings().shared_data_dir)
    splits = dutch_splits()
    args.out.mkdir(parents=True, exist_ok=True)
    total = 0
    chosen: tuple[str, ...] = SPLITS if args.split == "all" else (args.split,)
    if args.round > 1:
        chosen = tuple(split for split in chosen if split != "test")  # the locked test is never extended
    for split in chosen:
        for report in splits[split]:
            if args.round == 1:
                rng, counts, exclude = random.Random(f"{SEED}-{report}"), PER_REPORT, frozenset[str]()
            else:
                rng = random.Random(f"{SEED}-r{args.round}-{report}")
                counts, exclude = PER_REPORT_ROUND[args.round], frozenset(labelled_texts(report))
            rows = sample_report(report, document_from_path(paths[report]), rng, counts, exclude)
            name = f"nl-{report}" if args.round == 1 else f"nl-{report}-r{args.round}"
            write_items(args.out, name, rows, split)
            total += len(rows)
            print(f"{split:5} {report}: {len(rows)} items")
    print(f"{total} items -> {args.out}")


if __name__ == "__main__":
    main()
