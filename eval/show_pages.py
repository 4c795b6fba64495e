"""Print a report's text page by page, exactly as GapLens reads it, for hand assessment by the rubric.

The page numbers printed are the ones GapLens puts on its evidence (PDF: the physical page, 1-based;
a parsed-text .json report: the section, 1-based), so a hand assessment and GapLens's output can be
compared page for page. Usage: ``python eval/show_pages.py REPORT [--pages 3-7] [--grep WORD]``.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from service.reading.ingest import document_from_file
from service.settings import Settings


def page_range(spec: str) -> range | None:
    """``"3-7"`` -> pages 3..7, ``"5"`` -> page 5, ``""`` -> every page."""
    if not spec:
        return None
    first, _, last = spec.partition("-")
    return range(int(first), int(last or first) + 1)


def main() -> None:
    """Print the selected pages, or the numbers of the pages matching ``--grep``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report", type=Path)
    parser.add_argument("--pages", default="", help="e.g. 3-7")
    parser.add_argument("--grep", default="", help="only list pages whose text matches this regex")
    args = parser.parse_args()
    settings = Settings()
    document = document_from_file(args.report.read_bytes(), args.report.name, settings.pdf_backend)
    wanted = page_range(args.pages)
    pattern = re.compile(args.grep, re.IGNORECASE) if args.grep else None
    for page in document.pages:
        if wanted is not None and page.number not in wanted:
            continue
        if pattern is not None:
            if pattern.search(page.text):
                print(page.number, end=" ")
            continue
        print(f"===== page {page.number} =====\n{page.text}\n")
    if pattern is not None:
        print()


if __name__ == "__main__":
    main()
