"""Reviews: analysts' changes to a report's analysis, per tenant, by the report's sha256 (issue 25)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.errors import NotFound
from service.store.db import ScopedQueries
from service.store.schema import ReportRow, ReviewRow, utc_now


class ReviewQueries(ScopedQueries):
    """The reviews of one scope's reports. A report's reviews are those of its tenant and its bytes."""

    def _reviewed_report(self, s: Session, report_id: int) -> ReportRow:
        report = s.get(ReportRow, report_id)
        if report is None or not self._sees(report.tenant_id):
            raise NotFound(f"no report with id {report_id}")
        return report

    def add_review(
        self,
        report_id: int,
        kind: str,
        target: str,
        change: tuple[dict[str, Any], dict[str, Any]],
        note: str,
        reviewer: str,
    ) -> ReviewRow:
        """Keep one review of the report; ``change`` is (before, after)."""
        with self._db.session() as s:
            report = self._reviewed_report(s, report_id)
            row = ReviewRow(
                tenant_id=report.tenant_id,
                report_sha256=report.sha256,
                report_id=report.id,
                kind=kind,
                target=target,
                before=change[0],
                after=change[1],
                note=note,
                reviewer=reviewer,
                created_at=utc_now(),
            )
            s.add(row)
            s.flush()
            return row

    def reviews(self, report_id: int) -> list[ReviewRow]:
        """Every review of the report's tenant on the report's bytes, undone ones too, oldest first."""
        with self._db.session() as s:
            report = self._reviewed_report(s, report_id)
            query = (
                select(ReviewRow)
                .where(ReviewRow.tenant_id == report.tenant_id, ReviewRow.report_sha256 == report.sha256)
                .order_by(ReviewRow.id)
            )
            return list(s.scalars(query))

    def undo_review(self, report_id: int, review_id: int, at: datetime | None = None) -> ReviewRow:
        """Mark one review undone (it stays kept); NotFound for a review of another report or tenant."""
        with self._db.session() as s:
            report = self._reviewed_report(s, report_id)
            row = s.get(ReviewRow, review_id)
            if row is None or (row.tenant_id, row.report_sha256) != (report.tenant_id, report.sha256):
                raise NotFound(f"no review with id {review_id} on report {report_id}")
            if row.undone_at is None:
                row.undone_at = at or utc_now()
            return row

    def reviewed_reports(self) -> list[tuple[ReportRow, list[ReviewRow]]]:
        """The scope's reports that have reviews, each with its reviews oldest first (for the export)."""
        with self._db.session() as s:
            query = (
                select(ReviewRow, ReportRow)
                .join(ReportRow, ReviewRow.report_id == ReportRow.id)
                .order_by(ReviewRow.id)
            )
            found: dict[int, tuple[ReportRow, list[ReviewRow]]] = {}
            for review, report in s.execute(self._own(query, ReviewRow.tenant_id)):
                found.setdefault(report.id, (report, []))[1].append(review)
            return list(found.values())
