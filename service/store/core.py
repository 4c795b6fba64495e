"""Store: opens the database, brings its tables up to date, and hands out tenant-scoped views.

Report, job and passage queries live only on TenantStore, which ``Store.for_tenant(scope)`` hands out:
a caller names a tenant, or ALL_TENANTS, before it can read or write a tenant's rows.
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from service.errors import StoreInUse
from service.store import migrate
from service.store.db import Database
from service.store.jobs import JobQueries
from service.store.keys import KeyQueries
from service.store.passages import PassageQueries, VectorCache
from service.store.reports import ReportQueries
from service.store.reviews import ReviewQueries
from service.store.schema import LOCAL_TENANT, LOCAL_TENANT_ID
from service.store.scope import Scope

if TYPE_CHECKING:
    from service.settings import Settings

# SQLite files this process serves: path -> [lock file descriptor, holders] (Store.hold_for_serving)
_SERVING: dict[str, list[int]] = {}
_SERVING_LOCK = threading.Lock()


class TenantStore(JobQueries, ReportQueries, PassageQueries, ReviewQueries):
    """The reports, jobs, passages and reviews of one scope: a tenant's own, or (named) every tenant's."""


class Store(KeyQueries, VectorCache):
    """The database: tenants and keys, the vector cache, and ``for_tenant`` for everything else."""

    def __init__(self, url: str) -> None:
        """Only connects lazily; ``Store.open`` is the way in that also brings the tables up to date."""
        self._db = Database(url)
        self.url = url

    @classmethod
    def open(cls, settings: Settings, serving: bool = False) -> Store:
        """The store ``settings`` name, its folder made and its tables migrated to the newest revision.

        ``serving``: hold the SQLite file for this process first (hold_for_serving), so a second server
        is refused before it touches the tables.
        """
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        store = cls(settings.resolved_database_url())
        if serving:
            store.hold_for_serving()
        try:
            store.upgrade(settings.corpora_dir)
        except BaseException:
            if serving:
                store.release_serving()
            raise
        return store

    @property
    def engine(self) -> Engine:
        return self._db.engine

    def upgrade(self, corpora_dir: Path) -> None:
        """Run the migrations the database lacks, and make sure the local tenant exists (idempotent)."""
        migrate.upgrade(self._db.engine, corpora_dir)
        local = self.tenant_id(LOCAL_TENANT, create=True)
        if local != LOCAL_TENANT_ID:
            raise RuntimeError(f"the {LOCAL_TENANT!r} tenant must have id {LOCAL_TENANT_ID}, not {local}")

    def for_tenant(self, scope: Scope) -> TenantStore:
        """The queries over one tenant's rows (its id), or every tenant's (ALL_TENANTS, named on purpose)."""
        return TenantStore(self._db, scope)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A raw transaction, for migrations' tests and repairs; the service itself never uses it."""
        with self._db.session() as session:
            yield session

    def ping(self) -> None:
        """Raise unless the database answers a query."""
        self._db.ping()

    def hold_for_serving(self) -> None:
        """Refuse a second serving process on one SQLite file, with a clear message (StoreInUse).

        SQLite has no row leases worth the name across processes, and two servers on one file would
        each run the other's jobs. The lock is an flock beside the file, so it goes when the process
        does, however it ends; in one process (tests, several apps) it is counted, not refused.
        """
        url = self._db.engine.url
        if url.get_backend_name() != "sqlite" or not url.database:
            return
        path = f"{url.database}.serving.lock"
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        with _SERVING_LOCK:
            if path in _SERVING:
                _SERVING[path][1] += 1
                return
            handle = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                other = os.read(handle, 32).decode(errors="replace").strip() or "?"
                os.close(handle)
                raise StoreInUse(
                    f"another gaplens serve (pid {other}) already serves {url.database}: one "
                    "process per SQLite file. Stop it, or use PostgreSQL (DATABASE_URL) to run several."
                ) from None
            os.ftruncate(handle, 0)
            os.write(handle, str(os.getpid()).encode())
            _SERVING[path] = [handle, 1]

    def release_serving(self) -> None:
        """Undo one hold_for_serving."""
        path = f"{self._db.engine.url.database}.serving.lock"
        with _SERVING_LOCK:
            entry = _SERVING.get(path)
            if entry is None:
                return
            entry[1] -= 1
            if entry[1] == 0:
                os.close(entry[0])
                del _SERVING[path]
