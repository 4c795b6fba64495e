"""API keys and tenants: who is asking, so that each tenant sees only its own reports.

A key is 256 random bits shown once when it is made; the store keeps only its sha256. Because the key
itself is random, a plain hash is as strong as a slow password hash here and costs microseconds a request.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from service import names
from service.errors import BadInput, Unauthorized
from service.store import LOCAL_TENANT, LOCAL_TENANT_ID, Store

KEY_PREFIX = "glk_"
# A web page's sign-in lasts a working day; the cookie holds a session token, never the key itself.
SESSION_HOURS = 8


@dataclass(frozen=True)
class Tenant:
    """The caller of a request: a tenant, and the key it used (none in local single-tenant mode)."""

    id: int
    name: str
    admin: bool = False
    key_id: int | None = None


LOCAL = Tenant(LOCAL_TENANT_ID, LOCAL_TENANT)


def key_hash(key: str) -> str:
    """What the store keeps of a key."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def create_api_key(store: Store, tenant_name: str, admin: bool = False) -> str:
    """Make a key for ``tenant_name`` (the tenant too, if new) and return it; it is not stored.

    Tenant names are a safe ASCII set (service/names.py): no look-alike can pass for another tenant.
    """
    try:
        name = names.tenant_name(tenant_name)
    except ValueError as exc:
        raise BadInput(str(exc)) from None
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    store.add_api_key(store.tenant_id(name, create=True), key_hash(key), key[:12], admin)
    return key


def tenant_for_key(store: Store, key: str) -> Tenant:
    """The tenant a key belongs to; Unauthorized when the key is unknown or revoked."""
    if not key.startswith(KEY_PREFIX) or len(key) > 200:
        raise Unauthorized("the API key is not valid")
    found = store.key_owner(key_hash(key))
    if found is None:
        raise Unauthorized("the API key is not valid (unknown or revoked)")
    row, tenant = found
    return Tenant(tenant.id, tenant.name, row.admin, row.id)


def start_session(store: Store, tenant: Tenant, keep: int) -> str:
    """A new sign-in for the key ``tenant`` came with; returns the token for the browser's cookie.

    The key keeps at most ``keep`` live sessions: beyond them the oldest ends, so a flood of
    sign-ins cannot pile up sessions kept for hours.
    """
    if tenant.key_id is None:
        raise Unauthorized("only an API key can sign in")
    token = secrets.token_urlsafe(32)
    expires = datetime.now(UTC) + timedelta(hours=SESSION_HOURS)
    store.add_session(tenant.key_id, key_hash(token), expires, keep=keep)
    return token


def tenant_for_session(store: Store, token: str) -> Tenant:
    """The tenant signed in with this session token; Unauthorized when it expired or its key was revoked."""
    found = store.session_owner(key_hash(token)) if 0 < len(token) <= 200 else None
    if found is None:
        raise Unauthorized("the sign-in has expired; sign in again with your API key")
    row, tenant = found
    return Tenant(tenant.id, tenant.name, row.admin, row.id)


def end_session(store: Store, token: str) -> None:
    """Sign out: the token no longer names anyone."""
    store.end_session(key_hash(token))
