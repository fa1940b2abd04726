"""The approvals and bonuses CSV of a campaign's crowd participants (the crowd page's and the API's).

    python manage.py participants_csv <campaign-slug> [--out participants.csv] [--pseudonyms]

One row per participant: platform id, study, session, MTurk assignment and HIT, status, active
minutes (heartbeats; idle gaps not counted), votes, gold accuracy, training score, start and finish.
Without --out it writes to standard output.
"""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from annotate.models import Campaign
from annotate.selectors.participants import participants_csv


class Command(BaseCommand):
    help = "Write a campaign's participants (time, votes, accuracy, status) as CSV."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("campaign", help="campaign slug")
        parser.add_argument("--out", type=Path, help="file to write (default: standard output)")
        parser.add_argument(
            "--pseudonyms", action="store_true", help="salted pseudonyms instead of platform ids"
        )

    def handle(self, *args, **options) -> None:
        campaign = Campaign.objects.filter(slug=options["campaign"]).first()
        if campaign is None:
            raise CommandError(f"No campaign {options['campaign']!r}.")
        body = participants_csv(campaign=campaign, raw_ids=not options["pseudonyms"])
        if options["out"]:
            options["out"].write_text(body, encoding="utf-8")
            rows = body.count("\n") - 1
            self.stdout.write(f"Wrote {rows} participant(s) to {options['out']}.")
        else:
            self.stdout.write(body, ending="")
