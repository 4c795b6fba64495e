"""GapLensService: the store, the search index and the job queue around the pipeline.

The API and the CLI are thin shells over this one object. It is composed of parts, one module each:
uploads and jobs (uploads.py), the worker (worker.py), the read side (reads.py), keys and sign-in
(accounts.py), over the state they share (base.py). Every read takes the calling tenant and
sees only that tenant's rows. Uploads are validated (in a bounded child process) and written to disk,
content-addressed by sha256 and fsynced, before a job is acknowledged. The job queue is the jobs table:
worker threads claim queued jobs from the database, so a restart after a crash finds every job that
was acknowledged and not finished, and runs it again.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from service.records import LabelScores
from service.serving.accounts import Accounts
from service.serving.base import ServiceBase, write_durably
from service.serving.reads import Reads, SearchHit, cached_render
from service.serving.uploads import QUEUE_FULL_RETRY_AFTER, ReportMeta, Uploads
from service.serving.worker import LEASE_SECONDS, MAX_ATTEMPTS, Worker, job_error, owner_alive

__all__ = [
    "LEASE_SECONDS",
    "MAX_ATTEMPTS",
    "QUEUE_FULL_RETRY_AFTER",
    "GapLensService",
    "ReportMeta",
    "SearchHit",
    "ServiceBase",
    "cached_render",
    "classification_rows",
    "job_error",
    "owner_alive",
    "write_durably",
]


class GapLensService(Uploads, Worker, Reads, Accounts):
    """Everything the API and CLI need, over one store and one index."""


def classification_rows(
    ids: Sequence[str], sdg: Sequence[LabelScores], dd: Sequence[LabelScores]
) -> list[dict[str, Any]]:
    """The stable classify contract used by the CLI, the API and external evaluation."""
    return [
        {
            "id": item_id,
            "sdgs": [int(label) for label in s.labels],
            "sdg_scores": s.scores,
            "targets": list(s.parts),
            "dd_steps": [int(label) for label in d.labels],
            "dd_scores": d.scores,
        }
        for item_id, s, d in zip(ids, sdg, dd, strict=True)
    ]
