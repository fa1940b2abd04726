"""Reads about generation: one job's counts, rate and cost, and whether a worker was lost, for the
progress fragment, the `generate` command and the API (annotate/work/progress.py: the same reads
serve every kind of work)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Count, Sum
from django.utils import timezone

from annotate.models import Campaign, Candidate, GenerationJob
from annotate.services.generation import CANDIDATES
from annotate.work.progress import LostWork, average_per_minute, lost_work, rate_per_minute


@dataclass
class GenerationProgress:
    job: GenerationJob
    total: int = 0
    done: int = 0
    failed: int = 0
    running: int = 0
    pending: int = 0
    cancelled: int = 0
    cost_usd: Decimal = Decimal("0")
    campaign_cost_usd: Decimal = Decimal("0")
    input_tokens: int = 0
    output_tokens: int = 0
    per_minute: float = 0.0
    eta_seconds: float | None = None
    errors: list[tuple[str, int]] = field(default_factory=list)
    retrying: int = 0  # pending again after a retryable error (429, 529, timeout …)
    last_retry_error: str = ""
    lost_work: LostWork | None = None  # a worker stopped: its work was (or is being) sent again

    @property
    def finished(self) -> int:
        return self.done + self.failed + self.cancelled

    @property
    def remaining(self) -> int:
        return self.pending + self.running

    @property
    def percent(self) -> int:
        return int(100 * self.finished / self.total) if self.total else 100

    @property
    def active(self) -> bool:
        return self.job.is_active


def generation_progress(*, job: GenerationJob) -> GenerationProgress:
    progress = GenerationProgress(job=job)
    rows = (
        Candidate.objects.filter(job=job)
        .values("status")
        .annotate(
            n=Count("id"), cost=Sum("cost_usd"), inp=Sum("input_tokens"), out=Sum("output_tokens")
        )
    )
    for row in rows:
        setattr(progress, row["status"], row["n"])
        progress.cost_usd += row["cost"] or 0
        progress.input_tokens += row["inp"] or 0
        progress.output_tokens += row["out"] or 0
    progress.total = sum(
        (progress.done, progress.failed, progress.running, progress.pending, progress.cancelled)
    )
    progress.campaign_cost_usd = Candidate.objects.filter(
        prompt__campaign_id=job.campaign_id
    ).aggregate(c=Sum("cost_usd"))["c"] or Decimal("0")
    now = timezone.now()
    if job.is_active:
        # What the workers do now, not an average since the start: right after a resume, and
        # honest while a lost worker's claims wait to be sent again.
        progress.per_minute = rate_per_minute(
            Candidate.objects.filter(job=job), done=Candidate.Status.DONE, now=now
        )
        if progress.per_minute:
            progress.eta_seconds = 60.0 * progress.remaining / progress.per_minute
    else:
        progress.per_minute = average_per_minute(progress.done, job.started_at, job.finished_at)
    progress.lost_work = lost_work(CANDIDATES, job.id, active=job.is_active, now=now)
    failed_errors = Candidate.objects.filter(job=job, status=Candidate.Status.FAILED).values_list(
        "error", flat=True
    )[:2000]
    progress.errors = Counter(e for e in failed_errors if e).most_common(3)
    if job.is_active:
        retrying = Candidate.objects.filter(job=job, status=Candidate.Status.PENDING).exclude(
            error=""
        )
        progress.retrying = retrying.count()
        if progress.retrying:
            progress.last_retry_error = retrying.values_list("error", flat=True).last() or ""
    return progress


def generation_progress_for_campaign(*, campaign: Campaign) -> GenerationProgress | None:
    job = campaign.generation_jobs.first()  # newest first (Meta.ordering)
    return generation_progress(job=job) if job else None
