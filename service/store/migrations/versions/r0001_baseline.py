"""Baseline: the schema of the last release without migrations (tenants, keys, leases; 2026-12).

Revision ID: 0001_baseline
Revises:

The tables are frozen here as that release made them, not taken from service.store.schema, so this
revision creates the same tables however the row classes change later. A store that release made has
no version table; service.store.migrate recognises it by its tables and stamps it with this revision.
"""

from alembic import op
from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)

revision = "0001_baseline"
down_revision = None
branch_labels = None
depends_on = None


def baseline_metadata() -> MetaData:
    """The six tables as the baseline release created them (index names as SQLAlchemy gave them)."""
    meta = MetaData()
    aware = DateTime(timezone=True)
    Table(
        "tenants",
        meta,
        Column("id", Integer, primary_key=True),
        Column("name", String(128), unique=True, nullable=False),
        Column("created_at", aware, nullable=False),
    )
    Table(
        "api_keys",
        meta,
        Column("id", Integer, primary_key=True),
        Column("tenant_id", ForeignKey("tenants.id"), index=True, nullable=False),
        Column("key_hash", String(64), unique=True, nullable=False),
        Column("prefix", String(16), nullable=False),
        Column("admin", Boolean, nullable=False),
        Column("created_at", aware, nullable=False),
        Column("revoked_at", aware, nullable=True),
    )
    Table(
        "sessions",
        meta,
        Column("id", Integer, primary_key=True),
        Column("token_hash", String(64), unique=True, nullable=False),
        Column("key_id", ForeignKey("api_keys.id"), index=True, nullable=False),
        Column("expires_at", aware, nullable=False),
    )
    Table(
        "reports",
        meta,
        Column("id", Integer, primary_key=True),
        Column("tenant_id", ForeignKey("tenants.id"), server_default="1", index=True, nullable=False),
        Column("sha256", String(64), index=True, nullable=False),
        Column("shareable", Boolean, server_default="0", nullable=False),
        Column("filename", String(512), nullable=False),
        Column("company", String(256), nullable=False),
        Column("sector", String(128), index=True, nullable=False),
        Column("year", Integer, nullable=True),
        Column("country", String(64), server_default="", nullable=False),
        Column("language", String(8), nullable=False),
        Column("pages", Integer, nullable=False),
        Column("status", String(16), nullable=False),
        Column("result", JSON, nullable=True),
        Column("error", Text, server_default="", nullable=False),
        Column("created_at", aware, nullable=False),
        Index("uq_reports_tenant_sha256", "tenant_id", "sha256", unique=True),
    )
    Table(
        "jobs",
        meta,
        Column("id", Integer, primary_key=True),
        Column("tenant_id", ForeignKey("tenants.id"), server_default="1", index=True, nullable=False),
        Column("report_id", ForeignKey("reports.id"), nullable=True),
        Column("sha256", String(64), nullable=False),
        Column("filename", String(512), nullable=False),
        Column("status", String(16), index=True, nullable=False),
        Column("stage", String(32), nullable=False),
        Column("progress", Float, nullable=False),
        Column("error", Text, nullable=False),
        Column("attempts", Integer, server_default="0", nullable=False),
        Column("lease_owner", String(96), server_default="", nullable=False),
        Column("lease_expires", Float, server_default="0", nullable=False),
        Column("claimed_at", Float, server_default="0", nullable=False),
        Column("created_at", aware, nullable=False),
        Column("updated_at", aware, nullable=False),
    )
    Table(
        "passages",
        meta,
        Column("id", Integer, primary_key=True),
        Column("report_id", ForeignKey("reports.id"), index=True, nullable=False),
        Column("passage_key", String(24), index=True, nullable=False),
        Column("page", Integer, nullable=False),
        Column("start", Integer, nullable=False),
        Column("end", Integer, nullable=False),
        Column("heading", Text, nullable=False),
        Column("text", Text, nullable=False),
        Column("embedding_key", String(64), nullable=False),
        Column("sdg", JSON, nullable=False),
        Column("dd", JSON, nullable=False),
    )
    Table(
        "embeddings",
        meta,
        Column("key", String(64), primary_key=True),
        Column("model", String(256), nullable=False),
        Column("vector", LargeBinary, nullable=False),
    )
    return meta


def upgrade() -> None:
    """Create the baseline tables (an empty database)."""
    baseline_metadata().create_all(op.get_bind())


def downgrade() -> None:
    """Drop every table (an empty database again)."""
    baseline_metadata().drop_all(op.get_bind())
