"""Reports: one row per distinct report of a tenant (by sha256) and, once analysed, its gap report."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from service.errors import NotFound
from service.store.db import ScopedQueries
from service.store.schema import ReportRow


class ReportQueries(ScopedQueries):
    """The reports of one scope.

    Who may see whose reports in benchmarks is service.serving.benchmark's rule.
    """

    def _report(self, s: Session, report_id: int) -> ReportRow:
        report = s.get(ReportRow, report_id)
        if report is None or not self._sees(report.tenant_id):
            raise NotFound(f"no report with id {report_id}")
        return report

    def report_by_sha(self, sha256: str) -> ReportRow | None:
        with self._db.session() as s:
            query = select(ReportRow).where(ReportRow.sha256 == sha256)
            return s.scalars(self._own(query, ReportRow.tenant_id)).first()

    def get_or_create_report(self, sha256: str, **meta: Any) -> tuple[ReportRow, bool]:
        """The tenant's report with this hash, creating it if new; the flag says whether it was created."""
        tenant_id = self._owner()
        existing = self.report_by_sha(sha256)
        if existing is not None:
            return existing, False
        try:
            with self._db.session() as s:
                values = {k: v for k, v in meta.items() if v is not None}
                report = ReportRow(sha256=sha256, tenant_id=tenant_id, **values)
                s.add(report)
                s.flush()
                return report, True
        except IntegrityError:
            # A concurrent upload of the same bytes inserted it first: that row is the report.
            winner = self.report_by_sha(sha256)
            if winner is None:
                raise
            return winner, False

    def get_report(self, report_id: int) -> ReportRow:
        """A report of the scope (another tenant's is simply not found)."""
        with self._db.session() as s:
            return self._report(s, report_id)

    def list_reports(self) -> list[ReportRow]:
        with self._db.session() as s:
            query = select(ReportRow).order_by(ReportRow.id.desc())
            return list(s.scalars(self._own(query, ReportRow.tenant_id)))

    def set_report_status(self, report_id: int, status: str, error: str = "") -> None:
        with self._db.session() as s:
            report = self._report(s, report_id)
            report.status = status
            report.error = error

    def set_report_meta(self, report_id: int, **meta: Any) -> None:
        """Company, sector, year, country as the latest source (upload form, manifest) gives them."""
        with self._db.session() as s:
            report = self._report(s, report_id)
            for name, value in meta.items():
                if value not in (None, ""):
                    setattr(report, name, value)

    def set_shareable(self, report_id: int, shareable: bool) -> ReportRow:
        with self._db.session() as s:
            report = self._report(s, report_id)
            report.shareable = shareable
            return report

    def reports_by_sha(self, shas: Sequence[str]) -> dict[str, ReportRow]:
        with self._db.session() as s:
            query = select(ReportRow).where(ReportRow.sha256.in_(list(shas)))
            return {row.sha256: row for row in s.scalars(self._own(query, ReportRow.tenant_id))}

    def done_reports(
        self, sector: str | None = None, company: str | None = None, shareable_only: bool = False
    ) -> list[ReportRow]:
        """Analysed reports of the scope, of one sector or company (case-insensitive) if given, oldest first.

        ``shareable_only``: only those their tenant let other tenants' benchmarks count.
        """
        with self._db.session() as s:
            query = select(ReportRow).where(ReportRow.status == "done").order_by(ReportRow.id)
            if sector:
                query = query.where(func.lower(ReportRow.sector) == sector.lower())
            if company:
                query = query.where(func.lower(ReportRow.company) == company.lower())
            if shareable_only:
                query = query.where(ReportRow.shareable.is_(True))
            return list(s.scalars(self._own(query, ReportRow.tenant_id)))

    def sectors(self, shareable_only: bool = False) -> dict[str, int]:
        """Sector (lower case) -> number of analysed reports in it; reports with no sector are left out."""
        with self._db.session() as s:
            sector = func.lower(ReportRow.sector)
            query = select(sector, func.count()).where(ReportRow.status == "done", ReportRow.sector != "")
            if shareable_only:
                query = query.where(ReportRow.shareable.is_(True))
            query = self._own(query, ReportRow.tenant_id).group_by(sector).order_by(sector)
            return {sector: count for sector, count in s.execute(query)}
