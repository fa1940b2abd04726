"""Invite raters to a campaign in bulk, with one-time links (the page's and the API's rules).

    python manage.py invite_raters <campaign-slug> --csv raters.csv --base-url https://rate.example.org
    python manage.py invite_raters <campaign-slug> --anonymous 40 --base-url https://rate.example.org

The CSV has a header row (``name,email``; email required, no other column) and one rater a line;
every bad line is reported by number and nothing is stored if there is one. The links (one per
rater, usable once, for INVITE_LINK_DAYS) are written as CSV to --out, or to standard output.
"""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from annotate.models import Campaign
from annotate.models.participants import url_problem
from annotate.selectors.invitations import invitation_links_csv, invitation_rows
from annotate.services.invitations import (
    InviteError,
    invitations_anonymous_create,
    invitations_csv_create,
    invite_csv_decode,
)


class Command(BaseCommand):
    help = "Invite raters (a CSV of names and emails, or N anonymous accounts); write their links."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("campaign", help="campaign slug")
        source = parser.add_mutually_exclusive_group(required=True)
        source.add_argument("--csv", type=Path, help="CSV file: name,email")
        source.add_argument("--anonymous", type=int, metavar="N", help="N anonymous accounts")
        parser.add_argument(
            "--base-url",
            required=True,
            help="the site's address, e.g. https://rate.example.org (the links start with it)",
        )
        parser.add_argument(
            "--out", type=Path, help="links CSV to write (default: standard output)"
        )

    def handle(self, *args, **options) -> None:
        campaign = Campaign.objects.filter(slug=options["campaign"]).first()
        if campaign is None:
            raise CommandError(f"No campaign {options['campaign']!r}.")
        base = options["base_url"].rstrip("/")
        problem = url_problem(base) if not base.startswith("http://") else None
        if problem or not base.startswith(("http://", "https://")):
            raise CommandError(f"--base-url: {problem or 'give an http:// or https:// URL.'}")
        try:
            if options["csv"] is not None:
                try:
                    data = options["csv"].read_bytes()
                except OSError as exc:
                    raise CommandError(f"Cannot read {options['csv']}: {exc.strerror}.") from None
                made = invitations_csv_create(campaign=campaign, text=invite_csv_decode(data))
            else:
                made = invitations_anonymous_create(campaign=campaign, count=options["anonymous"])
        except InviteError as exc:
            raise CommandError("Nothing was stored.\n" + "\n".join(exc.problems)) from None
        body = invitation_links_csv(invitation_rows(made, absolute=lambda path: base + path))
        if options["out"]:
            options["out"].write_text(body, encoding="utf-8")
            self.stdout.write(f"Invited {len(made)} rater(s); links in {options['out']}.")
        else:
            self.stdout.write(body, ending="")
