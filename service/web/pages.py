"""Server-rendered pages: upload a report, watch it being read, see where it stands, explore evidence.

The pages are a thin shell over the same service the API uses: each route reads the request, calls one
context function (service/web/contexts.py) and renders its template. Every page works without
JavaScript (forms and links); a little script adds drag-and-drop, live progress and in-place evidence
loading. Jinja2 autoescaping is on for every template: report text is untrusted input.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from service.http.deps import (
    SESSION_COOKIE,
    JobId,
    NameText,
    OptionalReportId,
    ReportId,
    ServiceDep,
    TenantDep,
    checked_credential,
    count_sign_in,
)
from service.pipeline import STAGES
from service.serving.auth import SESSION_HOURS
from service.serving.engine import ReportMeta
from service.serving.reviews import ReviewDesk
from service.web.contexts import (
    EvidenceChoice,
    compare_context,
    evidence_context,
    report_context,
    sector_context,
    sectors_context,
    upload_context,
)
from service.web.i18n import COOKIE, LANGUAGES, request_language, translator
from service.web.reviews import review_context

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"
templates = Jinja2Templates(directory=HERE / "templates")
router = APIRouter(include_in_schema=False)


def render(request: Request, name: str, context: dict[str, Any], status_code: int = 200) -> HTMLResponse:
    """A page in the reader's language; ``?lang=`` switches it and is remembered in a cookie."""
    language = request_language(request)
    # A form's answer (an error page after POST /upload) switches language on the upload page.
    path, query = (request.url.path, request.query_params) if request.method == "GET" else ("/", {})
    switch = {code: f"{path}?{urlencode({**query, 'lang': code})}" for code in LANGUAGES}
    context = {
        "lang": language,
        "t": translator(language),
        "switch": switch,
        "tenant": getattr(request.state, "tenant", None),
        **context,
    }
    response = templates.TemplateResponse(request, name, context, status_code=status_code)
    if request.query_params.get("lang") == language:
        response.set_cookie(COOKIE, language, max_age=365 * 24 * 3600, samesite="lax")
    return response


@router.get("/", response_class=HTMLResponse)
def upload_page(request: Request, service: ServiceDep, tenant: TenantDep) -> HTMLResponse:
    """The upload form and the list of the tenant's reports."""
    return render(request, "upload.html", upload_context(service, tenant))


@router.post("/upload")
async def upload_form(
    service: ServiceDep,
    tenant: TenantDep,
    file: Annotated[UploadFile, File()],
    company: Annotated[NameText, Form(max_length=256)] = "",
    sector: Annotated[NameText, Form(max_length=128)] = "",
    year: Annotated[int | None, Form(ge=1900, le=2100)] = None,
    shareable: Annotated[bool, Form()] = False,
) -> RedirectResponse:
    """The form's upload: bad input (a bad file or field) becomes an error page (service/app.py)."""
    data = await file.read(service.settings.max_upload_bytes + 1)
    meta = ReportMeta(company=company.strip(), sector=sector.strip(), year=year, shareable=shareable)
    job = await run_in_threadpool(service.submit_pdf, data, file.filename or "upload.pdf", tenant, meta)
    if job.status == "done" and job.report_id is not None:
        return RedirectResponse(f"/reports/{job.report_id}", status_code=303)
    return RedirectResponse(f"/jobs/{job.id}", status_code=303)


@router.get("/jobs/{job_id}", response_class=HTMLResponse)
def job_page(request: Request, service: ServiceDep, tenant: TenantDep, job_id: JobId) -> HTMLResponse:
    """Live progress through the pipeline's stages; the page moves on to the result when done."""
    job = service.job(job_id, tenant)
    return render(request, "job.html", {"job": job, "stages": STAGES})


@router.get("/reports/{report_id}", response_class=HTMLResponse)
def report_page(
    request: Request,
    service: ServiceDep,
    tenant: TenantDep,
    report_id: ReportId,
    label: Annotated[str, Query(max_length=12)] = "",
    part: Annotated[str, Query(max_length=8)] = "",
) -> HTMLResponse:
    """Where the report stands: SDG wheel, due-diligence ladder, profile quadrant, gaps, evidence."""
    choice = EvidenceChoice(label, part)
    context = report_context(service, tenant, report_id, request_language(request), choice)
    context |= review_context(ReviewDesk.of(service), tenant, report_id)
    return render(request, "report.html", context)


@router.get("/reports/{report_id}/evidence", response_class=HTMLResponse)
def evidence_fragment(
    request: Request,
    service: ServiceDep,
    tenant: TenantDep,
    report_id: ReportId,
    label: Annotated[str, Query(max_length=12)],
    part: Annotated[str, Query(max_length=8)] = "",
) -> HTMLResponse:
    """The evidence list alone, for the result page's script to swap in without a reload."""
    choice = EvidenceChoice(label, part)
    context = evidence_context(service, tenant, report_id, request_language(request), choice)
    return render(request, "_evidence.html", context)


@router.get("/compare", response_class=HTMLResponse)
def compare_page(
    request: Request,
    service: ServiceDep,
    tenant: TenantDep,
    a: OptionalReportId = None,
    b: Annotated[str, Query(max_length=16)] = "",
) -> HTMLResponse:
    """Two reports side by side, or a report against the median of its sector."""
    return render(request, "compare.html", compare_context(service, tenant, request_language(request), a, b))


@router.get("/sectors", response_class=HTMLResponse)
def sectors_page(request: Request, service: ServiceDep, tenant: TenantDep) -> HTMLResponse:
    """Sectors with analysed reports (the tenant's and those others made shareable)."""
    return render(request, "sectors.html", sectors_context(service, tenant))


# {sector:path}: a sector may hold "/" ("oil/gas"); its links quote it only as a path (service/web/templates)
@router.get("/sectors/{sector:path}", response_class=HTMLResponse)
def sector_page(request: Request, service: ServiceDep, tenant: TenantDep, sector: NameText) -> HTMLResponse:
    """Distributions per SDG and per step within one sector (box plots and the numbers)."""
    return render(request, "sector.html", sector_context(service, tenant, sector, request_language(request)))


def login_url(request: Request) -> str:
    """The login page, coming back to the page that asked for it."""
    return f"/login?{urlencode({'next': request.url.path})}"


def _local_path(target: str) -> str:
    """Only paths on this site: a login must not redirect anywhere else."""
    return target if target.startswith("/") and not target.startswith(("//", "/\\")) else "/"


@router.get("/login", response_class=HTMLResponse)
def login_page(
    request: Request, service: ServiceDep, next: Annotated[str, Query(max_length=512)] = "/"
) -> HTMLResponse:
    """Log in with an API key; the key is kept in an HttpOnly cookie for this browser."""
    return render(
        request, "login.html", {"next": _local_path(next), "local": service.settings.auth == "local"}
    )


@router.post("/login")
def login(
    request: Request,
    service: ServiceDep,
    key: Annotated[str, Form(min_length=1, max_length=200)],
    next: Annotated[str, Form(max_length=512)] = "/",
) -> RedirectResponse:
    """Check the key, then start a session; a wrong key gets the error page (401), too many of them 429.

    The cookie holds the session's random token, not the key: signing out or its 8 hours ending
    leaves nothing in the browser that still opens the tenant. Cross-site posts never get here
    (service/http/guards.py), so another site cannot sign a visitor in to its own tenant.
    """
    tenant = checked_credential(request, service, lambda: service.tenant_for_key(key.strip()), key.strip())
    count_sign_in(request, tenant)
    response = RedirectResponse(_local_path(next), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        service.start_session(tenant),
        max_age=SESSION_HOURS * 3600,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )
    return response


@router.post("/logout")
def logout(request: Request, service: ServiceDep) -> RedirectResponse:
    """End the session: its token names no one any more, and the cookie is dropped."""
    service.end_session(request.cookies.get(SESSION_COOKIE, ""))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


def error_page(request: Request, status_code: int, kind: str, detail: str) -> Response:
    """What a person sees when something is refused: what went wrong, why, and what to do."""
    return render(request, "error.html", {"status": status_code, "kind": kind, "detail": detail}, status_code)
