"""The sandbox's child side: the only module that opens a PDF with a PDF library.

``python -m service.reading.sandbox_child REQUEST`` reads PDF bytes on stdin, caps its own memory, yields the
CPU, and answers JSON on stdout: the pages' text (PDFium in content-stream order, or pdfplumber's
layout order), OCR text of some pages, or one page drawn as PNG with a passage highlighted. The parent
(service/reading/sandbox.py) starts it, times it and turns its answer or its death into our errors; nothing in
the service process itself ever parses a PDF. It imports pypdfium2 and our errors at start (about
0.1 s); pdfplumber, pytesseract and Pillow only in the modes that need them.
"""

from __future__ import annotations

import base64
import ctypes
import io
import json
import os
import resource
import signal
import sys
from typing import Any

import pypdfium2 as pdfium

from service.errors import BadInput, CorruptPdf, EncryptedPdf, NotFound, PdfTooComplex
from service.reading.page_images import Box
from service.reading.pdf_limits import PdfLimits

# How much a child yields the CPU, by what it does: reading a PDF's text is short and someone may wait
# on it (an upload's 202); OCR and drawing pages are long, and drawing is what a render bomb attacks,
# so it yields most. CFS weights: nice 5 gets 9x the CPU of nice 15.
CHILD_NICENESS = {"text": 5, "layout": 5, "ocr": 10, "render": 15}
# Linux prctl option: the signal the kernel sends this process when its parent dies.
PR_SET_PDEATHSIG = 1
# Pages are rendered for OCR at this resolution: tesseract reads body text best at about 300 dpi.
OCR_DPI = 300


def open_pdf(data: bytes) -> pdfium.PdfDocument:
    """Open with PDFium, turning its error codes into our clear messages."""
    try:
        return pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        if "password" in str(exc).lower():
            raise EncryptedPdf("the PDF is encrypted and needs a password to open") from exc
        raise CorruptPdf(f"the PDF cannot be read ({exc})") from exc


def _page_count(pdf: pdfium.PdfDocument, limits: PdfLimits) -> int:
    count = len(pdf)
    if count == 0:
        raise CorruptPdf("the PDF has no pages")
    if count > limits.max_pages:
        raise PdfTooComplex(f"the PDF has {count} pages; the limit is {limits.max_pages}")
    return count


def raw_pages_pypdfium2(pdf: pdfium.PdfDocument) -> list[str]:
    """Text in content-stream order, which keeps columns apart and is ~60x faster than layout."""
    pages = []
    for index in range(len(pdf)):
        textpage = pdf[index].get_textpage()
        text = textpage.get_text_range()
        pages.append(text.replace("\r\n", "\n").replace("\r", "\n"))
    return pages


def raw_pages_pdfplumber(data: bytes) -> list[str]:
    """Layout-ordered text of upright characters only (rotated designer text is dropped)."""
    import pdfplumber

    def upright(obj: dict[str, Any]) -> bool:
        return obj.get("object_type") != "char" or bool(obj.get("upright", True))

    with pdfplumber.open(io.BytesIO(data)) as pdf:
        return [page.filter(upright).extract_text(x_tolerance=1) or "" for page in pdf.pages]


def _ocr(pdf: pdfium.PdfDocument, pages: list[int], languages: str) -> dict[int, str]:
    import pytesseract

    # Tesseract's OpenMP threads fight over two cores: one thread reads a 300 dpi page in 3.2 s, four
    # take 26.7 s (measured on the MAX Automation PDF, page 9).
    os.environ["OMP_THREAD_LIMIT"] = "1"

    texts = {}
    for number in pages:
        image = pdf[number - 1].render(scale=OCR_DPI / 72, grayscale=True).to_pil()
        texts[number] = pytesseract.image_to_string(image, lang=languages)
    return texts


def _text_boxes(
    textpage: pdfium.PdfTextPage, span: tuple[int, int], height: float, scale: float
) -> list[Box]:
    """Image-pixel rectangles of the text runs PDFium reports for characters ``span`` of the page."""
    start, end = span
    boxes = []
    for i in range(textpage.count_rects(start, end - start)):
        left, bottom, right, top = textpage.get_rect(i)
        # PDF space grows upwards from the bottom edge; image space downwards from the top.
        boxes.append(Box(left * scale, (height - top) * scale, right * scale, (height - bottom) * scale))
    return boxes


def _render(pdf: pdfium.PdfDocument, page: int, highlight: str, scale: float) -> dict[str, Any]:
    """Page ``page`` (1-based) as PNG with ``highlight``'s text marked if found, and the boxes drawn."""
    from service.reading.page_images import draw_highlight, image_scale, passage_char_span

    if not 1 <= page <= len(pdf):
        raise NotFound(f"the report has {len(pdf)} pages; there is no page {page}")
    pdf_page = pdf[page - 1]
    height = pdf_page.get_height()
    scale = image_scale(pdf_page.get_width(), height, scale)
    image = pdf_page.render(scale=scale).to_pil()
    boxes: list[Box] = []
    if highlight:
        textpage = pdf_page.get_textpage()
        span = passage_char_span(textpage.get_text_range(), highlight)
        if span:
            boxes = _text_boxes(textpage, span, height, scale)
    image = draw_highlight(image, boxes)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return {
        "png": base64.b64encode(buffer.getvalue()).decode("ascii"),
        "width": image.width,
        "height": image.height,
        "boxes": [[b.left, b.top, b.right, b.bottom] for b in boxes],
    }


def _child_answer(request: dict[str, Any], data: bytes) -> dict[str, Any]:
    limits = PdfLimits(**request["limits"])
    pdf = open_pdf(data)
    try:
        count = _page_count(pdf, limits)
        if request["mode"] == "ocr":
            pages = [p for p in request["pages"] if 1 <= p <= count]
            return {"pages": _ocr(pdf, pages, limits.ocr_languages)}
        if request["mode"] == "render":
            return _render(pdf, request["pages"][0], request["highlight"], float(request.get("scale", 1.3)))
        if request["mode"] == "layout":
            return {"pages": raw_pages_pdfplumber(data)}
        return {"pages": raw_pages_pypdfium2(pdf)}
    except pdfium.PdfiumError as exc:
        raise CorruptPdf(f"a page of the PDF cannot be read ({exc})") from exc
    finally:
        pdf.close()


def die_with_parent(parent: int) -> None:
    """Have the kernel kill this child when its parent dies (a kill -9 of the server included).

    Set first thing; a parent that died before it was set is seen by the pid check that follows. On
    a system without prctl the next server's start ends strays instead
    (service.reading.sandbox.end_stray_children).
    """
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if parent and os.getppid() != parent:
        os._exit(1)


def child_main() -> None:
    """The child: cap its own memory, read the PDF from stdin, answer JSON on stdout.

    It also yields the CPU (CHILD_NICENESS): a page that takes its whole time limit to draw or read
    slows the service's own requests, jobs and other tenants' uploads as little as the machine allows.
    """
    request = json.loads(sys.argv[1])
    die_with_parent(int(request.get("parent", 0)))
    memory = int(request["limits"]["memory_mb"]) * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    os.nice(CHILD_NICENESS.get(request["mode"], 10))
    data = sys.stdin.buffer.read()
    try:
        answer = _child_answer(request, data)
    except (BadInput, NotFound) as exc:
        answer = {"error": type(exc).__name__, "message": str(exc)}
    except MemoryError:
        answer = {"error": "PdfTooComplex", "message": "reading the PDF needs more memory than allowed"}
    json.dump(answer, sys.stdout)


if __name__ == "__main__":
    child_main()
