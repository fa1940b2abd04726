"""python manage.py import_responses <campaign-slug> <file.jsonl|file.csv>

Responses made elsewhere join the campaign as candidates of "imported" generators (format in
annotate/services/responses.py). All or nothing, bad lines printed by number, exit status 1.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand

from annotate.management.commands.import_prompts import campaign_get, file_open, result_report
from annotate.services.responses import responses_import


class Command(BaseCommand):
    help = "Import responses produced elsewhere (JSONL or CSV) into a campaign; all rows or none."

    def add_arguments(self, parser) -> None:
        parser.add_argument("campaign", help="campaign slug")
        parser.add_argument("file", help="a .jsonl or .csv file")

    def handle(self, *args, **options) -> None:
        campaign = campaign_get(options["campaign"])
        with file_open(options["file"]) as source:
            result = responses_import(campaign=campaign, file_name=options["file"], data=source)
        result_report(self, result, "responses")
