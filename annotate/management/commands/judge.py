"""python manage.py judge <campaign-slug> [--rank] [--mode fast|cheap]

Starts the campaign's AI judge, as the judge page's button does, for the Celery workers to run:
a pairwise or ranking campaign's pairs (``--rank``: every two candidates of each prompt, for
best-of-N), a rating campaign's units (every response scored) or a step campaign's traces (every
step labelled). The judge's settings are the campaign's (the judge page). Follow it on the judge
page or with ``GET /api/campaigns/<slug>/judge/``.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from annotate.models import Campaign, JudgeConfig
from annotate.services.judging import judge_pairs_start, judge_rank_start
from annotate.services.judging_config import JudgeRefused
from annotate.services.judging_ratings import rating_judge_start
from annotate.services.judging_steps import step_judge_start


class Command(BaseCommand):
    help = "Start the campaign's AI judge (its pairs, or its units for rating and step campaigns)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("slug", help="campaign slug")
        parser.add_argument(
            "--rank", action="store_true", help="every two candidates of each prompt (best-of-N)"
        )
        parser.add_argument(
            "--mode", choices=JudgeConfig.Mode.values, help="fast or cheap (default: the judge's)"
        )

    def handle(self, *args, slug: str, rank: bool, mode: str | None, **options) -> None:
        try:
            campaign = Campaign.objects.get(slug=slug)
        except Campaign.DoesNotExist:
            raise CommandError(f"No campaign with slug {slug!r}.") from None
        try:
            if campaign.is_rating or campaign.is_steps:
                if rank or mode:
                    raise CommandError(
                        "--rank and --mode are for pairs; this campaign's judge scores its units."
                    )
                start = rating_judge_start if campaign.is_rating else step_judge_start
                pending = start(campaign=campaign, actor=None)
                what = "units, every response scored" if campaign.is_rating else "traces"
                self.stdout.write(f"{pending} {what} queued for the judge.")
                return
            start = judge_rank_start if rank else judge_pairs_start
            job = start(campaign=campaign, actor=None, mode=mode)
        except JudgeRefused as refused:
            raise CommandError(str(refused)) from None
        self.stdout.write(
            f"Judge job {job.id}: {job.total} verdicts, each in both orders "
            f"({job.get_mode_display()}), queued for the workers."
        )
