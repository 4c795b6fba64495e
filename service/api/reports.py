"""Reports and jobs: upload a PDF, follow its job, read its analysis and passages."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Query, UploadFile, status

from service.api.deps import ServiceDep
from service.api.schemas import JobOut, PassageOut, ReportOut
from service.engine import ReportMeta

router = APIRouter(prefix="/v1", tags=["reports"])


@router.post("/reports", status_code=status.HTTP_202_ACCEPTED, response_model=JobOut)
async def upload_report(
    service: ServiceDep,
    file: Annotated[UploadFile, File(description="The report PDF")],
    company: Annotated[str, Form(max_length=256)] = "",
    sector: Annotated[str, Form(max_length=128)] = "",
    year: Annotated[int | None, Form(ge=1900, le=2100)] = None,
) -> JobOut:
    """Upload a PDF; processing runs in the background. Poll ``/v1/jobs/{id}``."""
    # Read one byte past the limit so an oversized file is refused without reading all of it.
    data = await file.read(service.settings.max_upload_bytes + 1)
    meta = ReportMeta(company=company, sector=sector, year=year)
    job, _ = service.submit_pdf(data, file.filename or "upload.pdf", meta)
    return JobOut.model_validate(job)


@router.get("/jobs/{job_id}", response_model=JobOut)
def get_job(service: ServiceDep, job_id: int) -> JobOut:
    """A job's status, stage and progress (0-1); ``error`` says why a failed job failed."""
    return JobOut.model_validate(service.store.get_job(job_id))


@router.get("/reports", response_model=list[ReportOut])
def list_reports(service: ServiceDep) -> list[ReportOut]:
    """All stored reports, newest first."""
    return [ReportOut.model_validate(r) for r in service.store.list_reports()]


@router.get("/reports/{report_id}", response_model=ReportOut)
def get_report(service: ServiceDep, report_id: int) -> ReportOut:
    """One report's metadata and status."""
    return ReportOut.model_validate(service.store.get_report(report_id))


@router.get("/reports/{report_id}/analysis")
def get_analysis(service: ServiceDep, report_id: int) -> dict[str, Any]:
    """The gap analysis: coverage per SDG and per step with evidence, profile, recommendations."""
    return service.analysis(report_id)


@router.get("/reports/{report_id}/passages", response_model=list[PassageOut])
def get_passages(
    service: ServiceDep,
    report_id: int,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[PassageOut]:
    """The report's passages in reading order, with their label scores."""
    service.store.get_report(report_id)
    return [PassageOut.model_validate(p) for p in service.store.passages(report_id, offset, limit)]
