"""Ingest: PDF bytes (or pre-parsed report sections) -> Document with cleaned page text.

Real reports repeat navigation bars and page numbers on every page, hyphenate across lines and set
designer text along circles, which extraction spells out one letter per line. The cleaning here removes
those before anything is classified, so evidence quotes read like the report.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import replace
from pathlib import Path

import py3langid

from service.errors import EmptyFile, FileTooLarge, NotAPdf, NoTextLayer, NotSections
from service.reading.pdf_limits import DEFAULT_LIMITS, PdfLimits
from service.reading.sandbox import ocr_languages_available, ocr_page_texts, read_page_texts
from service.records import Document, Page

LANGUAGES = ("en", "nl", "de", "fr", "es", "it")
# A document with fewer letters per page than this has no usable text layer (a scan).
MIN_LETTERS_PER_PAGE = 40
# How many lines at the top and bottom of a page count as its header and footer zone.
EDGE_TOP, EDGE_BOTTOM = 4, 8
_identifier = py3langid.langid.LanguageIdentifier.from_modelpath(
    py3langid.langid.MODEL_DIR / py3langid.langid.MODEL_FILE, norm_probs=True
)
_identifier.set_languages(list(LANGUAGES))

_LETTERS = re.compile(r"[^\W\d_]", re.UNICODE)
_DIGITS = re.compile(r"\d+")
_PAGE_NUMBER_LINE = re.compile(r"^(page|pagina|seite)?\s*\d{1,4}(\s*(/|of|\||van|von)\s*\d{1,4})?$", re.I)
_WORD = re.compile(r"[^\W\d_]+(?:-[^\W\d_]+)*", re.UNICODE)


def safe_filename(name: str) -> str:
    """A file name as a label only: no folders ("../../etc/passwd" -> "passwd"), no control characters.

    Uploads are stored under their sha256, never under this name; it is kept to show to people.
    """
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(c for c in base if c.isprintable()).strip().lstrip(".")
    return base[:200] or "upload.pdf"


def sha256_of(data: bytes) -> str:
    """Content hash used as the document id everywhere."""
    return hashlib.sha256(data).hexdigest()


def check_file_size(data: bytes, max_bytes: int) -> None:
    """Refuse an empty file, and one over the upload limit, whatever its kind."""
    if not data:
        raise EmptyFile("the file is empty (0 bytes)")
    if len(data) > max_bytes:
        # an upload is read only one byte past the limit, so its own size is not known here
        raise FileTooLarge(f"the file is larger than the limit of {max_bytes / 1e6:.1f} MB")


def check_pdf_bytes(data: bytes, max_bytes: int) -> None:
    """Reject what is plainly not a readable PDF before any parsing work is spent on it."""
    check_file_size(data, max_bytes)
    if b"%PDF-" not in data[:1024]:
        raise NotAPdf("the file is not a PDF (it does not start with %PDF-)")


def raw_pages_pdfplumber(data: bytes, limits: PdfLimits = DEFAULT_LIMITS) -> list[str]:
    """Layout-ordered text of upright characters only (rotated designer text is dropped).

    Read by pdfplumber in the sandbox's bounded child, like every other PDF read.
    """
    return read_page_texts(data, limits, layout=True)


def is_garbage_line(line: str) -> bool:
    """Lines with almost no letters: chart labels, circular text spelled letter by letter."""
    letters = len(_LETTERS.findall(line))
    if letters < 3:
        return True
    tokens = line.split()
    single = sum(1 for t in tokens if len(t) == 1)
    return len(tokens) >= 3 and single / len(tokens) > 0.5


def _line_key(line: str) -> str:
    return _DIGITS.sub("#", " ".join(line.lower().split()))


def running_lines(pages: Sequence[Sequence[str]]) -> set[str]:
    """Normalised lines repeated across pages: headers, footers, navigation bars.

    Three signals, each cheap: a line on a fifth of all pages; a short line with a number (the page
    number) on two or more pages; a short line at the top or bottom of three or more pages (navigation
    bars whose highlighted section changes how the bar splits into lines).
    """
    anywhere: Counter[str] = Counter()
    edges: Counter[str] = Counter()
    for lines in pages:
        anywhere.update({_line_key(line) for line in lines})
        edges.update({_line_key(line) for line in [*lines[:EDGE_TOP], *lines[-EDGE_BOTTOM:]]})
    threshold = max(3, int(0.2 * len(pages)))
    running = {key for key, n in anywhere.items() if n >= threshold}
    running |= {k for k, n in anywhere.items() if n >= 2 and "#" in k and len(k.split()) <= 8}
    running |= {k for k, n in edges.items() if n >= 3 and len(k.split()) <= 12}
    return running


def _vocabulary(pages: Iterable[Sequence[str]]) -> set[str]:
    return {w.lower() for lines in pages for line in lines for w in _WORD.findall(line)}


def join_hyphenated(lines: list[str], vocabulary: set[str]) -> list[str]:
    """Undo line-end hyphenation; keep the hyphen where the document itself spells it that way."""
    out: list[str] = []
    for line in lines:
        prev = out[-1] if out else ""
        match = re.search(r"([^\W\d_]+)[-\u00ad\ufffe]$", prev)
        first = re.match(r"([^\W\d_]+)", line)
        if match and first and line[:1].islower():
            left, right = match.group(1), first.group(1)
            joined = (left + right).lower()
            hyphen = "-" if f"{left}-{right}".lower() in vocabulary and joined not in vocabulary else ""
            out[-1] = prev[:-1] + hyphen + line
        else:
            out.append(line)
    return out


def clean_pages(raw_pages: Sequence[str]) -> list[str]:
    """Remove running headers, page numbers and garbage lines; repair hyphenation."""
    # PDFium marks a typesetter's line-end hyphen with U+FFFE and no line break.
    split = [
        [" ".join(line.split()) for line in page.replace("\ufffe", "-\n").split("\n")] for page in raw_pages
    ]
    split = [
        [ln for ln in lines if ln and not _PAGE_NUMBER_LINE.match(ln) and not is_garbage_line(ln)]
        for lines in split
    ]
    # Two passes: once the outer footer lines are gone, the navigation bar above them is at the edge.
    for _ in range(2):
        running = running_lines(split)
        split = [[line for line in lines if _line_key(line) not in running] for lines in split]
    vocabulary = _vocabulary(split)
    return ["\n".join(join_hyphenated(lines, vocabulary)) for lines in split]


def detect_language(text: str) -> str:
    """ISO 639-1 code of the main language, among the languages GapLens knows."""
    sample = text[:20000]
    if not _LETTERS.search(sample):
        return "en"
    language, _prob = _identifier.classify(sample)
    return str(language)


def _document(sha: str, texts: list[str], filename: str, source: str) -> Document:
    pages = tuple(Page(number=i + 1, text=t) for i, t in enumerate(texts))
    language = detect_language("\n".join(texts))
    return Document(
        sha256=sha,
        pages=pages,
        language=language,
        filename=filename,
        source=source,
        page_count=len(pages),
    )


def document_from_text(text: str, filename: str) -> Document:
    """A full-text extraction whose pages are separated by form feeds, cleaned as PDF pages are.

    Five of the shared Dutch reports come this way (../shared/data/reports/dutch/txt).
    """
    pages = clean_pages(text.split("\f"))
    return _document(hashlib.sha256(text.encode("utf-8")).hexdigest(), pages, filename, "text")


def letter_count(text: str) -> int:
    """Letters in any script (digits and punctuation do not make a text layer)."""
    return len(_LETTERS.findall(text))


def has_text_layer(raw_pages: Sequence[str]) -> bool:
    """Whether the pages carry enough text to read; a scan has (almost) none."""
    return sum(letter_count(page) for page in raw_pages) >= MIN_LETTERS_PER_PAGE * len(raw_pages)


def ocr_ready(limits: PdfLimits) -> bool:
    """Whether text-less pages can go through OCR (tesseract and one of the wanted languages installed)."""
    return bool(ocr_languages_available(limits.ocr_languages))


def pdf_page_texts(data: bytes, limits: PdfLimits | None = None) -> list[str]:
    """Validate a PDF and return its raw page texts, read in a bounded child process.

    Raises BadInput subclasses; a PDF without text is refused only when OCR cannot read it.
    """
    limits = limits or DEFAULT_LIMITS
    check_pdf_bytes(data, limits.max_bytes)
    raw = read_page_texts(data, limits)
    if not has_text_layer(raw) and not ocr_ready(limits):
        raise NoTextLayer(
            "the PDF has no text layer (it looks scanned); export it with text or run OCR first"
        )
    return raw


def with_ocr(data: bytes, raw: list[str], limits: PdfLimits) -> tuple[list[str], tuple[int, ...]]:
    """Raw page texts with OCR text for the text-less pages of a scanned PDF, and which pages those are.

    Only a PDF that has no text layer overall is read by OCR: a digital report's photo pages would cost
    seconds each and hold nothing to classify. At most ``limits.max_ocr_pages`` pages are read.
    """
    languages = ocr_languages_available(limits.ocr_languages)
    if has_text_layer(raw) or not languages:
        return raw, ()
    pages = [i + 1 for i, text in enumerate(raw) if letter_count(text) < MIN_LETTERS_PER_PAGE]
    pages = pages[: limits.max_ocr_pages]
    read = ocr_page_texts(data, pages, replace(limits, ocr_languages=languages))
    return [read.get(i + 1, text) for i, text in enumerate(raw)], tuple(sorted(read))


def document_from_pdf(
    data: bytes, filename: str = "", backend: str = "pypdfium2", limits: PdfLimits | None = None
) -> Document:
    """Validate and read a PDF, scanned pages by OCR where available.

    Raises a BadInput subclass with a clear message when it cannot.
    """
    limits = limits or DEFAULT_LIMITS
    return document_from_page_texts(data, pdf_page_texts(data, limits), filename, backend, limits)


def document_from_page_texts(
    data: bytes,
    raw: list[str],
    filename: str = "",
    backend: str = "pypdfium2",
    limits: PdfLimits | None = None,
) -> Document:
    """The document of a PDF whose raw page texts were read already (at upload, by ``pdf_page_texts``).

    The upload keeps what it validated, so the job does not open the PDF a second time; OCR of a
    scanned PDF and the pdfplumber backend still read the bytes.
    """
    limits = limits or DEFAULT_LIMITS
    raw, ocr_pages = with_ocr(data, raw, limits)
    if not has_text_layer(raw):
        raise NoTextLayer("the PDF has no readable text, not even by OCR; export it with text")
    if backend == "pdfplumber" and not ocr_pages:
        raw = raw_pages_pdfplumber(data, limits)
    document = _document(sha256_of(data), clean_pages(raw), filename, "pdf")
    return replace(document, ocr_pages=ocr_pages)


def _section_text(title: str, text: str) -> str:
    # The parsed corpora glue sentences together ("ever.Alongside") and keep HTML entities.
    text = re.sub(r"([a-z0-9%)][.!?])([A-Z])", r"\1 \2", html.unescape(text))
    return f"{html.unescape(title).strip()}\n{text.strip()}".strip()


def document_from_sections(
    sections: Sequence[dict[str, str]], filename: str = "", sha256: str | None = None
) -> Document:
    """A pre-parsed report (list of {"title", "text"}): each section becomes one page.

    The section title leads its page so that segmentation sees it as the heading.
    """
    texts = [_section_text(s.get("title", ""), s.get("text", "")) for s in sections]
    sha = sha256 or sha256_of("\n\n".join(texts).encode("utf-8"))
    return _document(sha, texts, filename, "sections")


def sections_from_json(data: bytes) -> list[dict[str, str]]:
    """Sections of a pre-parsed report; raises NotSections with the reason when the shape is wrong."""
    try:
        sections = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise NotSections(f"the report is not valid JSON ({exc})") from exc
    valid = isinstance(sections, list) and all(
        isinstance(s, dict) and isinstance(s.get("text", ""), str) and isinstance(s.get("title", ""), str)
        for s in sections
    )
    if not valid or not sections:
        raise NotSections('a .json report must be a non-empty list of {"title": ..., "text": ...} sections')
    return sections


def document_from_file(
    data: bytes, filename: str, backend: str = "pypdfium2", limits: PdfLimits | None = None
) -> Document:
    """A report file's bytes: a PDF, or (by a .json name) a pre-parsed list of sections.

    Both are identified by the sha256 of the file's bytes, so a re-run finds them again.
    """
    if Path(filename).suffix.lower() == ".json":
        check_file_size(data, (limits or DEFAULT_LIMITS).max_bytes)
        return document_from_sections(sections_from_json(data), filename, sha256_of(data))
    return document_from_pdf(data, filename, backend, limits)


def document_from_path(path: Path) -> Document:
    """A shared report file (../shared/data/reports): a PDF, a form-feed text or a JSON of sections.

    Read as an upload is, except that a JSON's identity is its sections' text, not its bytes (the labelled
    items drawn from those reports carry passage ids made that way).
    """
    if path.suffix == ".pdf":
        return document_from_pdf(path.read_bytes(), path.name)
    if path.suffix == ".json":
        return document_from_sections(sections_from_json(path.read_bytes()), path.name)
    return document_from_text(path.read_text(encoding="utf-8"), path.name)
