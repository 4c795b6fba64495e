"""Page images: one PDF page rendered to PNG, with a passage's lines highlighted.

A reader checks a claim fastest by seeing the passage where it stands on the page. Passages hold
*cleaned* text (hyphens joined, running headers dropped), so their offsets do not index the PDF's own
text; we find the passage on the page by aligning its words with the page's words instead, and mark
the text runs pdfium reports for the aligned span. The drawing itself runs in the sandbox's child
(service/reading/sandbox_child.py, which alone opens PDFs); this module holds the PDF-free parts it uses and
the records the parent gets back (``service.reading.sandbox.render_page_image``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from difflib import SequenceMatcher

from PIL import Image, ImageDraw

WORD = re.compile(r"\w+")
# Matched runs shorter than this are chance ("of the"), not the passage.
MIN_RUN_WORDS = 3
HIGHLIGHT_FILL = (255, 214, 0, 90)
HIGHLIGHT_EDGE = (200, 120, 0, 255)
# A page may declare any size; the image's longer side and its pixels are capped so a giant page cannot
# eat the memory (the child that renders has a memory cap as well).
MAX_IMAGE_SIDE = 2400
MAX_PIXELS = 4_000_000


@dataclass(frozen=True)
class Box:
    """A rectangle in image pixels (left, top, right, bottom)."""

    left: float
    top: float
    right: float
    bottom: float


@dataclass(frozen=True)
class PageImage:
    """A rendered page: PNG bytes and the boxes drawn on it (empty when nothing was highlighted)."""

    png: bytes
    width: int
    height: int
    boxes: tuple[Box, ...]


def _words(text: str) -> tuple[list[str], list[tuple[int, int]]]:
    matches = list(WORD.finditer(text))
    return [m.group().lower() for m in matches], [m.span() for m in matches]


def passage_char_span(page_text: str, passage_text: str) -> tuple[int, int] | None:
    """Character range of ``page_text`` where ``passage_text`` stands, by word alignment; None if absent."""
    page_words, spans = _words(page_text)
    passage_words, _ = _words(passage_text)
    if not page_words or not passage_words:
        return None
    matcher = SequenceMatcher(None, page_words, passage_words, autojunk=False)
    runs = [b for b in matcher.get_matching_blocks() if b.size >= min(MIN_RUN_WORDS, len(passage_words))]
    if not runs:
        return None
    first, last = runs[0], runs[-1]
    # A span far longer than the passage means runs matched in different places: keep the longest.
    if (last.a + last.size - first.a) > 3 * len(passage_words):
        first = last = max(runs, key=lambda b: b.size)
    return spans[first.a][0], spans[last.a + last.size - 1][1]


def draw_highlight(image: Image.Image, boxes: list[Box]) -> Image.Image:
    """The page image with the passage's lines marked and a bar beside them in the margin."""
    overlay = Image.new("RGBA", image.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    for box in boxes:
        draw.rectangle((box.left - 2, box.top - 2, box.right + 2, box.bottom + 2), fill=HIGHLIGHT_FILL)
    if boxes:
        # A bar in the margin finds the passage at a glance on a busy page.
        top, bottom = min(b.top for b in boxes), max(b.bottom for b in boxes)
        draw.rectangle((2, top - 2, 7, bottom + 2), fill=HIGHLIGHT_EDGE)
    return Image.alpha_composite(image.convert("RGBA"), overlay).convert("RGB")


def image_scale(width: float, height: float, wanted: float) -> float:
    """The render scale for a page of ``width`` x ``height`` points: ``wanted``, within the pixel caps."""
    width, height = max(width, 1.0), max(height, 1.0)
    return min(wanted, MAX_IMAGE_SIDE / max(width, height), (MAX_PIXELS / (width * height)) ** 0.5)
