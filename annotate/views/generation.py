"""Generation controls and the live progress fragment of the campaign page.

Start, cancel and resume are admin-only POSTs; the progress fragment is readable by researchers too.
No provider is ever called here: the services enqueue and the workers call. The fragment polls every
2 s while a job is active and is replaced by a final fragment (no trigger) when the job ends, which
stops the polling.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext
from django.views.decorators.http import require_GET, require_POST

from annotate.access import campaign_for_admin, campaign_for_researcher
from annotate.models import Campaign, GenerationJob
from annotate.selectors.generation import generation_progress_for_campaign
from annotate.services.generation import generation_cancel, generation_resume, generation_start

TEMPLATE = "annotate/partials/_generation_progress.html"


def _fragment(request: HttpRequest, campaign: Campaign, *, notice: str = "") -> HttpResponse:
    progress = generation_progress_for_campaign(campaign=campaign)
    response = render(
        request,
        TEMPLATE,
        {
            "campaign": campaign,
            "progress": progress,
            "can_admin": request.user.is_campaign_admin,
            "notice": notice,
        },
    )
    response["Vary"] = "HX-Request"
    return response


def _after_action(request: HttpRequest, campaign: Campaign, notice: str) -> HttpResponse:
    """htmx gets the fresh fragment; a plain form post goes back to the campaign page (PRG)."""
    if request.htmx:
        return _fragment(request, campaign, notice=notice)
    messages.info(request, notice)
    return redirect(reverse("annotate:campaign-detail", args=[campaign.slug]) + "#generation")


@login_required
@require_GET
def generation_progress(request: HttpRequest, slug: str) -> HttpResponse:
    campaign = campaign_for_researcher(request.user, slug)
    return _fragment(request, campaign)


@login_required
@require_POST
def generation_start_view(request: HttpRequest, slug: str) -> HttpResponse:
    campaign = campaign_for_admin(request.user, slug)
    mode = request.POST.get("mode") or GenerationJob.Mode.FAST
    if mode not in GenerationJob.Mode.values:
        return _after_action(request, campaign, f"Unknown mode {mode!r}: choose fast or cheap.")
    if not campaign.prompts.exists():
        return _after_action(request, campaign, "Import prompts before starting generation.")
    had_active = campaign.generation_jobs.filter(
        status__in=(GenerationJob.Status.QUEUED, GenerationJob.Status.RUNNING)
    ).exists()
    job = generation_start(campaign=campaign, actor=request.user, mode=mode)
    if had_active:
        notice = gettext("Generation is already running.")
    elif job.total == 0:
        notice = gettext(
            "Nothing to generate: every response already exists "
            "(imported generators are not generated)."
        )
    else:
        notice = gettext("Generation started: %(n)s responses (%(mode)s).") % {
            "n": job.total,
            "mode": job.get_mode_display(),
        }
    return _after_action(request, campaign, notice)


@login_required
@require_POST
def generation_cancel_view(request: HttpRequest, slug: str) -> HttpResponse:
    campaign = campaign_for_admin(request.user, slug)
    job = generation_cancel(campaign=campaign, actor=request.user)
    notice = (
        gettext("Generation cancelled; responses already generated are kept.")
        if job
        else gettext("No generation is running.")
    )
    return _after_action(request, campaign, notice)


@login_required
@require_POST
def generation_resume_view(request: HttpRequest, slug: str) -> HttpResponse:
    campaign = campaign_for_admin(request.user, slug)
    job = generation_resume(campaign=campaign, actor=request.user)
    notice = (
        gettext("Generation resumed.")
        if job
        else gettext("Nothing to resume: start a generation first.")
    )
    return _after_action(request, campaign, notice)
