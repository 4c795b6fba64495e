"""Who am I, and for admin keys: new keys and the state of the job queue (counts, never content)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from fastapi import APIRouter, status

from service.api.schemas import KeyIn, KeyOut
from service.http.deps import AdminDep, ServiceDep, TenantDep

router = APIRouter(prefix="/v1", tags=["keys"])


@router.get("/me")
def whoami(tenant: TenantDep) -> dict[str, Any]:
    """The tenant your key belongs to, and whether it is an admin key."""
    return {"tenant": tenant.name, "admin": tenant.admin, "local_mode": tenant.key_id is None}


@router.post("/keys", status_code=status.HTTP_201_CREATED, response_model=KeyOut)
def create_key(service: ServiceDep, _admin: AdminDep, body: KeyIn) -> KeyOut:
    """Make an API key for a tenant (admin keys only); the key is shown here once and never again."""
    key = service.create_api_key(body.tenant, body.admin)
    return KeyOut(tenant=body.tenant.strip(), admin=body.admin, key=key)


@router.get("/admin/queue")
def queue(service: ServiceDep, _admin: AdminDep) -> dict[str, Any]:
    """Unfinished jobs by status and by tenant (admin keys only): how loaded the service is."""
    jobs = service.unfinished_jobs()
    return {
        "unfinished": len(jobs),
        "by_status": dict(Counter(job.status for job in jobs)),
        "by_tenant": dict(Counter(str(job.tenant_id) for job in jobs)),
    }
