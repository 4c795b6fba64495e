"""Tenant safety by construction: a report, job or passage query cannot be written without a scope.

These tests read the code itself, so a new store method, benchmark function or route that forgets its
tenant fails here before any request can reach another tenant's rows.
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from service.serving import benchmark
from service.store import ALL_TENANTS, Store, TenantStore
from service.store.db import ScopedQueries
from service.store.jobs import JobQueries
from service.store.passages import PassageQueries
from service.store.reports import ReportQueries
from service.store.reviews import ReviewQueries

SERVICE = Path(__file__).resolve().parents[1] / "service"
QUERY_CLASSES = (JobQueries, ReportQueries, PassageQueries, ReviewQueries)
TENANT_ROWS = ("ReportRow", "JobRow", "PassageRow", "ReviewRow")
# What Store offers without a scope: opening and serving, tenants and keys, the vector cache (keys
# scoped by tenant already), and for_tenant. A new public method must be added here on purpose.
UNSCOPED = {
    "open", "upgrade", "for_tenant", "engine", "session", "ping", "hold_for_serving",
    "release_serving", "tenant_id", "add_api_key", "key_owner", "add_session", "session_owner",
    "end_session", "sweep_sessions", "api_keys", "revoke_api_key", "get_vectors", "put_vectors",
}  # fmt: skip
# helpers of the query classes that apply the scope (each checked below to do so)
SCOPING = ("_own", "_sees", "_owner", "_passages", "_report", "_job", "_next_queued", "_reviewed_report")


def public(cls: type) -> set[str]:
    return {name for name in dir(cls) if not name.startswith("_")}


def test_the_store_offers_no_tenant_query_without_a_scope():
    assert public(Store) == UNSCOPED, "a new Store method: is it a tenant's query? put it on a *Queries view"
    assert not set(QUERY_CLASSES) & set(Store.__mro__)
    for name in UNSCOPED:
        member = getattr(Store, name)
        if callable(member):
            returned = str(inspect.signature(member).return_annotation)  # a string: postponed annotations
            assert not any(row in returned for row in TENANT_ROWS), name


def test_every_query_of_the_scoped_views_applies_its_scope():
    helpers = {}
    for cls in (*QUERY_CLASSES, ScopedQueries):
        for name, member in vars(cls).items():
            if name in SCOPING:
                helpers[name] = inspect.getsource(member)
    for name, source in helpers.items():
        assert re.search(r"self\._scope|self\._own\(|self\._sees\(", source), f"{name} ignores the scope"
    for cls in QUERY_CLASSES:
        methods = {n: m for n, m in vars(cls).items() if not n.startswith("_") and callable(m)}
        assert methods, cls
        for name, method in methods.items():
            source = inspect.getsource(method)
            calls = set(re.findall(r"self\.(\w+)\(", source))
            assert calls & (set(SCOPING) | set(methods)), f"{cls.__name__}.{name} queries without its scope"


def test_a_scope_must_be_named():
    with pytest.raises(TypeError, match="ALL_TENANTS"):
        TenantStore(None, None)  # type: ignore[arg-type]
    for fn in (benchmark.benchmark_reports, benchmark.benchmark_sectors, benchmark.sector_benchmark):
        assert inspect.signature(fn).parameters["scope"].default is inspect.Parameter.empty
    for fn in (benchmark.report_percentiles, benchmark.company_history):
        assert inspect.signature(fn).parameters["scope"].default is inspect.Parameter.empty
    assert repr(ALL_TENANTS) == "ALL_TENANTS"


def test_no_module_takes_tenant_id_none_or_builds_a_view_by_hand():
    for path in SERVICE.rglob("*.py"):
        source = path.read_text(encoding="utf-8")
        assert not re.search(r"tenant_id: int \| None", source), f"{path}: a tenant id that may be None"
        if path.parent.name != "store":
            assert not re.search(r"\b(TenantStore|\w+Queries)\(", source), f"{path} builds a view by hand"


def test_the_shells_never_reach_into_the_store():
    shells = [p for d in ("api", "web") for p in (SERVICE / d).rglob("*.py")]
    assert shells
    for path in shells:
        source = path.read_text(encoding="utf-8")
        assert not re.search(r"\.store\b(?! import)", source), (
            f"{path} reaches through the service into the store"
        )
