"""Fuzzing GapLens: the API against its OpenAPI schema, and mutated PDFs through ingest.

The API is fuzzed by schemathesis, the PDFs are mutated by hypothesis. tests/test_fuzz.py runs both
with a small budget in CI; this script runs them deeper.

    .venv/bin/python eval/fuzz.py --api-examples 300 --pdf-examples 1000

The API half seeds a store with one real report, so generated ids hit real rows as well as missing
ones. A case passes when the answer is not a 5xx; a PDF passes when ingest ends in a Document or a
BadInput (a clear error) within the time bound.
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pypdf
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from service.errors import BadInput  # noqa: E402
from service.reading.ingest import document_from_pdf  # noqa: E402
from service.reading.pdf_limits import PdfLimits  # noqa: E402

SHARED_PDF = (
    Path(__file__).resolve().parents[2]
    / "shared/data/reports/pdf/max_automation_nonfinancial_statement_2023.pdf"
)
PDF_LIMITS = PdfLimits(memory_mb=768, seconds=15)
# A mutated PDF must end within the reader's own timeout plus the cost of cleaning its text.
PDF_TIME_BOUND = PDF_LIMITS.seconds + 10
# Each example calls a service or a child process: no per-example deadline, no example database.
RUN_SETTINGS: dict[str, Any] = {
    "deadline": None,
    "database": None,
    "suppress_health_check": list(HealthCheck),
}


@dataclass
class ApiFuzzResult:
    """What the API answered to the generated cases."""

    cases: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    server_errors: list[str] = field(default_factory=list)


def fuzz_api(
    client: TestClient,
    headers: dict[str, str],
    real_ids: dict[str, int],
    examples: int,
    derandomize: bool = False,
) -> ApiFuzzResult:
    """Every operation of the schema, positive and negative cases, ``examples`` of each per operation.

    Half the cases that name a report or job get a real one, so checks run past the 404.
    """
    schema = schemathesis.openapi.from_asgi("/openapi.json", client.app)
    result = ApiFuzzResult()
    for found in schema.get_all_operations():
        operation = found.ok()
        for mode in schemathesis.GenerationMode:

            @settings(max_examples=examples, derandomize=derandomize, **RUN_SETTINGS)
            @given(case=operation.as_strategy(generation_mode=mode), use_real=st.booleans())
            def run(case: Any, use_real: bool) -> None:
                if use_real and case.path_parameters:
                    for name in ("report_id", "job_id"):
                        if name in case.path_parameters:
                            case.path_parameters[name] = real_ids[name]
                response = case.call(headers=headers)
                result.cases += 1
                result.statuses[response.status_code] += 1
                if response.status_code >= 500:
                    result.server_errors.append(f"{case.method} {case.formatted_path}: {response.text[:200]}")

            try:
                run()
            except Unsatisfiable:  # an operation with nothing to get wrong has no negative cases
                if mode is schemathesis.GenerationMode.POSITIVE:
                    raise
            except Exception as exc:  # an exception inside the app: a 500 in production; go on
                result.server_errors.append(f"{operation.method.upper()} {operation.path}: {exc!r}"[:300])
    return result


def base_pdf(pages: int = 2) -> bytes:
    """The first pages of a shared report: a small real PDF to mutate."""
    reader = pypdf.PdfReader(SHARED_PDF)
    writer = pypdf.PdfWriter()
    for page in reader.pages[1 : 1 + pages]:
        writer.add_page(page)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


@st.composite
def mutated_pdfs(draw: st.DrawFn, base: bytes) -> bytes:
    """A real PDF with bytes overwritten, inserted, deleted, chunks repeated, or the tail cut off."""
    data = bytearray(base)
    for _ in range(draw(st.integers(1, 8))):
        kind = draw(st.sampled_from(["overwrite", "insert", "delete", "repeat", "truncate", "number"]))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if kind == "overwrite":
            chunk = draw(st.binary(min_size=1, max_size=64))
            data[at : at + len(chunk)] = chunk
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=256))
        elif kind == "delete":
            del data[at : at + draw(st.integers(1, 4096))]
        elif kind == "repeat":
            size = draw(st.integers(1, 4096))
            data[at:at] = data[at : at + size] * draw(st.integers(2, 50))
        elif kind == "truncate":
            del data[at:]
        else:  # change a number: object numbers, lengths, counts and offsets are where parsers break
            data[at:at] = str(draw(st.sampled_from([0, -1, 2**31, 2**63, 10**9]))).encode()
    return bytes(data)


def ingest_outcome(data: bytes) -> str:
    """Ingest's outcome, "ok" or the BadInput's name; anything else raises, and so does a slow one."""
    started = time.monotonic()
    try:
        document_from_pdf(data, "mutated.pdf", limits=PDF_LIMITS)
        outcome = "ok"
    except BadInput as exc:
        outcome = type(exc).__name__
    elapsed = time.monotonic() - started
    if elapsed > PDF_TIME_BOUND:
        raise AssertionError(f"ingest took {elapsed:.1f} s, over the bound of {PDF_TIME_BOUND} s")
    return outcome


def fuzz_pdfs(
    examples: int, derandomize: bool = False, seen: Callable[[str], None] | None = None
) -> Counter[str]:
    """Ingest ``examples`` mutated PDFs; returns how many ended in each outcome."""
    outcomes: Counter[str] = Counter()
    base = base_pdf()

    @settings(max_examples=examples, derandomize=derandomize, **RUN_SETTINGS)
    @given(data=mutated_pdfs(base))
    def run(data: bytes) -> None:
        outcome = ingest_outcome(data)
        outcomes[outcome] += 1
        if seen:
            seen(outcome)

    run()
    return outcomes


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--api-examples", type=int, default=300, help="per operation and generation mode")
    parser.add_argument("--pdf-examples", type=int, default=1000)
    args = parser.parse_args()

    from service.app import create_app

    if args.pdf_examples:
        started = time.perf_counter()
        outcomes = fuzz_pdfs(args.pdf_examples)
        seconds = time.perf_counter() - started
        print(f"mutated PDFs: {sum(outcomes.values())} in {seconds:.0f} s, outcomes {dict(outcomes)}")
    if args.api_examples:
        with tempfile.TemporaryDirectory() as folder:
            config, headers = fuzz_target(Path(folder))
            with TestClient(create_app(config)) as client:
                real_ids = seed_report(client, headers)
                started = time.perf_counter()
                result = fuzz_api(client, headers, real_ids, args.api_examples)
                seconds = time.perf_counter() - started
        print(
            f"API: {result.cases} cases in {seconds:.0f} s, {len(result.server_errors)} server errors, "
            f"statuses {dict(sorted(result.statuses.items()))}"
        )
        for line in result.server_errors[:20]:
            print("  5xx:", line)


def fuzz_target(folder: Path) -> tuple[Any, dict[str, str]]:
    """Settings for a fresh store in ``folder`` (keys, no OCR, no rate limit) and an admin key's header."""
    from service.serving.auth import create_api_key
    from service.settings import Settings
    from service.store import Store

    config = Settings(data_dir=folder / "data", auth="keys", ocr="off", rate_limit="1000000/minute")
    config.data_dir.mkdir(parents=True)
    store = Store.open(config)
    return config, {"Authorization": f"Bearer {create_api_key(store, 'fuzz', admin=True)}"}


def seed_report(client: TestClient, headers: dict[str, str]) -> dict[str, int]:
    """Upload the shared PDF and wait for it: the real ids the fuzzer may use."""
    files = {"file": (SHARED_PDF.name, SHARED_PDF.read_bytes(), "application/pdf")}
    job = client.post("/v1/reports", headers=headers, files=files, data={"sector": "industrial"}).json()
    deadline = time.monotonic() + 300
    while job["status"] in ("queued", "running"):
        if time.monotonic() > deadline:
            raise TimeoutError("the seed report did not finish")
        time.sleep(0.5)
        job = client.get(f"/v1/jobs/{job['id']}", headers=headers).json()
    if job["status"] != "done":
        raise RuntimeError(f"the seed report failed: {job['error']}")
    return {"report_id": job["report_id"], "job_id": job["id"]}


if __name__ == "__main__":
    main()
