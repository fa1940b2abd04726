"""Raters on the campaign page: create rater accounts, enroll and unenroll them."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext
from django.views.decorators.http import require_POST

from annotate.access import campaign_for_admin, require_admin
from annotate.forms import EnrollForm, RaterCreateForm, UnenrollForm
from annotate.models import Campaign
from annotate.services.campaigns import (
    CampaignError,
    enrollment_add,
    enrollment_remove,
    rater_create,
)


@login_required
@require_POST
def enroll(request: HttpRequest, slug: str) -> HttpResponse:
    """POST usernames=... to enroll; POST remove=<username> to unenroll."""
    campaign = campaign_for_admin(request.user, slug)
    try:
        if "remove" in request.POST:
            form = UnenrollForm({"username": request.POST["remove"]})
            if form.is_valid():
                enrollment_remove(campaign=campaign, username=form.cleaned_data["username"])
                messages.success(
                    request,
                    gettext("%(name)s unenrolled.") % {"name": form.cleaned_data["username"]},
                )
        else:
            form = EnrollForm(request.POST)
            if not form.is_valid():
                raise CampaignError("Give at least one username.")
            added = enrollment_add(campaign=campaign, usernames=form.cleaned_data["usernames"])
            names = ", ".join(e.rater.username for e in added)
            messages.success(request, gettext("Enrolled: %(names)s.") % {"names": names})
    except CampaignError as exc:
        messages.error(request, str(exc))
    return redirect("annotate:campaign-detail", slug=campaign.slug)


@login_required
def rater_create_view(request: HttpRequest) -> HttpResponse:
    """Create a user account; with ?campaign=<slug> the new rater can be enrolled at once."""
    require_admin(request.user)
    slug = request.GET.get("campaign") or request.POST.get("campaign") or ""
    campaign = campaign_for_admin(request.user, slug) if slug else None
    form = RaterCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            user = rater_create(
                username=data["username"], password=data["password"], role=data["role"]
            )
        except CampaignError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(
                request,
                gettext("User %(name)s created (%(role)s).")
                % {"name": user.username, "role": user.get_role_display()},
            )
            if campaign is not None:
                if data["enroll"]:
                    enrollment_add(campaign=campaign, usernames=[user.username])
                    messages.success(
                        request,
                        gettext("%(name)s enrolled in %(title)s.")
                        % {"name": user.username, "title": campaign.title},
                    )
                return redirect("annotate:campaign-detail", slug=campaign.slug)
            return redirect("annotate:rater-create")
    return render(
        request,
        "annotate/campaign_rater_form.html",
        {"form": form, "campaign": campaign, "campaigns": Campaign.objects.all()},
    )
