"""Access helpers: every view starts with one. Each returns the object or raises 404/403.

A rater asking for a campaign they are not enrolled in gets 404 (we do not confirm it exists);
a rater asking for a researcher/admin page of their own campaign gets 403.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import Http404

from annotate.models import Campaign, User
from annotate.sql import campaigns as campaigns_sql


def campaign_for_rater(user: User, slug: str) -> Campaign:
    """A campaign the user may rate in: enrolled raters only (admins may preview)."""
    # Plain SQL (annotate/sql/campaigns.py): this runs on every rating request, where the ORM's
    # compile cost more than the query itself.
    found = campaigns_sql.for_rater(user=user, slug=slug)
    if found is None or not (found[1] or user.is_campaign_admin):
        raise Http404("No such campaign")
    return found[0]


def campaign_for_researcher(user: User, slug: str) -> Campaign:
    """Progress, analytics and exports: researchers and admins."""
    if not user.is_researcher:
        if Campaign.objects.filter(slug=slug, enrollments__rater=user).exists():
            raise PermissionDenied("Researchers and admins only")
        raise Http404("No such campaign")
    try:
        return Campaign.objects.get(slug=slug)
    except Campaign.DoesNotExist:
        raise Http404("No such campaign") from None


def campaign_for_admin(user: User, slug: str) -> Campaign:
    """Changing a campaign: admins only."""
    if not user.is_campaign_admin:
        if (
            user.is_researcher
            or Campaign.objects.filter(slug=slug, enrollments__rater=user).exists()
        ):
            raise PermissionDenied("Admins only")
        raise Http404("No such campaign")
    try:
        return Campaign.objects.get(slug=slug)
    except Campaign.DoesNotExist:
        raise Http404("No such campaign") from None


def require_admin(user: User) -> None:
    if not user.is_campaign_admin:
        raise PermissionDenied("Admins only")
