"""Admin pages for a campaign: create, the campaign home (detail), edit, status, pairs.

Admins change things; researchers may read the campaign page; raters get 403 (their own campaign)
or 404 (any other). Every POST works as a plain form post (Post/Redirect/Get + messages) and htmx
requests get the fragment they asked for.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext
from django.views.decorators.http import require_POST

from annotate.access import campaign_for_admin, campaign_for_researcher, require_admin
from annotate.forms import (
    CampaignForm,
    EnrollForm,
    GeneratorForm,
    LiveSettingsForm,
    PromptImportForm,
    RaterCreateForm,
    ResponseImportForm,
)
from annotate.models import Campaign, LiveSettings
from annotate.protocols import protocol_for
from annotate.selectors import campaigns as campaign_reads
from annotate.selfid import self_identification
from annotate.services.campaigns import (
    CampaignError,
    campaign_create,
    campaign_set_status,
    campaign_update,
)
from annotate.services.pairing import conversation_text

FLAGGED_SHOWN = 50  # the campaign page lists this many self-identifying responses


def detail_context(request: HttpRequest, campaign: Campaign, **extra) -> dict:
    """Everything the campaign page shows; forms can be overridden to show their errors."""
    flagged = [
        (c, self_identification(c.text, context=conversation_text(c)))
        for c in campaign_reads.self_identifying_candidates(campaign=campaign, limit=FLAGGED_SHOWN)
    ]
    context = {
        "prompt_imports": campaign.prompt_imports.all()[:3],  # newest first
        "campaign": campaign,
        "flagged": flagged,
        "can_admin": request.user.is_campaign_admin,
        **campaign_reads.campaign_counts(campaign=campaign),
        "generators": campaign_reads.generators_with_counts(campaign=campaign),
        "enrollments": campaign_reads.campaign_enrollments(campaign=campaign),
        "prompt_form": PromptImportForm(),
        "response_form": ResponseImportForm(),
        "generator_form": GeneratorForm(),
        "enroll_form": EnrollForm(),
        "rater_form": RaterCreateForm(),
        "import_result": None,
        "import_kind": "",
    }
    context.update(extra)
    return context


@login_required
def campaign_create_view(request: HttpRequest) -> HttpResponse:
    require_admin(request.user)
    form = CampaignForm(request.POST or None)
    live_form = LiveSettingsForm(request.POST or None)
    if request.method == "POST" and form.is_valid() and _live_valid(form, live_form):
        try:
            with transaction.atomic():
                campaign = campaign_create(actor=request.user, **form.settings())
                _live_save(campaign, live_form)
        except CampaignError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(
                request,
                gettext("Campaign “%(title)s” created as a draft.") % {"title": campaign.title},
            )
            return redirect("annotate:campaign-detail", slug=campaign.slug)
    return render(
        request,
        "annotate/campaign_form.html",
        {"form": form, "live_form": live_form, "campaign": None},
    )


def _live_valid(form: CampaignForm, live_form: LiveSettingsForm) -> bool:
    """The live settings are read (and must be valid) only for a live campaign."""
    return form.cleaned_data.get("protocol") != Campaign.Protocol.LIVE or live_form.is_valid()


def _live_save(campaign: Campaign, live_form: LiveSettingsForm) -> None:
    if campaign.protocol == Campaign.Protocol.LIVE:
        from annotate.services.live import live_settings_save

        live_settings_save(campaign=campaign, **live_form.settings())


@login_required
def campaign_detail(request: HttpRequest, slug: str) -> HttpResponse:
    campaign = campaign_for_researcher(request.user, slug)
    return render(request, "annotate/campaign_detail.html", detail_context(request, campaign))


@login_required
def campaign_edit(request: HttpRequest, slug: str) -> HttpResponse:
    campaign = campaign_for_admin(request.user, slug)
    form = CampaignForm(request.POST or None, instance=campaign)
    live_form = LiveSettingsForm(
        request.POST or None, instance=LiveSettings.objects.filter(campaign=campaign).first()
    )
    if request.method == "POST" and form.is_valid() and _live_valid(form, live_form):
        try:
            with transaction.atomic():
                updated = campaign_update(
                    campaign=Campaign.objects.get(pk=campaign.pk), **form.settings()
                )
                _live_save(updated, live_form)
        except CampaignError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, gettext("Settings saved."))
            return redirect("annotate:campaign-detail", slug=campaign.slug)
    return render(
        request,
        "annotate/campaign_form.html",
        {"form": form, "live_form": live_form, "campaign": campaign},
    )


@login_required
@require_POST
def campaign_status(request: HttpRequest, slug: str) -> HttpResponse:
    campaign = campaign_for_admin(request.user, slug)
    action = request.POST.get("action", "")
    try:
        report = campaign_set_status(campaign=campaign, action=action)
    except CampaignError as exc:
        messages.error(request, str(exc))
    else:
        text = f"Campaign is now {campaign.get_status_display().lower()}."
        if report is not None:
            text += f" {report.created} new {protocol_for(campaign).unit}s."
            for note in report.notes:
                messages.info(request, note)
        messages.success(request, text)
    return redirect("annotate:campaign-detail", slug=campaign.slug)


@login_required
@require_POST
def pairs_build_view(request: HttpRequest, slug: str) -> HttpResponse:
    campaign = campaign_for_admin(request.user, slug)
    report = protocol_for(campaign).units_build(campaign=campaign)
    for note in report.notes:
        messages.info(request, note)
    how = campaign.protocol if campaign.uses_sets else campaign.get_pairing_display()
    unit = protocol_for(campaign).unit
    text = (
        f"{report.created} new {unit}s ({how}); "
        f"{report.flagged} responses name a model, {report.duplicates} are duplicates."
    )
    if report.removed:
        text += f" {report.removed} unused pairs with a hidden response removed."
    messages.success(request, text)
    return redirect("annotate:campaign-detail", slug=campaign.slug)
