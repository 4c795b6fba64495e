"""Each passage keeps its evidence type, decided once when it is saved (issue 16).

Revision ID: 0002_passage_evidence_type
Revises: 0001_baseline

Readers (the evidence API, pages, the passage export) used to decide it again per request. Passages
stored before this revision get theirs here, by the rules in the store's corpora (evidence_types.yaml).
"""

from pathlib import Path

import sqlalchemy as sa
from alembic import op

from service.judging.substance import evidence_type, load_substance_rules

revision = "0002_passage_evidence_type"
down_revision = "0001_baseline"
branch_labels = None
depends_on = None

CHUNK = 1000


def upgrade() -> None:
    """Add the column, then decide the type of every passage stored before, a chunk at a time."""
    op.add_column("passages", sa.Column("evidence_type", sa.String(16), nullable=False, server_default=""))
    config = op.get_context().config
    assert config is not None, "service.store.migrate runs the revisions with a config"
    corpora_dir: Path = config.attributes["corpora_dir"]
    rules = load_substance_rules(corpora_dir)
    passages = sa.table(
        "passages",
        sa.column("id", sa.Integer),
        sa.column("text", sa.Text),
        sa.column("evidence_type", sa.String),
    )
    bind = op.get_bind()
    fill = (
        passages.update()
        .where(passages.c.id == sa.bindparam("pid"))
        .values(evidence_type=sa.bindparam("kind"))
    )
    after = 0
    while True:
        rows = bind.execute(
            sa.select(passages.c.id, passages.c.text)
            .where(passages.c.id > after)
            .order_by(passages.c.id)
            .limit(CHUNK)
        ).all()
        if not rows:
            return
        bind.execute(fill, [{"pid": pid, "kind": evidence_type(text, rules)} for pid, text in rows])
        after = rows[-1][0]


def downgrade() -> None:
    """Drop the column (readers before this revision decide the type themselves)."""
    with op.batch_alter_table("passages") as batch:
        batch.drop_column("evidence_type")
