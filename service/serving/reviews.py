"""The review loop (issue 25): analysts confirm, reject and attach evidence, decide indicators, set rungs.

A review never changes the stored machine analysis. The reviewed analysis is made from it on every read:
the reviews that are not undone, oldest first, are laid over the machine's indicator decisions and goal
rungs, then step scores, headline scores, profile, regulatory views and advice are recomputed with the
functions the scoring stage uses (service/judging/scoring.py). Nothing is read from the PDF again.

What a review does:
- ``indicator_decision`` (target: an indicator id): its decision and points become the analyst's.
- ``goal_rung`` (target: a goal): its ladder level (0-5) becomes the analyst's, and with it its score.
- ``evidence_reject`` (target: a passage id): the passage is no evidence anywhere. An indicator that
  showed every passage it had (fewer than the rubric keeps) and has none left is not met, as the rubric
  would decide; otherwise the machine's decision stays and the indicator (or goal) is listed as
  ``unsettled`` until an analyst decides it.
- ``evidence_confirm`` (target: a passage id): the passage is confirmed evidence (labelled data).
- ``evidence_attach`` (target: an indicator id or ``sdg-N``): a passage of the report found by search
  becomes evidence; an indicator not met becomes partly met, as the rubric decides for any passage.

Reviews belong to the report's tenant and bytes (sha256), so they still apply after the same PDF is
uploaded or analysed again, and another tenant never sees them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal, get_args

from pydantic import TypeAdapter

from service.errors import BadInput, NotFound
from service.frameworks import load_framework, load_on_the_line, load_profiles
from service.judging.coverage import ADDRESSED_AT
from service.judging.dd_tags import load_tag_rules, passage_tags
from service.judging.gap import dd_summary, profile_margin, recommendations, report_profile
from service.judging.rubric import EVIDENCE_PER_INDICATOR, Rubric, load_rubric, step_scores
from service.judging.sdg_ladder import TOP_LEVEL, Ladder, load_ladder, refers_to_sdgs, sdg_summary
from service.judging.substance import load_substance_rules
from service.judging.views import regulatory_views
from service.records import Decision, Evidence, GapReport, GoalLadder, IndicatorResult, Passage
from service.serving.auth import Tenant
from service.serving.report_table import stored_report
from service.settings import Settings
from service.store import PassageRow, ReportRow, ReviewRow, Store, TenantStore
from service.store.schema import as_utc

if TYPE_CHECKING:
    from service.serving.engine import GapLensService

ReviewKind = Literal[
    "evidence_confirm", "evidence_reject", "indicator_decision", "evidence_attach", "goal_rung"
]
KINDS: tuple[str, ...] = get_args(ReviewKind)
DECISIONS: tuple[str, ...] = get_args(Decision)
EVIDENCE_KINDS = ("evidence_confirm", "evidence_reject")
_EVIDENCE: TypeAdapter[Evidence] = TypeAdapter(Evidence)
# the labels of an exported passage line (the classify contract's two, and what a rejection denied)
LABEL_FIELDS = ("sdgs", "dd_steps", "rejected_sdgs", "rejected_dd_steps")
INDICATOR_FIELDS = ("indicators", "rejected_indicators")


@dataclass(frozen=True)
class ReviewRequest:
    """What an analyst asks for; ``target`` is an indicator id, a goal ("13") or a passage id.

    ``on``: for evidence reviews, what the passage is (or is not) evidence for: an indicator id,
    ``sdg-N`` or ``dd-N`` (the export labels the passage with it). ``passage_id``: the passage to attach.
    """

    kind: ReviewKind
    target: str
    decision: Decision | None = None
    level: int | None = None
    passage_id: str = ""
    on: str = ""
    note: str = ""


@dataclass(frozen=True)
class Change:
    """One review in force, as the reviewed analysis applies it."""

    kind: str
    target: str
    after: dict[str, Any]


@dataclass(frozen=True)
class Rules:
    """What recomputing needs from corpora/: the rubric, the ladder, the step and goal ids, profiles."""

    rubric: Rubric
    ladder: Ladder
    steps: tuple[str, ...]
    goals: tuple[str, ...]
    profiles: dict[str, dict[str, str]]
    settings: Settings

    @classmethod
    def load(cls, settings: Settings) -> Rules:
        corpora = settings.corpora_dir
        goals = load_framework("sdg", corpora).label_ids
        steps = load_framework("oecd_dd", corpora).label_ids
        ladder = load_ladder(corpora, goals)
        return cls(load_rubric(corpora), ladder, steps, goals, load_profiles(corpora), settings)


@dataclass
class Overlay:
    """The reviews in force, gathered by what they change (later reviews of one target win)."""

    decisions: dict[str, Decision] = field(default_factory=dict)
    levels: dict[str, int] = field(default_factory=dict)
    # passage id -> "confirmed" or "rejected"
    status: dict[str, str] = field(default_factory=dict)
    # indicator id or "sdg-N" -> evidence attached to it, in order
    attached: dict[str, list[Evidence]] = field(default_factory=dict)

    @classmethod
    def of(cls, changes: Sequence[Change]) -> Overlay:
        overlay = cls()
        for change in changes:
            after = change.after
            if change.kind == "indicator_decision":
                overlay.decisions[change.target] = after["decision"]
            elif change.kind == "goal_rung":
                overlay.levels[change.target] = int(after["level"])
            elif change.kind in EVIDENCE_KINDS:
                overlay.status[change.target] = after["status"]
            elif change.kind == "evidence_attach":
                overlay.attached.setdefault(change.target, []).append(evidence_from(after["evidence"]))
        return overlay

    def rejected(self, passage_id: str) -> bool:
        return self.status.get(passage_id) == "rejected"


def evidence_from(data: dict[str, Any]) -> Evidence:
    """An attached passage's evidence as a review keeps it (JSON lists become the record's tuples)."""
    return _EVIDENCE.validate_python(data)


def _kept(evidence: Sequence[Evidence], extra: Sequence[Evidence], overlay: Overlay) -> tuple[Evidence, ...]:
    """Evidence less rejected passages, with attached passages after it (each passage once)."""
    seen: set[str] = set()
    kept = []
    for item in (*evidence, *extra):
        if not overlay.rejected(item.passage_id) and item.passage_id not in seen:
            seen.add(item.passage_id)
            kept.append(item)
    return tuple(kept)


def reviewed_indicator(
    result: IndicatorResult, overlay: Overlay, rules: Rules
) -> tuple[IndicatorResult, bool]:
    """The indicator with the reviews laid over it, and whether it is unsettled (see the module doc)."""
    attached = overlay.attached.get(result.id, [])
    evidence = _kept(result.evidence, attached, overlay)
    lost = any(overlay.rejected(e.passage_id) for e in result.evidence)
    decision: Decision = result.decision
    unsettled = False
    if result.id in overlay.decisions:
        decision = overlay.decisions[result.id]
    elif attached and decision == "not_met":
        decision = "partly"
    elif lost and not evidence and len(result.evidence) < EVIDENCE_PER_INDICATOR:
        decision = "not_met"
    elif lost:
        unsettled = True
    if decision == result.decision and evidence == result.evidence:
        return result, unsettled
    # the rubric's advice (an analysis stored before a rubric change may name an indicator it lacks)
    indicator = next((i for i in rules.rubric.indicators if i.id == result.id), None)
    advice = (indicator.advice, indicator.advice_nl) if indicator else (result.advice, result.advice_nl)
    keep_advice = decision != "met"
    reason = result.reason
    if decision != result.decision:
        # the machine's reason explained the machine's decision, not the reviewer's
        said = {"met": "met", "partly": "partly met", "not_met": "not met"}
        reason = f"Set to {said[decision]} in review (GapLens read it as {said[result.decision]})."
    reviewed = replace(
        result,
        decision=decision,
        points=rules.rubric.points[decision],
        evidence=evidence,
        advice=advice[0] if keep_advice else "",
        advice_nl=advice[1] if keep_advice else "",
        reason=reason,
        missing_for_met=result.missing_for_met if decision == result.decision else (),
    )
    return reviewed, unsettled


def reviewed_goal(goal: GoalLadder, overlay: Overlay, rules: Rules) -> tuple[GoalLadder, bool]:
    """The goal's ladder with the reviews laid over it, and whether it is unsettled."""
    ladder = rules.ladder
    evidence = {rung: e for rung, e in goal.evidence.items() if not overlay.rejected(e.passage_id)}
    attached = _kept((), overlay.attached.get(f"sdg-{goal.goal}", []), overlay)
    unsettled = len(evidence) < len(goal.evidence) and goal.goal not in overlay.levels
    level = overlay.levels.get(goal.goal, goal.level)
    if level == goal.level and evidence == goal.evidence and not attached:
        return goal, unsettled
    rung = next((r.id for r in ladder.rungs if r.level == level), "")
    for item in attached:
        evidence.setdefault(rung or "attached", item)
    advice = ladder.next_step.get(rung, {})
    reviewed = replace(
        goal,
        level=level,
        rung=rung,
        score=round(100 * level / TOP_LEVEL),
        engaged=level >= ladder.engaged_from or goal.named,
        evidence=evidence,
        next_step=advice.get("en", ""),
        next_step_nl=advice.get("nl", ""),
    )
    return reviewed, unsettled


@dataclass(frozen=True)
class Reviewed:
    """The reviewed analysis and what a reader must know about it."""

    report: GapReport
    # indicators and goals ("sdg-13") whose evidence was rejected without a decision on them
    unsettled: tuple[str, ...]


def reviewed_report(machine: GapReport, changes: Sequence[Change], rules: Rules, refers: bool) -> Reviewed:
    """The machine's report with ``changes`` laid over it and every score that depends on them recomputed.

    ``refers``: whether the report names the SDGs at all (service.judging.sdg_ladder.refers_to_sdgs), which
    the profile needs and the stored analysis does not keep.
    """
    overlay = Overlay.of(changes)
    if not changes:
        return Reviewed(machine, ())
    unsettled: list[str] = []
    indicators = []
    for result in machine.indicators:
        indicator, open_ = reviewed_indicator(result, overlay, rules)
        indicators.append(indicator)
        unsettled += [indicator.id] if open_ else []
    ladders = []
    for goal in machine.sdg_ladder:
        ladder, open_ = reviewed_goal(goal, overlay, rules)
        ladders.append(ladder)
        unsettled += [f"sdg-{goal.goal}"] if open_ else []
    steps = step_scores(indicators, rules.steps)
    sdg_score, dd_score = sdg_summary(ladders), dd_summary(steps)
    profile = report_profile(sdg_score, ladders, dd_score, steps, refers)
    goal_scores = {g.goal: g.score for g in ladders}
    line_points = load_on_the_line(rules.settings.corpora_dir)["points"]
    machine_advice = recommendations(machine.profile, machine.indicators, rules.profiles)
    tail = machine.recommendations[len(machine_advice) :]
    report = replace(
        machine,
        indicators=tuple(indicators),
        sdg_ladder=tuple(ladders),
        sdg=tuple(_rescored(c, goal_scores[c.label]) for c in machine.sdg),
        due_diligence=tuple(_rescored(c, steps[c.label]) for c in machine.due_diligence),
        sdg_score=sdg_score,
        due_diligence_score=dd_score,
        profile=profile,
        profile_margin=profile_margin(sdg_score, ladders, dd_score, steps, refers, line_points),
        missing_sdgs=tuple(g.goal for g in ladders if not g.engaged),
        missing_steps=tuple(step for step, score in steps.items() if score < ADDRESSED_AT),
        recommendations=recommendations(profile, indicators, rules.profiles) + tail,
        regulatory_views=regulatory_views(indicators, rules.settings.corpora_dir),
    )
    return Reviewed(report, tuple(unsettled))


def _rescored(coverage: Any, score: int) -> Any:
    return replace(coverage, score=score, addressed=score >= ADDRESSED_AT)


def score_summary(report: GapReport) -> dict[str, Any]:
    """Headline scores, profile and the score of every step and goal: what a reviewer compares."""
    return {
        "sdg_score": report.sdg_score,
        "due_diligence_score": report.due_diligence_score,
        "profile": report.profile,
        "steps": {c.label: c.score for c in report.due_diligence},
        "goals": {c.label: c.score for c in report.sdg},
        "indicators": {i.id: i.decision for i in report.indicators},
    }


def reviewer_name(tenant: Tenant) -> str:
    """Who reviewed: the tenant, and which of its keys (local mode has none)."""
    return tenant.name if tenant.key_id is None else f"{tenant.name} (key {tenant.key_id})"


def review_json(row: ReviewRow) -> dict[str, Any]:
    """One kept review as the API and the page show it."""
    return {
        "id": row.id,
        "report_id": row.report_id,
        "kind": row.kind,
        "target": row.target,
        "before": row.before,
        "after": row.after,
        "note": row.note,
        "reviewer": row.reviewer,
        "created_at": as_utc(row.created_at).isoformat(),
        "undone_at": as_utc(row.undone_at).isoformat() if row.undone_at else None,
    }


def in_force(rows: Sequence[ReviewRow]) -> list[Change]:
    """The reviews not undone, oldest first, as changes."""
    return [Change(r.kind, r.target, r.after) for r in rows if r.undone_at is None]


def passage_record(row: PassageRow) -> Passage:
    """A stored passage as the record the rubric's functions read."""
    return Passage(row.passage_key, row.page, row.start, row.end, row.text, row.heading)


class ReviewDesk:
    """Reviews of one service's store: keeps them, lays them over analyses, exports them."""

    def __init__(self, store: Store, settings: Settings) -> None:
        self._store = store
        self.settings = settings
        self.rules = Rules.load(settings)

    @classmethod
    def of(cls, service: GapLensService) -> ReviewDesk:
        """The desk over a running service's store (the API and the pages)."""
        return cls(service.store, service.settings)

    def _of(self, tenant: Tenant) -> TenantStore:
        return self._store.for_tenant(tenant.id)

    def reviews(self, report_id: int, tenant: Tenant) -> list[ReviewRow]:
        """Every review of the tenant's report, undone ones too, oldest first."""
        return self._of(tenant).reviews(report_id)

    def reviewed(self, report_id: int, tenant: Tenant) -> tuple[GapReport, Reviewed, list[ReviewRow]]:
        """The machine analysis, the reviewed one, and the reviews (all of them)."""
        own = self._of(tenant)
        row = own.get_report(report_id)
        machine = stored_report(row)
        rows = own.reviews(report_id)
        changes = in_force(rows)
        named = any(g.named for g in machine.sdg_ladder)
        refers = bool(changes) and (named or self._refers(own, row))
        return machine, reviewed_report(machine, changes, self.rules, refers), rows

    def _refers(self, own: TenantStore, row: ReportRow) -> bool:
        passages = [passage_record(p) for p in own.passages(row.id, 0, None)]
        return refers_to_sdgs(passages, self.rules.ladder)

    def review_block(self, report_id: int, tenant: Tenant) -> dict[str, Any]:
        """Machine and reviewed scores side by side, the reviews in force (who, when) and the kept log."""
        machine, reviewed, rows = self.reviewed(report_id, tenant)
        return {
            "machine": score_summary(machine),
            "reviewed": score_summary(reviewed.report),
            "unsettled": list(reviewed.unsettled),
            "decisions": [review_json(r) for r in rows if r.undone_at is None],
            "reviews": [review_json(r) for r in rows],
            "analysis": reviewed.report.to_dict(),
        }

    def add(self, report_id: int, tenant: Tenant, request: ReviewRequest) -> ReviewRow:
        """Check the request against the report's reviewed analysis, then keep it with before and after."""
        own = self._of(tenant)
        _, reviewed, _ = self.reviewed(report_id, tenant)
        target, before, after = self._change(own, report_id, reviewed.report, request)
        change = (before, after)
        return own.add_review(report_id, request.kind, target, change, request.note, reviewer_name(tenant))

    def undo(self, report_id: int, review_id: int, tenant: Tenant) -> ReviewRow:
        return self._of(tenant).undo_review(report_id, review_id)

    def _change(
        self, own: TenantStore, report_id: int, report: GapReport, request: ReviewRequest
    ) -> tuple[str, dict[str, Any], dict[str, Any]]:
        """(target, before, after) of one request on the reviewed analysis.

        BadInput or NotFound when it names nothing of the report. The target comes back in its one
        spelling ("13", not "sdg-13").
        """
        if request.kind == "indicator_decision":
            result = _indicator(report, request.target)
            if request.decision is None:
                raise BadInput("an indicator decision needs 'decision': met, partly or not_met")
            points = self.rules.rubric.points[request.decision]
            return (
                result.id,
                {"decision": result.decision, "points": result.points},
                {"decision": request.decision, "points": points},
            )
        if request.kind == "goal_rung":
            goal = _goal(report, request.target)
            if request.level is None or not 0 <= request.level <= TOP_LEVEL:
                raise BadInput(f"a goal's rung needs 'level' from 0 to {TOP_LEVEL}")
            return (
                goal.goal,
                {"level": goal.level, "rung": goal.rung, "score": goal.score},
                {"level": request.level, "score": round(100 * request.level / TOP_LEVEL)},
            )
        if request.kind in EVIDENCE_KINDS:
            passage = self._passage(own, report_id, request.target)
            status = "confirmed" if request.kind == "evidence_confirm" else "rejected"
            on = _checked_on(report, request.on) if request.on else ""
            before = {"status": _status_of(own.reviews(report_id), request.target)}
            return passage.passage_key, before, {"status": status, "on": on, "page": passage.page}
        return self._attach(own, report_id, report, request)

    def _attach(
        self, own: TenantStore, report_id: int, report: GapReport, request: ReviewRequest
    ) -> tuple[str, dict[str, Any], dict[str, Any]]:
        on = _checked_on(report, request.target)
        if on.startswith("dd-"):
            raise BadInput("attach a passage to an indicator (e.g. dd2.salient) or a goal (sdg-13)")
        if not request.passage_id:
            raise BadInput("attaching evidence needs 'passage_id': a passage of this report")
        passage = self._passage(own, report_id, request.passage_id)
        shown = _evidence_of(report, on)
        evidence = self._evidence(passage)
        before = {"evidence": [e.passage_id for e in shown]}
        after = {"evidence": json.loads(json.dumps(evidence.__dict__)), "passage_id": passage.passage_key}
        return on, before, after

    def _evidence(self, row: PassageRow) -> Evidence:
        """A stored passage as evidence, with the same tags the scoring stage gives it."""
        corpora = self.settings.corpora_dir
        tags = passage_tags(row.text, load_tag_rules(corpora), load_substance_rules(corpora))
        return Evidence(
            passage_id=row.passage_key,
            page=row.page,
            text=row.text,
            score=0.0,
            heading=row.heading,
            evidence_type=row.evidence_type,
            issues=tags.issues,
            value_chain=tags.value_chain,
            concrete_case=tags.concrete_case,
        )

    def _passage(self, own: TenantStore, report_id: int, passage_id: str) -> PassageRow:
        """The report's passage by its id in the analysis, or by its row id (as search answers it)."""
        for row in own.passages(report_id, 0, None):
            if passage_id in (row.passage_key, str(row.id)):
                return row
        raise NotFound(f"no passage {passage_id!r} in report {report_id}")

    def export_lines(self, tenant: Tenant) -> Iterator[dict[str, Any]]:
        """The tenant's reviews as labelled data: classify-contract lines, then indicator and goal rows."""
        own = self._of(tenant)
        for report, rows in own.reviewed_reports():
            if report.result is None:
                continue
            passages = {p.passage_key: p for p in own.passages(report.id, 0, None)}
            yield from labelled_passages(report, rows, passages)
            yield from decision_rows(report, stored_report(report), rows)


def tenant_review_lines(store: Store, settings: Settings, tenant_name: str) -> list[dict[str, Any]]:
    """A tenant's review export, by the tenant's name (the operator's CLI); NotFound for no such tenant."""
    tenant_id = store.tenant_id(tenant_name)
    return list(ReviewDesk(store, settings).export_lines(Tenant(tenant_id, tenant_name)))


def _indicator(report: GapReport, indicator_id: str) -> IndicatorResult:
    for result in report.indicators:
        if result.id == indicator_id:
            return result
    raise NotFound(f"no indicator {indicator_id!r} (corpora/dd_rubric.yaml names them)")


def _goal(report: GapReport, goal: str) -> GoalLadder:
    for ladder in report.sdg_ladder:
        if ladder.goal == goal.removeprefix("sdg-"):
            return ladder
    raise NotFound(f"no goal {goal!r}: goals are 1 to 17")


def _checked_on(report: GapReport, on: str) -> str:
    """``on`` when it names an indicator, a goal (sdg-N) or a step (dd-N) of the report."""
    if on.startswith("sdg-"):
        return f"sdg-{_goal(report, on).goal}"
    if on.startswith("dd-"):
        if on.removeprefix("dd-") not in {c.label for c in report.due_diligence}:
            raise NotFound(f"no step {on!r}: steps are dd-1 to dd-6")
        return on
    return _indicator(report, on).id


def _evidence_of(report: GapReport, on: str) -> tuple[Evidence, ...]:
    if on.startswith("sdg-"):
        return tuple(_goal(report, on).evidence.values())
    return _indicator(report, on).evidence


def _status_of(rows: Sequence[ReviewRow], passage_id: str) -> str:
    status = "machine"
    for row in rows:
        if row.undone_at is None and row.kind in EVIDENCE_KINDS and row.target == passage_id:
            status = row.after["status"]
    return status


def _known_labels(on: str, report: GapReport) -> tuple[str, str] | None:
    """(framework, label) that an ``on`` names: an indicator counts for its step.

    None for an indicator the rubric no longer has (a review outlives a rubric change).
    """
    if on.startswith("sdg-"):
        return "sdgs", on.removeprefix("sdg-")
    if on.startswith("dd-"):
        return "dd_steps", on.removeprefix("dd-")
    found = [i.step for i in report.indicators if i.id == on]
    return ("dd_steps", found[0]) if found else None


def labelled_passages(
    report: ReportRow, rows: Sequence[ReviewRow], passages: dict[str, PassageRow]
) -> Iterator[dict[str, Any]]:
    """Confirmed, attached and rejected passages as classify-contract lines (``id``, ``text``, labels).

    ``sdgs`` and ``dd_steps`` are the labels the analyst confirmed or attached; with no ``on``, a
    confirmation confirms the machine's own labels. ``rejected_sdgs`` / ``rejected_dd_steps`` name what a
    rejection said the passage is not.
    """
    machine = stored_report(report)
    labels: dict[str, dict[str, set[str]]] = {}
    who: dict[str, ReviewRow] = {}
    for row in rows:
        if row.undone_at is not None or row.kind not in (*EVIDENCE_KINDS, "evidence_attach"):
            continue
        attach = row.kind == "evidence_attach"
        passage_id = row.after["passage_id"] if attach else row.target
        if passage_id not in passages:
            continue
        entry = labels.setdefault(passage_id, {k: set() for k in (*LABEL_FIELDS, *INDICATOR_FIELDS)})
        on = row.target if attach else row.after.get("on", "")
        rejected = row.after.get("status") == "rejected"
        if on:
            known = _known_labels(on, machine)
            if known is None:
                continue
            framework, label = known
            entry[f"rejected_{framework}" if rejected else framework].add(label)
            if not on.startswith(("sdg-", "dd-")):
                entry["rejected_indicators" if rejected else "indicators"].add(on)
        elif not rejected:
            stored = passages[passage_id]
            entry["sdgs"] |= set(stored.sdg.get("labels", []))
            entry["dd_steps"] |= set(stored.dd.get("labels", []))
        who[passage_id] = row
    for passage_id, entry in labels.items():
        passage, row = passages[passage_id], who[passage_id]
        yield passage_line(
            f"{report.sha256[:12]}-{passage_id}",
            passage,
            entry,
            (report.sha256, report.language),
            row.reviewer,
            as_utc(row.created_at).isoformat(),
        )


def passage_line(
    line_id: str,
    passage: PassageRow | Passage,
    entry: dict[str, set[str]],
    report: tuple[str, str],
    reviewer: str,
    reviewed_at: str,
) -> dict[str, Any]:
    """One reviewed passage as the export writes it: classify-contract labels, then the indicators.

    ``entry`` holds the label sets of ``LABEL_FIELDS`` (goal and step numbers) and ``INDICATOR_FIELDS``
    (the indicator ids the analyst confirmed or attached the passage for, and rejected it for): a step
    alone loses which of the step's indicators the analyst judged, which the sub-element readers learn from
    (classifiers/training/part_training.py: ``review_examples``). ``report`` is the report's (sha256,
    language). eval/review_effect.py writes its simulated reviews with this function.
    """
    sha256, language = report
    return {
        "type": "passage",
        "id": line_id,
        "text": passage.text,
        **{k: sorted((int(v) for v in entry.get(k, ())), key=int) for k in LABEL_FIELDS},
        **{k: sorted(entry.get(k, ())) for k in INDICATOR_FIELDS},
        "report_sha256": sha256,
        "language": language,
        "heading": passage.heading,
        "page": passage.page,
        "reviewer": reviewer,
        "reviewed_at": reviewed_at,
    }


def decision_rows(
    report: ReportRow, machine: GapReport, rows: Sequence[ReviewRow]
) -> Iterator[dict[str, Any]]:
    """The analyst's indicator decisions and goal rungs in force, beside the machine's, one row each."""
    latest: dict[tuple[str, str], ReviewRow] = {}
    for row in rows:
        if row.undone_at is None and row.kind in ("indicator_decision", "goal_rung"):
            latest[(row.kind, row.target)] = row
    indicators = {i.id: i for i in machine.indicators}
    goals = {g.goal: g for g in machine.sdg_ladder}
    for (kind, target), row in latest.items():
        if target not in (indicators if kind == "indicator_decision" else goals):
            continue  # the rubric no longer has it
        common = {
            "report_sha256": report.sha256,
            "company": report.company,
            "year": report.year,
            "note": row.note,
            "reviewer": row.reviewer,
            "reviewed_at": as_utc(row.created_at).isoformat(),
        }
        if kind == "indicator_decision":
            result = indicators[target]
            yield {
                "type": "indicator",
                "indicator": target,
                "step": result.step,
                "machine_decision": result.decision,
                "decision": row.after["decision"],
                "evidence": [e.passage_id for e in result.evidence],
                **common,
            }
        else:
            goal = goals[target]
            yield {
                "type": "goal_rung",
                "goal": goal.goal,
                "machine_level": goal.level,
                "level": row.after["level"],
                **common,
            }
