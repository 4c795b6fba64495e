"""The database connection, and the base of the tenant-scoped query views."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from sqlalchemy import create_engine, event, text
from sqlalchemy.orm import Session, sessionmaker

from service.store.scope import AllTenants, Scope, checked, restrict, sees

Q = TypeVar("Q")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets the web page read while a background job writes; foreign keys are off by default.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


class Database:
    """One engine and its sessions; every write that changes several rows is one transaction."""

    def __init__(self, url: str) -> None:
        self.url = url
        # hide_parameters: a failing statement's values (report text, a tenant's fields) stay out of logs
        self.engine = create_engine(url, pool_pre_ping=True, hide_parameters=True)
        if url.startswith("sqlite"):
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A transaction: committed on success, rolled back on any error."""
        with self._sessions() as session, session.begin():
            yield session

    def ping(self) -> None:
        """Raise unless the database answers a query."""
        with self.engine.connect() as connection:
            connection.execute(text("SELECT 1"))


class ScopedQueries:
    """What every query view holds: the database and the scope its queries are limited to."""

    def __init__(self, db: Database, scope: Scope) -> None:
        self._db = db
        self._scope = checked(scope)

    @property
    def scope(self) -> Scope:
        """The tenant id these queries see, or ALL_TENANTS."""
        return self._scope

    def _own(self, query: Q, column: Any) -> Q:
        return restrict(query, column, self._scope)

    def _sees(self, tenant_id: int) -> bool:
        return sees(self._scope, tenant_id)

    def _owner(self) -> int:
        """The tenant a new row belongs to: the scope's; ALL_TENANTS owns nothing, so it cannot add rows."""
        if isinstance(self._scope, AllTenants):
            raise TypeError("a new report or job belongs to one tenant: use store.for_tenant(tenant_id)")
        return self._scope
