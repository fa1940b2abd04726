"""The campaign's crowd page (admins): platform settings, the study URLs to paste into Prolific and
MTurk, signed links, training pairs, and the participants with their time, votes and accuracy;
the approvals CSV."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from annotate.access import campaign_for_admin
from annotate.forms import CrowdSettingsForm, JoinLinkForm, TrainingUnitForm
from annotate.models import Campaign, TrainingUnit
from annotate.selectors.participants import participants_csv, participants_report
from annotate.services.participants import (
    CrowdError,
    crowd_settings_get,
    crowd_settings_update,
    training_unit_add,
)
from annotate.views.participants import join_link

PROLIFIC_PLACEHOLDERS = (
    "?PROLIFIC_PID={{%PROLIFIC_PID%}}&STUDY_ID={{%STUDY_ID%}}&SESSION_ID={{%SESSION_ID%}}"
)


def _context(request: HttpRequest, campaign: Campaign, **extra) -> dict:
    crowd = crowd_settings_get(campaign=campaign)
    ctx = {
        "campaign": campaign,
        "crowd": crowd,
        "form": CrowdSettingsForm(instance=crowd),
        "link_form": JoinLinkForm(),
        "training_form": TrainingUnitForm(),
        "prolific_url": request.build_absolute_uri(
            reverse("annotate:crowd-prolific", args=[campaign.slug])
        )
        + PROLIFIC_PLACEHOLDERS,
        "mturk_url": request.build_absolute_uri(
            reverse("annotate:crowd-mturk", args=[campaign.slug])
        ),
        "training_units": TrainingUnit.objects.filter(campaign=campaign).select_related("pair"),
        "rows": participants_report(campaign=campaign),
        "join_url": "",
    }
    ctx.update(extra)
    return ctx


@login_required
@require_http_methods(["GET", "POST"])
def crowd_page(request: HttpRequest, slug: str) -> HttpResponse:
    campaign = campaign_for_admin(request.user, slug)
    if request.method == "POST":
        form = CrowdSettingsForm(request.POST, instance=crowd_settings_get(campaign=campaign))
        if form.is_valid():
            crowd_settings_update(campaign=campaign, **form.settings())
            messages.success(request, gettext("Crowd settings saved."))
            return redirect("annotate:crowd-admin", slug=slug)
        ctx = _context(request, campaign, form=form)
        return render(request, "annotate/crowd_admin.html", ctx, status=400)
    return render(request, "annotate/crowd_admin.html", _context(request, campaign))


@login_required
@require_POST
def crowd_link_view(request: HttpRequest, slug: str) -> HttpResponse:
    """A signed link for one participant of another platform (shown, not stored)."""
    campaign = campaign_for_admin(request.user, slug)
    form = JoinLinkForm(request.POST)
    crowd = crowd_settings_get(campaign=campaign)
    if form.is_valid():
        try:
            path = join_link(crowd=crowd, **form.cleaned_data)
        except CrowdError as exc:
            form.add_error(None, str(exc))
        else:
            ctx = _context(request, campaign, join_url=request.build_absolute_uri(path))
            return render(request, "annotate/crowd_admin.html", ctx)
    return render(
        request,
        "annotate/crowd_admin.html",
        _context(request, campaign, link_form=form),
        status=400,
    )


@login_required
@require_POST
def crowd_training_add_view(request: HttpRequest, slug: str) -> HttpResponse:
    campaign = campaign_for_admin(request.user, slug)
    form = TrainingUnitForm(request.POST)
    if form.is_valid():
        try:
            training_unit_add(
                campaign=campaign,
                pair_id=form.cleaned_data["pair"],
                explanation=form.cleaned_data["explanation"],
            )
        except CrowdError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, gettext("Training pair added."))
            return redirect("annotate:crowd-admin", slug=slug)
    return render(
        request,
        "annotate/crowd_admin.html",
        _context(request, campaign, training_form=form),
        status=400,
    )


@login_required
@require_GET
def crowd_csv(request: HttpRequest, slug: str) -> HttpResponse:
    """Approvals and bonuses: one row per participant (``?ids=pseudonym`` hides platform ids)."""
    campaign = campaign_for_admin(request.user, slug)
    raw = request.GET.get("ids", "raw") != "pseudonym"
    response = HttpResponse(
        participants_csv(campaign=campaign, raw_ids=raw), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{campaign.slug}-participants.csv"'
    return response
