"""A small client of GapLens's own HTTP API, for `gaplens analyze` when a server is already running.

A running server has its models loaded; a new CLI process would spend seconds importing and loading
them before reading the first page. So the CLI hands the PDF to the server and waits for the job, and
reads the PDF itself only when no server answers (or the server wants a key the CLI does not have).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from service.errors import GapLensError

# Often enough that the wait ends soon after the job; rarely enough not to slow the server reading it.
POLL_SECONDS = 0.2


class ServerRefused(GapLensError):
    """The server answered, but will not take the upload from us (no or wrong API key)."""


def server_answering(url: str, timeout: float = 0.5) -> bool:
    """Whether a GapLens server answers /health at ``url`` (quickly: a CLI must not hang on it)."""
    try:
        return httpx.get(f"{url}/health", timeout=timeout).status_code == 200
    except httpx.HTTPError:
        return False


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:300]
    return str(body.get("detail", body)) if isinstance(body, dict) else str(body)


def analyze_on_server(
    url: str, pdf: Path, api_key: str = "", progress: Callable[[str, float], None] | None = None
) -> dict[str, Any]:
    """Upload ``pdf`` to the server at ``url``, wait for its job, and return the gap analysis.

    Raises ServerRefused when the server wants a key we lack, GapLensError with the server's own
    message when it refuses the PDF or the job fails.
    """
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    with httpx.Client(base_url=url, headers=headers, timeout=120) as http:
        files = {"file": (pdf.name, pdf.read_bytes(), "application/pdf")}
        answer = http.post("/v1/reports", files=files)
        if answer.status_code in (401, 403):
            raise ServerRefused(f"the server at {url} refused the upload: {_detail(answer)}")
        if answer.status_code >= 400:
            raise GapLensError(f"the server at {url} refused {pdf.name}: {_detail(answer)}")
        job = answer.json()
        while job["status"] not in ("done", "failed"):
            if progress:
                progress(job["stage"], job["progress"])
            time.sleep(POLL_SECONDS)
            job = http.get(f"/v1/jobs/{job['id']}").json()
        if job["status"] == "failed":
            raise GapLensError(f"the server could not read {pdf.name}: {job['error']}")
        return http.get(f"/v1/reports/{job['report_id']}/analysis").json()
