"""Server-rendered pages: upload a report, watch its progress, read its gap analysis.

Jinja2 autoescaping is on for every template: report text is untrusted input.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from service.api.deps import ServiceDep
from service.frameworks import load_framework

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"
templates = Jinja2Templates(directory=HERE / "templates")
router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
def upload_page(request: Request, service: ServiceDep) -> HTMLResponse:
    """The upload form and the list of analysed reports."""
    context = {
        "reports": service.store.list_reports()[:50],
        "max_mb": service.settings.max_upload_bytes // (1024 * 1024),
    }
    return templates.TemplateResponse(request, "upload.html", context)


@router.get("/reports/{report_id}", response_class=HTMLResponse)
def report_page(request: Request, service: ServiceDep, report_id: int) -> HTMLResponse:
    """Scores per SDG and per due-diligence step, with evidence passages and page numbers."""
    report = service.store.get_report(report_id)
    analysis = service.analysis(report_id)
    sdg = load_framework("sdg", service.settings.corpora_dir)
    colours = {label.id: label.colour for label in sdg.labels}
    context = {"report": report, "analysis": analysis, "colours": colours}
    return templates.TemplateResponse(request, "report.html", context)
