"""Gap analysis: coverage on both sides -> profile, missing pieces and next steps.

The SDG side asks whether a report engages substantively with the goals most relevant to it, so its
summary score is the mean of its five best-covered goals. The due-diligence side expects all six
steps, so its summary is the mean over the six.
"""

from __future__ import annotations

from collections.abc import Sequence

from service.frameworks import Framework
from service.records import Coverage, Profile

TOP_SDGS = 5
SDG_ENGAGED = (40, 3)  # summary score, goals addressed
DD_ENGAGED = (40, 4)  # summary score, steps addressed


def sdg_summary(coverage: Sequence[Coverage]) -> int:
    """Mean coverage of the best-covered goals."""
    best = sorted((c.score for c in coverage), reverse=True)[:TOP_SDGS]
    return round(sum(best) / len(best)) if best else 0


def dd_summary(coverage: Sequence[Coverage]) -> int:
    """Mean coverage over all due-diligence steps."""
    return round(sum(c.score for c in coverage) / len(coverage)) if coverage else 0


def _engaged(summary: int, coverage: Sequence[Coverage], rule: tuple[int, int]) -> bool:
    return summary >= rule[0] and sum(c.addressed for c in coverage) >= rule[1]


def report_profile(sdg: Sequence[Coverage], dd: Sequence[Coverage]) -> tuple[Profile, int, int]:
    """Which of the four profiles the report shows, with both summary scores."""
    sdg_score, dd_score = sdg_summary(sdg), dd_summary(dd)
    on_sdg = _engaged(sdg_score, sdg, SDG_ENGAGED)
    on_dd = _engaged(dd_score, dd, DD_ENGAGED)
    profile: Profile
    if on_sdg and on_dd:
        profile = "integrated"
    elif on_dd:
        profile = "due-diligence-only"
    elif on_sdg:
        profile = "sdg-only"
    else:
        profile = "neither"
    return profile, sdg_score, dd_score


def recommendations(
    profile: Profile,
    dd: Sequence[Coverage],
    oecd: Framework,
    profiles: dict[str, dict[str, str]],
) -> tuple[str, ...]:
    """The profile's next step, then the OECD guidance for each missing step, earliest step first."""
    advice = [profiles[profile]["next_step"].strip()]
    for coverage in dd:
        if not coverage.addressed:
            label = oecd.label(coverage.label)
            advice.append(f"Step {label.id} ({label.name}): {label.recommendation.strip()}")
    return tuple(advice)
