"""Texts: classify free texts, search stored passages by meaning."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from service.api.schemas import ClassifyIn, ClassifyOut, PassageOut, SearchHitOut
from service.http.deps import NameText, OptionalReportId, ServiceDep, TenantDep
from service.serving.engine import classification_rows

router = APIRouter(prefix="/v1", tags=["texts"])


@router.post("/classify", response_model=list[ClassifyOut])
def classify(service: ServiceDep, _tenant: TenantDep, body: ClassifyIn) -> list[ClassifyOut]:
    """SDG goals, targets and due-diligence steps for each text (same contract as the CLI)."""
    texts = [item.text for item in body.items]
    sdg, dd = service.classify(texts)
    rows = classification_rows([item.id for item in body.items], sdg, dd)
    return [ClassifyOut(**row) for row in rows]


@router.get("/search", response_model=list[SearchHitOut])
def search(
    service: ServiceDep,
    tenant: TenantDep,
    q: Annotated[str, Query(min_length=1, max_length=2000)],
    k: Annotated[int, Query(ge=1, le=100)] = 10,
    report_id: OptionalReportId = None,
    sector: Annotated[NameText | None, Query(max_length=128)] = None,
) -> list[SearchHitOut]:
    """Your stored passages closest in meaning to ``q``, optionally within one report or sector."""
    hits = service.search(q, tenant, k, report_id, sector)
    return [SearchHitOut(score=round(h.score, 4), passage=PassageOut.model_validate(h.passage)) for h in hits]
