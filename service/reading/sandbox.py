"""Reading untrusted PDFs in a child process with capped memory and time.

A PDF can be built to exhaust its reader: a page tree of millions of pages, a stream that inflates
to gigabytes, objects nested thousands deep. PDFium is C++ and runs in our address space, so we do
not try to spot every trick; the child process that reads the PDF has an address-space limit
(RLIMIT_AS) and a wall-clock timeout, and whatever goes wrong there ends as a clear BadInput here
while the service carries on.

This is the parent's side, and it imports no PDF library: every call that opens a PDF (text, the
pdfplumber backend, OCR, page images) runs in ``python -m service.reading.sandbox_child``, PDF bytes on stdin
and a JSON answer on stdout. tests/test_imports.py and the import-linter contracts keep it so.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from service import errors
from service.errors import (
    BadInput,
    CorruptPdf,
    JobTimeout,
    NotFound,
    PdfTooComplex,
    ServiceBusy,
    TooManyRequests,
)
from service.reading.page_images import Box, PageImage
from service.reading.pdf_limits import PdfLimits

log = logging.getLogger("gaplens")
# pdfplumber reads a page in layout order ~60x slower than PDFium's text; a real report's pages fit
# in ten times the text limit, a bomb still does not.
LAYOUT_TIME_FACTOR = 10


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


# --- children that outlive their parent ------------------------------------------------------------
class ChildRecords:
    """A pid file per running child (``<pid>.child`` holding the parent's pid), in a folder the service names.

    A child dies with its parent (sandbox_child sets the parent-death signal), but should that ever
    fail, the next start finds the pid files, and ends each child still running whose parent is gone
    (tested with kill -9 of a real server). Without a folder (tests, the CLI) nothing is recorded.
    """

    def __init__(self) -> None:
        self.folder: Path | None = None

    def keep_in(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder

    @contextmanager
    def recorded(self, pid: int) -> Iterator[None]:
        path = self.folder / f"{pid}.child" if self.folder else None
        if path is not None:
            path.write_text(str(os.getpid()))
        try:
            yield
        finally:
            if path is not None:
                path.unlink(missing_ok=True)


RECORDS = ChildRecords()


def is_sandbox_child(pid: int) -> bool:
    """Whether ``pid`` runs ``python -m service.reading.sandbox_child`` (a reused pid runs something else)."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return any(
        a == b"-m" and b == b"service.reading.sandbox_child" for a, b in zip(argv, argv[1:], strict=False)
    )


def parent_of(pid: int) -> int | None:
    """``pid``'s parent pid, from /proc; None when it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rpartition(")")[2].split()[1])


def end_stray_children(folder: Path) -> int:
    """End the sandbox children recorded in ``folder`` whose parent is gone; how many.

    Only a pid whose /proc cmdline is still our child's is signalled; a child whose recorded parent
    still runs (another server sharing the data folder) is left alone. Stale pid files are removed.
    """
    ended = 0
    for record in folder.glob("*.child"):
        pid, parent = int(record.stem), int(record.read_text() or 0)
        if is_sandbox_child(pid) and parent_of(pid) == parent:
            continue  # its parent still waits on it
        if is_sandbox_child(pid):
            with suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)  # the child leads its own process group (OCR's tesseract)
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            ended += 1
        record.unlink(missing_ok=True)
    if ended:
        log.warning("ended %d PDF children that a previous server left running", ended)
    return ended


# --- the parent's side -----------------------------------------------------------------------------
def read_page_texts(data: bytes, limits: PdfLimits, layout: bool = False) -> list[str]:
    """Raw text of every page, read in a bounded child process.

    PDFium's content-stream order by default; ``layout``: pdfplumber's layout order of upright
    characters (GAPLENS_PDF_BACKEND=pdfplumber). That is ~60x slower, so it gets LAYOUT_TIME_FACTOR
    times the time (a job's own deadline still caps it); its memory cap is the same.
    """
    seconds = limits.seconds * (LAYOUT_TIME_FACTOR if layout else 1)
    answer = _run_child("layout" if layout else "text", data, limits, seconds)
    return [str(t) for t in answer["pages"]]


def ocr_page_texts(data: bytes, pages: list[int], limits: PdfLimits) -> dict[int, str]:
    """Text of the given pages (1-based) by OCR, read in a bounded child process."""
    seconds = limits.seconds + limits.ocr_seconds_per_page * len(pages)
    answer = _run_child("ocr", data, limits, seconds, pages)
    return {int(k): str(v) for k, v in answer["pages"].items()}


def render_page_image(
    data: bytes, page: int, highlight: str, limits: PdfLimits, scale: float = 1.3
) -> PageImage:
    """Page ``page`` (1-based) as PNG with ``highlight`` marked, rendered in a bounded child process."""
    answer = _run_child("render", data, limits, limits.render_seconds, [page], highlight, scale)
    boxes = tuple(Box(*map(float, box)) for box in answer["boxes"])
    return PageImage(base64.b64decode(answer["png"]), int(answer["width"]), int(answer["height"]), boxes)


def render_page_png(data: bytes, page: int, highlight: str, limits: PdfLimits) -> bytes:
    """Page ``page`` (1-based) as PNG bytes only (what the page-image route serves)."""
    return render_page_image(data, page, highlight, limits).png


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
    scale: float = 1.3,
) -> dict[str, Any]:
    request = json.dumps(
        {
            "mode": mode,
            "limits": asdict(limits),
            "pages": pages or [],
            "highlight": highlight,
            "scale": scale,
            "parent": os.getpid(),  # the child dies with this process
        }
    )
    budget = BUDGET.get()
    with CHILDREN.slot(budget.owner, budget.wait):
        timeout, by_deadline = _child_timeout(seconds, budget.deadline)
        try:
            done = _run_recorded(
                [sys.executable, "-m", "service.reading.sandbox_child", request], data, timeout
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


def _run_recorded(command: list[str], data: bytes, timeout: float) -> subprocess.CompletedProcess[bytes]:
    """subprocess.run for one child, with its pid recorded while it runs and its process group ended.

    The child leads a process group of its own, so a timeout ends what it started too (tesseract).
    """
    with (
        subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        ) as child,
        RECORDS.recorded(child.pid),
    ):
        try:
            stdout, stderr = child.communicate(data, timeout=timeout)
        except BaseException:  # a timeout, or this thread interrupted: the child goes with it
            with suppress(ProcessLookupError):
                os.killpg(child.pid, signal.SIGKILL)
            child.communicate()
            raise
    return subprocess.CompletedProcess(command, child.returncode, stdout, stderr)


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
