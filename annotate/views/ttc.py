"""Test-time compute pages: final answers, best-of-N and the accuracy-versus-N curve of a campaign.

Researchers and admins read them (an enrolled rater gets 403, anyone else 404); changing the answer
rule is the admin's; storing best-of-N choices (derived data, for exports) is open to both.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from annotate.access import campaign_for_admin, campaign_for_researcher
from annotate.analytics import plots
from annotate.analytics import ttc as ttc_stats
from annotate.models import CandidateReview, TTCConfig
from annotate.selectors import ttc as ttc_reads
from annotate.services.judging_config import JudgeRefused
from annotate.services.ttc import TTCRefused, best_of_n_select, ttc_config_update
from annotate.services.ttc_reviews import reviews_start

SETTINGS_FIELDS = {
    "csrfmiddlewaretoken",
    "answer_rule",
    "answer_pattern",
    "reference_key",
    "reasoning_for_raters",
}


def _page_context(request: HttpRequest, campaign, **extra) -> dict:
    config = extra.pop("config", None) or ttc_reads.ttc_config(campaign=campaign)
    summary = ttc_reads.ttc_summary(campaign=campaign, config=config)
    return {
        "campaign": campaign,
        "config": config,
        "rules": TTCConfig.Rule.choices,
        "can_edit": request.user.is_campaign_admin,
        "summary": summary,
        "choices": [(ttc_stats.LABELS[m], summary["choices"].get(m)) for m in ttc_stats.METHODS],
        "samples": ttc_reads.ttc_samples(campaign=campaign, config=config),
        "errors": {},
        **extra,
    }


@login_required
@require_GET
def ttc_page(request: HttpRequest, slug: str) -> HttpResponse:
    campaign = campaign_for_researcher(request.user, slug)
    return render(request, "annotate/ttc.html", _page_context(request, campaign))


@login_required
@require_GET
def ttc_curves(request: HttpRequest, slug: str) -> HttpResponse:
    """The curves per generator; loaded into the page by htmx, or a page of their own."""
    campaign = campaign_for_researcher(request.user, slug)
    generators = ttc_reads.ttc_curves(campaign=campaign)
    for entry in generators:
        entry["figure"] = plots.accuracy_vs_n(entry["curves"], ttc_stats.LABELS)
        entry["table"] = _table(entry["curves"])
        entry["columns"] = [ttc_stats.LABELS[m] for m in entry["curves"]]
    context = {"campaign": campaign, "generators": generators, "labels": ttc_stats.LABELS}
    if request.htmx:
        return render(request, "annotate/partials/_ttc_curves.html", context)
    return render(request, "annotate/ttc_curves.html", context)


def _table(curves: dict) -> list[dict]:
    """Rows by N: per method its point (or None), for the table under the figure."""
    ns = sorted({p.n for points in curves.values() for p in points})
    by = {m: {p.n: p for p in points} for m, points in curves.items()}
    return [{"n": n, "cells": [(m, by[m].get(n)) for m in curves]} for n in ns]


@login_required
@require_POST
def ttc_settings(request: HttpRequest, slug: str) -> HttpResponse:
    campaign = campaign_for_admin(request.user, slug)
    unknown = sorted(set(request.POST) - SETTINGS_FIELDS)
    if unknown:
        return HttpResponseBadRequest(f"Unknown fields: {', '.join(unknown)}.")
    try:
        ttc_config_update(
            campaign=campaign,
            actor=request.user,
            answer_rule=request.POST.get("answer_rule", ""),
            answer_pattern=request.POST.get("answer_pattern", ""),
            reference_key=request.POST.get("reference_key", ""),
            reasoning_for_raters=request.POST.get("reasoning_for_raters") in ("on", "1", "true"),
        )
    except TTCRefused as exc:
        shown = TTCConfig(
            campaign=campaign,
            answer_rule=request.POST.get("answer_rule", ""),
            answer_pattern=request.POST.get("answer_pattern", "")[:300],
            reference_key=request.POST.get("reference_key", "")[:100],
        )
        context = _page_context(request, campaign, errors=exc.errors, config=shown)
        return render(request, "annotate/ttc.html", context, status=400)
    messages.success(request, "Answer settings saved; final answers were extracted again.")
    return redirect("annotate:ttc", slug=campaign.slug)


@login_required
@require_POST
def ttc_select(request: HttpRequest, slug: str) -> HttpResponse:
    campaign = campaign_for_researcher(request.user, slug)
    made = best_of_n_select(campaign=campaign, actor=request.user)
    summary = ", ".join(f"{ttc_stats.LABELS[m].lower()}: {n}" for m, n in made.items())
    messages.success(request, f"Best-of-N choices stored ({summary}).")
    return redirect("annotate:ttc", slug=campaign.slug)


@login_required
@require_POST
def ttc_reviews(request: HttpRequest, slug: str) -> HttpResponse:
    """Ask the judge to score every sample (verifier) or read its final answer: a background job
    that costs money, so admins only."""
    campaign = campaign_for_admin(request.user, slug)
    task = request.POST.get("task", "")
    if task not in CandidateReview.Task.values or set(request.POST) - {
        "task",
        "csrfmiddlewaretoken",
    }:
        return HttpResponseBadRequest("Send task=score or task=answer, and nothing else.")
    try:
        pending = reviews_start(campaign=campaign, actor=request.user, task=task)
    except JudgeRefused as exc:
        messages.error(request, str(exc))
        return redirect("annotate:ttc", slug=campaign.slug)
    what = "scores" if task == CandidateReview.Task.SCORE else "answer readings"
    messages.success(request, f"{pending} verifier {what} queued for the judge.")
    return redirect("annotate:ttc", slug=campaign.slug)
