"""What every progress read shares: the rate from recent completions, and the lost-worker notice.

Read by selectors/generation.py, selectors/judging.py and the export rows (pages, API and the
``generate --wait`` command).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, Min, Q, QuerySet
from django.utils import timezone

from annotate.work.claims import held_by_the_dead
from annotate.work.kinds import Kind

RATE_WINDOW = timedelta(seconds=60)


def rate_per_minute(
    rows: QuerySet, *, done: str, now: datetime, window: timedelta = RATE_WINDOW
) -> float:
    """Rows finished per minute lately: those done within ``window``, over the time since the
    earliest of them was claimed (at most the window). After a resume, or a stall while a dead
    worker's claims waited to be sent again, this is what the workers do now, not an average since
    the job began."""
    recent = rows.filter(status=done, finished_at__gte=now - window).aggregate(
        n=Count("id"), since=Min("claimed_at")
    )
    if not recent["n"]:
        return 0.0
    since = max(recent["since"] or now - window, now - window)
    return recent["n"] * 60.0 / max((now - since).total_seconds(), 1.0)


def average_per_minute(done: int, started: datetime | None, ended: datetime | None) -> float:
    """For a job that has ended: rows done per minute between its start and its end."""
    if not (done and started and ended):
        return 0.0
    return done / max((ended - started).total_seconds() / 60.0, 1 / 60)


@dataclass(frozen=True)
class LostWork:
    """Work of a process that stopped (killed, out of memory, over its time limit)."""

    noun: str
    at: datetime | None  # when the sweep last sent such work again
    resent: int  # how many rows it sent again then
    times: int  # how often that happened in this job
    waiting: int  # rows held right now by a process that stopped beating (sent again shortly)

    @property
    def message(self) -> str:
        if self.waiting:
            return (
                f"A worker stopped answering: the {self.waiting} {self.noun} it held are being "
                "sent again."
            )
        at = timezone.localtime(self.at).strftime("%H:%M:%S")
        again = f" (worker lost {self.times} times in this job)" if self.times > 1 else ""
        return f"A worker stopped at {at}; the {self.resent} {self.noun} it held were sent again{again}."


def lost_work(
    kind: Kind, job_id: int, *, active: bool, now: datetime | None = None
) -> LostWork | None:
    from annotate.models import WorkRecovery

    now = now or timezone.now()
    recoveries = WorkRecovery.objects.filter(kind=kind.name, job_id=job_id)
    last = recoveries.order_by("-at").first()
    waiting = 0
    if active:
        dead = Q(status=kind.running) & held_by_the_dead(now)
        waiting = kind.rows(job_id).filter(dead).count()
    if last is None and not waiting:
        return None
    return LostWork(
        noun=kind.noun,
        at=last.at if last else None,
        resent=last.rows if last else 0,
        times=recoveries.count(),
        waiting=waiting,
    )
