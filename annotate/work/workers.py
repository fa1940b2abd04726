"""Which process holds a claim, and whether it is alive: the heartbeat, and who sweeps.

Every process that claims work *serves*: it has a ``WorkerProcess`` row, stamps its claims with
that row's id (``claimed_by``), and runs one daemon thread, the keeper, which every tick
(``WORK_HEARTBEAT_SECONDS``, or half the sweep period if that is shorter):

* bumps the row's ``beat_at``. The keeper runs beside the task threads, so a live process beats
  however long its provider calls take; a process killed with ``kill -9`` (or by the hard time
  limit, or the OOM killer) stops beating, and ``WORK_DEAD_AFTER_SECONDS`` later its claims are
  another's to take;
* asks for the sweep's lease (a conditional UPDATE of one ``WorkLease`` row): the one process that
  gets it runs ``work_sweep`` in a thread of its own, so the sweep runs about once per
  ``WORK_SWEEP_SECONDS`` while any process serves, and no single process (a beat scheduler) is
  needed for recovery. A fresh worker sweeps at its first tick.

Celery workers serve from project/celery.py: each prefork child (``worker_process_init``), or the
worker process itself with the threads and solo pools. ``generate --inline`` serves while it works.
A process that does not serve (the web server, a test calling a service) claims with
``claimed_by = NULL``; only the stale window (``Kind.stale_after``) frees such a claim.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db import close_old_connections, connection
from django.utils import timezone

log = logging.getLogger(__name__)

SWEEP_LEASE = "sweep"


def heartbeat_seconds() -> float:
    return float(getattr(settings, "WORK_HEARTBEAT_SECONDS", 3.0))


def dead_after() -> timedelta:
    """A process whose last beat is older than this is dead; it must be several heartbeats."""
    return timedelta(seconds=float(getattr(settings, "WORK_DEAD_AFTER_SECONDS", 12.0)))


def sweep_seconds() -> float:
    return float(getattr(settings, "WORK_SWEEP_SECONDS", 6.0))


def tick_seconds() -> float:
    # Half the sweep period at most: a lease asked for every P/2 is taken at most 1.5 P apart.
    return max(0.05, min(heartbeat_seconds(), sweep_seconds() / 2))


@dataclass
class _Serving:
    pid: int
    sweep: bool
    stop: threading.Event = field(default_factory=threading.Event)
    registered: threading.Event = field(default_factory=threading.Event)
    worker_id: int | None = None
    keeper: threading.Thread | None = None
    sweeper: threading.Thread | None = None


_lock = threading.Lock()
_serving: _Serving | None = None


def current() -> int | None:
    """The id this process stamps its claims with; None if it does not serve (or is a fork of a
    process that does: a child serves on its own). The first call waits for the registration."""
    serving = _serving
    if serving is None or serving.pid != os.getpid():
        return None
    if serving.worker_id is None:
        serving.registered.wait(5.0)
    return serving.worker_id


def serve(*, sweep: bool = True) -> None:
    """Start serving in this process (idempotent): register, beat, and take part in sweeping."""
    global _serving
    with _lock:
        if _serving is not None and _serving.pid == os.getpid():
            return
        serving = _Serving(pid=os.getpid(), sweep=sweep)
        serving.keeper = threading.Thread(
            target=_keep, args=(serving,), name="work-keeper", daemon=True
        )
        _serving = serving
    serving.keeper.start()


def stop_serving() -> None:
    """Stop beating and forget this process's row (its claims, if any are left, are free at once)."""
    global _serving
    with _lock:
        serving, _serving = _serving, None
    if serving is None or serving.pid != os.getpid():
        return
    serving.stop.set()
    for thread in (serving.keeper, serving.sweeper):
        if thread is not None and thread.is_alive():
            thread.join(timeout=30)


@contextmanager
def serving(*, sweep: bool = True) -> Iterator[int | None]:
    serve(sweep=sweep)
    try:
        yield current()
    finally:
        stop_serving()


def _keep(serving: _Serving) -> None:
    from annotate.models import WorkerProcess

    try:
        while not serving.stop.is_set():
            try:
                _beat(serving)
                if serving.sweep:
                    _maybe_sweep(serving)
                    _maybe_poll_prolific(serving)
                    _maybe_refresh_priorities(serving)
                    _maybe_sweep_webhooks(serving)
            except Exception:  # the database may be away for a while: try again next tick
                log.warning("work keeper: heartbeat failed", exc_info=True)
                connection.close()
            else:
                close_old_connections()
            serving.stop.wait(tick_seconds())
        if serving.worker_id is not None:
            WorkerProcess.objects.filter(id=serving.worker_id).delete()
    except Exception:
        log.warning("work keeper: could not remove worker %s", serving.worker_id, exc_info=True)
    finally:
        connection.close()


def _beat(serving: _Serving) -> None:
    from annotate.models import WorkerProcess

    now = timezone.now()
    if serving.worker_id is not None:
        # lost_at back to NULL: a process taken for dead that beats again may be lost again later.
        if WorkerProcess.objects.filter(id=serving.worker_id).update(beat_at=now, lost_at=None):
            return
        # Its row was deleted (the process stalled for an hour): its claims were sent again long
        # ago, and its writes under them find another's stamp. Start over as a new process.
        log.warning("work keeper: worker %s was forgotten; registering again", serving.worker_id)
    row = WorkerProcess.objects.create(
        hostname=socket.gethostname()[:255], pid=os.getpid(), started_at=now, beat_at=now
    )
    serving.worker_id = row.id
    serving.registered.set()


def _maybe_sweep(serving: _Serving) -> None:
    if serving.sweeper is not None and serving.sweeper.is_alive():
        return  # the last sweep is still running here
    if not lease(SWEEP_LEASE, period=sweep_seconds(), worker_id=serving.worker_id):
        return
    serving.sweeper = threading.Thread(target=_sweep, name="work-sweep", daemon=True)
    serving.sweeper.start()


PROLIFIC_LEASE = "prolific-poll"


def _maybe_poll_prolific(serving: _Serving) -> None:
    """With an operator's Prolific token: one worker enqueues the poll of returned and timed-out
    submissions about once per PROLIFIC_POLL_SECONDS (annotate/services/prolific_poll.py)."""
    if not getattr(settings, "PROLIFIC_API_TOKEN", ""):
        return
    period = float(getattr(settings, "PROLIFIC_POLL_SECONDS", 120))
    if lease(PROLIFIC_LEASE, period=period, worker_id=serving.worker_id):
        from annotate.tasks import prolific_poll_task

        prolific_poll_task.delay()


PRIORITIES_LEASE = "pair-priorities"


def _maybe_refresh_priorities(serving: _Serving) -> None:
    """One worker enqueues the rescoring of "active"-ordering campaigns about once per
    PRIORITIES_REFRESH_SECONDS (annotate/services/priorities.py); the task finds which are due."""
    period = float(getattr(settings, "PRIORITIES_REFRESH_SECONDS", 30))
    if lease(PRIORITIES_LEASE, period=period, worker_id=serving.worker_id):
        from annotate.tasks import priorities_refresh_task

        priorities_refresh_task.delay()


WEBHOOKS_LEASE = "webhooks-sweep"


def _maybe_sweep_webhooks(serving: _Serving) -> None:
    """One worker enqueues, about once per WEBHOOKS_SWEEP_SECONDS, the search for completed
    campaigns and lost webhook deliveries (annotate/services/webhooks.py)."""
    period = float(getattr(settings, "WEBHOOKS_SWEEP_SECONDS", 30))
    if lease(WEBHOOKS_LEASE, period=period, worker_id=serving.worker_id):
        from annotate.tasks import webhooks_sweep_task

        webhooks_sweep_task.delay()


def _sweep() -> None:
    from annotate.work.sweep import work_sweep

    try:
        work_sweep()
    except Exception:
        log.exception("work sweep failed")
    finally:
        connection.close()


def lease(name: str, *, period: float, worker_id: int | None) -> bool:
    """True for the one caller per ``period`` seconds that moves the lease's ``ran_at`` forward."""
    from annotate.models import WorkLease

    now = timezone.now()
    due = WorkLease.objects.filter(name=name, ran_at__lte=now - timedelta(seconds=period))
    if due.update(ran_at=now, worker_id=worker_id):
        return True
    _, created = WorkLease.objects.get_or_create(
        name=name, defaults={"ran_at": now, "worker_id": worker_id}
    )
    return created
