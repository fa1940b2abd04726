"""The rating workbench: one page, one request per vote.

GET shows the rater's current pair (a reload returns the same lease). A vote POST records the vote,
closes the lease, claims the next pair and returns its fragment in the same response; htmx swaps it
in. Choices arrive in *shown* terms (left/right; the scale's verdicts and keys are in
views/scale_keys.py) and the service maps them to the pair's canonical a/b with the lease's
``left_is_a`` (annotate/sides.py). Raters never see model names, generators, gold answers or others'
votes: the templates only get sanitised prompt/response HTML.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from functools import lru_cache

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import get_script_prefix, reverse
from django.utils import timezone
from django.utils.translation import gettext, gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from annotate.access import campaign_for_rater
from annotate.models import Assignment, Campaign, Judgment, PairFlag
from annotate.protocols import protocol_for
from annotate.selectors.rating import rater_history, rater_progress, rater_vote_count
from annotate.services.assignment import (
    AssignmentError,
    assignment_next,
    assignment_renew,
    assignment_skip,
    rater_enrollment,
)
from annotate.services.corrections import judgment_correct, judgment_undoable, undo_seconds
from annotate.services.judgments import VoteRefused, judgment_record, pair_flag, required_read_ms
from annotate.sides import left_and_right, to_shown
from annotate.validation import MAX_NOTE, MAX_REASON, id_parse, text_check
from annotate.views.crowd_hooks import (
    crowd_after_vote,
    crowd_beat,
    crowd_context,
    crowd_gate,
    crowd_out_of_work,
)
from annotate.views.rate_support import diff_html, parse_vote
from annotate.views.scale_keys import (
    ACTIONS,
    AspectKey,
    aspect_keys,
    key_map,
    scale_verdicts,
    shown_verdict,
    side_hint,
    vote_label,
)

TEMPLATE = "annotate/rate.html"
_NOTHING_KEPT = {"verdict": "", "rationale": "", "rewrite": "", "aspects": {}}


@lru_cache(maxsize=1024)
def _rate_urls(slug: str, script_prefix: str) -> dict[str, str]:
    """The workbench's own URLs, reversed once per campaign (and script prefix), not on each vote."""
    names = {
        "rate": "annotate:rate",
        "vote": "annotate:rate-vote",
        "skip": "annotate:rate-skip",
        "flag": "annotate:rate-flag",
        "heartbeat": "annotate:rate-heartbeat",
        "undo": "annotate:rate-undo",
    }
    return {key: reverse(name, args=[slug]) for key, name in names.items()}


# What rate.js says to the rater, in the page's language (handed over with json_script: no
# JavaScript catalog to fetch, nothing inline for the CSP to allow). "{s}" is a number of seconds.
JS_STRINGS = {
    "keepReading": gettext_lazy("Keep reading… {s} s"),
    "chooseResponse": gettext_lazy("Choose a response"),
    "readFirst": gettext_lazy("Please read both responses first."),
    "chooseFirst": gettext_lazy("Choose which response is better first."),
    "leaseGone": gettext_lazy("Your time on this pair ran out; press Enter for a new pair."),
    "tooLate": gettext_lazy("This can no longer be done."),
    "serverError": gettext_lazy("The server could not take this vote; please try again."),
    "offline": gettext_lazy("No connection; your vote was not sent. Try again."),
}


def _workbench_context(
    request: HttpRequest,
    *,
    campaign: Campaign,
    assignment: Assignment | None,
    error: str = "",
    notice: str = "",
    kept: dict | None = None,
    my_votes: int | None = None,
    undo_ms: int = 0,
) -> dict:
    ctx: dict = {
        "campaign": campaign,
        "urls": _rate_urls(campaign.slug, get_script_prefix()),
        # Only the "no pair" state needs the enrollment (to say why); the hot path skips it.
        "enrollment": (
            rater_enrollment(campaign=campaign, rater=request.user) if assignment is None else None
        ),
        "assignment": assignment,
        "error": error,
        "notice": notice,
        # Every key present: a missing one makes the template engine take its slow failure path.
        "kept": {**_NOTHING_KEPT, **(kept or {})},
        "aspect_rows": _aspect_rows(campaign, (kept or {}).get("aspects", {})),
        "side_hint": side_hint(campaign) if campaign.aspects else "",
        "verdicts": scale_verdicts(campaign),
        "key_map": key_map(campaign),
        "actions": ACTIONS,
        "reveal": None,
        "suggestion": None,
        "left_reasoning": "",
        "right_reasoning": "",
        "flag_reasons": PairFlag.Reason.choices,
        "js_strings": JS_STRINGS,
        "undo_ms": undo_ms,
        "correcting": None,
        "form_url": "",
        # A crowd participant's session quota ("12 of 40"); None for every other rater.
        **crowd_context(request),
        "my_votes": (
            my_votes
            if my_votes is not None
            else rater_vote_count(campaign=campaign, rater=request.user)
        ),
    }
    if assignment is not None:
        pair = assignment.pair
        left, right = left_and_right(
            pair.candidate_a, pair.candidate_b, left_is_a=assignment.left_is_a
        )
        needed_ms = required_read_ms(campaign=campaign, length=assignment.read_length)
        # The server measures time on task from when the lease was served; so does the lock.
        elapsed = int((timezone.now() - assignment.created_at).total_seconds() * 1000)
        if campaign.judge_mode == Campaign.JudgeMode.BEFORE_VOTE:
            from annotate.views.judge import suggestion_context

            ctx["suggestion"] = suggestion_context(
                pair_id=pair.pk, left_is_a=assignment.left_is_a, campaign=campaign
            )
        ctx.update(
            pair=pair,
            prompt=pair.prompt,
            left_html=left.html,
            right_html=right.html,
            # "Start from A/B" copies the response as written (markdown), not as rendered.
            left_text=left.text if campaign.allow_rewrite else "",
            right_text=right.text if campaign.allow_rewrite else "",
            unlock_ms=max(0, needed_ms - elapsed),
            **_reasoning_context(campaign, left.pk, right.pk),
            idempotency_key=uuid.uuid4().hex,
            lease_seconds=campaign.lease_seconds,
        )
    return ctx


def _reasoning_context(campaign: Campaign, left_id: int, right_id: int) -> dict:
    """The two responses' reasoning traces (sanitised HTML), when the campaign lets raters open
    them; one small query, and none for campaigns that do not."""
    if not campaign.reasoning_for_raters:
        return {}
    from annotate.selectors.ttc import candidate_reasoning

    traces = candidate_reasoning(candidate_ids=[left_id, right_id])
    return {"left_reasoning": traces.get(left_id, ""), "right_reasoning": traces.get(right_id, "")}


def _aspect_rows(campaign: Campaign, chosen: dict) -> list[AspectKey]:
    return [replace(a, value=chosen.get(a.name, "")) for a in aspect_keys(campaign)]


def _render_workbench(request: HttpRequest, ctx: dict, status: int = 200) -> HttpResponse:
    name = TEMPLATE + "#workbench" if request.htmx else TEMPLATE
    return render(request, name, ctx, status=status)


def _undo_ms(campaign: Campaign, rater, *, first=None) -> int:
    """Milliseconds left to undo the rater's last vote (0: none to undo), for the Undo button."""
    if first is None:
        try:
            first, _ = judgment_undoable(campaign=campaign, rater=rater)
        except VoteRefused:
            return 0
    left = undo_seconds() - (timezone.now() - first.created_at).total_seconds()
    return max(0, int(left * 1000))


@login_required
@require_GET
def rate(request: HttpRequest, slug: str) -> HttpResponse:
    campaign = campaign_for_rater(request.user, slug)
    if campaign.protocol != Campaign.Protocol.PAIRWISE:
        return redirect(protocol_for(campaign).rate_url, slug=slug)
    participant, elsewhere = crowd_gate(request, campaign)
    if elsewhere is not None:
        return elsewhere
    assignment = assignment_next(campaign=campaign, rater=request.user)
    if assignment is None and participant is not None:
        left = crowd_out_of_work(request, campaign, participant)
        if left is not None:
            return left
    ctx = _workbench_context(
        request,
        campaign=campaign,
        assignment=assignment,
        undo_ms=_undo_ms(campaign, request.user),
    )
    ctx["show_guidelines"] = ctx["my_votes"] == 0 and bool(campaign.guidelines_html)
    ctx["bench_timings"] = settings.BENCH_HOOKS
    return _render_workbench(request, ctx)


def _after_action(
    request: HttpRequest,
    *,
    campaign: Campaign,
    error: str = "",
    notice: str = "",
    kept: dict | None = None,
    assignment: Assignment | None = None,
) -> HttpResponse:
    """Answer a POST: htmx gets the next (or same) pair's fragment; plain forms are redirected."""
    if not request.htmx:
        if error:
            messages.error(request, error)
        elif notice:
            messages.info(request, notice)
        return redirect("annotate:rate", slug=campaign.slug)
    if assignment is None:
        assignment = assignment_next(campaign=campaign, rater=request.user)
    if assignment is None:
        left = crowd_out_of_work(request, campaign)
        if left is not None:
            return left
    if kept and (assignment is None or assignment.pk != kept.get("assignment_id")):
        kept = None  # the form belonged to another lease; nothing to restore
    ctx = _workbench_context(
        request,
        campaign=campaign,
        assignment=assignment,
        error=error,
        notice=notice,
        kept=kept,
    )
    return _render_workbench(request, ctx)


@login_required
@require_POST
def rate_vote(request: HttpRequest, slug: str) -> HttpResponse:
    campaign = campaign_for_rater(request.user, slug)
    vote = parse_vote(request.POST, campaign=campaign)
    if vote.error:
        return _after_action(request, campaign=campaign, error=vote.error, kept=vote.kept)
    try:
        # One transaction for the vote and the next claim (one commit); render after it.
        with transaction.atomic():
            judgment = judgment_record(
                assignment=vote.assignment_id,
                rater=request.user,
                campaign=campaign,
                choice=vote.choice,
                strength=vote.strength,
                aspects=vote.aspects,
                rationale=vote.rationale,
                rewrite=vote.rewrite,
                idempotency_key=vote.key,
                in_shown_terms=True,
                judge_shown=_judge_shown(campaign, vote.assignment_id),
            )
            # The vote closed the rater's only lease, so skip the live-lease lookup.
            nxt = assignment_next(campaign=campaign, rater=request.user, after_vote=True)
    except VoteRefused as refused:
        return _after_action(request, campaign=campaign, error=refused.messages[0], kept=vote.kept)
    # A crowd participant's session may end here: quota reached, attention failed, no pair left.
    left = crowd_after_vote(
        request,
        campaign,
        votes=getattr(judgment, "rater_votes", None),
        out_of_work=nxt is None,
    )
    if left is not None:
        return left
    if not request.htmx:
        return redirect("annotate:rate", slug=campaign.slug)
    ctx = _workbench_context(
        request,
        campaign=campaign,
        assignment=nxt,
        my_votes=getattr(judgment, "rater_votes", None),  # None on a replayed submit
        undo_ms=_undo_ms(campaign, request.user, first=judgment),
    )
    if campaign.judge_mode == Campaign.JudgeMode.AFTER_VOTE:
        # Blind first, then reveal: the judge's verdict on the pair just rated (and keep/revise).
        from annotate.views.judge import reveal_context

        ctx["reveal"] = reveal_context(judgment=judgment)
    return _render_workbench(request, ctx)


# --- undo the last vote (annotate/services/corrections.py) ---------------------------------------


def _refused(request: HttpRequest, campaign: Campaign, message: str, status: int) -> HttpResponse:
    """An undo or correction refused: htmx gets the message alone (rate.js shows it and leaves the
    page as it is), a plain form the page again with the message."""
    if request.htmx:
        return HttpResponse(message, status=status, content_type="text/plain")
    ctx = _workbench_context(
        request,
        campaign=campaign,
        assignment=assignment_next(campaign=campaign, rater=request.user),
        error=message,
    )
    return render(request, TEMPLATE, ctx, status=status)


def _kept_from(vote: Judgment, campaign: Campaign) -> dict:
    """A stored vote as the form it came from (shown terms), to fill the vote bar in again."""
    left_is_a = vote.left_is_a is not False
    verdict = shown_verdict(
        choice=vote.choice, strength=vote.strength, left_is_a=left_is_a, campaign=campaign
    )
    return {
        "assignment_id": vote.assignment_id,
        "verdict": verdict.value if verdict else "",
        "aspects": {k: to_shown(v, left_is_a=left_is_a) for k, v in (vote.aspects or {}).items()},
        "rationale": vote.rationale,
        "rewrite": vote.rewrite,
    }


def _correction(
    request: HttpRequest,
    *,
    campaign: Campaign,
    first: Judgment,
    kept: dict,
    error: str = "",
    status: int = 200,
) -> HttpResponse:
    """The pair of the rater's last vote again, the vote filled in, its form sending a correction.
    The rater's current lease waits (a correction neither closes nor claims one)."""
    lease = first.assignment
    lease.read_length = 0  # the pair was read before the vote: no reading lock on a correction
    ctx = _workbench_context(request, campaign=campaign, assignment=lease, error=error, kept=kept)
    ctx.update(
        correcting=first,
        unlock_ms=0,
        form_url=reverse("annotate:rate-correct", args=[campaign.slug, first.pk]),
    )
    return _render_workbench(request, ctx, status=status)


@login_required
@require_POST
def rate_undo(request: HttpRequest, slug: str) -> HttpResponse:
    """Take back the rater's own last vote, within RATE_UNDO_SECONDS: its pair comes back with the
    vote filled in. After the window (or with no vote to undo): 409 and why."""
    campaign = campaign_for_rater(request.user, slug)
    try:
        first, last = judgment_undoable(campaign=campaign, rater=request.user)
    except VoteRefused as refused:
        return _refused(request, campaign, refused.messages[0], 409)
    if first.assignment is None:
        return _refused(request, campaign, gettext("This pair is no longer there to correct."), 409)
    return _correction(request, campaign=campaign, first=first, kept=_kept_from(last, campaign))


@login_required
@require_POST
def rate_correct(request: HttpRequest, slug: str, judgment_id: int) -> HttpResponse:
    """Store the correction (a new vote pointing at the first), then back to the current pair."""
    campaign = campaign_for_rater(request.user, slug)
    vote = parse_vote(request.POST, campaign=campaign)
    try:
        first, _ = judgment_undoable(
            campaign=campaign, rater=request.user, grace=campaign.lease_seconds
        )
        if first.pk != judgment_id or first.assignment is None:
            raise VoteRefused(gettext("Only your last vote can be undone."), code="not_last")
    except VoteRefused as refused:
        return _refused(request, campaign, refused.messages[0], 409)
    error = vote.error
    if not error:
        try:
            judgment_correct(
                judgment_id=judgment_id,
                rater=request.user,
                campaign=campaign,
                choice=vote.choice,
                strength=vote.strength,
                aspects=vote.aspects,
                rationale=vote.rationale,
                rewrite=vote.rewrite,
                idempotency_key=vote.key,
            )
        except VoteRefused as refused:
            if refused.code in ("too_late", "not_last", "nothing"):
                return _refused(request, campaign, refused.messages[0], 409)
            error = refused.messages[0]
    if error:
        kept = {**vote.kept, "assignment_id": first.assignment_id}
        return _correction(
            request, campaign=campaign, first=first, kept=kept, error=error, status=400
        )
    if not request.htmx:
        messages.info(request, gettext("Your vote is corrected."))
        return redirect("annotate:rate", slug=campaign.slug)
    ctx = _workbench_context(
        request,
        campaign=campaign,
        assignment=assignment_next(campaign=campaign, rater=request.user),
        notice=gettext("Your vote is corrected. Here is your next pair."),
        undo_ms=_undo_ms(campaign, request.user, first=first),
    )
    return _render_workbench(request, ctx)


def _judge_shown(campaign: Campaign, assignment_id: int) -> bool:
    """Before-vote mode only (no query otherwise): was the judge's suggestion on the page?"""
    if campaign.judge_mode != Campaign.JudgeMode.BEFORE_VOTE:
        return False
    from annotate.selectors.judging import judge_shown_for_vote

    return judge_shown_for_vote(campaign=campaign, assignment_id=assignment_id)


def _assignment_id(request: HttpRequest) -> int:
    return id_parse(request.POST.get("assignment", "")) or 0


def _text_refused(value: str, field: str, max_length: int) -> str:
    """The rules of annotate/validation.py for a rater's free text: the reason it is refused, or ""."""
    try:
        text_check(value, field=field, max_length=max_length)
    except ValidationError as exc:
        return exc.messages[0]
    return ""


@login_required
@require_POST
def rate_skip(request: HttpRequest, slug: str) -> HttpResponse:
    campaign = campaign_for_rater(request.user, slug)
    reason = request.POST.get("reason", "")
    refused = _text_refused(reason, gettext("The reason"), MAX_REASON)
    if refused:
        return _after_action(request, campaign=campaign, error=refused)
    try:
        assignment_skip(assignment_id=_assignment_id(request), rater=request.user, reason=reason)
    except AssignmentError as refused:
        return _after_action(request, campaign=campaign, error=str(refused))
    return _after_action(
        request, campaign=campaign, notice=gettext("Skipped. Here is another pair.")
    )


@login_required
@require_POST
def rate_flag(request: HttpRequest, slug: str) -> HttpResponse:
    """Flag the current pair and move on: a flagged pair is skipped for this rater."""
    campaign = campaign_for_rater(request.user, slug)
    lease = Assignment.objects.filter(
        pk=_assignment_id(request), rater=request.user, campaign=campaign
    ).first()
    if lease is None:
        return _after_action(
            request, campaign=campaign, error=gettext("This pair is not yours to flag.")
        )
    reason = request.POST.get("reason", "")
    note = request.POST.get("note", "").strip()
    refused = _text_refused(note, gettext("The note"), MAX_NOTE)
    if refused:
        return _after_action(request, campaign=campaign, error=refused)
    try:
        pair_flag(pair=lease.pair_id, rater=request.user, reason=reason, note=note)
        assignment_skip(
            assignment_id=lease.pk,
            rater=request.user,
            reason=f"flagged: {reason}" + (f" ({note})" if note else ""),
        )
    except (VoteRefused, AssignmentError) as refused:
        message = refused.messages[0] if isinstance(refused, VoteRefused) else str(refused)
        return _after_action(request, campaign=campaign, error=message)
    return _after_action(request, campaign=campaign, notice=gettext("Thanks, the pair is flagged."))


@login_required
@require_POST
def rate_heartbeat(request: HttpRequest, slug: str) -> HttpResponse:
    """Renew the lease while the rater is active. 204 when renewed, 410 when the lease is gone."""
    campaign_for_rater(request.user, slug)
    crowd_beat(request)
    if assignment_renew(assignment_id=_assignment_id(request), rater=request.user):
        return HttpResponse(status=204)
    return HttpResponse(
        gettext("Your time on this pair ran out."), status=410, content_type="text/plain"
    )


@login_required
@require_GET
def rate_diff(request: HttpRequest, slug: str, assignment_id: int) -> HttpResponse:
    """A word diff of the two responses, left → right as shown. Only for the rater's own lease."""
    campaign = campaign_for_rater(request.user, slug)
    lease = (
        Assignment.objects.select_related("pair__candidate_a", "pair__candidate_b")
        .filter(pk=assignment_id, rater=request.user, campaign=campaign)
        .first()
    )
    if lease is None:
        return HttpResponse(gettext("Not your pair."), status=404, content_type="text/plain")
    pair = lease.pair
    left, right = left_and_right(
        pair.candidate_a.text, pair.candidate_b.text, left_is_a=lease.left_is_a
    )
    return render(request, "annotate/partials/_rate_diff.html", {"diff": diff_html(left, right)})


@login_required
@require_GET
def rate_history(request: HttpRequest, slug: str) -> HttpResponse:
    """My votes and my progress: only the rater's own votes, in the terms they saw."""
    campaign = campaign_for_rater(request.user, slug)
    rows = [  # each vote labelled as the rater saw it (left/right, the scale's words)
        {
            **row,
            "choice": vote_label(
                choice=row["choice"],
                strength=row["strength"],
                left_is_a=row["left_is_a"],
                scale=campaign.scale,
            ),
        }
        for row in rater_history(campaign=campaign, rater=request.user)
    ]
    ctx = {
        "campaign": campaign,
        "rows": rows,
        "progress": rater_progress(campaign=campaign, rater=request.user),
    }
    return render(request, "annotate/rate_history.html", ctx)


@login_required
def bench_noop(request: HttpRequest) -> HttpResponse:
    """The benchmark's floor: session auth and nothing else (routed only with BENCH_HOOKS)."""
    return HttpResponse("ok", content_type="text/plain")
