"""The researcher dashboard's figures, computed by a worker over every vote and cached in
CampaignStats (one row per campaign), with their freshness.

    a vote (after commit) ──due_at unset?──► due_at = now + ANALYTICS_REFRESH_SECONDS, and one
        │                                    campaign_stats_task sent with that countdown
        └─ due_at already set: nothing (the run already asked for will include this vote)

    campaign_stats_task ──claim (conditional UPDATE)──► computing ──one UPDATE──► fresh
                             │ due_at cleared                │  figures, computed_at, votes_seen,
                             │                               │  last_vote_id written together
                             └ held by a live run: nothing   └ a vote meanwhile set due_at: if that
                                                               run's time has come, it is sent now

    the Recompute button: due_at = now and a task sent at once.

A run reads every vote up to the newest id it saw at its start (``last_vote_id``), so its figures are
a snapshot, and "new votes since" counts the ids above it. Killed mid-compute (kill -9, out of
memory), a run leaves the previous figures untouched: nothing is written before the final UPDATE.
The redelivered message (acks_late, same task id) takes its own claim back at once; any other run
takes a claim older than the task's hard time limit.
"""

from __future__ import annotations

import logging
import math
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from annotate.models import Campaign, CampaignStats, Candidate
from annotate.reading import reading_length

logger = logging.getLogger(__name__)


def _send(*, campaign_id: int, countdown: float) -> None:
    from annotate.tasks import campaign_stats_task

    transaction.on_commit(
        lambda: campaign_stats_task.apply_async(
            kwargs={"campaign_id": campaign_id}, countdown=max(0.0, countdown)
        )
    )


def stats_vote_arrived(*, campaign_id: int, now: datetime | None = None) -> bool:
    """A vote was recorded: ask for a recompute in ANALYTICS_REFRESH_SECONDS unless one is asked
    for already (then this vote joins it). One conditional UPDATE per vote, writing only when it
    asks; True when it asked."""
    now = now or timezone.now()
    wait = settings.ANALYTICS_REFRESH_SECONDS
    due = now + timedelta(seconds=wait)
    asked = CampaignStats.objects.filter(campaign_id=campaign_id, due_at__isnull=True).update(
        due_at=due
    )
    if not asked:
        try:
            with transaction.atomic():
                _, asked = CampaignStats.objects.get_or_create(
                    campaign_id=campaign_id, defaults={"due_at": due}
                )
        except IntegrityError:  # another vote created it meanwhile, and asked
            asked = False
    if asked:
        _send(campaign_id=campaign_id, countdown=wait)
    return bool(asked)


# campaign id -> the due_at this process last asked for: until then a vote here asks nothing (no
# statement at all on the vote path); a run that starts earlier (Recompute) leaves the votes after
# its snapshot to the next vote past that time, and the page counts them as new meanwhile.
_asked_until: dict[int, datetime] = {}


def stats_vote_arrived_on_commit(*, campaign_id: int) -> None:
    """For the vote services: the debounce runs after the vote commits, outside its transaction
    (robust: a failure there is logged and never fails the vote)."""
    now = timezone.now()
    if _asked_until.get(campaign_id, now) > now:
        return

    def ask() -> None:
        stats_vote_arrived(campaign_id=campaign_id, now=now)
        _asked_until[campaign_id] = now + timedelta(seconds=settings.ANALYTICS_REFRESH_SECONDS)

    transaction.on_commit(ask, robust=True)


def stats_request(*, campaign: Campaign) -> None:
    """The Recompute button: a run now."""
    CampaignStats.objects.get_or_create(campaign=campaign)
    CampaignStats.objects.filter(campaign=campaign).update(due_at=timezone.now())
    _send(campaign_id=campaign.id, countdown=0)


def _stale_after() -> float:
    from annotate.tasks import campaign_stats_task

    return float(campaign_stats_task.time_limit or settings.CELERY_TASK_TIME_LIMIT)


def _claim(*, campaign_id: int, claim: str, now: datetime) -> bool:
    from django.db.models import Q

    CampaignStats.objects.get_or_create(campaign_id=campaign_id)
    free = (
        Q(computing_since__isnull=True)
        | Q(claim=claim)  # this very message, redelivered after its worker died
        | Q(computing_since__lt=now - timedelta(seconds=_stale_after()))
    )
    return bool(
        CampaignStats.objects.filter(free, campaign_id=campaign_id).update(
            computing_since=now, claim=claim, due_at=None, error=""
        )
    )


def json_safe(value):
    """Figures as JSON allows them: NaN and infinities become null, numpy numbers plain ones,
    tuples lists and keys strings."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, str):
        value = value.item()  # numpy scalar
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def headline_alpha(*, campaign: Campaign, figures: dict) -> float | None:
    """The one α the campaign list shows, whatever the protocol."""
    if campaign.is_ranking:
        return figures.get("ordinal_alpha")
    if campaign.is_rating:
        return (figures.get("rating_alpha") or {}).get("overall", {}).get("alpha")
    if campaign.is_steps:
        return figures.get("step_alpha_ordinal")
    return (figures.get("alpha") or {}).get("alpha")


@contextmanager
def _roomy_sorts():
    """PostgreSQL: the run's GROUP BYs and sorts (a million rows) in memory instead of spilling
    to disk with the default 4 MB work_mem: SET LOCAL, so only this transaction of reads."""
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                # SET takes no parameters; an int from settings cannot carry anything else.
                cursor.execute(f"SET LOCAL work_mem = '{int(settings.ANALYTICS_WORK_MEM_MB)}MB'")
        yield


MEASURE_BATCH = 2000


def candidates_measure(*, campaign_id: int) -> int:
    """Store the reading length of the campaign's candidates that have none (Candidate.read_length
    null: written without it, e.g. by raw SQL, or a text changed without it); returns how many.
    Normally none: one indexed look-up. A length is written only where it is still null, so a
    writer that stored the new text's length meanwhile keeps it."""
    from annotate.sql.candidates import read_lengths_write

    # In id order on the partial index of the rows without a length (Candidate.Meta): a range
    # scan per batch.
    unmeasured = Candidate.objects.filter(read_length__isnull=True, prompt__campaign_id=campaign_id)
    done, last = 0, 0
    while True:
        batch = unmeasured.filter(id__gt=last).order_by("id").values_list("id", "text")
        rows = list(batch[:MEASURE_BATCH])
        if not rows:
            return done
        done += read_lengths_write(
            connection, [(cid, reading_length(text or "")) for cid, text in rows]
        )
        last = rows[-1][0]


def stats_compute(*, campaign: Campaign) -> tuple[dict, int, int | None]:
    """(figures, votes seen, newest vote id) over every vote, now. Pairwise: the whole dashboard
    (selectors.analytics); ranking, rating and steps: their protocol's agreement statistics."""
    from annotate.selectors import analytics as reads

    if campaign.is_ranking or campaign.is_rating or campaign.is_steps:
        from annotate.protocols import protocol_for

        agreement = protocol_for(campaign).agreement(campaign=campaign)
        figures = {"headline_alpha": headline_alpha(campaign=campaign, figures=agreement)}
        return figures, 0, None
    candidates_measure(campaign_id=campaign.id)
    upto = reads.last_vote_id(campaign_id=campaign.id)
    with _roomy_sorts():
        figures = reads.research_analytics(campaign=campaign, upto=upto)
    figures["headline_alpha"] = headline_alpha(campaign=campaign, figures=figures)
    return json_safe(figures), figures["vote_rows"], upto


@dataclass(frozen=True)
class Refresh:
    computed: bool
    reason: str = ""


def stats_refresh(*, campaign_id: int, claim: str) -> Refresh:
    """One run: claim the campaign's row, compute outside any transaction, write under the claim."""
    now = timezone.now()
    campaign = Campaign.objects.filter(pk=campaign_id).first()
    if campaign is None:
        return Refresh(False, "no such campaign")
    if not _claim(campaign_id=campaign_id, claim=claim, now=now):
        return Refresh(False, "another run is computing")
    started = time.monotonic()
    try:
        figures, votes_seen, last_id = stats_compute(campaign=campaign)
    except Exception as exc:
        CampaignStats.objects.filter(campaign_id=campaign_id, claim=claim).update(
            computing_since=None, claim="", error=f"{type(exc).__name__}: {exc}"[:2000]
        )
        raise
    duration_ms = int((time.monotonic() - started) * 1000)
    finished = timezone.now()
    written = CampaignStats.objects.filter(campaign_id=campaign_id, claim=claim).update(
        figures=figures,
        computed_at=finished,
        votes_seen=votes_seen,
        last_vote_id=last_id,
        duration_ms=duration_ms,
        computing_since=None,
        claim="",
        error="",
    )
    if not written:
        return Refresh(False, "the claim was taken over")
    due = CampaignStats.objects.filter(campaign_id=campaign_id).values_list("due_at", flat=True)
    due_at = due.first()
    if due_at is not None and due_at <= finished:
        # Votes arrived while this run computed and their run came (and found this one busy).
        _send(campaign_id=campaign_id, countdown=0)
    logger.info("campaign %s stats: %s votes in %s ms", campaign_id, f"{votes_seen:,}", duration_ms)
    return Refresh(True)
