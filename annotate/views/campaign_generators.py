"""Generators on the campaign page: add (provider, model, parameters) and delete unused ones."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext
from django.views.decorators.http import require_POST

from annotate.access import campaign_for_admin
from annotate.forms import GeneratorForm
from annotate.services.campaigns import CampaignError, generator_create, generator_delete
from annotate.views.campaigns import detail_context


@login_required
@require_POST
def generator_add(request: HttpRequest, slug: str) -> HttpResponse:
    campaign = campaign_for_admin(request.user, slug)
    form = GeneratorForm(request.POST)
    if form.is_valid():
        try:
            generator = generator_create(campaign=campaign, **form.cleaned_data)
        except CampaignError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(
                request, gettext("Generator %(name)s added.") % {"name": generator.name}
            )
            return redirect("annotate:campaign-detail", slug=campaign.slug)
    # Re-show the page with the form's errors next to its fields.
    context = detail_context(request, campaign, generator_form=form, open_generator_form=True)
    return render(request, "annotate/campaign_detail.html", context, status=400)


@login_required
@require_POST
def generator_delete_view(request: HttpRequest, slug: str, generator_id: int) -> HttpResponse:
    campaign = campaign_for_admin(request.user, slug)
    generator = get_object_or_404(campaign.generators, pk=generator_id)
    try:
        generator_delete(generator=generator)
    except CampaignError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, gettext("Generator %(name)s deleted.") % {"name": generator.name})
    return redirect("annotate:campaign-detail", slug=campaign.slug)
