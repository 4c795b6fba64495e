"""Sector benchmarks: distributions of coverage per SDG and per step, percentiles, years.

Reads analysed reports from the store (uploaded or batch-scored alike) through their flat coverage
columns (``service.serving.report_table.coverage_columns``). Quartiles are numpy's default linear
interpolation,
the same as pandas' and R's type 7, so researchers can reproduce them from reports.csv.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from service.errors import NotFound
from service.serving.csv_cells import csv_text
from service.serving.report_table import coverage_columns, stored_report
from service.store import ALL_TENANTS, AllTenants, ReportRow, Scope, Store


@dataclass(frozen=True)
class LabelStats:
    """The distribution of one coverage column over a set of reports."""

    label: str
    reports: int
    # None when other tenants' reports are counted: an extreme is one report's own score
    minimum: float | None
    q1: float
    median: float
    q3: float
    maximum: float | None
    mean: float


@dataclass(frozen=True)
class SectorBenchmark:
    """Every coverage column's distribution within one sector."""

    sector: str
    reports: int
    labels: tuple[LabelStats, ...]
    # whether other tenants' reports are counted, and so the numbers coarsened (COARSE_STEP)
    coarse: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_csv(self) -> str:
        rows = ({"sector": self.sector, **asdict(stats)} for stats in self.labels)
        return csv_text(["sector", *LabelStats.__dataclass_fields__], rows)


def label_stats(label: str, values: list[float]) -> LabelStats:
    """Median and quartiles of one column (needs at least one value)."""
    array = np.asarray(values, dtype=float)
    q1, median, q3 = np.percentile(array, [25, 50, 75])
    return LabelStats(
        label=label,
        reports=len(values),
        minimum=float(array.min()),
        q1=round(float(q1), 2),
        median=round(float(median), 2),
        q3=round(float(q3), 2),
        maximum=float(array.max()),
        mean=round(float(array.mean()), 2),
    )


def coarsened(stats: LabelStats) -> LabelStats:
    """What other tenants' shared reports allow to be shown: quartiles and mean to COARSE_STEP, no extremes.

    Exact statistics can be differenced: the mean before and after one more report is shared gives
    that report's score exactly, and a new minimum or maximum is one. Rounded to 5 points, one report
    moves the mean by less than the rounding once a sector has a few reports.
    """
    return LabelStats(
        stats.label,
        stats.reports,
        None,
        coarse(stats.q1),
        coarse(stats.median),
        coarse(stats.q3),
        None,
        coarse(stats.mean),
    )


def coarse(value: float, step: float | None = None) -> float:
    """``value`` to the nearest multiple of ``step`` (COARSE_STEP points)."""
    step = step or COARSE_STEP
    return float(step * round(value / step))


def percentile_rank(value: float, peers: list[float]) -> float | None:
    """Share of peers (in %) scoring below ``value``, ties counting half; None without peers."""
    if not peers:
        return None
    below = sum(p < value for p in peers)
    ties = sum(p == value for p in peers)
    return round(100 * (below + ties / 2) / len(peers), 1)


def _columns(reports: list[ReportRow]) -> list[dict[str, float]]:
    return [coverage_columns(stored_report(r)) for r in reports]


# Who may see whose reports. A tenant's benchmarks count its own reports and, only in aggregates, the
# reports other tenants made shareable, and those only when they come from at least MIN_SHARED_TENANTS
# other tenants: a "distribution" of one or two tenants' reports would be those tenants' own scores, and
# one tenant sharing three reports would let any other tenant difference them.
MIN_SHARED_TENANTS = 3
# What other tenants see of statistics that count shared reports is rounded to this many points.
COARSE_STEP = 5.0


def benchmark_reports(store: Store, sector: str, scope: Scope) -> list[ReportRow]:
    """The analysed reports a benchmark of ``sector`` counts for ``scope`` (ALL_TENANTS: every report).

    A tenant's own, and other tenants' shareable ones when they come from MIN_SHARED_TENANTS tenants.
    """
    every = store.for_tenant(ALL_TENANTS)
    if isinstance(scope, AllTenants):
        return every.done_reports(sector=sector)
    own = store.for_tenant(scope).done_reports(sector=sector)
    shared = [r for r in every.done_reports(sector=sector, shareable_only=True) if r.tenant_id != scope]
    if len({r.tenant_id for r in shared}) < MIN_SHARED_TENANTS:
        return own
    return sorted(own + shared, key=lambda r: r.id)


def benchmark_sectors(store: Store, scope: Scope) -> dict[str, int]:
    """Sector -> how many analysed reports its benchmark counts for ``scope`` (as benchmark_reports)."""
    if isinstance(scope, AllTenants):
        return store.for_tenant(ALL_TENANTS).sectors()
    named = {*store.for_tenant(scope).sectors(), *store.for_tenant(ALL_TENANTS).sectors(shareable_only=True)}
    counts = {sector: len(benchmark_reports(store, sector, scope)) for sector in sorted(named)}
    return {sector: n for sector, n in counts.items() if n}


def shares_others(reports: list[ReportRow], scope: Scope) -> bool:
    """Whether a tenant's view counts other tenants' reports (and so must be coarsened)."""
    return not isinstance(scope, AllTenants) and any(r.tenant_id != scope for r in reports)


def sector_benchmark(store: Store, sector: str, scope: Scope) -> SectorBenchmark:
    """Distributions per SDG, per step and of the two headline scores within ``sector``.

    For a tenant: its own reports and those other tenants made shareable (only in these aggregates, and
    only when there are enough of them).
    """
    reports = benchmark_reports(store, sector, scope)
    if not reports:
        known = ", ".join(benchmark_sectors(store, scope)) or "none yet"
        raise NotFound(f"no analysed reports in sector {sector!r} (sectors: {known})")
    rows = _columns(reports)
    labels = tuple(label_stats(label, [row[label] for row in rows]) for label in rows[0])
    if shares_others(reports, scope):
        return SectorBenchmark(sector.lower(), len(reports), tuple(map(coarsened, labels)), coarse=True)
    return SectorBenchmark(sector.lower(), len(reports), labels)


def report_percentiles(store: Store, report_id: int, scope: Scope) -> dict[str, Any]:
    """Where one report stands in its sector: per column its score, percentile and the sector median."""
    report = store.for_tenant(scope).get_report(report_id)
    own = coverage_columns(stored_report(report))
    if not report.sector:
        raise NotFound(f"report {report_id} has no sector; set one to compare it with peers")
    peers = [r for r in benchmark_reports(store, report.sector, scope) if r.id != report.id]
    columns = _columns(peers)
    labels = [_standing(label, score, columns, shares_others(peers, scope)) for label, score in own.items()]
    return {
        "report_id": report.id,
        "company": report.company,
        "sector": report.sector,
        "peers": len(peers),
        "labels": labels,
    }


def _standing(label: str, score: float, peers: list[dict[str, float]], coarsen: bool) -> dict[str, Any]:
    """One column's percentile and sector median; coarsened (10 points, COARSE_STEP) when others count."""
    values = [row[label] for row in peers]
    rank = percentile_rank(score, values)
    median = float(np.median(values)) if values else None
    if coarsen:
        rank = None if rank is None else coarse(rank, 10.0)
        median = None if median is None else coarse(median)
    return {"label": label, "score": score, "percentile": rank, "sector_median": median}


def company_history(store: Store, company: str, scope: Scope) -> dict[str, Any]:
    """A company's reports over the years, with the change of each headline score since the last one.

    For a tenant, its own reports only: a history names reports one by one, which sharing does not allow.
    """
    reports = store.for_tenant(scope).done_reports(company=company)
    reports = sorted(reports, key=lambda r: (r.year or 0, r.id))
    if not reports:
        raise NotFound(f"no analysed reports of company {company!r}")
    years: list[dict[str, Any]] = []
    previous = None
    for report in reports:
        analysis = stored_report(report)
        columns = coverage_columns(analysis)
        change = None
        if previous is not None:
            change = {k: columns[k] - previous[k] for k in ("sdg_score", "dd_score")}
        years.append(
            {
                "year": report.year,
                "report_id": report.id,
                "profile": analysis.profile,
                "change": change,
                **columns,
            }
        )
        previous = columns
    return {"company": reports[0].company, "reports": len(reports), "years": years}
