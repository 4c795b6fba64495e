"""Server-rendered pages: upload a report, watch it being read, see where it stands, explore evidence.

The pages are a thin shell over the same service the API uses. Every page works without JavaScript
(forms and links); a little script adds drag-and-drop, live progress and in-place evidence loading.
Jinja2 autoescaping is on for every template: report text is untrusted input.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from service.api.deps import (
    MAX_ID,
    SESSION_COOKIE,
    JobId,
    OptionalReportId,
    ReportId,
    ServiceDep,
    TenantDep,
    checked_credential,
)
from service.api.schemas import CleanText
from service.auth import SESSION_HOURS, Tenant
from service.benchmark import coarse
from service.engine import GapLensService, ReportMeta
from service.errors import NotFound
from service.evidence import Side
from service.export import coverage_columns
from service.frameworks import load_framework, load_profiles
from service.gap import DD_ENGAGED, SDG_ENGAGED
from service.negative import load_negative_rules
from service.pipeline import STAGES
from service.sdg_ladder import load_ladder
from service.store import ReportRow
from service.web.charts import (
    PLOT_MARGIN,
    PLOT_SIZE,
    WHEEL_SIZE,
    plot_coordinate,
    quadrant_points,
    sdg_wheel,
)
from service.web.i18n import COOKIE, LANGUAGES, request_language, translator

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"
templates = Jinja2Templates(directory=HERE / "templates")
router = APIRouter(include_in_schema=False)
EVIDENCE_PER_PAGE = 20


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


def label_names(framework_id: str, service: GapLensService, language: str) -> dict[str, str]:
    """Goal or step names in the interface language (Dutch names come from corpora/)."""
    framework = load_framework(framework_id, service.settings.corpora_dir)
    return {lb.id: (lb.name_nl if language == "nl" and lb.name_nl else lb.name) for lb in framework.labels}


def column_names(service: GapLensService, language: str) -> dict[str, str]:
    """Readable names for the coverage columns (``sdg_13``, ``dd_3``, ``sdg_score``) of compare tables."""
    names = {f"sdg_{k}": f"{k}. {v}" for k, v in label_names("sdg", service, language).items()}
    names |= {f"dd_{k}": f"{k}. {v}" for k, v in label_names("oecd_dd", service, language).items()}
    t = translator(language)
    return names | {"sdg_score": t("SDG score"), "dd_score": t("Due-diligence score")}


def rubric_names(service: GapLensService, language: str) -> dict[str, dict[str, str]]:
    """Names of the SDG-ladder rungs and of the kinds of negative evidence, in the interface language."""
    sdg = load_framework("sdg", service.settings.corpora_dir)
    ladder = load_ladder(service.settings.corpora_dir, sdg.label_ids)
    rungs = {r.id: (r.name_nl if language == "nl" and r.name_nl else r.name) for r in ladder.rungs}
    negative = load_negative_rules(service.settings.corpora_dir).names
    kinds = {kind: names.get(language, names["en"]) for kind, names in negative.items()}
    return {"rungs": rungs, "negative_kinds": kinds}


def report_title(report: ReportRow) -> str:
    """How a person names a report: company and year, else its file name."""
    parts = [report.company or report.filename, str(report.year or "")]
    return " ".join(p for p in parts if p)


def peer_point(report: ReportRow, tenant: Tenant) -> dict[str, Any]:
    """A sector peer on the profile quadrant: the tenant's own by name and score.

    Another tenant's shared report has no name and its scores rounded (benchmark.coarse), so no page
    shows a peer's exact scores.
    """
    columns = coverage_columns(report.result or {})
    if report.tenant_id == tenant.id:
        return {**columns, "title": report_title(report)}
    return {"sdg_score": coarse(columns["sdg_score"]), "dd_score": coarse(columns["dd_score"]), "title": ""}


def _label_key(key: str) -> tuple[Side, str]:
    """``sdg-13`` -> ("sdg", "13"); ``dd-3`` -> ("oecd_dd", "3")."""
    side, _, label = key.partition("-")
    return ("oecd_dd" if side == "dd" else "sdg"), label


@router.get("/", response_class=HTMLResponse)
def upload_page(request: Request, service: ServiceDep, tenant: TenantDep) -> HTMLResponse:
    """The upload form and the list of the tenant's reports."""
    context = {
        "reports": service.reports(tenant)[:100],
        "max_mb": service.settings.max_upload_bytes // (1024 * 1024),
    }
    return render(request, "upload.html", context)


@router.post("/upload")
async def upload_form(
    service: ServiceDep,
    tenant: TenantDep,
    file: Annotated[UploadFile, File()],
    company: Annotated[CleanText, Form(max_length=256)] = "",
    sector: Annotated[CleanText, Form(max_length=128)] = "",
    year: Annotated[int | None, Form(ge=1900, le=2100)] = None,
    shareable: Annotated[bool, Form()] = False,
) -> RedirectResponse:
    """The form's upload: bad input (a bad file or field) becomes an error page (service/api/app.py)."""
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
    report = service.report(report_id, tenant)
    analysis = service.analysis(report_id, tenant)
    language = request_language(request)
    sdg = load_framework("sdg", service.settings.corpora_dir)
    goal_names = label_names("sdg", service, language)
    step_names = label_names("oecd_dd", service, language)
    own = {**coverage_columns(analysis), "title": report_title(report)}
    peers = []
    if report.sector:
        peers = [
            peer_point(r, tenant) for r in service.sector_reports(report.sector, tenant) if r.id != report.id
        ]
    profile = load_profiles(service.settings.corpora_dir)[analysis["profile"]]
    context = {
        "report": report,
        "analysis": analysis,
        "wheel": sdg_wheel(analysis["sdg"], goal_names, {lb.id: lb.colour for lb in sdg.labels}),
        "wheel_size": WHEEL_SIZE,
        "goal_names": goal_names,
        "step_names": step_names,
        "points": quadrant_points(own, peers),
        "peers": len(peers),
        "plot": {
            "size": PLOT_SIZE,
            "margin": PLOT_MARGIN,
            "x": plot_coordinate(SDG_ENGAGED[0]),
            "y": plot_coordinate(DD_ENGAGED[0], vertical=True),
        },
        "profile_text": profile.get(f"description_{language}", profile["description"]),
        "has_pdf": service.upload_path(report.sha256).exists(),
        "decisions": {i["id"]: i["decision"] for i in analysis.get("indicators", [])},
        "ladder": {g["goal"]: g for g in analysis.get("sdg_ladder", [])},
        **rubric_names(service, language),
        **_evidence_context(service, tenant, analysis, report_id, label, part, goal_names, step_names),
    }
    return render(request, "report.html", context)


def _evidence_context(
    service: GapLensService,
    tenant: Tenant,
    analysis: dict[str, Any],
    report_id: int,
    key: str,
    part: str,
    goal_names: dict[str, str],
    step_names: dict[str, str],
) -> dict[str, Any]:
    """The evidence browser's choices and the passages for the chosen goal or step."""
    if not key:
        best = max(analysis["sdg"], key=lambda c: (c["score"], -int(c["label"])))
        key = f"sdg-{best['label']}"
    side, label = _label_key(key)
    coverage = analysis["sdg" if side == "sdg" else "due_diligence"]
    chosen = next((c for c in coverage if c["label"] == label), None)
    if chosen is None:
        raise NotFound(f"no goal or step {key!r}: use sdg-1 … sdg-17 or dd-1 … dd-6")
    options = [(f"sdg-{c['label']}", goal_names[c["label"]], c) for c in analysis["sdg"]]
    options += [(f"dd-{c['label']}", step_names[c["label"]], c) for c in analysis["due_diligence"]]
    return {
        "evidence_key": key,
        "evidence_part": part if part in chosen["parts_touched"] else "",
        "evidence_parts": chosen["parts_touched"],
        "evidence_options": options,
        "evidence": service.evidence(report_id, tenant, side, label, part, EVIDENCE_PER_PAGE),
    }


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
    report = service.report(report_id, tenant)
    analysis = service.analysis(report_id, tenant)
    language = request_language(request)
    names = label_names("sdg", service, language), label_names("oecd_dd", service, language)
    context = {
        "report": report,
        "has_pdf": service.upload_path(report.sha256).exists(),
        **_evidence_context(service, tenant, analysis, report_id, label, part, *names),
    }
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
    done = service.done_reports(tenant)
    context: dict[str, Any] = {"reports": done, "a": a, "b": b, "rows": [], "title_a": "", "title_b": ""}
    if a is not None and b:
        first = service.report(a, tenant)
        columns_a = coverage_columns(service.analysis(a, tenant))
        if b == "sector":
            if not first.sector:
                raise NotFound(f"report {a} has no sector; compare it with another report instead")
            benchmark = service.sector_benchmark(first.sector, tenant)
            medians = {s.label: s.median for s in benchmark.labels}
            columns_b, title_b = medians, f"{first.sector} (median)"
        else:
            if not (b.isascii() and b.isdigit()) or int(b) > MAX_ID:
                raise NotFound(f"compare with a report id or 'sector', not {b!r}")
            second = service.report(int(b), tenant)
            columns_b, title_b = coverage_columns(service.analysis(second.id, tenant)), report_title(second)
        names = column_names(service, request_language(request))
        context |= {
            "title_a": report_title(first),
            "title_b": title_b,
            "rows": [(key, names[key], columns_a[key], columns_b[key]) for key in columns_a],
        }
    return render(request, "compare.html", context)


@router.get("/sectors", response_class=HTMLResponse)
def sectors_page(request: Request, service: ServiceDep, tenant: TenantDep) -> HTMLResponse:
    """Sectors with analysed reports (the tenant's and those others made shareable)."""
    return render(request, "sectors.html", {"sectors": service.sectors(tenant)})


# {sector:path}: a sector may hold "/" ("oil/gas"); its links quote it only as a path (service/web/templates)
@router.get("/sectors/{sector:path}", response_class=HTMLResponse)
def sector_page(request: Request, service: ServiceDep, tenant: TenantDep, sector: str) -> HTMLResponse:
    """Distributions per SDG and per step within one sector (box plots and the numbers).

    The distributions count other tenants' shareable reports; the list names the tenant's own only.
    """
    benchmark = service.sector_benchmark(sector, tenant)
    names = column_names(service, request_language(request))
    reports = service.done_reports(tenant, sector)
    return render(request, "sector.html", {"benchmark": benchmark, "names": names, "reports": reports})


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
    (service/api/guards.py), so another site cannot sign a visitor in to its own tenant.
    """
    tenant = checked_credential(request, service, lambda: service.tenant_for_key(key.strip()))
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
