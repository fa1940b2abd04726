"""python manage.py import_prompts <campaign-slug> <file.jsonl|file.csv> [--skip-existing] [--background]

All or nothing: with any bad line, nothing is imported, every bad line is printed with its number,
and the command exits with status 1. The file is read as a stream (a million lines take tens of
seconds and little memory), with a progress bar on stderr unless --no-progress. --background
hands the file to a worker instead (a background import, as the page makes for a large upload).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from annotate.models import Campaign
from annotate.services.prompt_imports import prompt_import_start
from annotate.services.prompts import ImportResult, prompts_import
from annotate.validation import MAX_IMPORT_BYTES


def campaign_get(slug: str) -> Campaign:
    try:
        return Campaign.objects.get(slug=slug)
    except Campaign.DoesNotExist:
        raise CommandError(f"No campaign with slug {slug!r}.") from None


@contextmanager
def file_open(path: str) -> Iterator[IO[bytes]]:
    """The file, open for reading; one larger than the import limit is refused before it is read."""
    try:
        size = Path(path).stat().st_size
        if size > MAX_IMPORT_BYTES:
            raise CommandError(
                f"{path} is {size / 1024 / 1024:.1f} MB; imports take at most "
                f"{MAX_IMPORT_BYTES // 1024 // 1024} MB: split it."
            )
        source = open(path, "rb")  # noqa: SIM115
    except OSError as exc:
        raise CommandError(f"Cannot read {path}: {exc.strerror}") from None
    with source:
        yield source


def lines_count(source: IO[bytes]) -> int:
    """How many lines the file has (for the progress bar), read in blocks; back to the start."""
    count = 0
    while block := source.read(1 << 20):
        count += block.count(b"\n")
    source.seek(0)
    return count


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
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")
        parser.add_argument(
            "--background",
            action="store_true",
            help="hand the file to a worker and return (its progress shows on the campaign page)",
        )

    def handle(self, *args, **options) -> None:
        campaign = campaign_get(options["campaign"])
        if options["background"]:
            with file_open(options["file"]) as source:
                job = prompt_import_start(
                    campaign=campaign,
                    actor=None,
                    upload=source,
                    file_name=Path(options["file"]).name,
                    skip_existing=options["skip_existing"],
                )
            self.stdout.write(
                f"Import {job.id} queued: a worker imports it; follow it on the campaign page or at "
                f"/api/campaigns/{campaign.slug}/prompts/imports/{job.id}/."
            )
            return
        with file_open(options["file"]) as source:
            total = None if options["no_progress"] else lines_count(source)
            bar = tqdm(total=total, unit="line", disable=options["no_progress"], file=sys.stderr)

            def progress(lines: int, bad: int) -> None:
                bar.update(lines - bar.n)
                bar.set_postfix_str(f"{bad:,} bad" if bad else "", refresh=False)

            try:
                result = prompts_import(
                    campaign=campaign,
                    file_name=options["file"],
                    data=source,
                    skip_existing=options["skip_existing"],
                    progress=progress,
                )
            finally:
                bar.close()
        result_report(self, result, "prompts")
