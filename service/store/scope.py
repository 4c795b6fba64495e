"""Whose rows a query may see: one tenant's, or, named explicitly, every tenant's.

A report, job or passage query is reachable only through ``Store.for_tenant(scope)`` (a TenantStore),
so a query cannot forget its tenant: there is no ``None`` meaning "everyone" to fall into by accident.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

Q = TypeVar("Q")


@dataclass(frozen=True)
class AllTenants:
    """The operator's scope (CLI, batch, the admin queue, the job workers): every tenant's rows."""

    def __repr__(self) -> str:
        return "ALL_TENANTS"


ALL_TENANTS = AllTenants()
# a tenant's id, or ALL_TENANTS
Scope = int | AllTenants


def checked(scope: object) -> Scope:
    """``scope`` if it is a tenant id or ALL_TENANTS; a TypeError for anything else (``None`` above all)."""
    if isinstance(scope, AllTenants) or (isinstance(scope, int) and not isinstance(scope, bool)):
        return scope
    raise TypeError(f"a store scope is a tenant id or ALL_TENANTS, not {scope!r}")


def restrict(query: Q, column: Any, scope: Scope) -> Q:
    """``query`` limited to the rows whose tenant ``column`` is the scope's tenant (all: unchanged)."""
    if isinstance(scope, AllTenants):
        return query
    return query.where(column == scope)  # type: ignore[attr-defined, no-any-return]


def sees(scope: Scope, tenant_id: int) -> bool:
    """Whether a row of ``tenant_id`` is in ``scope``."""
    return isinstance(scope, AllTenants) or scope == tenant_id
