"""Bulk invitations: the admin's page (a CSV of names and emails, or a count of anonymous
accounts; the links as CSV), and the invited rater's one-time link.

The link's GET only shows what it will do (mail scanners and link previews fetch links; they must
not use them up); the POST uses it. A used, expired or forged link gets a page that says so (410
or 400), never a 500.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import login, update_session_auth_hash
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import SetPasswordForm
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext, ngettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from annotate.access import campaign_for_admin
from annotate.forms import InviteAnonymousForm, InviteCsvForm
from annotate.models import Campaign, Invitation
from annotate.selectors.invitations import (
    invitation_counts,
    invitation_links_csv,
    invitation_rows,
    invitations_open,
)
from annotate.services.invitations import (
    CSV_COLUMNS,
    InviteError,
    InviteLinkError,
    invitation_for_token,
    invitation_redeem,
    invitation_signs_in,
    invitations_anonymous_create,
    invitations_csv_create,
    link_days,
)

TEMPLATE = "annotate/invitations.html"


def _page(
    request: HttpRequest,
    campaign: Campaign,
    *,
    status: int = 200,
    problems: list[str] | None = None,
    created: list[Invitation] | None = None,
    **forms,
) -> HttpResponse:
    ctx = {
        "campaign": campaign,
        "csv_form": forms.get("csv_form") or InviteCsvForm(),
        "anonymous_form": forms.get("anonymous_form") or InviteAnonymousForm(),
        "columns": CSV_COLUMNS,
        "problems": problems or [],
        "created": invitation_rows(created, absolute=request.build_absolute_uri) if created else [],
        "counts": invitation_counts(campaign=campaign),
        "days": link_days(),
    }
    return render(request, TEMPLATE, ctx, status=status)


@login_required
@require_GET
def invitations_page(request: HttpRequest, slug: str) -> HttpResponse:
    return _page(request, campaign_for_admin(request.user, slug))


def _created(request: HttpRequest, campaign: Campaign, made: list[Invitation]) -> HttpResponse:
    messages.success(
        request,
        ngettext(
            "%(n)s rater invited. Copy the link below, or download every open link as CSV.",
            "%(n)s raters invited. Copy the links below, or download every open link as CSV.",
            len(made),
        )
        % {"n": len(made)},
    )
    return _page(request, campaign, created=made, status=201)


@login_required
@require_POST
def invitations_csv_view(request: HttpRequest, slug: str) -> HttpResponse:
    campaign = campaign_for_admin(request.user, slug)
    form = InviteCsvForm(request.POST, request.FILES)
    if not form.is_valid():
        return _page(request, campaign, csv_form=form, status=400)
    try:
        made = invitations_csv_create(
            campaign=campaign, text=form.cleaned_data["csv"], created_by=request.user
        )
    except InviteError as exc:
        return _page(request, campaign, csv_form=form, problems=exc.problems, status=400)
    return _created(request, campaign, made)


@login_required
@require_POST
def invitations_anonymous_view(request: HttpRequest, slug: str) -> HttpResponse:
    campaign = campaign_for_admin(request.user, slug)
    form = InviteAnonymousForm(request.POST)
    if not form.is_valid():
        return _page(request, campaign, anonymous_form=form, status=400)
    try:
        made = invitations_anonymous_create(
            campaign=campaign, count=form.cleaned_data["count"], created_by=request.user
        )
    except InviteError as exc:
        return _page(request, campaign, anonymous_form=form, problems=exc.problems, status=400)
    return _created(request, campaign, made)


@login_required
@require_GET
def invitations_links_csv(request: HttpRequest, slug: str) -> HttpResponse:
    """Every open invitation's link (unused, unexpired), one row each."""
    campaign = campaign_for_admin(request.user, slug)
    rows = invitation_rows(invitations_open(campaign=campaign), absolute=request.build_absolute_uri)
    response = HttpResponse(invitation_links_csv(rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{campaign.slug}-invitations.csv"'
    response["Cache-Control"] = "no-store"  # the links sign people in
    return response


# --- the invited rater ----------------------------------------------------------------------------


def _unusable(request: HttpRequest, exc: InviteLinkError) -> HttpResponse:
    return render(request, "annotate/invite_error.html", {"message": str(exc)}, status=exc.status)


@require_http_methods(["GET", "POST"])
def invite(request: HttpRequest, token: str) -> HttpResponse:
    """GET: what the link does (nothing used up). POST: use it, once."""
    try:
        invitation = invitation_for_token(token) if request.method == "GET" else None
        if invitation is not None:
            ctx = {
                "invitation": invitation,
                "campaign": invitation.campaign,
                "signs_in": invitation_signs_in(invitation),
            }
            return render(request, "annotate/invite.html", ctx)
        invitation = invitation_redeem(token=token)
    except InviteLinkError as exc:
        return _unusable(request, exc)
    work = reverse("annotate:rate", args=[invitation.campaign.slug])
    if not invitation_signs_in(invitation):
        # An account that existed before: the invitation enrolled it, its owner signs in as usual.
        messages.info(
            request,
            gettext("You are enrolled in %(title)s. Sign in with your account to start.")
            % {"title": invitation.campaign.title},
        )
        return redirect_to_login(work)
    login(request, invitation.user, backend="django.contrib.auth.backends.ModelBackend")
    if invitation.kind == Invitation.Kind.EMAIL:
        return redirect(
            f"{reverse('annotate:invite-password')}?campaign={invitation.campaign.slug}"
        )
    return redirect(work)


@login_required
@require_http_methods(["GET", "POST"])
def invite_password(request: HttpRequest) -> HttpResponse:
    """An invited rater's first password (optional: they may go straight to work). Only for an
    account without a password; anyone else is sent home."""
    user = request.user
    if user.has_usable_password():
        return redirect("annotate:home")
    campaign = Campaign.objects.filter(
        slug=request.GET.get("campaign", ""), enrollments__rater=user
    ).first()
    work = reverse("annotate:rate", args=[campaign.slug]) if campaign else reverse("annotate:home")
    form = SetPasswordForm(user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        form.save()
        update_session_auth_hash(request, user)
        messages.success(request, gettext("Your password is set."))
        return redirect(work)
    status = 400 if request.method == "POST" else 200
    return render(
        request,
        "annotate/invite_password.html",
        {"form": form, "work_url": work, "campaign": campaign},
        status=status,
    )
