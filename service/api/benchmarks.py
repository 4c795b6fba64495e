"""Sector benchmarks: distributions per sector, a report's percentiles, a company over the years."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response

from service.http.deps import NameText, ReportId, ServiceDep, TenantDep, csv_download

router = APIRouter(prefix="/v1", tags=["benchmarks"])
# normalised as names are when they are stored (service/names.py), so the same spelling finds them
Name = Annotated[NameText, Path(min_length=1, max_length=256)]


@router.get("/sectors")
def list_sectors(service: ServiceDep, tenant: TenantDep) -> dict[str, Any]:
    """Sectors with analysed reports (yours and those others made shareable), and how many each has."""
    counts = service.sectors(tenant)
    return {"sectors": [{"sector": sector, "reports": n} for sector, n in counts.items()]}


# {name:path}: sectors and companies may hold "/" ("oil/gas", "A/S"), which a plain parameter refuses.
@router.get("/sectors/{sector:path}/benchmark", response_model=None)
def get_sector_benchmark(
    service: ServiceDep,
    tenant: TenantDep,
    sector: Name,
    format: Annotated[Literal["json", "csv"], Query()] = "json",
) -> dict[str, Any] | Response:
    """Minimum, quartiles, median, maximum and mean per SDG, per step and of both headline scores."""
    benchmark = service.sector_benchmark(sector, tenant)
    if format == "csv":
        return csv_download(benchmark.to_csv(), f"benchmark-{benchmark.sector}")
    return benchmark.to_dict()


@router.get("/reports/{report_id}/benchmark")
def get_report_percentiles(service: ServiceDep, tenant: TenantDep, report_id: ReportId) -> dict[str, Any]:
    """The report's percentile against the other reports of its sector, per SDG and per step."""
    return service.report_percentiles(report_id, tenant)


@router.get("/companies/{company:path}/history")
def get_company_history(service: ServiceDep, tenant: TenantDep, company: Name) -> dict[str, Any]:
    """A company's reports (yours) by year, with the change of the headline scores from year to year."""
    return service.company_history(company, tenant)
