"""Gold answers, marked by an admin on the pair as raters see it: the prompt, A on the left and B
on the right, and the campaign's own choices (views/scale_keys.py gold_choices). The stored value is
in the pair's terms (A here is candidate_a), so nobody has to work out which candidate is "a"."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from annotate.access import campaign_for_admin
from annotate.models import Campaign, Pair
from annotate.services.gold import pair_gold_set
from annotate.views.scale_keys import gold_choices, gold_label

MAX_ID = 2**63 - 1


def _pair_for_admin(campaign: Campaign, pair_id: int) -> Pair:
    pair = (
        Pair.objects.select_related("prompt", "candidate_a", "candidate_b")
        .filter(pk=pair_id, campaign=campaign)
        .first()
        if 0 < pair_id <= MAX_ID
        else None
    )
    if pair is None:
        raise Http404("No such pair")
    return pair


@login_required
@require_http_methods(["GET"])
def gold_pairs(request: HttpRequest, slug: str) -> HttpResponse:
    """The campaign's pairs, 50 a page, with their gold answers; ``?show=gold`` or ``not_gold``."""
    campaign = campaign_for_admin(request.user, slug)
    if campaign.uses_sets:  # ranking, rating, steps: gold on the unit (views/gold_sets.py)
        return redirect("annotate:gold-sets", slug=campaign.slug)
    show = request.GET.get("show", "all")
    pairs = Pair.objects.filter(campaign=campaign).select_related("prompt").order_by("id")
    if show == "gold":
        pairs = pairs.exclude(gold_answer="")
    elif show == "not_gold":
        pairs = pairs.filter(gold_answer="")
    else:
        show = "all"
    page = Paginator(pairs, 50).get_page(request.GET.get("page"))
    rows = [
        {
            "pair": p,
            "prompt": p.prompt.last_user_text[:140],
            "gold": gold_label(p.gold_answer, campaign),
        }
        for p in page
    ]
    ctx = {"campaign": campaign, "page": page, "rows": rows, "show": show}
    return render(request, "annotate/gold_pairs.html", ctx)


@login_required
@require_http_methods(["GET", "POST"])
def gold_pair(request: HttpRequest, slug: str, pair_id: int) -> HttpResponse:
    """One pair as raters see it; POST ``gold`` (one of the campaign's choices, or "" for not
    gold) and go on to the next pair."""
    campaign = campaign_for_admin(request.user, slug)
    pair = _pair_for_admin(campaign, pair_id)
    error, status = "", 200
    if request.method == "POST":
        unknown = set(request.POST) - {"gold", "csrfmiddlewaretoken"}
        try:
            if unknown:
                raise ValidationError(f"Unknown field: {', '.join(sorted(unknown))}.")
            if "gold" not in request.POST:
                raise ValidationError("Choose the gold answer, or “not gold”.")
            pair_gold_set(pair=pair, gold=request.POST["gold"], actor=request.user)
        except ValidationError as exc:
            error, status = " ".join(exc.messages), 400
            pair.refresh_from_db(fields=["gold_answer"])
        else:
            messages.info(
                request,
                f"Pair {pair.pk}: "
                + (
                    f"gold is “{gold_label(pair.gold_answer, campaign)}”."
                    if pair.gold_answer
                    else "not gold."
                ),
            )
            nxt = Pair.objects.filter(campaign=campaign, pk__gt=pair.pk).order_by("pk").first()
            if nxt is None:
                return redirect("annotate:gold-pairs", slug=campaign.slug)
            return redirect("annotate:gold-pair", slug=campaign.slug, pair_id=nxt.pk)
    ctx = {
        "campaign": campaign,
        "pair": pair,
        "prompt": pair.prompt,
        "choices": gold_choices(campaign),
        "gold": gold_label(pair.gold_answer, campaign),
        "error": error,
    }
    return render(request, "annotate/gold_pair.html", ctx, status=status)
