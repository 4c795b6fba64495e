"""Regulatory views: the rubric's indicator decisions read through CSDDD, ESRS 2 GOV-4 and the AGT.

The views are data (corpora/regulatory_views.yaml: each article or element mapped to indicators, with
the legal text's version); this module only averages the mapped indicators' points per item. A view
tells what a report evidences, never whether a company complies.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from service.errors import UnknownName
from service.records import IndicatorResult, RegulatoryView, ViewItem


@lru_cache(maxsize=2)
def load_views(corpora_dir: Path) -> dict[str, Any]:
    """Read corpora/regulatory_views.yaml once."""
    return yaml.safe_load((corpora_dir / "regulatory_views.yaml").read_text(encoding="utf-8"))


def item_status(points: Sequence[float], evidenced_from: float) -> str:
    """Evidenced, partly or not evidenced, from the mean points of the item's indicators."""
    mean = sum(points) / len(points) if points else 0.0
    if mean >= evidenced_from:
        return "evidenced"
    return "partly" if mean > 0 else "not_evidenced"


def regulatory_views(results: Sequence[IndicatorResult], corpora_dir: Path) -> tuple[RegulatoryView, ...]:
    """Every view with the status of each of its items."""
    raw = load_views(corpora_dir)
    points = {r.id: r.points for r in results}
    views = []
    for view in raw["views"]:
        items = []
        for item in view["items"]:
            unknown = [i for i in item["indicators"] if i not in points]
            if unknown:
                raise UnknownName(f"view {view['id']} item {item['id']} names unknown indicators {unknown}")
            status = item_status([points[i] for i in item["indicators"]], float(raw["evidenced_from"]))
            items.append(
                ViewItem(
                    id=item["id"],
                    name=item["name"],
                    reference=item["reference"],
                    status=status,
                    indicators=tuple(item["indicators"]),
                    name_nl=item.get("name_nl", ""),
                )
            )
        remark = " ".join(str(view.get("remark", "")).split())
        version = " ".join(view["version"].split())
        views.append(RegulatoryView(view["id"], view["name"], version, tuple(items), remark))
    return tuple(views)
