"""Gap analysis: rubric scores on both sides -> profile, missing pieces and next steps.

The due-diligence score is the mean of the six step scores (each its rubric indicator points: all six
steps are expected). The SDG score is the mean ladder score of the goals the report engages with
(service/judging/sdg_ladder.py). Besides the rubric, the due-diligence side asks whether the salient issues a
report names are followed through (service/judging/dd_tags.py tags the passages; this module reads the tags
across steps).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from service.judging.coverage import ADDRESSED_AT
from service.judging.dd_tags import PassageTags, TagRules
from service.records import (
    GoalLadder,
    IndicatorResult,
    IssueFollowThrough,
    LabelScores,
    Passage,
    Profile,
    ProfileMargin,
)

# SDG side engaged: SDG score, and goals with at least a target or KPI (ladder level 3).
SDG_ENGAGED = (50, 2)
SDG_DEEP_LEVEL = 3
# Due-diligence side engaged: due-diligence score, and steps with a score of at least ADDRESSED_AT.
DD_ENGAGED = (40, 4)
# The steps that follow through on an issue once it is named: prevent or mitigate, and track.
FOLLOW_THROUGH_STEPS = ("3", "4")


def dd_summary(step_scores: dict[str, int]) -> int:
    """Mean score over all due-diligence steps."""
    return round(sum(step_scores.values()) / len(step_scores)) if step_scores else 0


def report_profile(
    sdg_score: int,
    ladders: Sequence[GoalLadder],
    dd_score: int,
    step_scores: dict[str, int],
    refers_to_sdgs: bool = True,
) -> Profile:
    """Which of the four profiles the report shows.

    The SDG side needs the report to refer to the SDGs: a report that never names them claims no goal,
    however much it says on their themes.
    """
    deep_goals = sum(g.level >= SDG_DEEP_LEVEL for g in ladders)
    on_sdg = refers_to_sdgs and sdg_score >= SDG_ENGAGED[0] and deep_goals >= SDG_ENGAGED[1]
    steps = sum(score >= ADDRESSED_AT for score in step_scores.values())
    on_dd = dd_score >= DD_ENGAGED[0] and steps >= DD_ENGAGED[1]
    if on_sdg and on_dd:
        return "integrated"
    if on_dd:
        return "due-diligence-only"
    return "sdg-only" if on_sdg else "neither"


def profile_margin(
    sdg_score: int,
    ladders: Sequence[GoalLadder],
    dd_score: int,
    step_scores: dict[str, int],
    refers_to_sdgs: bool,
    margin: int,
) -> ProfileMargin:
    """The score threshold nearest to changing the profile, and whether the score is within ``margin`` of it.

    Each headline score is moved just across its threshold (to threshold - 1 from above, to the threshold
    from below), the rest kept; a crossing that changes the profile comes before one that does not, the
    nearer before the farther. A report on the line reads as its profile by a point or two only.
    """
    profile = report_profile(sdg_score, ladders, dd_score, step_scores, refers_to_sdgs)
    options = []
    for boundary, score, threshold in (
        ("sdg_score", sdg_score, SDG_ENGAGED[0]),
        ("due_diligence_score", dd_score, DD_ENGAGED[0]),
    ):
        crossed = threshold - 1 if score >= threshold else threshold
        moved = (crossed, dd_score) if boundary == "sdg_score" else (sdg_score, crossed)
        would_be = report_profile(moved[0], ladders, moved[1], step_scores, refers_to_sdgs)
        points = abs(score - crossed)
        options.append((would_be == profile, points, boundary, threshold, score, would_be, crossed))
    same, points, boundary, threshold, score, would_be, crossed = min(options, key=lambda o: o[:2])
    return ProfileMargin(
        boundary=boundary,
        threshold=threshold,
        score=score,
        points_from_boundary=points,
        on_the_line=not same and points <= margin,
        would_be=would_be,
        crossed=crossed,
        margin=margin,
    )


def recommendations(
    profile: Profile,
    indicators: Sequence[IndicatorResult],
    profiles: dict[str, dict[str, str]],
) -> tuple[str, ...]:
    """The profile's next step, then the advice of every indicator not met, earliest step first.

    Indicators not met at all come before those partly met, so the first lines name what is missing.
    """
    advice = [profiles[profile]["next_step"].strip()]
    for decision in ("not_met", "partly"):
        for result in indicators:
            if result.decision == decision and result.advice:
                advice.append(f"Step {result.step} ({result.name}): {result.advice}")
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
