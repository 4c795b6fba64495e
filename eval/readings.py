"""Readings of the shared reports (document, passages, classifier scores), made once and kept on disk.

Scoring (``service.judging.scoring.gap_report``) is a pure function of these, so the rubric can be evaluated
and iterated on without re-embedding: ``python eval/readings.py`` reads every report under
``../shared/data/reports`` (6 PDFs, 12 parsed texts, 15 pool PDFs) into ``.cache_readings/<report>.json``
(JSON, no pickles), skipping reports already read. The cache is keyed by file name and is not committed.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from service.pipeline import analyze_document
from service.reading.ingest import document_from_file
from service.records import Document, LabelScores, Page, Passage
from service.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data" / "reports"
CACHE = ROOT / ".cache_readings"
FOLDERS = ("pdf", "text", "pool")


def shared_reports() -> list[Path]:
    """The 33 shared reports, by folder then name."""
    found = [p for folder in FOLDERS for p in sorted((SHARED / folder).iterdir())]
    return [p for p in found if p.suffix in (".pdf", ".json")]


def report_name(path: Path) -> str:
    """The name a report goes by in the cache and in hand assessments: its file name without extension."""
    return path.stem


def _document_from(raw: dict[str, Any]) -> Document:
    pages = tuple(Page(**p) for p in raw.pop("pages"))
    raw["ocr_pages"] = tuple(raw.get("ocr_pages", ()))
    return Document(pages=pages, **raw)


def _scores_from(rows: list[dict[str, Any]]) -> list[LabelScores]:
    return [
        LabelScores(
            r["passage_id"],
            r["framework"],
            r["scores"],
            tuple(r["labels"]),
            tuple(r["parts"]),
            r.get("part_scores", {}),
            r.get("evidence_type", ""),
        )
        for r in rows
    ]


def load_reading(name: str) -> tuple[Document, list[Passage], list[LabelScores], list[LabelScores]]:
    """A cached reading: the document, its passages and both classifiers' scores."""
    raw = json.loads((CACHE / f"{name}.json").read_text(encoding="utf-8"))
    passages = [Passage(**p) for p in raw["passages"]]
    return _document_from(raw["document"]), passages, _scores_from(raw["sdg"]), _scores_from(raw["dd"])


def read_report(path: Path, settings: Settings) -> None:
    """Embed and classify one report and write its reading to the cache."""
    document = document_from_file(path.read_bytes(), path.name, settings.pdf_backend, settings.pdf_limits())
    analysis = analyze_document(document, settings)
    payload = {
        "document": asdict(document),
        "passages": [asdict(p) for p in analysis.passages],
        "sdg": [asdict(s) for s in analysis.sdg],
        "dd": [asdict(s) for s in analysis.dd],
        "timings": analysis.timings,
    }
    CACHE.mkdir(exist_ok=True)
    target = CACHE / f"{report_name(path)}.json"
    target.with_suffix(".tmp").write_text(json.dumps(payload), encoding="utf-8")
    target.with_suffix(".tmp").rename(target)


RUBRIC_FILES = ("dd_rubric.yaml", "negative_evidence.yaml")


def corpora_with_rubric_of(revision: str, folder: Path) -> Path:
    """A copy of corpora/ in ``folder`` whose rubric files are the ones at git ``revision``.

    The rubric files are dd_rubric.yaml and negative_evidence.yaml (what is never a candidate). Scores with
    the old rubric and the current one then come from the same readings in one run; the rubric code reads
    an old file the way it was read (new settings default to the old behaviour).
    """
    target = folder / "corpora"
    shutil.copytree(ROOT / "corpora", target)
    for name in RUBRIC_FILES:
        old = subprocess.run(
            ["git", "-C", str(ROOT), "show", f"{revision}:corpora/{name}"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        (target / name).write_text(old, encoding="utf-8")
    return target


def ensure_readings(names: list[str], settings: Settings | None = None) -> None:
    """Read the named reports not yet in the cache (also the Dutch ones, under reports/dutch/pdf)."""
    settings = settings or Settings(encoder_runtime="onnx", max_job_seconds=10_000)
    for name in names:
        if (CACHE / f"{name}.json").exists():
            continue
        found = [p for folder in (*FOLDERS, "dutch/pdf") for p in (SHARED / folder).glob(f"{name}.*")]
        if not found:
            raise FileNotFoundError(f"no shared report named {name!r} under {SHARED}")
        read_report(found[0], settings)


def main() -> None:
    """Read every shared report not yet in the cache."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", default=[], help="report names to (re)read")
    args = parser.parse_args()
    settings = Settings(encoder_runtime="onnx", max_job_seconds=10_000)
    for path in shared_reports():
        name = report_name(path)
        if (args.only and name not in args.only) or (not args.only and (CACHE / f"{name}.json").exists()):
            continue
        start = time.perf_counter()
        read_report(path, settings)
        print(f"{name}: {time.perf_counter() - start:.0f} s", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
