"""Chart geometry for the web pages: plain numbers in, SVG coordinates out.

The templates draw; this module only computes where. Keeping the arithmetic here lets it be tested
without a browser, and keeps the templates free of trigonometry.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from service.records import Coverage

WHEEL_SIZE = 340
WHEEL_INNER = 52
WHEEL_OUTER = 150
WHEEL_GAP_DEGREES = 1.2
PLOT_SIZE = 300
PLOT_MARGIN = 34


@dataclass(frozen=True)
class WheelSegment:
    """One goal on the SDG wheel: a full pale segment, and a coloured one as long as the coverage."""

    goal: str
    name: str
    colour: str
    score: int
    evidence_count: int
    track_path: str
    fill_path: str
    label_x: float
    label_y: float


@dataclass(frozen=True)
class PlotPoint:
    """A report on the profile quadrant, in SVG coordinates."""

    x: float
    y: float
    sdg_score: float
    dd_score: float
    title: str
    own: bool


def _polar(radius: float, degrees: float) -> tuple[float, float]:
    """Point at ``degrees`` clockwise from 12 o'clock, around the wheel's centre."""
    centre = WHEEL_SIZE / 2
    radians = math.radians(degrees - 90)
    return centre + radius * math.cos(radians), centre + radius * math.sin(radians)


def annular_sector(inner: float, outer: float, start: float, end: float) -> str:
    """SVG path of the ring slice between two radii and two angles (degrees, clockwise from the top)."""
    large = 1 if end - start > 180 else 0
    (x1, y1), (x2, y2) = _polar(outer, start), _polar(outer, end)
    (x3, y3), (x4, y4) = _polar(inner, end), _polar(inner, start)
    return (
        f"M{x1:.2f},{y1:.2f} A{outer},{outer} 0 {large} 1 {x2:.2f},{y2:.2f} "
        f"L{x3:.2f},{y3:.2f} A{inner},{inner} 0 {large} 0 {x4:.2f},{y4:.2f} Z"
    )


def sdg_wheel(
    coverage: Sequence[Coverage], names: dict[str, str], colours: dict[str, str]
) -> list[WheelSegment]:
    """One segment per goal in the analysis, clockwise from the top, radius growing with coverage."""
    step = 360 / len(coverage)
    segments = []
    for i, goal in enumerate(coverage):
        start, end = i * step + WHEEL_GAP_DEGREES / 2, (i + 1) * step - WHEEL_GAP_DEGREES / 2
        score = goal.score
        reach = WHEEL_INNER + (WHEEL_OUTER - WHEEL_INNER) * max(0, min(score, 100)) / 100
        label_x, label_y = _polar(WHEEL_OUTER + 9, (start + end) / 2)
        segments.append(
            WheelSegment(
                goal=goal.label,
                name=names.get(goal.label, goal.name),
                colour=colours.get(goal.label, "#888888"),
                score=score,
                evidence_count=goal.evidence_count,
                track_path=annular_sector(WHEEL_INNER, WHEEL_OUTER, start, end),
                fill_path=annular_sector(WHEEL_INNER, reach, start, end) if score > 0 else "",
                label_x=round(label_x, 2),
                label_y=round(label_y, 2),
            )
        )
    return segments


def plot_coordinate(score: float, vertical: bool = False) -> float:
    """A 0-100 score on the quadrant's axis, in SVG units (the vertical axis grows upwards)."""
    span = PLOT_SIZE - 2 * PLOT_MARGIN
    offset = span * max(0.0, min(score, 100.0)) / 100
    return round(PLOT_SIZE - PLOT_MARGIN - offset if vertical else PLOT_MARGIN + offset, 2)


def quadrant_points(own: dict[str, Any], peers: Sequence[dict[str, Any]]) -> list[PlotPoint]:
    """A report and its sector peers by SDG score (x) and due-diligence score (y); the own point last."""
    points = []
    for item, is_own in [*((p, False) for p in peers), (own, True)]:
        sdg, dd = float(item["sdg_score"]), float(item["dd_score"])
        points.append(
            PlotPoint(
                plot_coordinate(sdg), plot_coordinate(dd, vertical=True), sdg, dd, item["title"], is_own
            )
        )
    return points
