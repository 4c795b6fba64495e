"""Segment: Document -> Passages of a few sentences that keep page, offsets and nearest heading.

Passages, not pages, are the unit of evidence: short enough to quote and to embed without truncation
(MiniLM reads 256 word pieces), long enough to carry context.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

import spacy
from spacy.language import Language

from service.records import Document, Page, Passage

MAX_HEADING_WORDS = 12
_BULLET = re.compile(r"^[•▪■●◦\-–—*✔➔►]\s*")
_ENDS_SENTENCE = re.compile(r"[.!?:;]['’”)]?$")


@dataclass(frozen=True)
class Block:
    """A run of lines on one page between headings/bullets; offsets index into Page.text.

    Blocks split at bullets share a ``section`` number, so a passage may group several bullets but
    never crosses a heading.
    """

    start: int
    end: int
    heading: str
    section: int


@lru_cache(maxsize=8)
def sentencizer(language: str) -> Language:
    """A blank spaCy pipeline with the rule-based sentencizer (fast; no trained model needed)."""
    try:
        nlp = spacy.blank(language)
    except (ImportError, KeyError):
        nlp = spacy.blank("xx")
    nlp.add_pipe("sentencizer")
    return nlp


def is_heading(line: str, previous: str, following: str) -> bool:
    """A short line that stands alone: starts a block and is followed by a new capitalised line."""
    words = line.split()
    if not words or len(words) > MAX_HEADING_WORDS or _ENDS_SENTENCE.search(line):
        return False
    if not line[:1].isupper() or line.endswith((",", "-", "&", "and", "of", "the")):
        return False
    if line.isupper() and len(line) > 3:
        return True
    starts_block = not previous or bool(_ENDS_SENTENCE.search(previous))
    next_starts = bool(following) and (following[:1].isupper() or bool(_BULLET.match(following)))
    return starts_block and next_starts


def blocks_of_page(page: Page, heading: str) -> tuple[list[Block], str]:
    """Split a page at headings and bullets; return the blocks and the heading in force at the end."""
    blocks: list[Block] = []
    lines = page.text.split("\n")
    offset, block_start, section = 0, 0, 0
    for i, line in enumerate(lines):
        previous = lines[i - 1] if i else ""
        following = lines[i + 1] if i + 1 < len(lines) else ""
        new_heading = is_heading(line, previous, following)
        if (new_heading or _BULLET.match(line)) and offset > block_start:
            blocks.append(Block(block_start, offset - 1, heading, section))
            block_start = offset
        if new_heading:
            heading, section = line, section + 1
            block_start = offset + len(line) + 1
        offset += len(line) + 1
    if len(page.text) > block_start:
        blocks.append(Block(block_start, len(page.text), heading, section))
    return blocks, heading


def passage_id(document_sha: str, page: int, start: int, end: int, text: str) -> str:
    """Deterministic id: the same report always yields the same passage ids."""
    key = f"{document_sha}:{page}:{start}:{end}:{text}".encode()
    return hashlib.sha256(key).hexdigest()[:24]


def _sentence_spans(nlp: Language, page: Page, blocks: list[Block]) -> Iterator[tuple[Block, int, int]]:
    texts = [page.text[b.start : b.end] for b in blocks]
    for block, doc in zip(blocks, nlp.pipe(texts), strict=True):
        for sent in doc.sents:
            if sent.text.strip():
                yield block, block.start + sent.start_char, block.start + sent.end_char


def passages_from_page(
    document_sha: str, page: Page, heading: str, nlp: Language, max_words: int
) -> tuple[list[Passage], str]:
    """Group consecutive sentences of a block until a passage would exceed ``max_words``."""
    blocks, last_heading = blocks_of_page(page, heading)
    passages: list[Passage] = []
    current: list[tuple[int, int]] = []
    current_block: Block | None = None

    def flush() -> None:
        if not current or current_block is None:
            return
        start, end = current[0][0], current[-1][1]
        text = " ".join(page.text[start:end].split())
        if len(text.split()) >= 3:
            pid = passage_id(document_sha, page.number, start, end, text)
            passages.append(Passage(pid, page.number, start, end, text, current_block.heading))
        current.clear()

    words = 0  # words in ``current``
    for block, start, end in _sentence_spans(nlp, page, blocks):
        sentence_words = len(page.text[start:end].split())
        new_section = current_block is None or block.section != current_block.section
        if new_section or words + sentence_words > max_words:
            flush()
            current_block, words = block, 0
        current.append((start, end))
        words += sentence_words
    flush()
    return passages, last_heading


def passages_from_document(document: Document, max_words: int = 90) -> list[Passage]:
    """All passages of a document, in reading order; headings carry over page breaks."""
    nlp = sentencizer(document.language)
    heading = ""
    passages: list[Passage] = []
    for page in document.pages:
        page_passages, heading = passages_from_page(document.sha256, page, heading, nlp, max_words)
        passages.extend(page_passages)
    return passages


def chunks_of_text(text: str, language: str, max_words: int = 90) -> list[str]:
    """A free text (a sentence, a page) cut into passage-sized chunks, for texts given without a PDF.

    Short texts come back whole; long ones (a report page) are cut at sentence and block boundaries
    exactly as report pages are, so the encoder never silently truncates them.
    """
    if len(text.split()) <= max_words:
        return [text]
    page = Page(number=1, text=text)
    passages, _ = passages_from_page("", page, "", sentencizer(language), max_words)
    return [p.text for p in passages] or [text]
