"""The ranking workbench: one page, one request per ranking (the ranking protocol's rate.py).

GET shows the rater's current set (a reload returns the same lease), its K responses numbered
1 … K in the lease's shown order. The vote POST carries the ranking in those numbers (a JSON list
of groups, best first, ties grouped); the service maps them to candidate ids with the lease's
shown order, records the vote, and the next set's fragment comes back in the same response.
Raters never see model names, generators, gold rankings or others' votes.
"""

from __future__ import annotations

import json
from dataclasses import replace

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext, gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from annotate.access import campaign_for_rater
from annotate.models import Campaign, Prompt, SetAssignment
from annotate.selectors.rating import rater_vote_count
from annotate.selectors.sets import lease_responses
from annotate.services.assignment import AssignmentError, rater_enrollment
from annotate.services.corrections import undo_seconds
from annotate.services.judgments import VoteRefused
from annotate.services.prompts import prompt_rendered_ensure
from annotate.services.sets import (
    ranking_vote_record,
    set_assignment_next,
    set_assignment_renew,
    set_assignment_skip,
)
from annotate.validation import MAX_RATIONALE, MAX_REASON, MAX_REWRITE, id_parse, text_check
from annotate.views.crowd_hooks import (
    crowd_after_vote,
    crowd_beat,
    crowd_context,
    crowd_gate,
    crowd_out_of_work,
)
from annotate.views.scale_keys import aspect_keys
from annotate.views.set_undo import set_correct, set_undo, undo_context

TEMPLATE = "annotate/rank.html"
# Keys of the ranking page (the help overlay lists them; static/annotate/rank.js acts on them).
RANK_KEYS = (
    ("1 … K", gettext_lazy("rank the response with that number next (best first)")),
    ("=", gettext_lazy("tie: the next number shares the rank of the previous one")),
    ("Backspace", gettext_lazy("take the last one back")),
    ("Enter", gettext_lazy("submit (the one response left is ranked last)")),
    (gettext_lazy("f then a number"), gettext_lazy("read that response's full text (Esc closes)")),
    ("e", gettext_lazy("expand / collapse every response")),
    ("x", gettext_lazy("all bad (where the campaign allows it)")),
    ("r", gettext_lazy("write the rationale")),
    ("w", gettext_lazy("write a better response")),
    ("s", gettext_lazy("skip this set")),
    ("u", gettext_lazy("undo your last vote (for a short while after it)")),
    ("g", gettext_lazy("guidelines")),
    ("?", gettext_lazy("this help")),
)

# What rank.js says to the rater, in the page's language (handed over with json_script, as
# rate.py's JS_STRINGS). "{n}" is a response's number or a count.
JS_STRINGS = {
    "response": gettext_lazy("Response {n}"),
    "tieWithPrevious": gettext_lazy("Tie with the previous rank"),
    "untie": gettext_lazy("Tied: click to untie"),
    # Translators: the endings of a rank on its card, for numbers ending in 0 (and 4 to 9), 1, 2
    # and 3, separated by spaces: 1st, 2nd, 3rd, 4th, 11th. One ending for all, if the language
    # has one.
    "ordinalEndings": gettext_lazy("th st nd rd"),
    # Translators: a tied response's rank on its card; {place} is 1st, 2nd …
    "placeTied": gettext_lazy("{place} (tie)"),
    "ready": gettext_lazy("Ready: Enter submits"),
    "lastOne": gettext_lazy("Enter ranks the last one last and submits"),
    "left": gettext_lazy("{n} left to rank"),
    "pressNumbers": gettext_lazy("Press the numbers, best first"),
    "rankedAlready": gettext_lazy("{n} is ranked already (Backspace takes the last one back)"),
    "rankEvery": gettext_lazy("Rank every response first"),
    "whichResponse": gettext_lazy("Which response? Press its number"),
}


def _ranking_campaign(request: HttpRequest, slug: str) -> Campaign:
    return campaign_for_rater(request.user, slug)


def _context(
    request: HttpRequest,
    *,
    campaign: Campaign,
    lease: SetAssignment | None,
    error: str = "",
    prefill: dict | None = None,
    undo_ms: int | None = None,
) -> dict:
    """The page's context; ``prefill`` (a vote in shown numbers) fills the form in again when the
    rater undoes their last vote (views/set_undo.py)."""
    chosen = (prefill or {}).get("aspects") or {}
    ctx = {
        **undo_context(campaign, request.user, undo_ms=undo_ms),
        "campaign": campaign,
        "lease": lease,
        "error": error,
        "aspect_rows": [replace(a, value=chosen.get(a.name, "")) for a in aspect_keys(campaign)],
        "rank_keys": RANK_KEYS,
        "js_strings": JS_STRINGS,
        "my_votes": rater_vote_count(campaign=campaign, rater=request.user),
        "enrollment": (
            rater_enrollment(campaign=campaign, rater=request.user) if lease is None else None
        ),
        # A crowd participant's session quota ("12 of 40"); None for every other rater.
        **crowd_context(request),
    }
    if prefill:
        ctx["prefill"] = prefill
        ctx["prefill_ranking"] = json.dumps(prefill.get("ranking") or [])
    if lease is not None:
        if SetAssignment.candidate_set.is_cached(lease):
            prompt = lease.candidate_set.prompt
        else:  # a new claim: the prompt in one read, not the set and then its prompt
            prompt = Prompt.objects.only("id", "system", "rendered", "messages").get(
                candidate_sets=lease.candidate_set_id
            )
        if not prompt.rendered:
            prompt_rendered_ensure(prompt=prompt)
        html = {cid: pair[1] for cid, pair in lease_responses(lease).items()}
        ctx.update(
            prompt=prompt,
            cards=[
                {"number": i + 1, "html": html.get(cid, "")}
                for i, cid in enumerate(lease.shown_order)
            ],
            k=len(lease.shown_order),
        )
        if campaign.judge_mode == Campaign.JudgeMode.BEFORE_VOTE:
            # Shown before the vote only where the campaign says so; after-vote mode reveals the
            # judge only once the ranking is stored (rank_vote's _reveal).
            ctx["suggestion"] = _suggestion(lease)
    return ctx


def _suggestion(lease: SetAssignment) -> dict | None:
    """The judge's ranking of the leased set in the numbers the rater sees, or None."""
    from annotate.protocols.ranking import ranking_to_shown
    from annotate.services.sets import judge_set_ranking

    unit = lease.candidate_set
    groups = judge_set_ranking(candidate_set=unit)
    if groups is None:
        return None
    shown = ranking_to_shown(groups, shown_order=lease.shown_order)
    return {"judge": _spoken(shown), "rationale": ""}


def _spoken(shown) -> str:
    return " > ".join(" = ".join(str(n) for n in sorted(group)) for group in shown)


def _render(request: HttpRequest, ctx: dict, status: int = 200) -> HttpResponse:
    name = TEMPLATE + "#workbench" if request.htmx else TEMPLATE
    return render(request, name, ctx, status=status)


@login_required
@require_GET
def rank(request: HttpRequest, slug: str) -> HttpResponse:
    campaign = _ranking_campaign(request, slug)
    if not campaign.is_ranking:
        return redirect("annotate:rate", slug=slug)
    participant, elsewhere = crowd_gate(request, campaign)
    if elsewhere is not None:
        return elsewhere
    lease = set_assignment_next(campaign=campaign, rater=request.user)
    if lease is None and participant is not None:
        left = crowd_out_of_work(request, campaign, participant)
        if left is not None:
            return left
    ctx = _context(request, campaign=campaign, lease=lease)
    ctx["show_guidelines"] = ctx["my_votes"] == 0 and bool(campaign.guidelines_html)
    return _render(request, ctx)


def _parse(data, *, campaign: Campaign) -> tuple[int, dict, str]:
    """The form as the service's keywords; an error message for anything malformed."""
    lease_id = id_parse(data.get("lease", "")) or 0
    if not lease_id:
        return 0, {}, gettext("This ranking is not for a set; reload the page.")
    try:
        rationale = text_check(
            data.get("rationale", ""), field=gettext("Your rationale"), max_length=MAX_RATIONALE
        )
        rewrite = text_check(
            data.get("rewrite", ""), field=gettext("Your rewrite"), max_length=MAX_REWRITE
        )
    except ValidationError as exc:
        return lease_id, {}, exc.messages[0]
    raw = data.get("ranking", "")
    try:
        ranking = json.loads(raw) if raw and len(raw) < 400 else None
    except ValueError:
        ranking = None
    if not isinstance(ranking, list) or not ranking:
        return lease_id, {}, gettext("Rank the responses first: press their numbers, best first.")
    aspects = {}
    for row in aspect_keys(campaign):
        value = data.get(f"aspect_{row.name}", "")
        if value:
            number = id_parse(value)
            if number is None:
                return (
                    lease_id,
                    {},
                    gettext("For %(name)s, give the number of the best response.")
                    % {"name": row.name},
                )
            aspects[row.name] = number
    return (
        lease_id,
        {
            "ranking": ranking,
            "all_bad": data.get("all_bad") in ("1", "on", "true"),
            "aspects": aspects,
            "rationale": rationale,
            "rewrite": rewrite,
        },
        "",
    )


def _after(request: HttpRequest, *, campaign: Campaign, error: str = "") -> HttpResponse:
    if not request.htmx:
        if error:
            messages.error(request, error)
        return redirect("annotate:rank", slug=campaign.slug)
    lease = set_assignment_next(campaign=campaign, rater=request.user)
    if lease is None:
        left = crowd_out_of_work(request, campaign)
        if left is not None:
            return left
    return _render(request, _context(request, campaign=campaign, lease=lease, error=error))


@login_required
@require_POST
def rank_vote(request: HttpRequest, slug: str) -> HttpResponse:
    campaign = _ranking_campaign(request, slug)
    lease_id, vote, error = _parse(request.POST, campaign=campaign)
    if error:
        return _after(request, campaign=campaign, error=error)
    try:
        with transaction.atomic():
            voted = ranking_vote_record(
                lease=lease_id, rater=request.user, campaign=campaign, **vote
            )
            nxt = set_assignment_next(campaign=campaign, rater=request.user, after_vote=True)
    except VoteRefused as refused:
        return _after(request, campaign=campaign, error=refused.messages[0])
    # A crowd participant's session may end here: quota reached, attention failed, no set left.
    left = crowd_after_vote(request, campaign, votes=None, out_of_work=nxt is None)
    if left is not None:
        return left
    if not request.htmx:
        return redirect("annotate:rank", slug=campaign.slug)
    ctx = _context(request, campaign=campaign, lease=nxt, undo_ms=undo_seconds() * 1000)
    if campaign.judge_mode == Campaign.JudgeMode.AFTER_VOTE:
        ctx["reveal"] = _reveal(voted)
    return _render(request, ctx)


def _reveal(vote) -> str:
    """Blind, then revealed: after the vote, the judge's ranking of the set just ranked, in the
    numbers the rater saw ("" when the judge has not ranked it)."""
    from annotate.protocols.ranking import ranking_to_shown
    from annotate.services.sets import judge_set_ranking

    groups = judge_set_ranking(candidate_set=vote.candidate_set)
    if groups is None:
        return ""

    def spoken(ranking) -> str:
        return _spoken(ranking_to_shown(ranking, shown_order=vote.shown_order))

    return gettext("The AI judge ranked the last set %(judge)s; you ranked it %(yours)s.") % {
        "judge": spoken(groups),
        "yours": spoken(vote.ranking),
    }


@login_required
@require_POST
def rank_skip(request: HttpRequest, slug: str) -> HttpResponse:
    campaign = _ranking_campaign(request, slug)
    lease_id = id_parse(request.POST.get("lease", "")) or 0
    reason = request.POST.get("reason", "")
    try:
        reason = text_check(
            reason, field=gettext("The reason"), max_length=MAX_REASON, one_line=True
        )
        set_assignment_skip(lease_id=lease_id, rater=request.user, reason=reason)
    except (AssignmentError, ValidationError) as exc:
        message = exc.messages[0] if isinstance(exc, ValidationError) else str(exc)
        return _after(request, campaign=campaign, error=message)
    return _after(request, campaign=campaign)


@login_required
@require_POST
def rank_heartbeat(request: HttpRequest, slug: str) -> HttpResponse:
    _ranking_campaign(request, slug)
    crowd_beat(request)
    lease_id = id_parse(request.POST.get("lease", "")) or 0
    alive = set_assignment_renew(lease_id=lease_id, rater=request.user)
    return HttpResponse(status=204 if alive else 410)


# --- undo the last ranking (views/set_undo.py, services/set_corrections.py) -----------------------


@login_required
@require_POST
def rank_undo(request: HttpRequest, slug: str) -> HttpResponse:
    campaign = _ranking_campaign(request, slug)
    return set_undo(request, campaign, context=_context, render=_render)


@login_required
@require_POST
def rank_correct(request: HttpRequest, slug: str, vote_id: int) -> HttpResponse:
    campaign = _ranking_campaign(request, slug)
    _, vote, error = _parse(request.POST, campaign=campaign)
    return set_correct(
        request, campaign, vote_id, vote=vote, error=error, context=_context, render=_render
    )
