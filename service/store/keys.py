"""Tenants, API keys and web sign-in sessions: how a request finds its tenant (service.serving.auth)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, or_, select, update
from sqlalchemy.exc import IntegrityError

from service.errors import NotFound
from service.store.db import Database
from service.store.schema import ApiKeyRow, SessionRow, TenantRow, as_utc, utc_now


class KeyQueries:
    """Tenants by name, keys and sessions by hash; none of them reads a tenant's reports."""

    _db: Database

    def tenant_id(self, name: str, create: bool = False) -> int:
        """The id of the tenant called ``name``; with ``create``, made when it does not exist yet."""
        with self._db.session() as s:
            found = s.scalars(select(TenantRow.id).where(TenantRow.name == name)).first()
            if found is not None:
                return found
            if not create:
                raise NotFound(f"no tenant called {name!r}")
        try:
            with self._db.session() as s:
                tenant = TenantRow(name=name)
                s.add(tenant)
                s.flush()
                return tenant.id
        except IntegrityError:  # made by a concurrent call
            return self.tenant_id(name)

    def add_api_key(self, tenant_id: int, key_hash: str, prefix: str, admin: bool) -> ApiKeyRow:
        with self._db.session() as s:
            row = ApiKeyRow(tenant_id=tenant_id, key_hash=key_hash, prefix=prefix, admin=admin)
            s.add(row)
            s.flush()
            return row

    def key_owner(self, key_hash: str) -> tuple[ApiKeyRow, TenantRow] | None:
        """The live (not revoked) key with this hash and its tenant."""
        with self._db.session() as s:
            query = (
                select(ApiKeyRow, TenantRow)
                .join(TenantRow, TenantRow.id == ApiKeyRow.tenant_id)
                .where(ApiKeyRow.key_hash == key_hash, ApiKeyRow.revoked_at.is_(None))
            )
            row = s.execute(query).first()
            return (row[0], row[1]) if row else None

    def add_session(
        self, key_id: int, token_hash: str, expires_at: datetime, keep: int | None = None
    ) -> None:
        """A new session; with ``keep``, the key's oldest sessions beyond the newest ``keep`` end."""
        with self._db.session() as s:
            s.add(SessionRow(key_id=key_id, token_hash=token_hash, expires_at=expires_at))
            s.flush()
            if keep is not None:
                newest = (
                    select(SessionRow.id)
                    .where(SessionRow.key_id == key_id)
                    .order_by(SessionRow.id.desc())
                    .limit(max(1, keep))
                )
                s.execute(delete(SessionRow).where(SessionRow.key_id == key_id, SessionRow.id.not_in(newest)))
        self.sweep_sessions()

    def sweep_sessions(self) -> int:
        """Forget every expired session (the service's heartbeat calls this); returns how many."""
        with self._db.session() as s:
            result = s.execute(delete(SessionRow).where(SessionRow.expires_at < utc_now()))
            return int(result.rowcount)  # type: ignore[attr-defined]

    def session_owner(self, token_hash: str) -> tuple[ApiKeyRow, TenantRow] | None:
        """The live key and tenant behind an unexpired session; None when it ended or its key was revoked."""
        with self._db.session() as s:
            query = (
                select(SessionRow, ApiKeyRow, TenantRow)
                .join(ApiKeyRow, ApiKeyRow.id == SessionRow.key_id)
                .join(TenantRow, TenantRow.id == ApiKeyRow.tenant_id)
                .where(SessionRow.token_hash == token_hash, ApiKeyRow.revoked_at.is_(None))
            )
            row = s.execute(query).first()
            if row is None or as_utc(row[0].expires_at) < utc_now():
                return None
            return row[1], row[2]

    def end_session(self, token_hash: str) -> None:
        """Forget a session, and every expired one with it."""
        with self._db.session() as s:
            s.query(SessionRow).filter(
                or_(SessionRow.token_hash == token_hash, SessionRow.expires_at < utc_now())
            ).delete()

    def api_keys(self) -> list[tuple[ApiKeyRow, str]]:
        """Every key with its tenant's name (hashes only: the keys themselves are never stored)."""
        with self._db.session() as s:
            query = (
                select(ApiKeyRow, TenantRow.name)
                .join(TenantRow, TenantRow.id == ApiKeyRow.tenant_id)
                .order_by(ApiKeyRow.id)
            )
            return [(key, name) for key, name in s.execute(query)]

    def revoke_api_key(self, prefix: str) -> int:
        """Revoke the live keys that start with ``prefix``; returns how many."""
        with self._db.session() as s:
            result = s.execute(
                update(ApiKeyRow)
                .where(ApiKeyRow.prefix == prefix, ApiKeyRow.revoked_at.is_(None))
                .values(revoked_at=utc_now())
            )
            return int(result.rowcount)  # type: ignore[attr-defined]
