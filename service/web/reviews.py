"""The result page's review section (issue 25): decide indicators, confirm or reject passages, undo.

Plain HTML forms that post to these routes and come back to the page (303), so the review works without
JavaScript. Cross-site posts never get here (service/http/guards.py refuses them before any route), and
the session cookie says who reviewed. What the section shows is ``review_context``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Path
from fastapi.responses import RedirectResponse

from service.http.deps import MAX_ID, CleanText, ReportId, ServiceDep, TenantDep
from service.records import Decision
from service.serving.auth import Tenant
from service.serving.reviews import (
    EVIDENCE_KINDS,
    ReviewDesk,
    ReviewKind,
    ReviewRequest,
    review_json,
    score_summary,
)

router = APIRouter(include_in_schema=False)
PlainId = Annotated[str, Form(max_length=64, pattern=r"^[A-Za-z0-9._-]*$")]


def get_desk(service: ServiceDep) -> ReviewDesk:
    """The reviews of the service's store."""
    return ReviewDesk.of(service)


DeskDep = Annotated[ReviewDesk, Depends(get_desk)]


def review_context(desk: ReviewDesk, tenant: Tenant, report_id: int) -> dict[str, Any]:
    """Machine and reviewed scores, the reviewed analysis, each passage's and indicator's review state."""
    machine, reviewed, rows = desk.reviewed(report_id, tenant)
    in_force = [r for r in rows if r.undone_at is None]
    status = {r.target: r.after["status"] for r in in_force if r.kind in EVIDENCE_KINDS}
    decided = {r.target: review_json(r) for r in in_force if r.kind == "indicator_decision"}
    machine_evidence = {i.id: {e.passage_id for e in i.evidence} for i in machine.indicators}
    return {
        "review": {
            "machine": score_summary(machine),
            "reviewed": score_summary(reviewed.report),
            "machine_report": machine,
            "report": reviewed.report,
            "machine_evidence": machine_evidence,
            "status": status,
            "decided": decided,
            "log": [review_json(r) for r in reversed(rows)],
            "unsettled": reviewed.unsettled,
            "rung_levels": [(0, "")] + [(r.level, r.id) for r in desk.rules.ladder.rungs],
            "goal_decided": {r.target: review_json(r) for r in in_force if r.kind == "goal_rung"},
        }
    }


@router.post("/reports/{report_id}/reviews")
def review_form(
    desk: DeskDep,
    tenant: TenantDep,
    report_id: ReportId,
    kind: Annotated[ReviewKind, Form()],
    target: Annotated[str, Form(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")],
    decision: Annotated[Decision | None, Form()] = None,
    level: Annotated[int | None, Form(ge=0, le=5)] = None,
    passage_id: PlainId = "",
    on: PlainId = "",
    note: Annotated[CleanText, Form(max_length=2000)] = "",
) -> RedirectResponse:
    """Keep the form's review, then show the page again at the review section."""
    request = ReviewRequest(kind, target, decision, level, passage_id, on, note.strip())
    desk.add(report_id, tenant, request)
    return RedirectResponse(f"/reports/{report_id}#review", status_code=303)


@router.post("/reports/{report_id}/reviews/{review_id}/undo")
def undo_form(
    desk: DeskDep,
    tenant: TenantDep,
    report_id: ReportId,
    review_id: Annotated[int, Path(ge=1, le=MAX_ID)],
) -> RedirectResponse:
    """Undo one review (it stays in the log) and show the page again."""
    desk.undo(report_id, review_id, tenant)
    return RedirectResponse(f"/reports/{report_id}#review", status_code=303)
