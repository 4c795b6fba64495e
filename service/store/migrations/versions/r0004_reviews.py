"""Analysts' reviews of a report's analysis, kept per tenant with who, when, before and after (issue 25).

Revision ID: 0004_reviews
Revises: 0003_one_unfinished_job

A review names the report by its tenant and sha256 (and the row it was made on), so it survives the
same PDF being uploaded or analysed again. Undone reviews keep their row, with ``undone_at`` set.
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_reviews"
down_revision = "0003_one_unfinished_job"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """The reviews table and its lookup index (tenant, report sha256)."""
    aware = sa.DateTime(timezone=True)
    op.create_table(
        "reviews",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("tenant_id", sa.Integer, sa.ForeignKey("tenants.id"), nullable=False),
        sa.Column("report_sha256", sa.String(64), nullable=False),
        sa.Column("report_id", sa.Integer, sa.ForeignKey("reports.id"), nullable=False),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("target", sa.String(64), nullable=False),
        sa.Column("before", sa.JSON, nullable=False),
        sa.Column("after", sa.JSON, nullable=False),
        sa.Column("note", sa.Text, nullable=False, server_default=""),
        sa.Column("reviewer", sa.String(160), nullable=False),
        sa.Column("created_at", aware, nullable=False),
        sa.Column("undone_at", aware, nullable=True),
    )
    op.create_index("ix_reviews_tenant_sha256", "reviews", ["tenant_id", "report_sha256"])


def downgrade() -> None:
    """Drop the table (and its reviews)."""
    op.drop_index("ix_reviews_tenant_sha256", table_name="reviews")
    op.drop_table("reviews")
