"""Bring a database's tables to the newest revision in service/store/migrations (Alembic), on open.

The revisions ship inside the package, so an installed GapLens finds them; nobody has to remember a
command. A store the last release before migrations made has no version table: it is recognised by
its tables, brought to the baseline where it is older still, and stamped as the baseline.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, MetaData, inspect, text

from service.errors import GapLensError
from service.store.migrations.versions.r0001_baseline import baseline_metadata

MIGRATIONS = Path(__file__).with_name("migrations")
BASELINE = "0001_baseline"
# one upgrade at a time when several servers start on one PostgreSQL (an arbitrary, fixed lock id)
_PG_LOCK = 0x6761706C656E73


class UnknownStore(GapLensError):
    """The database holds tables that are not a GapLens store of any release."""


def _config(connection: Connection, corpora_dir: Path) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    config.attributes["corpora_dir"] = corpora_dir
    return config


def head() -> str:
    """The newest revision's id."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return str(ScriptDirectory.from_config(config).get_current_head())


def current(connection: Connection) -> str | None:
    """The revision the database is at; None before migrations (or an empty database)."""
    return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine, corpora_dir: Path) -> None:
    """Run every revision the database lacks, in one transaction that holds off a concurrent upgrade."""
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _PG_LOCK})
        elif connection.dialect.name == "sqlite":
            # the write lock now, so a second process waits (busy_timeout) and the DDL rolls back with it
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        config = _config(connection, corpora_dir)
        tables = set(inspect(connection).get_table_names())
        if current(connection) is None and "reports" in tables:
            adopt(connection, baseline_metadata())
            command.stamp(config, BASELINE)
        command.upgrade(config, "head")


def adopt(connection: Connection, baseline: MetaData) -> None:
    """Bring a store made before migrations to the baseline's tables, keeping its rows.

    Releases before the baseline only ever added tables, columns with server defaults, and (once)
    turned the unique sha256 index into a plain one when reports gained tenants. After that, every
    baseline column must be there; anything else is not a GapLens store and is left untouched.
    """
    _check_adoptable(connection, baseline)
    baseline.create_all(connection, checkfirst=True)
    inspector = inspect(connection)
    for table in baseline.sorted_tables:
        present = {c["name"] for c in inspector.get_columns(table.name)}
        for column in table.columns:
            if column.name in present:
                continue
            kind = column.type.compile(connection.dialect)
            default = column.server_default.arg  # type: ignore[union-attr]
            connection.execute(
                text(f"ALTER TABLE {table.name} ADD COLUMN {column.name} {kind} NOT NULL DEFAULT '{default}'")
            )
        indexes = {ix["name"]: ix for ix in inspect(connection).get_indexes(table.name)}
        for index in table.indexes:
            old = indexes.get(index.name or "")
            if old is not None and bool(old["unique"]) != bool(index.unique):
                connection.execute(text(f"DROP INDEX {index.name}"))
                old = None
            if old is None:
                index.create(connection)


def _check_adoptable(connection: Connection, baseline: MetaData) -> None:
    """UnknownStore unless every baseline column a present table lacks is one a later release added."""
    inspector = inspect(connection)
    present_tables = set(inspector.get_table_names())
    for table in baseline.sorted_tables:
        if table.name not in present_tables:
            continue
        present = {c["name"] for c in inspector.get_columns(table.name)}
        for column in table.columns:
            if column.name not in present and column.server_default is None:
                raise UnknownStore(
                    f"the database's table {table.name!r} lacks column {column.name!r}: it is not a GapLens "
                    "store (or one newer than this GapLens); nothing was changed"
                )
