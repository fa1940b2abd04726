"""Step labels: build the step units, record step votes, mark gold traces.

**Build** (``step_units_build_report``, idempotent): one unit per DONE candidate — a candidate set
of one (``CandidateSet.candidate``) with its ``StepTrace``, the candidate's answer (or reasoning,
``campaign.step_source``) split by the campaign's rule once, here (annotate/protocols/steps.py).
Self-identifying candidates are left out under the "hide" policy (their reasoning too, when the
reasoning is what raters read), and so are a prompt's twins, empty texts and traces of more than
``MAX_STEPS`` steps. A campaign pattern that is too slow on the responses fails the build with a
CampaignError and builds nothing.

**Lease**: the ranking protocol's (services/sets.py ``set_assignment_next`` and its skip, renew,
release and sweep): overlap k, expiry, the gold share, never twice to a rater.

**Vote** (``step_vote_record``): the labels are checked against the trace
(``step_labels_clean``), then the lease is closed and the vote written in one transaction
(``set_lease_close``: the guarded UPDATE of every set protocol, which counts the vote too). A second
submit on the same lease returns the stored vote; votes are never updated.
"""

from __future__ import annotations

import random
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from annotate.markdown import render_markdown
from annotate.models import (
    Campaign,
    Candidate,
    CandidateSet,
    CandidateSetMember,
    SetAssignment,
    StepTrace,
    StepVote,
    User,
)
from annotate.models.sets import counted_votes
from annotate.protocols.steps import (
    MAX_STEP_NOTE,
    MAX_STEPS,
    LabelsInvalid,
    SplitError,
    step_gold_correct,
    step_labels_clean,
    steps_split_many,
)
from annotate.selfid import self_identifies
from annotate.services.campaign_stats import stats_vote_arrived_on_commit
from annotate.services.judgments import VoteRefused
from annotate.services.pairing import BuildReport, candidates_scan, normalised_text
from annotate.services.sets import (
    _refusal,
    set_gold_pause,
    set_lease_close,
    set_vote_revise,
)
from annotate.sql import set_leases
from annotate.validation import text_check

Status = SetAssignment.Status


def _text_of(candidate: Candidate, source: str) -> str:
    return candidate.reasoning if source == Campaign.StepSource.REASONING else candidate.text


def step_units_build_report(*, campaign: Campaign) -> BuildReport:
    """Create the missing step units (one per eligible candidate). Builds of a campaign run one
    at a time (the campaign row is locked)."""
    from annotate.services.campaigns import CampaignError

    with transaction.atomic():
        Campaign.objects.select_for_update().filter(pk=campaign.pk).values_list("pk").first()
        report = BuildReport(strategy="steps")
        report.flagged, report.duplicates = candidates_scan(campaign=campaign)
        eligible = Candidate.objects.filter(
            prompt__campaign=campaign, status=Candidate.Status.DONE
        ).order_by("prompt_id", "id")
        hide = campaign.self_id_policy == Campaign.SelfIdPolicy.HIDE
        if hide:
            eligible = eligible.exclude(self_identifies=True)
        have = set(
            CandidateSet.objects.filter(campaign=campaign, candidate__isnull=False).values_list(
                "candidate_id", flat=True
            )
        )
        source = campaign.step_source
        picked: list[Candidate] = []
        seen: set[tuple[int, str]] = set()
        empty = named = 0
        for candidate in eligible.only("id", "prompt_id", "text", "reasoning"):
            text = _text_of(candidate, source) or ""
            if not text.strip():
                empty += 1
                continue
            if hide and source == Campaign.StepSource.REASONING and self_identifies(text):
                named += 1
                continue
            key = (candidate.prompt_id, normalised_text(text))
            if key in seen:
                continue
            seen.add(key)
            report.eligible += 1
            if candidate.pk not in have:
                picked.append(candidate)
        try:
            splits = steps_split_many(
                [_text_of(c, source) for c in picked],
                rule=campaign.step_split,
                pattern=campaign.step_pattern,
            )
        except SplitError as exc:
            # The campaign's settings, as they stand, cannot build: a conflict to resolve (409).
            raise CampaignError(str(exc)) from None
        long = 0
        units, traces = [], []
        for candidate, steps in zip(picked, splits, strict=True):
            if not steps:
                empty += 1
                continue
            if len(steps) > MAX_STEPS:
                long += 1
                continue
            units.append(
                CandidateSet(
                    campaign=campaign,
                    prompt_id=candidate.prompt_id,
                    candidate=candidate,
                    needed=campaign.overlap,
                    random_key=random.random(),
                )
            )
            traces.append((candidate, steps))
        CandidateSet.objects.bulk_create(units, batch_size=500)
        CandidateSetMember.objects.bulk_create(
            (
                CandidateSetMember(candidate_set=u, candidate_id=u.candidate_id, slot=0)
                for u in units
            ),
            batch_size=500,
        )
        StepTrace.objects.bulk_create(
            (
                StepTrace(
                    candidate_set=unit,
                    candidate=candidate,
                    source=source,
                    split=campaign.step_split,
                    steps=steps,
                    steps_html=[render_markdown(step) for step in steps],
                )
                for unit, (candidate, steps) in zip(units, traces, strict=True)
            ),
            batch_size=500,
        )
        report.created = len(units)
        if empty:
            report.notes.append(f"{empty} responses have no text to split and were left out.")
        if named:
            report.notes.append(f"{named} reasoning traces name a model and were left out.")
        if long:
            report.notes.append(
                f"{long} responses have more than {MAX_STEPS} steps and were left out."
            )
    return report


# --- vote -----------------------------------------------------------------------------------------


def _step_refusal(refused: VoteRefused) -> VoteRefused:
    """The set lease's refusal (services/sets.py), in the words of step labels."""
    not_recorded = gettext("Your step labels were not recorded.")
    words = {
        "missing": gettext("There is no such trace to label."),
        "foreign": gettext("This trace was not assigned to you."),
        "other_campaign": gettext("This trace belongs to another of your campaigns."),
        "skipped": gettext("You skipped this trace."),
        "released": gettext("An admin released this trace from you."),
    }
    if refused.code == "expired":
        return VoteRefused(
            gettext(
                "Your time on this trace ran out, so it went back to the pool. Your step labels "
                "were not recorded; here is the next trace."
            ),
            code="expired",
        )
    message = words.get(refused.code)
    return VoteRefused(message + " " + not_recorded, code=refused.code) if message else refused


def step_notes_check(notes: object) -> object:
    """Each note's text rules (the same as every text from a person); shapes are the service's."""
    if not isinstance(notes, list):
        return notes
    for i, note in enumerate(notes):
        if isinstance(note, str):
            try:
                text_check(
                    note,
                    field=gettext("The note on step %(n)s") % {"n": i + 1},
                    max_length=MAX_STEP_NOTE,
                )
            except ValidationError as exc:
                raise VoteRefused(exc.messages[0], code="notes") from None
    return notes


def step_vote_record(
    *,
    lease: SetAssignment | int,
    rater: User,
    campaign: Campaign,
    labels: object,
    notes: object = None,
    now: datetime | None = None,
    revises: StepVote | None = None,
) -> StepVote:
    """Store the rater's labels of their leased trace. ``labels``: one of 1, 0, -1 per step (None
    for steps after the first wrong one where the campaign ends the trace there); ``notes``: one
    string per step ("" for none), or None.

    Refuses (VoteRefused) a lease that is not the rater's, not active or expired, and labels that
    do not fit the trace. A second submit on a lease already voted returns that vote (``replayed``).
    With ``revises`` (the rater's first vote on the trace, checked by services/set_corrections.py)
    the labels correct it: the same rules, a new row (services/sets.py ``set_vote_revise``).
    """
    now = now or timezone.now()
    step_notes_check(notes)
    if revises is not None:
        return set_vote_revise(
            revises=revises,
            rater=rater,
            campaign=campaign,
            clean=lambda row: _labels_clean(row, campaign=campaign, labels=labels, notes=notes),
            write=lambda row, cleaned: StepVote.objects.create(
                campaign=campaign,
                candidate_set_id=row.candidate_set_id,
                rater=rater,
                labels=cleaned[0],
                notes=cleaned[1],
                revises=revises,
                created_at=now,
            ),
        )
    lease_id = lease if isinstance(lease, int) else lease.pk
    row = set_leases.for_vote(lease_id=lease_id)
    if row is not None and row.status == Status.DONE and row.rater_id == rater.pk:
        replayed = _replayed(lease_id, rater)
        if replayed is not None:
            return replayed
    refused = _refusal(row, rater=rater, campaign=campaign, now=now)
    if refused is None and row.status != Status.ACTIVE:
        refused = VoteRefused(gettext("You already labelled this trace."), code="done")
    if refused is None and not hasattr(row.candidate_set, "trace"):
        refused = VoteRefused(gettext("There is no such trace to label."), code="missing")
    if refused is not None:
        raise _step_refusal(refused)
    trace = row.candidate_set.trace
    cleaned, kept = _labels_clean(row, campaign=campaign, labels=labels, notes=notes)
    # savepoint=False: inside the page's transaction (vote + next claim, one commit).
    with transaction.atomic(savepoint=False):
        closed = set_lease_close(lease_id=lease_id, rater=rater, campaign=campaign, now=now)
        if closed:
            vote = StepVote.objects.create(
                campaign=campaign,
                candidate_set_id=row.candidate_set_id,
                lease_id=lease_id,
                rater=rater,
                labels=cleaned,
                notes=kept,
                time_on_task_ms=max(0, int((now - row.created_at).total_seconds() * 1000)),
                created_at=now,
            )
            stats_vote_arrived_on_commit(campaign_id=campaign.pk)
            if trace.gold_labels:
                step_gold_check(campaign=campaign, rater=rater)
    if not closed:  # changed since it was read: a twin submit won, or the lease ended
        replayed = _replayed(lease_id, rater)
        if replayed is not None:
            return replayed
        fresh = SetAssignment.objects.filter(pk=lease_id).first()
        refused = _refusal(fresh, rater=rater, campaign=campaign, now=now)
        raise (
            _step_refusal(refused)
            if refused
            else VoteRefused(
                gettext("This trace changed while your labels were being saved; please try again."),
                code="retry",
            )
        )
    vote.replayed = False
    return vote


def _labels_clean(row: SetAssignment, *, campaign: Campaign, labels, notes) -> tuple[list, list]:
    try:
        return step_labels_clean(
            labels,
            n=len(row.candidate_set.trace.steps),
            stop_at_wrong=campaign.step_stop_at_wrong,
            notes=notes,
        )
    except LabelsInvalid as exc:
        raise VoteRefused(str(exc), code="labels") from None


def _replayed(lease_id: int, rater: User) -> StepVote | None:
    vote = StepVote.objects.filter(lease_id=lease_id, rater=rater).first()
    if vote is not None:
        vote.replayed = True
    return vote


# --- gold -----------------------------------------------------------------------------------------


def step_gold_accuracy(*, campaign: Campaign) -> dict[int, tuple[int, int]]:
    """{rater id: (correct, answered)} over the campaign's gold traces (``step_gold_correct``)."""
    out: dict[int, list[int]] = {}
    votes = counted_votes(
        StepVote.objects.filter(campaign=campaign, source=StepVote.Source.HUMAN)
    ).exclude(candidate_set__trace__gold_labels=[])
    for rater_id, labels, gold in votes.values_list(
        "rater_id", "labels", "candidate_set__trace__gold_labels"
    ):
        tally = out.setdefault(rater_id, [0, 0])
        tally[0] += step_gold_correct(labels, gold)
        tally[1] += 1
    return {r: (c, n) for r, (c, n) in out.items()}


def step_gold_check(*, campaign: Campaign, rater: User) -> None:
    if campaign.gold_min_accuracy <= 0:
        return
    correct, answered = step_gold_accuracy(campaign=campaign).get(rater.pk, (0, 0))
    set_gold_pause(campaign=campaign, rater=rater, correct=correct, answered=answered)


def step_gold_mark(*, candidate_set: CandidateSet, labels: object) -> StepTrace:
    """Mark a trace gold with its known labels (the vote's rules); [] or None unmarks it."""
    trace = candidate_set.trace
    if labels in (None, []):
        trace.gold_labels, candidate_set.gold_ranking = [], []
    else:
        try:
            trace.gold_labels, _ = step_labels_clean(
                labels,
                n=len(trace.steps),
                stop_at_wrong=candidate_set.campaign.step_stop_at_wrong,
            )
        except LabelsInvalid as exc:
            raise VoteRefused(str(exc), code="labels") from None
        # The lease's gold pool reads gold_ranking: a set of one ranks its one member.
        candidate_set.gold_ranking = [[candidate_set.candidate_id]]
    with transaction.atomic():
        candidate_set.full_clean()
        candidate_set.save(update_fields=["gold_ranking"])
        trace.save(update_fields=["gold_labels"])
    return trace
