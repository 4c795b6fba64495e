"""Reading untrusted PDFs in a child process with capped memory and time.

A PDF can be built to exhaust its reader: a page tree of millions of pages, a stream that inflates
to gigabytes, objects nested thousands deep. PDFium is C++ and runs in our address space, so we do
not try to spot every trick; the child process that reads the PDF has an address-space limit
(RLIMIT_AS) and a wall-clock timeout, and whatever goes wrong there ends as a clear BadInput here
while the service carries on. The child imports nothing but pypdfium2 (and pytesseract for OCR), so
it starts in about 0.1 s.

Run as ``python -m service.sandbox`` it is the child: PDF bytes on stdin, a JSON answer on stdout.
"""

from __future__ import annotations

import base64
import json
import os
import resource
import shutil
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Any

import pypdfium2 as pdfium

from service import errors
from service.errors import (
    BadInput,
    CorruptPdf,
    EncryptedPdf,
    JobTimeout,
    NotFound,
    PdfTooComplex,
    ServiceBusy,
    TooManyRequests,
)

# How much a child yields the CPU, by what it does (see child_main): reading a PDF's text is short and
# someone may wait on it (an upload's 202); OCR and drawing pages are long, and drawing is what a
# render bomb attacks, so it yields most. CFS weights: nice 5 gets 9x the CPU of nice 15.
CHILD_NICENESS = {"text": 5, "ocr": 10, "render": 15}
# Pages are rendered for OCR at this resolution: tesseract reads body text best at about 300 dpi.
OCR_DPI = 300


@dataclass(frozen=True)
class PdfLimits:
    """What one PDF may cost to read (Settings.pdf_limits builds it from the configuration)."""

    max_bytes: int = 50 * 1024 * 1024
    max_pages: int = 1500
    memory_mb: int = 1536
    seconds: float = 60.0
    # OCR of text-less pages: tesseract language codes ("" = never), how many pages, time per page
    ocr_languages: str = ""
    max_ocr_pages: int = 60
    ocr_seconds_per_page: float = 20.0
    # rendering one page image (a page of a million filled shapes would otherwise run for minutes)
    render_seconds: float = 20.0


# --- how many children at once ---------------------------------------------------------------------
@dataclass(frozen=True)
class ChildBudget:
    """Who a child works for and how long its caller may wait: set per request or job by the engine.

    ``wait`` None: wait for a slot as long as it takes (background jobs); a number: give up after that
    many seconds with 503 (a request someone is waiting on). ``deadline`` (time.monotonic()) caps every
    child's timeout, so a job's time limit holds inside the child too.
    """

    owner: str = ""
    wait: float | None = 10.0
    deadline: float | None = None


BUDGET: ContextVar[ChildBudget] = ContextVar("child_budget", default=ChildBudget())  # noqa: B039 - frozen


@contextmanager
def child_budget(owner: str, wait: float | None, deadline: float | None = None) -> Iterator[None]:
    """Run the block's PDF children for ``owner`` (a tenant), waiting at most ``wait`` for a slot."""
    token = BUDGET.set(ChildBudget(owner, wait, deadline))
    try:
        yield
    finally:
        BUDGET.reset(token)


class ChildSlots:
    """A counting semaphore on PDF children, with a share per owner.

    Each child may use ``PdfLimits.memory_mb``, so the number alive at once bounds what they can take
    together. One owner (tenant) holds at most half the slots, so it cannot shut the others out.
    """

    def __init__(self, total: int = 2) -> None:
        self._changed = threading.Condition()
        self._held: Counter[str] = Counter()
        self.total = total

    @property
    def per_owner(self) -> int:
        return max(1, self.total // 2)

    def resize(self, total: int) -> None:
        with self._changed:
            self.total = max(1, total)
            self._changed.notify_all()

    def held(self) -> int:
        with self._changed:
            return sum(self._held.values())

    def _free_for(self, owner: str) -> bool:
        return sum(self._held.values()) < self.total and self._held[owner] < self.per_owner

    @contextmanager
    def slot(self, owner: str, wait: float | None) -> Iterator[None]:
        """Hold one slot for ``owner``: 429 when the owner holds its share, 503 when all are busy."""
        with self._changed:
            if wait is not None and self._held[owner] >= self.per_owner:
                raise TooManyRequests(
                    f"{self.per_owner} of your PDFs are being read at this moment, the most at a time; "
                    "try again in a few seconds",
                    5,
                )
            if not self._changed.wait_for(lambda: self._free_for(owner), timeout=wait):
                raise ServiceBusy(
                    "the service is reading as many PDFs as it can at this moment; try again shortly", 10
                )
            self._held[owner] += 1
        try:
            yield
        finally:
            with self._changed:
                self._held[owner] -= 1
                self._changed.notify_all()


CHILDREN = ChildSlots()


def memory_sized_children(memory_mb: int, share: float = 0.5) -> int:
    """How many children of ``memory_mb`` fit in ``share`` of this machine's memory (at least one)."""
    total_mb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**20
    return max(1, int(total_mb * share // max(1, memory_mb)))


# --- the parent's side -----------------------------------------------------------------------------
def read_page_texts(data: bytes, limits: PdfLimits) -> list[str]:
    """Raw text of every page (PDFium, content-stream order), read in a bounded child process."""
    answer = _run_child("text", data, limits, limits.seconds)
    return [str(t) for t in answer["pages"]]


def ocr_page_texts(data: bytes, pages: list[int], limits: PdfLimits) -> dict[int, str]:
    """Text of the given pages (1-based) by OCR, read in a bounded child process."""
    seconds = limits.seconds + limits.ocr_seconds_per_page * len(pages)
    answer = _run_child("ocr", data, limits, seconds, pages)
    return {int(k): str(v) for k, v in answer["pages"].items()}


def render_page_png(data: bytes, page: int, highlight: str, limits: PdfLimits) -> bytes:
    """Page ``page`` (1-based) as PNG with ``highlight`` marked, rendered in a bounded child process."""
    answer = _run_child("render", data, limits, limits.render_seconds, [page], highlight)
    return base64.b64decode(answer["png"])


@lru_cache(maxsize=4)
def ocr_languages_available(wanted: str) -> str:
    """The ``+``-joined tesseract languages of ``wanted`` that are installed; "" without tesseract."""
    if not wanted or shutil.which("tesseract") is None:
        return ""
    listing = subprocess.run(["tesseract", "--list-langs"], capture_output=True, text=True, timeout=30)
    installed = set(listing.stdout.split())
    return "+".join(code for code in wanted.split("+") if code in installed)


def _child_timeout(seconds: float, deadline: float | None) -> tuple[float, bool]:
    """The child's timeout, and whether it is the job's deadline (not the PDF limit) that sets it."""
    if deadline is None:
        return seconds, False
    left = deadline - time.monotonic()
    if left <= 0:
        raise JobTimeout("reading the report took longer than the limit for one report")
    return min(seconds, left), left < seconds


def _run_child(
    mode: str,
    data: bytes,
    limits: PdfLimits,
    seconds: float,
    pages: list[int] | None = None,
    highlight: str = "",
) -> dict[str, Any]:
    request = json.dumps(
        {"mode": mode, "limits": asdict(limits), "pages": pages or [], "highlight": highlight}
    )
    budget = BUDGET.get()
    with CHILDREN.slot(budget.owner, budget.wait):
        timeout, by_deadline = _child_timeout(seconds, budget.deadline)
        try:
            done = subprocess.run(
                [sys.executable, "-m", "service.sandbox", request],
                input=data,
                capture_output=True,
                timeout=timeout,
            )
        except subprocess.TimeoutExpired as exc:
            if by_deadline:
                raise JobTimeout("reading the report took longer than the limit for one report") from exc
            doing = "drawing the page" if mode == "render" else "reading the PDF"
            raise PdfTooComplex(
                f"{doing} took longer than {seconds:.0f} s; it may be damaged or built to exhaust "
                "a reader (a PDF bomb)"
            ) from exc
    return _answer(done, f"{limits.memory_mb} MB of memory and {seconds:.0f} s")


def _answer(done: subprocess.CompletedProcess[bytes], budget: str) -> dict[str, Any]:
    """The child's JSON answer, or its error as our exception."""
    try:
        answer = json.loads(done.stdout)
    except json.JSONDecodeError:
        answer = None
    if done.returncode != 0 or not isinstance(answer, dict):
        raise PdfTooComplex(
            f"the PDF could not be read within {budget}; it may be damaged or built to exhaust a "
            "reader (a PDF bomb)"
        )
    if "error" in answer:
        kind = getattr(errors, str(answer["error"]), CorruptPdf)
        if not (isinstance(kind, type) and issubclass(kind, BadInput | NotFound)):
            kind = CorruptPdf
        raise kind(str(answer.get("message", "the PDF cannot be read")))
    return answer


# --- the child's side ------------------------------------------------------------------------------
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


def _render(pdf: pdfium.PdfDocument, page: int, highlight: str) -> dict[str, Any]:
    from service.page_images import render_pdf_page

    return {"png": base64.b64encode(render_pdf_page(pdf, page, highlight).png).decode("ascii")}


def _child_answer(request: dict[str, Any], data: bytes) -> dict[str, Any]:
    limits = PdfLimits(**request["limits"])
    pdf = open_pdf(data)
    try:
        count = _page_count(pdf, limits)
        if request["mode"] == "ocr":
            pages = [p for p in request["pages"] if 1 <= p <= count]
            return {"pages": _ocr(pdf, pages, limits.ocr_languages)}
        if request["mode"] == "render":
            return _render(pdf, request["pages"][0], request["highlight"])
        return {"pages": raw_pages_pypdfium2(pdf)}
    except pdfium.PdfiumError as exc:
        raise CorruptPdf(f"a page of the PDF cannot be read ({exc})") from exc
    finally:
        pdf.close()


def child_main() -> None:
    """The child: cap its own memory, read the PDF from stdin, answer JSON on stdout.

    It also yields the CPU (CHILD_NICENESS): a page that takes its whole time limit to draw or read
    slows the service's own requests, jobs and other tenants' uploads as little as the machine allows.
    """
    request = json.loads(sys.argv[1])
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
