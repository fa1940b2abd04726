"""Researcher pages: progress, analytics and exports of one campaign.

Every view opens with an access helper: researchers and admins only; an enrolled rater gets 403 and
anyone else 404 (for exports, the check runs on the export's own campaign).
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation
from django.views.decorators.http import require_GET, require_POST

from annotate import export_files
from annotate.access import campaign_for_admin, campaign_for_researcher
from annotate.exports import options as options_mod
from annotate.exports.options import (
    ADJUDICATED,
    BON_METHODS,
    BOTH_BAD_POLICIES,
    DEFAULT_FORMAT,
    FORMATS,
    KTO_CONTESTED,
    METHODS,
    RANKING_PAIRS,
    RATING_PAIRS,
    SOURCES,
    TIE_POLICIES,
    ExportOptionsError,
    describe_filters,
)
from annotate.models import Export
from annotate.protocols import protocol_for
from annotate.selectors import analytics as analytics_reads
from annotate.selectors import campaigns as campaign_reads
from annotate.services.campaign_stats import stats_request
from annotate.services.exports import export_create, export_lost_work

FILTER_FIELDS = (
    "method",
    "tie_policy",
    "both_bad_policy",
    "source",
    "min_gold_accuracy",
    "min_votes",
    "test_fraction",
    "seed",
    "kto_threshold",
    "kto_contested",
    "bon_method",
    "ranking_pairs",
    "adjudicated",
    "view",
    "rating_pairs",
    "rating_min_gap",
)


def _export_for_researcher(request: HttpRequest, pk: int) -> Export:
    export = get_object_or_404(Export.objects.select_related("campaign"), pk=pk)
    campaign_for_researcher(request.user, export.campaign.slug)  # 404/403 on the export's campaign
    return export


def _described(exports) -> list[Export]:
    """Exports with ``filter_summary`` (only the filters that differ from the defaults) and
    ``lost_work`` (what happened if a worker died while building it)."""
    exports = list(exports)
    for export in exports:
        export.filter_summary = describe_filters(export.filters)
        export.lost_work = export_lost_work(export)
    return exports


def _form_context(campaign, *, values: dict | None = None, errors: dict | None = None) -> dict:
    return {
        "campaign": campaign,
        "formats": FORMATS,
        "choices": {
            "method": METHODS,
            "tie_policy": TIE_POLICIES,
            "both_bad_policy": BOTH_BAD_POLICIES,
            "source": SOURCES,
            "kto_contested": KTO_CONTESTED,
            "bon_method": BON_METHODS,
            "ranking_pairs": RANKING_PAIRS,
            "adjudicated": ADJUDICATED,
            "rating_pairs": RATING_PAIRS,
        },
        "values": values or {"format": DEFAULT_FORMAT},
        "errors": errors or {},
    }


def _ranking_progress(campaign) -> dict | None:
    if not campaign.is_ranking:
        return None
    from annotate.services.sets import set_progress

    return set_progress(campaign=campaign)


def _page_context(campaign, **form) -> dict:
    return {
        **_form_context(campaign, **form),
        "progress": campaign_reads.campaign_progress(campaign=campaign),
        "ranking_progress": _ranking_progress(campaign),
        "voters": campaign_reads.campaign_voters(campaign_id=campaign.id),
        "exports": _described(campaign.exports.select_related("created_by")[:50]),
    }


@login_required
@require_GET
def research(request: HttpRequest, slug: str) -> HttpResponse:
    campaign = campaign_for_researcher(request.user, slug)
    # "Export exactly these pairs" on the browse page arrives with the view's query string.
    view = request.GET.get("view", "")[: options_mod.MAX_VIEW]
    values = {"format": DEFAULT_FORMAT, **({"view": view} if view else {})}
    return render(request, "annotate/research.html", _page_context(campaign, values=values))


@login_required
@require_GET
def export_list(request: HttpRequest, slug: str) -> HttpResponse:
    campaign = campaign_for_researcher(request.user, slug)
    if request.htmx:
        exports = _described(campaign.exports.select_related("created_by")[:50])
        return render(
            request,
            "annotate/partials/_export_list.html",
            {"campaign": campaign, "exports": exports},
        )
    return redirect(reverse("annotate:research", args=[campaign.slug]) + "#exports")


@login_required
@require_POST
def export_create_view(request: HttpRequest, slug: str) -> HttpResponse:
    campaign = campaign_for_researcher(request.user, slug)
    fmt = request.POST.get("format", DEFAULT_FORMAT)
    filters = {k: request.POST[k] for k in FILTER_FIELDS if request.POST.get(k, "") != ""}
    for flag in ("include_gold", "include_reasoning", "bon_correct_only", "raw_participant_ids"):
        if request.POST.get(flag):
            filters[flag] = True
    try:
        export_create(campaign=campaign, actor=request.user, format=fmt, filters=filters)
    except ExportOptionsError as exc:
        form = {"values": {"format": fmt, **filters}, "errors": exc.errors}
        if request.htmx:
            # 200 so htmx swaps the form back in with the errors next to the fields.
            return render(
                request, "annotate/partials/_export_form.html", _form_context(campaign, **form)
            )
        return render(
            request, "annotate/research.html", _page_context(campaign, **form), status=400
        )
    if request.htmx:
        response = render(request, "annotate/partials/_export_form.html", _form_context(campaign))
        response["HX-Trigger"] = "export-created"  # the export list reloads itself
        return response
    return redirect(reverse("annotate:research", args=[campaign.slug]) + "#exports")


@login_required
@require_GET
def export_progress(request: HttpRequest, pk: int) -> HttpResponse:
    """One export's row; while it runs the row polls itself, once done it stops (no trigger)."""
    export = _described([_export_for_researcher(request, pk)])[0]
    return render(request, "annotate/partials/_export_row.html", {"export": export})


@login_required
@require_GET
def export_download(request: HttpRequest, pk: int) -> HttpResponse:
    """The zip, streamed from the exports storage (or a redirect to a signed URL of the bucket)."""
    export = _export_for_researcher(request, pk)
    return export_files.export_file_response(export=export)


def _cached_analytics(campaign) -> dict:
    """The worker's figures over every vote with their freshness; a small campaign that has none
    yet is computed now (nothing is stored by a GET)."""
    fresh = analytics_reads.campaign_stats(campaign=campaign)
    if fresh.computed:
        context = {**fresh.stats.figures, "campaign": campaign}
        # The figures' HTML (a table per rater, SVGs) is the same for everyone until the next run:
        # rendered once per run and language, in this process's cache.
        key = f"analytics-body:{fresh.stats.pk}:{fresh.stats.computed_at.timestamp()}"
        key += f":{translation.get_language()}"
        body = cache.get(key)
        if body is None:
            body = render_to_string("annotate/partials/_research_analytics_body.html", context)
            cache.set(key, body, timeout=24 * 3600)
        return {"freshness": fresh, "cached": True, "body_html": body}
    if fresh.new_votes <= settings.ANALYTICS_INLINE_MAX_VOTES:
        figures = analytics_reads.research_analytics(campaign=campaign)
        return {**figures, "freshness": fresh, "cached": False}
    return {"freshness": fresh, "cached": False, "pending": True}


@login_required
@require_POST
def research_analytics_recompute(request: HttpRequest, slug: str) -> HttpResponse:
    """Admins: recompute the campaign's figures now (in a worker)."""
    campaign = campaign_for_admin(request.user, slug)
    stats_request(campaign=campaign)
    return redirect(reverse("annotate:research", args=[campaign.slug]) + "#analytics")


@login_required
@require_GET
def research_analytics(request: HttpRequest, slug: str) -> HttpResponse:
    """Agreement, bias and the generator leaderboard; loaded into the research page by htmx."""
    campaign = campaign_for_researcher(request.user, slug)
    if campaign.is_ranking:
        # The ranking protocol's own statistics (annotate/selectors/sets.py).
        context = {"campaign": campaign, **protocol_for(campaign).agreement(campaign=campaign)}
        partial = "annotate/partials/_ranking_analytics.html"
    elif campaign.is_rating:
        # Interval α per aspect (annotate/selectors/ratings.py).
        context = {"campaign": campaign, **protocol_for(campaign).agreement(campaign=campaign)}
        partial = "annotate/partials/_rating_analytics.html"
    elif campaign.is_steps:
        # Agreement per step (annotate/selectors/steps.py).
        context = {"campaign": campaign, **protocol_for(campaign).agreement(campaign=campaign)}
        partial = "annotate/partials/_step_analytics.html"
    else:
        context = {"campaign": campaign, **_cached_analytics(campaign)}
        partial = "annotate/partials/_research_analytics.html"
    context["partial"] = partial
    if request.htmx:
        return render(request, partial, context)
    return render(request, "annotate/research_analytics.html", context)
