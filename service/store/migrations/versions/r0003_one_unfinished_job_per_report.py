"""At most one unfinished job per report: parallel uploads of the same bytes share one job (issue 26).

Revision ID: 0003_one_unfinished_job
Revises: 0002_passage_evidence_type

Four identical uploads at once used to queue the same work up to four times. A partial unique index on
jobs(report_id) over queued and running jobs makes the store's insert-or-get atomic, across threads
and across servers on one PostgreSQL. A store that already holds such duplicates keeps the oldest
unfinished job of each report; the later ones are ended as failed, with a reason that names the job
that reads the report (their uploader's report is read all the same).
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_one_unfinished_job"  # Alembic keeps revision ids in a VARCHAR(32)
down_revision = "0002_passage_evidence_type"
branch_labels = None
depends_on = None

INDEX = "uq_jobs_unfinished_report"
WHERE = "status IN ('queued', 'running')"


def upgrade() -> None:
    """End duplicate unfinished jobs, then add the partial unique index."""
    jobs = sa.table(
        "jobs",
        sa.column("id", sa.Integer),
        sa.column("report_id", sa.Integer),
        sa.column("status", sa.String),
        sa.column("stage", sa.String),
        sa.column("error", sa.Text),
    )
    bind = op.get_bind()
    unfinished = bind.execute(
        sa.select(jobs.c.id, jobs.c.report_id)
        .where(jobs.c.report_id.is_not(None), jobs.c.status.in_(("queued", "running")))
        .order_by(jobs.c.id)
    ).all()
    kept: dict[int, int] = {}
    for job_id, report_id in unfinished:
        if report_id not in kept:
            kept[report_id] = job_id
            continue
        bind.execute(
            jobs.update()
            .where(jobs.c.id == job_id)
            .values(
                status="failed",
                stage="failed",
                error=f"a second upload of the same report; job {kept[report_id]} reads it",
            )
        )
    op.create_index(
        INDEX,
        "jobs",
        ["report_id"],
        unique=True,
        sqlite_where=sa.text(WHERE),
        postgresql_where=sa.text(WHERE),
    )


def downgrade() -> None:
    """Drop the index (jobs may then be queued twice for one report again)."""
    op.drop_index(INDEX, table_name="jobs")
