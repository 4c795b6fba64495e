"""Sector benchmarks: distributions of coverage per SDG and per step, percentiles, years.

Reads analysed reports from the store (uploaded or batch-scored alike) through their flat coverage
columns (``service.export.coverage_columns``). Quartiles are numpy's default linear interpolation,
the same as pandas' and R's type 7, so researchers can reproduce them from reports.csv.
"""

from __future__ import annotations

import csv
import io
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from service.errors import NotFound
from service.export import coverage_columns
from service.store import ReportRow, Store


@dataclass(frozen=True)
class LabelStats:
    """The distribution of one coverage column over a set of reports."""

    label: str
    reports: int
    minimum: float
    q1: float
    median: float
    q3: float
    maximum: float
    mean: float


@dataclass(frozen=True)
class SectorBenchmark:
    """Every coverage column's distribution within one sector."""

    sector: str
    reports: int
    labels: tuple[LabelStats, ...]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_csv(self) -> str:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=["sector", *LabelStats.__dataclass_fields__])
        writer.writeheader()
        writer.writerows({"sector": self.sector, **asdict(stats)} for stats in self.labels)
        return buffer.getvalue()


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


def percentile_rank(value: float, peers: list[float]) -> float | None:
    """Share of peers (in %) scoring below ``value``, ties counting half; None without peers."""
    if not peers:
        return None
    below = sum(p < value for p in peers)
    ties = sum(p == value for p in peers)
    return round(100 * (below + ties / 2) / len(peers), 1)


def _columns(reports: list[ReportRow]) -> list[dict[str, float]]:
    return [coverage_columns(r.result or {}) for r in reports]


# Other tenants' shareable reports count in a sector only when there are at least this many of them:
# a "distribution" of one or two reports would be those reports' own scores.
MIN_SHARED_REPORTS = 3


def benchmark_reports(store: Store, sector: str, tenant_id: int | None = None) -> list[ReportRow]:
    """The analysed reports a tenant's benchmark of ``sector`` counts (``None``: every tenant's).

    Its own, and other tenants' shareable ones when there are at least MIN_SHARED_REPORTS of them.
    """
    reports = store.done_reports(sector=sector, tenant_id=tenant_id, shared=True)
    if tenant_id is None:
        return reports
    own = [r for r in reports if r.tenant_id == tenant_id]
    return reports if len(reports) - len(own) >= MIN_SHARED_REPORTS else own


def benchmark_sectors(store: Store, tenant_id: int | None = None) -> dict[str, int]:
    """Sector -> how many analysed reports its benchmark counts for the tenant (as benchmark_reports)."""
    if tenant_id is None:
        return store.sectors()
    own = store.sectors(tenant_id)
    counts = {}
    for sector, total in store.sectors(tenant_id, shared=True).items():
        mine = own.get(sector, 0)
        counts[sector] = total if total - mine >= MIN_SHARED_REPORTS else mine
    return {sector: n for sector, n in counts.items() if n}


def sector_benchmark(store: Store, sector: str, tenant_id: int | None = None) -> SectorBenchmark:
    """Distributions per SDG, per step and of the two headline scores within ``sector``.

    For a tenant: its own reports and those other tenants made shareable (only in these aggregates, and
    only when there are enough of them).
    """
    reports = benchmark_reports(store, sector, tenant_id)
    if not reports:
        known = ", ".join(benchmark_sectors(store, tenant_id)) or "none yet"
        raise NotFound(f"no analysed reports in sector {sector!r} (sectors: {known})")
    rows = _columns(reports)
    labels = tuple(label_stats(label, [row[label] for row in rows]) for label in rows[0])
    return SectorBenchmark(sector.lower(), len(reports), labels)


def report_percentiles(store: Store, report_id: int, tenant_id: int | None = None) -> dict[str, Any]:
    """Where one report stands in its sector: per column its score, percentile and the sector median."""
    report = store.get_report(report_id, tenant_id)
    if report.result is None:
        raise NotFound(f"report {report_id} has no analysis yet (status: {report.status})")
    if not report.sector:
        raise NotFound(f"report {report_id} has no sector; set one to compare it with peers")
    peers = [r for r in benchmark_reports(store, report.sector, tenant_id) if r.id != report.id]
    own = coverage_columns(report.result)
    peer_rows = _columns(peers)
    labels = [
        {
            "label": label,
            "score": score,
            "percentile": percentile_rank(score, [row[label] for row in peer_rows]),
            "sector_median": float(np.median([row[label] for row in peer_rows])) if peer_rows else None,
        }
        for label, score in own.items()
    ]
    return {
        "report_id": report.id,
        "company": report.company,
        "sector": report.sector,
        "peers": len(peers),
        "labels": labels,
    }


def company_history(store: Store, company: str, tenant_id: int | None = None) -> dict[str, Any]:
    """A company's reports over the years, with the change of each headline score since the last one.

    For a tenant, its own reports only: a history names reports one by one, which sharing does not allow.
    """
    reports = store.done_reports(company=company, tenant_id=tenant_id)
    reports = sorted(reports, key=lambda r: (r.year or 0, r.id))
    if not reports:
        raise NotFound(f"no analysed reports of company {company!r}")
    years, previous = [], None
    for report, columns in zip(reports, _columns(reports), strict=True):
        change = None
        if previous is not None:
            change = {k: columns[k] - previous[k] for k in ("sdg_score", "dd_score")}
        profile = (report.result or {}).get("profile", "")
        years.append(
            {"year": report.year, "report_id": report.id, "profile": profile, "change": change, **columns}
        )
        previous = columns
    return {"company": reports[0].company, "reports": len(reports), "years": years}
