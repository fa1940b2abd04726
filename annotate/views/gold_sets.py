"""Gold of candidate sets, marked by an admin on the unit as raters see it (as views/gold.py does
for pairs): the prompt and the responses numbered 1 … K in the set's slot order, and per protocol
the form a rater's vote has, not free text:

* ranking: each response's rank (1 = best; equal ranks tie), stored as the set's gold ranking
  (services/sets.py ``set_gold_mark``);
* rating: each response's overall score on the campaign's scale (``rating_gold_mark``; a rater
  is right within ±1, annotate/protocols/rating.py GOLD_TOLERANCE);
* steps: each step's label, +1 / 0 / −1 (services/steps.py ``step_gold_mark``).

The services check what is stored (the same rules as a vote, and the model's clean); "Not gold"
clears it. Admins only (``campaign_for_admin``).
"""

from __future__ import annotations

import re

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext
from django.views.decorators.http import require_http_methods

from annotate.access import campaign_for_admin
from annotate.models import Campaign, Candidate, CandidateSet
from annotate.services.judgments import VoteRefused
from annotate.services.sets import rating_gold_mark, set_gold_mark
from annotate.services.steps import step_gold_mark

MAX_ID = 2**63 - 1
_WHOLE = re.compile(r"-?[0-9]{1,2}")


def _set_for_admin(campaign: Campaign, set_id: int) -> CandidateSet:
    unit = (
        CandidateSet.objects.select_related("prompt", "campaign")
        .filter(pk=set_id, campaign=campaign)
        .first()
        if 0 < set_id <= MAX_ID
        else None
    )
    if unit is None:
        raise Http404("No such set")
    return unit


def _gold_summary(unit: CandidateSet, campaign: Campaign) -> str:
    """The set's gold in the numbers the page shows (slot order), or ""."""
    slots = unit.member_ids()
    number = {cid: i + 1 for i, cid in enumerate(slots)}
    if campaign.is_steps:
        trace = getattr(unit, "trace", None)
        labels = trace.gold_labels if trace else []
        return " ".join({1: "+1", 0: "0", -1: "−1"}.get(x, "–") for x in labels)
    if campaign.is_rating:
        gold = unit.gold_scores or {}
        return " · ".join(f"{number[int(c)]}: {v}" for c, v in gold.items() if int(c) in number)
    return " > ".join(
        " = ".join(str(number[c]) for c in group if c in number) for group in unit.gold_ranking
    )


@login_required
@require_http_methods(["GET"])
def gold_sets(request: HttpRequest, slug: str) -> HttpResponse:
    """The campaign's units, 50 a page, with their gold; ``?show=gold`` or ``not_gold``."""
    campaign = campaign_for_admin(request.user, slug)
    if not campaign.uses_sets:
        return redirect("annotate:gold-pairs", slug=campaign.slug)
    show = request.GET.get("show", "all")
    units = CandidateSet.objects.filter(campaign=campaign).select_related("prompt").order_by("id")
    if show == "gold":
        units = units.exclude(gold_ranking=[])
    elif show == "not_gold":
        units = units.filter(gold_ranking=[])
    else:
        show = "all"
    page = Paginator(units, 50).get_page(request.GET.get("page"))
    rows = [
        {"unit": u, "prompt": u.prompt.last_user_text[:140], "gold": _gold_summary(u, campaign)}
        for u in page
    ]
    ctx = {"campaign": campaign, "page": page, "rows": rows, "show": show}
    return render(request, "annotate/gold_sets.html", ctx)


def _whole(value: str, *, low: int, high: int, what: str) -> int:
    text = value.strip() if isinstance(value, str) else ""
    if not _WHOLE.fullmatch(text):
        raise ValidationError(gettext("%(what)s: choose a value.") % {"what": what})
    number = int(text)
    if not low <= number <= high:
        raise ValidationError(
            gettext("%(what)s: from %(low)s to %(high)s.")
            % {"what": what, "low": low, "high": high}
        )
    return number


def _mark(unit: CandidateSet, campaign: Campaign, data) -> None:
    """Parse the form (one field per response or step, nothing else) and store it as gold."""
    k = len(unit.member_ids())
    if campaign.is_steps:
        n = len(unit.trace.steps)
        fields = [f"label_{i}" for i in range(1, n + 1)]
    elif campaign.is_rating:
        fields = [f"score_{i}" for i in range(1, k + 1)]
    else:
        fields = [f"rank_{i}" for i in range(1, k + 1)]
    unknown = set(data) - {*fields, "csrfmiddlewaretoken", "clear"}
    if unknown:
        raise ValidationError(
            gettext("Unknown field: %(names)s.") % {"names": ", ".join(sorted(unknown))[:80]}
        )
    clear = "clear" in data
    try:
        if campaign.is_steps:
            labels = None
            if not clear:
                labels = [
                    _whole(data.get(f, ""), low=-1, high=1, what=gettext("Step %(n)s") % {"n": i})
                    for i, f in enumerate(fields, start=1)
                ]
            step_gold_mark(candidate_set=unit, labels=labels)
        elif campaign.is_rating:
            scores = None
            if not clear:
                scores = [
                    _whole(
                        data.get(f, ""),
                        low=campaign.rating_min,
                        high=campaign.rating_max,
                        what=gettext("Response %(n)s") % {"n": i},
                    )
                    for i, f in enumerate(fields, start=1)
                ]
            rating_gold_mark(candidate_set=unit, scores=scores)
        else:
            ranking = None
            if not clear:
                ranks = [
                    _whole(
                        data.get(f, ""), low=1, high=k, what=gettext("Response %(n)s") % {"n": i}
                    )
                    for i, f in enumerate(fields, start=1)
                ]
                ranking = [
                    [n for n, r in enumerate(ranks, start=1) if r == level]
                    for level in sorted(set(ranks))
                ]
            set_gold_mark(candidate_set=unit, ranking=ranking)
    except VoteRefused as refused:
        raise ValidationError(refused.messages[0]) from None


@login_required
@require_http_methods(["GET", "POST"])
def gold_set(request: HttpRequest, slug: str, set_id: int) -> HttpResponse:
    """One unit as raters see it, and its gold form; POST stores it and opens the next unit."""
    campaign = campaign_for_admin(request.user, slug)
    unit = _set_for_admin(campaign, set_id)
    error, status = "", 200
    if request.method == "POST":
        try:
            _mark(unit, campaign, request.POST)
        except ValidationError as exc:
            error, status = " ".join(exc.messages), 400
            unit.refresh_from_db()
        else:
            summary = _gold_summary(unit, campaign)
            messages.info(
                request,
                (
                    gettext("Unit %(pk)s: gold is %(gold)s.")
                    if summary
                    else gettext("Unit %(pk)s: not gold.")
                )
                % {"pk": unit.pk, "gold": summary},
            )
            nxt = CandidateSet.objects.filter(campaign=campaign, pk__gt=unit.pk).order_by("pk")
            nxt = nxt.values_list("pk", flat=True).first()
            if nxt is None:
                return redirect("annotate:gold-sets", slug=campaign.slug)
            return redirect("annotate:gold-set", slug=campaign.slug, set_id=nxt)
    slots = unit.member_ids()
    html = dict(Candidate.objects.filter(pk__in=slots).values_list("pk", "html"))
    text = dict(Candidate.objects.filter(pk__in=slots).values_list("pk", "text"))
    rank_of = {c: i + 1 for i, group in enumerate(unit.gold_ranking) for c in group}
    gold_scores = unit.gold_scores or {}
    cards = [
        {
            "number": i + 1,
            "html": html.get(cid, ""),
            "text": text.get(cid, ""),
            "rank": rank_of.get(cid) if not campaign.is_rating else None,
            "score": gold_scores.get(str(cid)),
        }
        for i, cid in enumerate(slots)
    ]
    steps = []
    if campaign.is_steps:
        trace = unit.trace
        gold = list(trace.gold_labels or [])
        steps = [
            {"number": i + 1, "html": s, "label": gold[i] if i < len(gold) else None}
            for i, s in enumerate(trace.steps_html)
        ]
    ctx = {
        "campaign": campaign,
        "unit": unit,
        "prompt": unit.prompt,
        "cards": cards,
        "steps": steps,
        "ranks": list(range(1, len(slots) + 1)),
        "scale": list(campaign.rating_scale),
        "gold": _gold_summary(unit, campaign),
        "error": error,
    }
    return render(request, "annotate/gold_set.html", ctx, status=status)
