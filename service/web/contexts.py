"""What each page shows, as plain functions: the service, the tenant and the request's choices in, a dict out.

The routes (service/web/pages.py) only read the request, call one of these and render the template, so
what a page holds can be tested without HTTP. Report data arrives typed (``GapReport``, ``ReportRow``)
and stays typed into the templates.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from service.errors import NotFound
from service.frameworks import load_framework, load_on_the_line, load_profiles
from service.http.deps import MAX_ID
from service.judging.evidence import Side
from service.judging.gap import DD_ENGAGED, SDG_ENGAGED
from service.judging.negative import load_negative_rules
from service.judging.sdg_ladder import load_ladder
from service.records import Coverage, GapReport
from service.serving.auth import Tenant
from service.serving.benchmark import coarse
from service.serving.engine import GapLensService
from service.serving.report_table import coverage_columns, stored_report
from service.store import ReportRow
from service.web.charts import PLOT_MARGIN, PLOT_SIZE, WHEEL_SIZE, plot_coordinate, quadrant_points, sdg_wheel
from service.web.i18n import translator

EVIDENCE_PER_PAGE = 20


@dataclass(frozen=True)
class EvidenceChoice:
    """What the evidence browser shows: a goal or step (``sdg-13``, ``dd-3``) and maybe one of its parts."""

    key: str = ""
    part: str = ""


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
    columns = coverage_columns(stored_report(report))
    if report.tenant_id == tenant.id:
        return {**columns, "title": report_title(report)}
    return {"sdg_score": coarse(columns["sdg_score"]), "dd_score": coarse(columns["dd_score"]), "title": ""}


def upload_context(service: GapLensService, tenant: Tenant) -> dict[str, Any]:
    """The upload form and the list of the tenant's reports."""
    return {
        "reports": service.reports(tenant)[:100],
        "max_mb": service.settings.max_upload_bytes // (1024 * 1024),
    }


def report_context(
    service: GapLensService, tenant: Tenant, report_id: int, language: str, choice: EvidenceChoice
) -> dict[str, Any]:
    """The result page: SDG wheel, due-diligence ladder, profile quadrant, gaps and the evidence browser."""
    report = service.report(report_id, tenant)
    analysis = service.analysis(report_id, tenant)
    sdg = load_framework("sdg", service.settings.corpora_dir)
    goal_names = label_names("sdg", service, language)
    step_names = label_names("oecd_dd", service, language)
    own = {**coverage_columns(analysis), "title": report_title(report)}
    peers = []
    if report.sector:
        peers = [
            peer_point(r, tenant) for r in service.sector_reports(report.sector, tenant) if r.id != report.id
        ]
    profile = load_profiles(service.settings.corpora_dir)[analysis.profile]
    return {
        "report": report,
        "analysis": analysis,
        "wheel": sdg_wheel(analysis.sdg, goal_names, {lb.id: lb.colour for lb in sdg.labels}),
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
        "on_the_line_text": on_the_line_text(analysis, service.settings.corpora_dir, language),
        "has_pdf": service.upload_path(report.sha256).exists(),
        "decisions": {i.id: i.decision for i in analysis.indicators},
        "ladder": {g.goal: g for g in analysis.sdg_ladder},
        **rubric_names(service, language),
        **_evidence_context(service, tenant, analysis, report_id, choice, goal_names, step_names),
    }


def on_the_line_text(analysis: GapReport, corpora_dir: Path, language: str) -> str:
    """The sentence that says a headline score is within a few points of changing the profile ("" if not)."""
    margin = analysis.profile_margin
    if margin is None or not margin.on_the_line:
        return ""
    words = load_on_the_line(corpora_dir)
    boundary = words["boundaries"][margin.boundary]
    text = str(words.get(f"text_{language}", words["text"]))
    return text.format(
        boundary=boundary.get(f"name_{language}", boundary["name"]),
        score=margin.score,
        points=margin.points_from_boundary,
        threshold=margin.threshold,
        crossed=margin.crossed,
        would_be=translator(language)(margin.would_be),
    )


def evidence_context(
    service: GapLensService, tenant: Tenant, report_id: int, language: str, choice: EvidenceChoice
) -> dict[str, Any]:
    """The evidence list alone, for the result page's script to swap in without a reload."""
    report = service.report(report_id, tenant)
    analysis = service.analysis(report_id, tenant)
    names = label_names("sdg", service, language), label_names("oecd_dd", service, language)
    return {
        "report": report,
        "has_pdf": service.upload_path(report.sha256).exists(),
        **_evidence_context(service, tenant, analysis, report_id, choice, *names),
    }


def _label_key(key: str) -> tuple[Side, str]:
    """``sdg-13`` -> ("sdg", "13"); ``dd-3`` -> ("oecd_dd", "3")."""
    side, _, label = key.partition("-")
    return ("oecd_dd" if side == "dd" else "sdg"), label


def _evidence_context(
    service: GapLensService,
    tenant: Tenant,
    analysis: GapReport,
    report_id: int,
    choice: EvidenceChoice,
    goal_names: dict[str, str],
    step_names: dict[str, str],
) -> dict[str, Any]:
    """The evidence browser's choices and the passages for the chosen goal or step."""
    key = choice.key
    if not key:
        best = max(analysis.sdg, key=lambda c: (c.score, -int(c.label)))
        key = f"sdg-{best.label}"
    side, label = _label_key(key)
    coverage = analysis.sdg if side == "sdg" else analysis.due_diligence
    chosen = next((c for c in coverage if c.label == label), None)
    if chosen is None:
        raise NotFound(f"no goal or step {key!r}: use sdg-1 … sdg-17 or dd-1 … dd-6")
    options: list[tuple[str, str, Coverage]] = [
        (f"sdg-{c.label}", goal_names[c.label], c) for c in analysis.sdg
    ]
    options += [(f"dd-{c.label}", step_names[c.label], c) for c in analysis.due_diligence]
    return {
        "evidence_key": key,
        "evidence_part": choice.part if choice.part in chosen.parts_touched else "",
        "evidence_parts": chosen.parts_touched,
        "evidence_options": options,
        "evidence": service.evidence(report_id, tenant, side, label, choice.part, EVIDENCE_PER_PAGE),
    }


def compare_context(
    service: GapLensService, tenant: Tenant, language: str, a: int | None, b: str
) -> dict[str, Any]:
    """Two reports side by side, or a report against the median of its sector (``b`` = "sector")."""
    done = service.done_reports(tenant)
    context: dict[str, Any] = {"reports": done, "a": a, "b": b, "rows": [], "title_a": "", "title_b": ""}
    if a is None or not b:
        return context
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
    names = column_names(service, language)
    return context | {
        "title_a": report_title(first),
        "title_b": title_b,
        "rows": [(key, names[key], columns_a[key], columns_b[key]) for key in columns_a],
    }


def sectors_context(service: GapLensService, tenant: Tenant) -> dict[str, Any]:
    """Sectors with analysed reports (the tenant's and those others made shareable)."""
    return {"sectors": service.sectors(tenant)}


def sector_context(service: GapLensService, tenant: Tenant, sector: str, language: str) -> dict[str, Any]:
    """Distributions per SDG and per step within one sector (box plots and the numbers).

    The distributions count other tenants' shareable reports; the list names the tenant's own only.
    """
    benchmark = service.sector_benchmark(sector, tenant)
    names = column_names(service, language)
    reports = service.done_reports(tenant, sector)
    return {"benchmark": benchmark, "names": names, "reports": reports}
