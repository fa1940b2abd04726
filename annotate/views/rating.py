"""The rating workbench: one page, one request per rating (the rating protocol's rate.py).

GET shows the rater's current unit (a reload returns the same lease): its responses numbered
1 … K in the lease's shown order, and a grid of scores, one row per criterion (overall, then the
campaign's aspects) and one column per response. The vote POST carries one field per cell,
``s_<number>_<criterion index>`` (0 = overall), and an optional ``why_<number>``; the view turns
them into the entries of annotate/protocols/rating.py (unknown fields refused) and the service
checks them with the same rules as the API. The next unit's fragment comes back in the same
response. Raters never see model names, generators or others' votes.
"""

from __future__ import annotations

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
from annotate.selectors.ratings import rating_judge_scores
from annotate.selectors.sets import lease_responses
from annotate.services.assignment import AssignmentError, rater_enrollment
from annotate.services.corrections import undo_seconds
from annotate.services.judgments import VoteRefused
from annotate.services.prompts import prompt_rendered_ensure
from annotate.services.sets import (
    rating_vote_record,
    set_assignment_next,
    set_assignment_skip,
)
from annotate.validation import MAX_RATIONALE, MAX_REASON, id_parse, text_check
from annotate.views.set_undo import set_correct, set_undo, undo_context

TEMPLATE = "annotate/rating.html"
# Keys of the rating page (the help overlay lists them; static/annotate/rating.js acts on them).
RATING_KEYS = (
    (gettext_lazy("a number"), gettext_lazy("score the selected cell, then move to the next")),
    ("← → h l", gettext_lazy("previous / next response")),
    ("↑ ↓ k j", gettext_lazy("previous / next criterion (overall, then each aspect)")),
    ("Backspace", gettext_lazy("clear the selected cell")),
    ("Enter", gettext_lazy("submit (every cell scored)")),
    ("r", gettext_lazy("write why, for the selected response")),
    ("s", gettext_lazy("skip this unit")),
    ("u", gettext_lazy("undo your last vote (for a short while after it)")),
    ("g", gettext_lazy("guidelines")),
    ("?", gettext_lazy("this help")),
)
# What rating.js says to the rater, in the page's language (handed over with json_script).
JS_STRINGS = {
    "left": gettext_lazy("{n} cells left to score"),
    "ready": gettext_lazy("Ready: Enter submits"),
    "offScale": gettext_lazy("Scores go from {low} to {high}"),
}
_FIXED_FIELDS = {"csrfmiddlewaretoken", "lease", "prior"}


def _criteria(campaign: Campaign) -> list[dict]:
    overall = {"index": 0, "name": "overall", "label": gettext("Overall")}
    return [overall] + [
        {"index": i, "name": name, "label": name.capitalize()}
        for i, name in enumerate(campaign.aspects or [], start=1)
    ]


def _context(
    request: HttpRequest,
    *,
    campaign: Campaign,
    lease: SetAssignment | None,
    error: str = "",
    prefill: dict | None = None,
    undo_ms: int | None = None,
) -> dict:
    """The page's context; ``prefill`` (a rating in shown numbers) fills the grid in again when
    the rater undoes their last vote (views/set_undo.py)."""
    ctx = {
        **undo_context(campaign, request.user, undo_ms=undo_ms),
        "campaign": campaign,
        "lease": lease,
        "error": error,
        "criteria": _criteria(campaign),
        "scale": list(campaign.rating_scale),
        "rating_keys": RATING_KEYS,
        "js_strings": JS_STRINGS,
        "my_votes": rater_vote_count(campaign=campaign, rater=request.user),
        "enrollment": (
            rater_enrollment(campaign=campaign, rater=request.user) if lease is None else None
        ),
    }
    if lease is not None:
        if SetAssignment.candidate_set.is_cached(lease):
            prompt = lease.candidate_set.prompt
        else:
            prompt = Prompt.objects.only("id", "system", "rendered", "messages").get(
                candidate_sets=lease.candidate_set_id
            )
        if not prompt.rendered:
            prompt_rendered_ensure(prompt=prompt)
        html = {cid: pair[1] for cid, pair in lease_responses(lease).items()}
        cards = [
            {"number": i + 1, "html": html.get(cid, "")} for i, cid in enumerate(lease.shown_order)
        ]
        ctx.update(prompt=prompt, cards=cards, k=len(lease.shown_order))
        ctx.update(_grid(ctx["criteria"], cards, prefill))
        # Before-vote mode only: the judge's scores up front (Campaign.judge_shown gates it).
        judge = rating_judge_scores(
            campaign=campaign,
            candidate_set_id=lease.candidate_set_id,
            shown_order=list(lease.shown_order),
            voted=False,
        )
        if judge is not None:
            ctx["suggestion"] = {"judge": _spoken(judge), "rationale": ""}
    return ctx


def _spoken(judge: list[dict]) -> str:
    """The judge's scores on one line: "1: 4 (helpful 5, honest 4) · 2: 2 …"."""
    parts = []
    for entry in judge:
        aspects = ", ".join(f"{name} {value}" for name, value in entry["aspects"].items())
        parts.append(
            f"{entry['number']}: {entry['overall']}" + (f" ({aspects})" if aspects else "")
        )
    return " · ".join(parts)


def _reveal(campaign: Campaign, vote) -> dict | None:
    """After the vote is stored: the rater's scores beside the judge's, per response."""
    judge = rating_judge_scores(
        campaign=campaign,
        candidate_set_id=vote.candidate_set_id,
        shown_order=list(vote.shown_order),
        voted=True,
    )
    if judge is None:
        return None
    mine = {s.candidate_id: s.overall for s in vote.scores.all()}
    return {
        "responses": [
            {**entry, "mine": mine.get(cid)}
            for entry, cid in zip(judge, vote.shown_order, strict=True)
        ]
    }


def _grid(criteria: list[dict], cards: list[dict], prefill: dict | None) -> dict:
    """The score grid's rows, each cell with the value to show (a prefilled vote's, else "")."""
    entries = {e.get("number"): e for e in (prefill or {}).get("scores") or []}

    def value(number: int, criterion: dict):
        entry = entries.get(number) or {}
        got = entry.get("overall") if criterion["index"] == 0 else None
        if criterion["index"]:
            got = (entry.get("aspects") or {}).get(criterion["name"])
        return "" if got is None else got

    return {
        "grid": [
            {**c, "cells": [{"number": d["number"], "value": value(d["number"], c)} for d in cards]}
            for c in criteria
        ],
        "whys": [
            {"number": d["number"], "value": (entries.get(d["number"]) or {}).get("rationale", "")}
            for d in cards
        ],
    }


def _render(request: HttpRequest, ctx: dict, status: int = 200) -> HttpResponse:
    name = TEMPLATE + "#workbench" if request.htmx else TEMPLATE
    return render(request, name, ctx, status=status)


@login_required
@require_GET
def rating(request: HttpRequest, slug: str) -> HttpResponse:
    campaign = campaign_for_rater(request.user, slug)
    if not campaign.is_rating:
        return redirect("annotate:rate", slug=slug)
    lease = set_assignment_next(campaign=campaign, rater=request.user)
    ctx = _context(request, campaign=campaign, lease=lease)
    ctx["show_guidelines"] = ctx["my_votes"] == 0 and bool(campaign.guidelines_html)
    return _render(request, ctx)


def _small(value: str) -> int | None:
    """A whole number of one or two digits (a cell's criterion index or score), else None."""
    text = value.strip() if isinstance(value, str) else ""
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 2 else None


def scores_from_form(data, *, campaign: Campaign) -> tuple[int, list[dict], str]:
    """The form as the rating's entries (annotate/protocols/rating.py); an error message for a
    field that is not a cell of this page or a score that is not a number."""
    lease_id = id_parse(data.get("lease", "")) or 0
    if not lease_id:
        return 0, [], gettext("This rating is not for a unit; reload the page.")
    criteria = _criteria(campaign)
    entries: dict[int, dict] = {}
    for key in data:
        if key in _FIXED_FIELDS:
            continue
        kind, _, rest = key.partition("_")
        number = id_parse(rest.partition("_")[0]) if rest else None
        if number is None or number > 9 or kind not in ("s", "why"):
            return lease_id, [], gettext("Unknown field: %(names)s.") % {"names": key[:40]}
        entry = entries.setdefault(number, {"number": number, "aspects": {}})
        value = data.get(key, "")
        if kind == "why":
            if rest != str(number):
                return lease_id, [], gettext("Unknown field: %(names)s.") % {"names": key[:40]}
            try:
                entry["rationale"] = text_check(
                    value, field=gettext("Your rationale"), max_length=MAX_RATIONALE
                )
            except ValidationError as exc:
                return lease_id, [], exc.messages[0]
            continue
        index = _small(rest.partition("_")[2]) if "_" in rest else None
        if index is None or index >= len(criteria) or rest != f"{number}_{index}":
            return lease_id, [], gettext("Unknown field: %(names)s.") % {"names": key[:40]}
        if value == "":
            continue  # an empty cell: the rules below say which one is missing
        score = _small(value)
        if score is None:
            return lease_id, [], gettext("A score is a whole number.")
        if index == 0:
            entry["overall"] = score
        else:
            entry["aspects"][criteria[index]["name"]] = score
    return lease_id, [entries[n] for n in sorted(entries)], ""


def _after(request: HttpRequest, *, campaign: Campaign, error: str = "") -> HttpResponse:
    if not request.htmx:
        if error:
            messages.error(request, error)
        return redirect("annotate:rating", slug=campaign.slug)
    lease = set_assignment_next(campaign=campaign, rater=request.user)
    return _render(request, _context(request, campaign=campaign, lease=lease, error=error))


@login_required
@require_POST
def rating_vote(request: HttpRequest, slug: str) -> HttpResponse:
    campaign = campaign_for_rater(request.user, slug)
    if not campaign.is_rating:
        return redirect("annotate:rate", slug=slug)
    lease_id, scores, error = scores_from_form(request.POST, campaign=campaign)
    if error:
        return _after(request, campaign=campaign, error=error)
    try:
        with transaction.atomic():
            stored = rating_vote_record(
                lease=lease_id, rater=request.user, campaign=campaign, scores=scores
            )
            nxt = set_assignment_next(campaign=campaign, rater=request.user, after_vote=True)
    except VoteRefused as refused:
        return _after(request, campaign=campaign, error=refused.messages[0])
    if not request.htmx:
        return redirect("annotate:rating", slug=campaign.slug)
    ctx = _context(request, campaign=campaign, lease=nxt, undo_ms=undo_seconds() * 1000)
    # Blind first, then reveal: the judge's scores of the unit just rated, after the vote.
    ctx["reveal"] = _reveal(campaign, stored)
    return _render(request, ctx)


@login_required
@require_POST
def rating_skip(request: HttpRequest, slug: str) -> HttpResponse:
    campaign = campaign_for_rater(request.user, slug)
    lease_id = id_parse(request.POST.get("lease", "")) or 0
    try:
        reason = text_check(
            request.POST.get("reason", ""),
            field=gettext("The reason"),
            max_length=MAX_REASON,
            one_line=True,
        )
        set_assignment_skip(lease_id=lease_id, rater=request.user, reason=reason)
    except (AssignmentError, ValidationError) as exc:
        message = exc.messages[0] if isinstance(exc, ValidationError) else str(exc)
        return _after(request, campaign=campaign, error=message)
    return _after(request, campaign=campaign)


# --- undo the last rating (views/set_undo.py, services/set_corrections.py) ------------------------


@login_required
@require_POST
def rating_undo(request: HttpRequest, slug: str) -> HttpResponse:
    campaign = campaign_for_rater(request.user, slug)
    if not campaign.is_rating:
        return redirect("annotate:rate", slug=slug)
    return set_undo(request, campaign, context=_context, render=_render)


@login_required
@require_POST
def rating_correct(request: HttpRequest, slug: str, vote_id: int) -> HttpResponse:
    campaign = campaign_for_rater(request.user, slug)
    if not campaign.is_rating:
        return redirect("annotate:rate", slug=slug)
    _, scores, error = scores_from_form(request.POST, campaign=campaign)
    vote = {"scores": scores} if scores else {}
    return set_correct(
        request, campaign, vote_id, vote=vote, error=error, context=_context, render=_render
    )
