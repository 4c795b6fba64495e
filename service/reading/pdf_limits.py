"""What reading one PDF may cost: the one set of defaults that Settings, the sandbox and tests share.

Kept apart from the sandbox so that the settings can name the limits without importing anything that
reads PDFs; ``Settings`` takes its defaults from ``PdfLimits()``, so the two can never disagree.
"""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class PdfLimits:
    """What one PDF may cost to read (Settings.pdf_limits builds it from the configuration)."""

    max_bytes: int = 50 * 1024 * 1024
    max_pages: int = 1500
    memory_mb: int = 1536
    seconds: float = 60.0
    # OCR of text-less pages: tesseract language codes ("" = never), how many pages, time per page.
    # On by default, as the service is: only pages of a PDF without a text layer are read, and only
    # when tesseract and one of these languages are installed.
    ocr_languages: str = "eng+nld"
    max_ocr_pages: int = 60
    ocr_seconds_per_page: float = 20.0
    # rendering one page image (a page of a million filled shapes would otherwise run for minutes)
    render_seconds: float = 20.0


DEFAULT_LIMITS = PdfLimits()
# Reading without OCR: a scanned PDF is refused with NoTextLayer.
NO_OCR = PdfLimits(ocr_languages="")


def memory_sized_children(memory_mb: int, share: float = 0.5) -> int:
    """How many children of ``memory_mb`` fit in ``share`` of this machine's memory (at least one)."""
    total_mb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**20
    return max(1, int(total_mb * share // max(1, memory_mb)))
