"""Reviews (issue 25): an analyst's decisions over a report's analysis, the reviewed scores, the export."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, status
from fastapi.responses import Response
from pydantic import BaseModel, Field

from service.http.deps import MAX_ID, CleanText, ReportId, ServiceDep, TenantDep
from service.records import Decision
from service.serving.auth import Tenant
from service.serving.reviews import ReviewDesk, ReviewKind, ReviewRequest, review_json
from service.store import ReviewRow

router = APIRouter(prefix="/v1", tags=["reviews"])
ReviewId = Annotated[int, Path(ge=1, le=MAX_ID, description="a review id")]
# what an indicator, goal or passage id may look like: short, plain characters
Target = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")]


class ReviewIn(BaseModel):
    """One review. ``target``: an indicator id (``dd2.salient``), a goal (``13``) or a passage id.

    indicator_decision needs ``decision``; goal_rung needs ``level`` (0-5); evidence_confirm and
    evidence_reject name a passage and may say what it is evidence for (``on``: an indicator id,
    ``sdg-N`` or ``dd-N``); evidence_attach names an indicator or ``sdg-N`` and the ``passage_id``.
    """

    kind: ReviewKind
    target: Target
    decision: Decision | None = None
    level: int | None = Field(default=None, ge=0, le=5)
    passage_id: Annotated[str, Field(max_length=64, pattern=r"^[A-Za-z0-9]*$")] = ""
    on: Annotated[str, Field(max_length=64, pattern=r"^[A-Za-z0-9._-]*$")] = ""
    note: Annotated[CleanText, Field(max_length=2000)] = ""


def get_desk(service: ServiceDep) -> ReviewDesk:
    """The reviews of the service's store."""
    return ReviewDesk.of(service)


DeskDep = Annotated[ReviewDesk, Depends(get_desk)]


def _answer(desk: ReviewDesk, report_id: int, tenant: Tenant, review: ReviewRow) -> dict[str, Any]:
    """A review, and the scores it leaves: what the caller sees recomputed at once."""
    block = desk.review_block(report_id, tenant)
    keys = ("machine", "reviewed", "unsettled")
    return {"review": review_json(review), **{k: block[k] for k in keys}}


@router.get("/reports/{report_id}/reviews")
def list_reviews(desk: DeskDep, tenant: TenantDep, report_id: ReportId) -> list[dict[str, Any]]:
    """Every review of the report, undone ones too, oldest first (who, when, before, after, note)."""
    return [review_json(r) for r in desk.reviews(report_id, tenant)]


@router.post("/reports/{report_id}/reviews", status_code=status.HTTP_201_CREATED)
def add_review(desk: DeskDep, tenant: TenantDep, report_id: ReportId, body: ReviewIn) -> dict[str, Any]:
    """Keep a review; the answer has it, and the machine and reviewed scores side by side."""
    request = ReviewRequest(**body.model_dump())
    return _answer(desk, report_id, tenant, desk.add(report_id, tenant, request))


@router.post("/reports/{report_id}/reviews/{review_id}/undo")
def undo_review(desk: DeskDep, tenant: TenantDep, report_id: ReportId, review_id: ReviewId) -> dict[str, Any]:
    """Undo a review (it stays in the log, marked undone); the scores are recomputed without it."""
    return _answer(desk, report_id, tenant, desk.undo(report_id, review_id, tenant))


@router.get("/reports/{report_id}/analysis/reviewed")
def reviewed_analysis(desk: DeskDep, tenant: TenantDep, report_id: ReportId) -> dict[str, Any]:
    """Machine and reviewed scores side by side, the decisions in force (who, when), the analysis.

    ``analysis`` is the same JSON as ``/analysis``, with the reviews laid over it.
    """
    return desk.review_block(report_id, tenant)


@router.get(
    "/reviews/export",
    response_class=Response,
    responses={200: {"content": {"application/x-ndjson": {}}, "description": "JSON lines"}},
)
def export_reviews(desk: DeskDep, tenant: TenantDep, format: Literal["jsonl"] = "jsonl") -> Response:
    """Your reviews as labelled data (JSON lines).

    A classify-contract line per reviewed passage (``type: passage``: ``id``, ``text``, ``sdgs``,
    ``dd_steps``), then a row per indicator decision and goal rung (``type: indicator`` / ``goal_rung``).
    """
    lines = (json.dumps(line, ensure_ascii=False) + "\n" for line in desk.export_lines(tenant))
    return Response(
        "".join(lines),
        media_type="application/x-ndjson",
        headers={"Content-Disposition": 'attachment; filename="gaplens-reviews.jsonl"'},
    )
