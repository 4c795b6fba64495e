"""The store: reports, jobs, passages and cached vectors in SQL (SQLite by default, PostgreSQL by URL).

One module per aggregate: ``schema`` (the tables), ``jobs``, ``reports``, ``passages`` (and the vector
cache), ``keys`` (tenants, API keys, sessions); ``migrate`` and ``migrations/`` keep the tables up to
date; ``core`` is the Store that opens it all. Report, job and passage queries need a scope
(``Store.for_tenant``): a tenant's id, or the explicit ALL_TENANTS.
"""

from service.store.core import Store, TenantStore
from service.store.schema import (
    JOB_STATES,
    LOCAL_TENANT,
    LOCAL_TENANT_ID,
    REPORT_STATES,
    UNFINISHED,
    ApiKeyRow,
    Base,
    EmbeddingRow,
    JobRow,
    PassageRow,
    ReportRow,
    ReviewRow,
    SessionRow,
    TenantRow,
)
from service.store.scope import ALL_TENANTS, AllTenants, Scope

__all__ = [
    "ALL_TENANTS",
    "JOB_STATES",
    "LOCAL_TENANT",
    "LOCAL_TENANT_ID",
    "REPORT_STATES",
    "UNFINISHED",
    "AllTenants",
    "ApiKeyRow",
    "Base",
    "EmbeddingRow",
    "JobRow",
    "PassageRow",
    "ReportRow",
    "ReviewRow",
    "Scope",
    "SessionRow",
    "Store",
    "TenantRow",
    "TenantStore",
]
