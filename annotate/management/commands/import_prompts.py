"""python manage.py import_prompts <campaign-slug> <file.jsonl|file.csv> [--skip-existing]

All or nothing: with any bad line, nothing is imported, every bad line is printed with its number,
and the command exits with status 1.
"""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from annotate.models import Campaign
from annotate.services.prompts import ImportResult, prompts_import
from annotate.validation import MAX_IMPORT_BYTES


def campaign_get(slug: str) -> Campaign:
    try:
        return Campaign.objects.get(slug=slug)
    except Campaign.DoesNotExist:
        raise CommandError(f"No campaign with slug {slug!r}.") from None


def file_read(path: str) -> bytes:
    """The file's bytes; one larger than the import limit is refused before it is read."""
    try:
        size = Path(path).stat().st_size
        if size > MAX_IMPORT_BYTES:
            raise CommandError(
                f"{path} is {size / 1024 / 1024:.1f} MB; imports take at most "
                f"{MAX_IMPORT_BYTES // 1024 // 1024} MB: split it."
            )
        return Path(path).read_bytes()
    except OSError as exc:
        raise CommandError(f"Cannot read {path}: {exc.strerror}") from None


def result_report(command: BaseCommand, result: ImportResult, kind: str) -> None:
    """Print the outcome; raise CommandError (exit status 1) when the file was refused."""
    if not result.ok:
        for error in result.errors:
            command.stderr.write(str(error))
        raise CommandError(f"Nothing imported: {len(result.errors)} bad line(s).")
    line = f"Imported {result.created} {kind}."
    if result.skipped:
        line += f" Skipped {result.skipped} already there."
    command.stdout.write(command.style.SUCCESS(line))
    for note in result.notes:
        command.stdout.write(note)


class Command(BaseCommand):
    help = "Import prompts (JSONL or CSV) into a campaign; all rows or none."

    def add_arguments(self, parser) -> None:
        parser.add_argument("campaign", help="campaign slug")
        parser.add_argument("file", help="a .jsonl or .csv file")
        parser.add_argument(
            "--skip-existing",
            action="store_true",
            help="skip prompts already in the campaign instead of refusing the file",
        )

    def handle(self, *args, **options) -> None:
        campaign = campaign_get(options["campaign"])
        result = prompts_import(
            campaign=campaign,
            file_name=options["file"],
            data=file_read(options["file"]),
            skip_existing=options["skip_existing"],
        )
        result_report(self, result, "prompts")
