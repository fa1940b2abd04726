"""Reads about invitations: a campaign's open ones, and their links as a CSV for the admin."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable

from django.db.models import QuerySet
from django.urls import reverse
from django.utils import timezone

from annotate.models import Campaign, Invitation

LINK_COLUMNS = ["username", "name", "email", "kind", "link", "expires_at"]


def invitations_open(*, campaign: Campaign) -> QuerySet[Invitation]:
    """Invitations of the campaign whose link may still be used."""
    return (
        Invitation.objects.filter(
            campaign=campaign, used_at__isnull=True, expires_at__gt=timezone.now()
        )
        .select_related("user")
        .order_by("id")
    )


def invitation_counts(*, campaign: Campaign) -> dict[str, int]:
    now = timezone.now()
    rows = Invitation.objects.filter(campaign=campaign)
    return {
        "open": rows.filter(used_at__isnull=True, expires_at__gt=now).count(),
        "used": rows.filter(used_at__isnull=False).count(),
        "expired": rows.filter(used_at__isnull=True, expires_at__lte=now).count(),
    }


def invitation_rows(
    invitations: Iterable[Invitation], *, absolute: Callable[[str], str]
) -> list[dict]:
    """One row per invitation with its link (``absolute`` turns the path into a URL). A link is
    signed afresh each time; every one of them names the same one-time invitation."""
    from annotate.services.invitations import invitation_token

    return [
        {
            "username": inv.user.username,
            "name": inv.user.first_name,
            "email": inv.user.email,
            "kind": inv.kind,
            "link": absolute(reverse("annotate:invite", args=[invitation_token(inv)])),
            "expires_at": inv.expires_at.isoformat(timespec="seconds"),
        }
        for inv in invitations
    ]


def invitation_links_csv(rows: list[dict]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=LINK_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _cell(row[k]) for k in LINK_COLUMNS})
    return out.getvalue()


def _cell(value: str) -> str:
    """Names and emails come from a person: keep a spreadsheet from reading them as formulas."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value
