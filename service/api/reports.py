"""Reports and jobs: upload a PDF, follow its job, read its analysis and passages."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Form, Path, Query, UploadFile, status
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from service.api.schemas import EvidenceOut, JobOut, PassageOut, ReportOut, ReportPatch
from service.http.deps import (
    MAX_ID,
    JobId,
    NameText,
    OptionalPassageId,
    ReportId,
    ServiceDep,
    TenantDep,
    csv_download,
)
from service.judging.evidence import Side
from service.serving.engine import ReportMeta
from service.serving.report_table import analysis_csv

router = APIRouter(prefix="/v1", tags=["reports"])


@router.post("/reports", status_code=status.HTTP_202_ACCEPTED, response_model=JobOut)
async def upload_report(
    service: ServiceDep,
    tenant: TenantDep,
    file: Annotated[UploadFile, File(description="The report PDF")],
    company: Annotated[NameText, Form(max_length=256)] = "",
    sector: Annotated[NameText, Form(max_length=128)] = "",
    year: Annotated[int | None, Form(ge=1900, le=2100)] = None,
    shareable: Annotated[
        bool, Form(description="count it, anonymously, in other tenants' benchmarks")
    ] = False,
) -> JobOut:
    """Upload a PDF; processing runs in the background. Poll ``/v1/jobs/{id}``.

    The same bytes uploaded again answer with the same report's job (idempotent). 429 with
    Retry-After when the tenant already has the most jobs queued that it may.
    """
    # Read one byte past the limit so an oversized file is refused without reading all of it.
    data = await file.read(service.settings.max_upload_bytes + 1)
    meta = ReportMeta(company=company, sector=sector, year=year, shareable=shareable)
    # Validation reads the PDF in a child process: off the event loop, so other requests go on.
    job = await run_in_threadpool(service.submit_pdf, data, file.filename or "upload.pdf", tenant, meta)
    return JobOut.model_validate(job)


@router.get("/jobs/{job_id}", response_model=JobOut)
def get_job(service: ServiceDep, tenant: TenantDep, job_id: JobId) -> JobOut:
    """A job's status, stage and progress (0-1); ``error`` says why a failed job failed."""
    return JobOut.model_validate(service.job(job_id, tenant))


@router.get("/reports", response_model=list[ReportOut])
def list_reports(service: ServiceDep, tenant: TenantDep) -> list[ReportOut]:
    """Your stored reports, newest first."""
    return [ReportOut.model_validate(r) for r in service.reports(tenant)]


@router.get("/reports/{report_id}", response_model=ReportOut)
def get_report(service: ServiceDep, tenant: TenantDep, report_id: ReportId) -> ReportOut:
    """One report's metadata and status."""
    return ReportOut.model_validate(service.report(report_id, tenant))


@router.patch("/reports/{report_id}", response_model=ReportOut)
def patch_report(service: ServiceDep, tenant: TenantDep, report_id: ReportId, body: ReportPatch) -> ReportOut:
    """Mark a report shareable (or not): other tenants' sector benchmarks then count it, anonymously."""
    return ReportOut.model_validate(service.set_shareable(report_id, tenant, body.shareable))


@router.get("/reports/{report_id}/analysis", response_model=None)
def get_analysis(
    service: ServiceDep,
    tenant: TenantDep,
    report_id: ReportId,
    format: Annotated[Literal["json", "csv"], Query()] = "json",
) -> dict[str, Any] | Response:
    """The gap analysis: coverage per SDG and per step with evidence, profile, recommendations.

    ``format=csv`` gives one row per SDG and per step (scores, evidence counts by type, parts).
    """
    analysis = service.analysis(report_id, tenant)
    if format == "csv":
        return csv_download(analysis_csv(analysis), f"gaplens-report-{report_id}")
    return analysis.to_dict()


@router.get("/reports/{report_id}/evidence", response_model=list[EvidenceOut])
def get_evidence(
    service: ServiceDep,
    tenant: TenantDep,
    report_id: ReportId,
    framework: Annotated[Side, Query(description="sdg or oecd_dd")],
    label: Annotated[str, Query(min_length=1, max_length=8, description="goal or step id, e.g. 13")],
    part: Annotated[str, Query(max_length=8, description="a target or sub-element, e.g. 13.2")] = "",
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
) -> list[EvidenceOut]:
    """Every passage that supports one goal or step (or one of its targets), best first."""
    items = service.evidence(report_id, tenant, framework, label, part, limit)
    return [EvidenceOut(**asdict(item)) for item in items]


@router.get(
    "/reports/{report_id}/pages/{page}/image",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}, "description": "the page as PNG"}},
)
def get_page_image(
    service: ServiceDep,
    tenant: TenantDep,
    report_id: ReportId,
    page: Annotated[int, Path(ge=1, le=100_000)],
    passage: OptionalPassageId = None,
) -> Response:
    """One page of the uploaded PDF as PNG, with a passage highlighted (uploaded PDFs only)."""
    png = service.page_image(report_id, tenant, page, passage)
    return Response(png, media_type="image/png", headers={"Cache-Control": "private, max-age=3600"})


@router.get("/reports/{report_id}/passages", response_model=list[PassageOut])
def get_passages(
    service: ServiceDep,
    tenant: TenantDep,
    report_id: ReportId,
    offset: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[PassageOut]:
    """The report's passages in reading order, with their label scores."""
    return [PassageOut.model_validate(p) for p in service.passages(report_id, tenant, offset, limit)]
