"""The manifest of a batch run: which report files to score and what the researcher knows about them.

A CSV names ``path,company,sector,year[,country,language]``, or a folder holds the reports with an
optional CSV of their columns. Both batch scoring and the export of its results read these items, so
they live here, below both.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from service.errors import BadManifest
from service.names import display_name

MANIFEST_COLUMNS = ("path", "company", "sector", "year")
OPTIONAL_COLUMNS = ("country", "language")
REPORT_SUFFIXES = (".pdf", ".json")


@dataclass(frozen=True)
class BatchItem:
    """One manifest row: a report file and what the researcher knows about it."""

    path: Path
    company: str = ""
    sector: str = ""
    year: int | None = None
    country: str = ""
    # the report's language when known; empty: detected from the text
    language: str = ""


def _year(value: str, where: str) -> int | None:
    if not value.strip():
        return None
    try:
        year = int(value)
    except ValueError:
        raise BadManifest(f"{where}: year {value!r} is not a whole number") from None
    if not 1900 <= year <= 2100:
        raise BadManifest(f"{where}: year {year} is outside 1900-2100")
    return year


def _name(row: dict[str, str], column: str, where: str) -> str:
    """A company or sector name by the same rule as the API's (service/names.py)."""
    try:
        return display_name(row.get(column) or "")
    except ValueError as exc:
        raise BadManifest(f"{where}: {column} {exc}") from None


def _item(row: dict[str, str], path: Path, where: str) -> BatchItem:
    return BatchItem(
        path=path,
        company=_name(row, "company", where) or path.stem,
        sector=_name(row, "sector", where).lower(),
        year=_year(row.get("year") or "", where),
        country=(row.get("country") or "").strip(),
        language=(row.get("language") or "").strip().lower(),
    )


def _csv_rows(path: Path, required: Sequence[str]) -> Iterator[tuple[int, dict[str, str]]]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise BadManifest(f"{path}: cannot be read as UTF-8 text ({exc})") from exc
    reader = csv.DictReader(text.splitlines())
    missing = [c for c in required if c not in (reader.fieldnames or [])]
    if missing:
        raise BadManifest(
            f"{path}: missing column(s) {', '.join(missing)}; the header must name {', '.join(required)}"
        )
    for number, row in enumerate(reader, start=2):
        yield number, {k: v or "" for k, v in row.items() if k}


def read_manifest(path: Path, columns_file: Path | None = None) -> list[BatchItem]:
    """The reports to score, from a CSV manifest or a folder.

    A manifest names ``path,company,sector,year[,country,language]`` (paths relative to it). A folder
    holds PDFs and .json reports, with an optional CSV naming ``file`` and any of those columns.
    """
    if path.is_dir():
        return _folder_items(path, columns_file)
    if not path.is_file():
        raise BadManifest(f"{path}: no such manifest file or folder")
    items = []
    for number, row in _csv_rows(path, MANIFEST_COLUMNS):
        if not row["path"].strip():
            raise BadManifest(f"{path}:{number}: the path is empty")
        report = (path.parent / row["path"].strip()).resolve()
        items.append(_item(row, report, f"{path}:{number}"))
    if not items:
        raise BadManifest(f"{path}: the manifest lists no reports")
    return items


def _folder_items(folder: Path, columns_file: Path | None) -> list[BatchItem]:
    known: dict[str, BatchItem] = {}
    if columns_file is not None:
        for number, row in _csv_rows(columns_file, ("file",)):
            report = (folder / row["file"].strip()).resolve()
            known[report.name] = _item(row, report, f"{columns_file}:{number}")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in REPORT_SUFFIXES and p.is_file())
    if not files:
        raise BadManifest(f"{folder}: no .pdf or .json reports in this folder")
    return [known.get(p.name, BatchItem(path=p.resolve(), company=p.stem)) for p in files]


def file_sha256(path: Path) -> str:
    """The report's identity, read in blocks so thousands of PDFs never sit in memory at once."""
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


# --- the work one worker does ------------------------------------------------------------------
