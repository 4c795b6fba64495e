"""Gap analysis: coverage on both sides -> profile, missing pieces and next steps.

Besides the coverage per step, the due-diligence side asks whether the salient issues a report names
are followed through (service/dd_tags.py tags the passages; this module reads the tags across steps).

The SDG side asks whether a report engages substantively with the goals most relevant to it, so its
summary score is the mean of its five best-covered goals. The due-diligence side expects all six
steps, so its summary is the mean over the six.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from service.dd_tags import PassageTags, TagRules
from service.frameworks import Framework
from service.records import Coverage, IssueFollowThrough, LabelScores, Passage, Profile

TOP_SDGS = 5
SDG_ENGAGED = (40, 3)  # summary score, goals addressed
DD_ENGAGED = (40, 4)  # summary score, steps addressed
# The steps that follow through on an issue once it is named: prevent or mitigate, and track.
FOLLOW_THROUGH_STEPS = ("3", "4")


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


def issue_follow_through(
    dd_scores: Sequence[LabelScores],
    passages: Sequence[Passage],
    tags: TagRules,
    by_passage: dict[str, PassageTags],
) -> tuple[IssueFollowThrough, ...]:
    """Per salient issue, the due-diligence steps whose passages name it; most evidence first.

    An issue named in steps 1-2 (policy, risk identification) with no passage in step 3 (prevent or
    mitigate) or step 4 (track) is an issue the report does not follow through.
    """
    page_of = {p.id: p.page for p in passages}
    steps: dict[str, Counter[str]] = {}
    pages: dict[str, set[int]] = {}
    for reading in dd_scores:
        for issue in by_passage[reading.passage_id].issues:
            steps.setdefault(issue, Counter()).update(reading.labels)
            if {"1", "2"} & set(reading.labels):
                pages.setdefault(issue, set()).add(page_of[reading.passage_id])
    found = []
    for issue, counts in steps.items():
        if not counts:
            continue
        named = issue in pages
        missing = tuple(s for s in FOLLOW_THROUGH_STEPS if named and not counts[s])
        rule = tags.issue(issue)
        found.append(
            IssueFollowThrough(
                issue,
                rule.name,
                rule.family,
                dict(sorted(counts.items())),
                tuple(sorted(pages.get(issue, ()))),
                missing,
            )
        )
    return tuple(sorted(found, key=lambda f: (-sum(f.steps.values()), f.issue)))


def follow_through_advice(issues: Sequence[IssueFollowThrough], tags: TagRules, limit: int = 3) -> list[str]:
    """One next step per issue that is named but not followed through (specific issues first)."""
    texts = tags.follow_through
    gaps = [i for i in issues if i.missing_steps and i.issue not in tags.families]
    gaps += [i for i in issues if i.missing_steps and i.issue in tags.families]
    advice = []
    for item in gaps[:limit]:
        what = " and no ".join(texts["missing"][s]["en"] for s in item.missing_steps)
        guidance = " ".join(texts["guidance"][s] for s in item.missing_steps)
        pages = ", ".join(str(p) for p in item.pages[:3])
        advice.append(texts["advice"].format(issue=item.name, pages=pages, what=what, guidance=guidance))
    return advice


def value_chain_gap(positions: dict[str, int], tags: TagRules) -> str:
    """Advice when due diligence reaches tier-1 suppliers but never the deeper chain or raw materials."""
    if positions.get("suppliers") and not positions.get("deeper") and not positions.get("raw"):
        return tags.value_chain_advice
    return ""
