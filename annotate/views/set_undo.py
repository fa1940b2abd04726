"""Undo the last vote on the set pages (ranking, rating, step labels), as the pairwise page has it
(views/rate.py): the rules are services/set_corrections.py's; this is the page's side.

``u`` (or the button, which shows the seconds left) POSTs to the page's ``…/undo/``: the unit of
the rater's last vote comes back in the order they saw it, the vote filled in, its form posting to
``…/correct/<first vote id>/``. The rater's current lease waits meanwhile (a correction neither
closes nor claims one). Refusals of the state of things (window passed, not the last vote) answer
409 with the reason as text for htmx (static/annotate/undo.js shows it), the page again for a
plain form. Each page module hands over its own ``context`` and ``render``.
"""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext

from annotate.models import Campaign, SetAssignment
from annotate.services.judgments import VoteRefused
from annotate.services.set_corrections import (
    set_undo_ms,
    set_vote_correct,
    set_vote_shown,
    set_vote_undoable,
)
from annotate.services.sets import set_assignment_next
from annotate.validation import id_parse

Context = Callable[..., dict]
Render = Callable[..., HttpResponse]
# The URL names of each set page: its workbench, its undo, its correction.
PAGES = {
    "ranking": ("annotate:rank", "annotate:rank-undo", "annotate:rank-correct"),
    "rating": ("annotate:rating", "annotate:rating-undo", "annotate:rating-correct"),
    "steps": ("annotate:steps", "annotate:steps-undo", "annotate:steps-correct"),
}
# Codes that say the undo no longer applies (409), as against a vote that breaks a rule (400).
_GONE = frozenset({"nothing", "too_late", "not_last", "missing", "gone"})


def undo_context(campaign: Campaign, rater, *, undo_ms: int | None = None) -> dict:
    """What every set page's status bar needs for its Undo button."""
    page, undo, _ = PAGES[campaign.protocol]
    return {
        "undo_url": reverse(undo, args=[campaign.slug]),
        "page_url": reverse(page, args=[campaign.slug]),
        "undo_ms": set_undo_ms(campaign=campaign, rater=rater) if undo_ms is None else undo_ms,
        "correcting": None,
        "prefill": None,
    }


def _refused(
    request: HttpRequest, campaign: Campaign, message: str, *, context: Context, render: Render
) -> HttpResponse:
    if request.htmx:
        return HttpResponse(message, status=409, content_type="text/plain")
    lease = set_assignment_next(campaign=campaign, rater=request.user)
    return render(request, context(request, campaign=campaign, lease=lease, error=message), 409)


def _correction(
    request: HttpRequest,
    *,
    campaign: Campaign,
    first,
    last,
    prefill: dict,
    context: Context,
    render: Render,
    error: str = "",
    status: int = 200,
) -> HttpResponse:
    lease = (
        SetAssignment.objects.select_related("candidate_set__prompt")
        .filter(pk=first.lease_id or 0)
        .first()
    )
    if lease is None:
        return _refused(
            request,
            campaign,
            gettext("This unit is no longer there to correct."),
            context=context,
            render=render,
        )
    _, _, correct = PAGES[campaign.protocol]
    ctx = context(request, campaign=campaign, lease=lease, error=error, prefill=prefill)
    ctx.update(
        correcting=first,
        prior=last.pk,
        undo_ms=0,
        form_url=reverse(correct, args=[campaign.slug, first.pk]),
    )
    return render(request, ctx, status)


def set_undo(
    request: HttpRequest, campaign: Campaign, *, context: Context, render: Render
) -> HttpResponse:
    """The unit of the rater's last vote again, the vote filled in (or 409 and why)."""
    try:
        first, last = set_vote_undoable(campaign=campaign, rater=request.user)
    except VoteRefused as refused:
        return _refused(request, campaign, refused.messages[0], context=context, render=render)
    return _correction(
        request,
        campaign=campaign,
        first=first,
        last=last,
        prefill=set_vote_shown(last, campaign=campaign),
        context=context,
        render=render,
    )


def set_correct(
    request: HttpRequest,
    campaign: Campaign,
    vote_id: int,
    *,
    vote: dict,
    error: str,
    context: Context,
    render: Render,
) -> HttpResponse:
    """Store the correction (services/set_corrections.py), then back to the current unit."""
    try:
        first, last = set_vote_undoable(
            campaign=campaign, rater=request.user, grace=campaign.lease_seconds
        )
        if first.pk != vote_id:
            raise VoteRefused(gettext("Only your last vote can be undone."), code="not_last")
    except VoteRefused as refused:
        return _refused(request, campaign, refused.messages[0], context=context, render=render)
    if not error:
        try:
            set_vote_correct(
                campaign=campaign,
                rater=request.user,
                vote_id=vote_id,
                vote=vote,
                prior_id=id_parse(request.POST.get("prior", "")),
            )
        except VoteRefused as refused:
            if refused.code in _GONE:
                return _refused(
                    request, campaign, refused.messages[0], context=context, render=render
                )
            error = refused.messages[0]
    if error:
        return _correction(
            request,
            campaign=campaign,
            first=first,
            last=last,
            prefill=vote or set_vote_shown(last, campaign=campaign),
            context=context,
            render=render,
            error=error,
            status=400,
        )
    page, _, _ = PAGES[campaign.protocol]
    if not request.htmx:
        messages.info(request, gettext("Your vote is corrected."))
        return redirect(page, slug=campaign.slug)
    lease = set_assignment_next(campaign=campaign, rater=request.user)
    ctx = context(request, campaign=campaign, lease=lease)
    ctx["notice"] = gettext("Your vote is corrected. Here is your next unit.")
    return render(request, ctx)
