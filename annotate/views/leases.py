"""Admin page: who holds which pair, release a lease, pause or unpause a rater (with the reason)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext
from django.views.decorators.http import require_POST

from annotate.access import campaign_for_admin
from annotate.models import Enrollment
from annotate.selectors.rating import active_leases, enrolled_raters
from annotate.services.assignment import assignment_release
from annotate.validation import MAX_REASON, id_parse, text_problem


@login_required
def leases(request: HttpRequest, slug: str) -> HttpResponse:
    campaign = campaign_for_admin(request.user, slug)
    ctx = {
        "campaign": campaign,
        "active": active_leases(campaign=campaign),
        "now": timezone.now(),
        "raters": enrolled_raters(campaign=campaign),
    }
    return render(request, "annotate/leases.html", ctx)


@login_required
@require_POST
def lease_release(request: HttpRequest, slug: str) -> HttpResponse:
    campaign = campaign_for_admin(request.user, slug)
    assignment_id = id_parse(request.POST.get("assignment", "")) or 0
    if assignment_release(campaign=campaign, assignment_id=assignment_id):
        messages.success(request, gettext("Lease released; the pair is back in the pool."))
    else:
        messages.error(request, gettext("That lease is no longer active."))
    return redirect("annotate:leases", slug=campaign.slug)


@login_required
@require_POST
def rater_pause(request: HttpRequest, slug: str) -> HttpResponse:
    """Pause (with a reason) or unpause one rater of this campaign."""
    campaign = campaign_for_admin(request.user, slug)
    enrollment = Enrollment.objects.filter(
        campaign=campaign, pk=id_parse(request.POST.get("enrollment", "")) or 0
    ).first()
    reason = request.POST.get("reason", "").strip()
    if enrollment is None:
        messages.error(request, gettext("No such rater in this campaign."))
    elif request.POST.get("action") == "unpause":
        enrollment.paused, enrollment.paused_reason = False, ""
        enrollment.save(update_fields=["paused", "paused_reason"])
        messages.success(
            request, gettext("%(name)s may rate again.") % {"name": enrollment.rater.username}
        )
    elif text_problem(reason) or len(reason) > MAX_REASON:
        messages.error(
            request,
            gettext("Give a reason of at most %(n)s characters, as plain text.")
            % {"n": MAX_REASON},
        )
    else:
        reason = reason or f"Paused by {request.user.username}."
        enrollment.paused, enrollment.paused_reason = True, reason
        enrollment.save(update_fields=["paused", "paused_reason"])
        messages.success(
            request, gettext("%(name)s is paused.") % {"name": enrollment.rater.username}
        )
    return redirect("annotate:leases", slug=campaign.slug)
