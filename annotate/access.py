"""Access helpers: every view starts with one. Each returns the object or raises 404/403.

A rater asking for a campaign they are not enrolled in gets 404 (we do not confirm it exists);
a rater asking for a researcher/admin page of their own campaign gets 403.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db import connection
from django.http import Http404

from annotate.sql import rows as raw_rows
from annotate.models import Campaign, User

# Named columns, not c.*: a prepared statement must not change its result type under a migration.
_CAMPAIGN_FIELDS = Campaign._meta.concrete_fields
_CAMPAIGN_ATTNAMES = tuple(f.attname for f in _CAMPAIGN_FIELDS)
_CAMPAIGN_FOR_RATER_SQL = (
    f"SELECT {', '.join(f'c.{f.column}' for f in _CAMPAIGN_FIELDS)}, EXISTS (SELECT 1 FROM "
    "annotate_enrollment e WHERE e.campaign_id = c.id AND e.rater_id = %s) "
    "FROM annotate_campaign c WHERE c.slug = %s"
)


def campaign_for_rater(user: User, slug: str) -> Campaign:
    """A campaign the user may rate in: enrolled raters only (admins may preview)."""
    # One raw query for the campaign and whether the user is enrolled: this runs on every vote,
    # where the ORM's compile (or a RawQuerySet's set-up) cost more than the query itself.
    with connection.cursor() as cursor:
        cursor.execute(_CAMPAIGN_FOR_RATER_SQL, [user.pk, slug])
        row = cursor.fetchone()
    if row is None or not (row[-1] or user.is_campaign_admin):
        raise Http404("No such campaign")
    return raw_rows.instance(Campaign, _CAMPAIGN_ATTNAMES, row[:-1])


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
