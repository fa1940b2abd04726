"""python manage.py generate <campaign-slug> [--mode fast|cheap] [--wait | --inline] [--resume | --cancel]

Starts (or joins) a generation job for a campaign. ``--wait`` follows the job with a progress bar
while Celery workers do the work (and says when a worker was lost and its work sent again);
``--inline`` does the work in this process (no worker needed, e.g. for the offline demo), with the
same claims, retries and heartbeat as a worker.
"""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from annotate.models import Campaign, Candidate, GenerationJob
from annotate.selectors.generation import generation_progress
from annotate.services.generation import (
    candidate_generate,
    generation_cancel,
    generation_resume,
    generation_start,
)
from annotate.work import workers


class Command(BaseCommand):
    help = "Generate the missing candidates of a campaign (fast: Messages API; cheap: Message Batches)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("slug", help="campaign slug")
        parser.add_argument("--mode", choices=GenerationJob.Mode.values, default="fast")
        follow = parser.add_mutually_exclusive_group()
        follow.add_argument("--wait", action="store_true", help="follow the job until it ends")
        follow.add_argument("--inline", action="store_true", help="generate in this process")
        action = parser.add_mutually_exclusive_group()
        action.add_argument("--resume", action="store_true", help="retry failed/cancelled/stalled")
        action.add_argument("--cancel", action="store_true", help="cancel the running job")
        parser.add_argument("--poll", type=float, default=1.0, help="seconds between checks")

    def handle(
        self,
        *args,
        slug: str,
        mode: str,
        wait: bool,
        inline: bool,
        resume: bool,
        cancel: bool,
        poll: float,
        **options,
    ) -> None:
        try:
            campaign = Campaign.objects.get(slug=slug)
        except Campaign.DoesNotExist:
            raise CommandError(f"No campaign with slug {slug!r}.") from None
        if cancel:
            job = generation_cancel(campaign=campaign, actor=None)
            self.stdout.write("Cancelled." if job else "No generation is running.")
            return
        if resume:
            job = generation_resume(campaign=campaign, actor=None)
            if job is None:
                raise CommandError("Nothing to resume: no generation has run for this campaign.")
        else:
            job = generation_start(campaign=campaign, actor=None, mode=mode)
        self.stdout.write(f"Job {job.id}: {job.total} candidates ({job.get_mode_display()}).")
        if inline:
            # Serving like a worker: if this process is killed, workers send its claims again.
            with workers.serving(sweep=False):
                self._run_inline(job)
        elif wait:
            self._follow(job, poll)
        else:
            self.stdout.write(
                "Queued for the Celery workers; follow with --wait or on the campaign page."
            )
            return
        self._summary(job)

    def _run_inline(self, job: GenerationJob) -> None:
        """Work through the job here, sleeping out retry delays (a worker would schedule them)."""
        bar = tqdm(total=job.total, unit="resp", desc="generating")
        retry_at: dict[int, float] = {}
        while True:
            ids = list(
                Candidate.objects.filter(job=job, status=Candidate.Status.PENDING).values_list(
                    "id", flat=True
                )
            )
            if not ids:
                break
            now = time.monotonic()
            ready = [cid for cid in ids if retry_at.get(cid, 0) <= now]
            if not ready:
                time.sleep(max(min(retry_at[c] for c in ids) - now, 0.05))
                continue
            for cid in ready:
                outcome = candidate_generate(candidate_id=cid)
                if outcome.retry_in is not None:
                    retry_at[cid] = time.monotonic() + outcome.retry_in
                elif outcome.status in ("done", "failed"):
                    bar.update(1)
        bar.close()

    def _follow(self, job: GenerationJob, poll: float) -> None:
        bar = tqdm(total=job.total, unit="resp", desc="generating")
        said = ""
        while True:
            job.refresh_from_db()
            progress = generation_progress(job=job)
            bar.total = progress.total
            bar.n = progress.finished
            bar.set_postfix(
                failed=progress.failed,
                per_min=f"{progress.per_minute:.0f}",
                cost=f"${progress.cost_usd:.4f}",
            )
            bar.refresh()
            notice = progress.lost_work.message if progress.lost_work else ""
            if notice and notice != said:
                bar.write(notice)  # above the bar, once per change
                said = notice
            if not job.is_active:
                break
            time.sleep(poll)
        bar.close()

    def _summary(self, job: GenerationJob) -> None:
        job.refresh_from_db()
        progress = generation_progress(job=job)
        self.stdout.write(
            f"Job {job.id} {job.get_status_display().lower()}: {progress.done} done, "
            f"{progress.failed} failed, {progress.remaining} remaining, cost ${progress.cost_usd:.4f}."
        )
        for message, count in progress.errors:
            self.stderr.write(f"  {count} x {message}")
        if job.status == GenerationJob.Status.FAILED:
            raise CommandError(job.error or "Generation failed.")
