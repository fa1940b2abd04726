"""A big export built by several processes (PostgreSQL, JSON Lines): each one reads the vote rows
of a range of the prompts, all on one snapshot, and writes them; the parts are joined in order.

Why: past the database's COPY, an export is Python work on every row (aggregating, building,
checking and encoding it), one core's worth: bench/export.py at 1M pairs spent 19 s of this
process's CPU beside a COPY of 9 s. Prompts are independent of each other in every JSON Lines
format (a row belongs to one prompt; the rules across rows, duplicates and ties, hold within one;
the split is decided per prompt), so ranges of them can be built apart.

How:

* the worker's own process (the lead) reads in a REPEATABLE READ transaction
  (selectors.exports.export_read_transaction(shared=True)) and exports its snapshot;
* it forks one process per range after the first. Forked, a part starts at once with everything
  the lead has imported and computed (a model method's fitted labels too); it makes a connection
  of its own and reads the lead's snapshot (SET TRANSACTION SNAPSHOT): the rows the lead would
  have read alone, however many votes arrive meanwhile;
* each process writes its range (pipeline.write_rows; a part's files carry its number), the lead
  the first range into the export's own files. Progress goes through a shared counter per part;
* the lead waits for the parts, appends their files to its own in order and adds up their
  summaries; then the card and SHA256SUMS. The bytes are those one process writes.

A part dies with the lead (PR_SET_PDEATHSIG: a worker killed with -9 leaves no process behind,
nor a snapshot held open); a lead that fails or is stopped kills its parts. A part's failure fails
the export with its error; a row that breaks its format's rules is reported by its number in the
joined file, as one process would.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import mmap
import os
import pickle
import shutil
import signal
import struct
import time
import traceback
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.utils import load_backend

from annotate.exports.options import ExportOptions
from annotate.exports.pipeline import file_kind, finish_export, write_rows
from annotate.exports.summary import ExportFailed, ExportSummary, InvalidExport, merge_summaries
from annotate.exports.validate import InvalidRow
from annotate.selectors import exports as export_reads
from annotate.sql import exports as export_sql

logger = logging.getLogger(__name__)

PromptRange = tuple[int | None, int | None]  # prompt ids: from (included), to (not); None: open

# Protocols whose export rows are the pairwise vote rows, which take a range of prompts.
_PROTOCOLS = frozenset({"pairwise", "live"})
_POLL_SECONDS = 0.05
_PR_SET_PDEATHSIG = 1


class ExportPartFailed(ExportFailed):
    """A part of the export failed (its process raised, or ended without saying how)."""


def export_ranges(*, campaign, options: ExportOptions, pairs_in=None) -> list[PromptRange]:
    """The prompt ranges to build this export in, one process each; [] for one process (SQLite,
    a format other than JSON Lines, a protocol whose rows are not the pairwise vote rows, fewer
    than EXPORT_PARALLEL_MIN_PAIRS pairs, EXPORT_PROCESSES=1, or inside a transaction, whose
    uncommitted rows another process would not see)."""
    parts = settings.EXPORT_PROCESSES
    if (
        parts < 2
        or not hasattr(os, "fork")
        or connection.vendor != "postgresql"
        or connection.in_atomic_block
        or campaign.protocol not in _PROTOCOLS
        or file_kind(options.format) != "jsonl"
        or options.is_conversations
        or options.is_ranking
        or options.is_rating
        or options.is_best_of_n
    ):
        return []
    pairs_read, ranges = export_reads.export_prompt_ranges(
        campaign_id=campaign.id, parts=parts, pairs_in=pairs_in
    )
    if pairs_read < settings.EXPORT_PARALLEL_MIN_PAIRS or len(ranges) < 2:
        return []
    return ranges


def write_export_parts(
    read: Callable[[PromptRange], Iterable[dict]],
    ranges: list[PromptRange],
    *,
    options: ExportOptions,
    out_dir: Path,
    context,
    progress: Callable[[int], None] | None = None,
    progress_every: int = 5000,
    **build,
) -> ExportSummary:
    """pipeline.write_export over ``read(range)`` for each of ``ranges``, one process each. Run it
    inside export_read_transaction(shared=True). ``build``: what write_rows takes besides."""
    out_dir = Path(out_dir)
    data_dir = out_dir / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    snapshot = export_sql.snapshot_export()
    seen = _Counts(len(ranges))

    def report(part: int) -> Callable[[int], None]:
        def on(pairs_seen: int) -> None:
            seen.set(part, pairs_seen)
            if part == 0 and progress is not None:
                progress(seen.total())

        return on

    lead, running = os.getpid(), {}
    try:
        for part in range(1, len(ranges)):
            pid = _fork()
            if pid == 0:  # the part's process: it never returns from here
                _part(
                    lead=lead,
                    snapshot=snapshot,
                    rows=lambda part=part: read(ranges[part]),
                    seen=report(part),
                    result=_result_path(data_dir, part),
                    options=options,
                    data_dir=data_dir,
                    suffix=_suffix(part),
                    progress_every=progress_every,
                    **build,
                )
            running[part] = pid
        summaries = [  # in part order: the lead's first, then each part's as it is read below
            write_rows(
                read(ranges[0]),
                options=options,
                data_dir=data_dir,
                progress=report(0),
                progress_every=progress_every,
                **build,
            )
        ]
        outcomes = _wait(running, data_dir, lambda: progress and progress(seen.total()))
    except BaseException:
        _stop(running)
        _remove_parts(data_dir, len(ranges))
        raise
    for part in range(1, len(ranges)):
        outcome = outcomes[part]
        if outcome[0] != "done":
            _remove_parts(data_dir, len(ranges))
            raise _failure(part, outcome, summaries, parts=len(ranges))
        summaries.append(outcome[1])
    _join(
        data_dir, kind=file_kind(options.format), splits=list(summaries[0].rows), parts=len(ranges)
    )
    return finish_export(
        merge_summaries(summaries),
        options=options,
        out_dir=out_dir,
        context=context,
        progress=progress,
    )


# --- the part's process -------------------------------------------------------------------------

_INHERITED: list = []  # the lead's database connections, kept here unused and never closed


def _part(*, lead: int, snapshot: str, rows, seen, result: Path, **write) -> None:
    status, outcome = 1, ("failed", "ended before it began")
    try:
        _die_with(lead)
        for number in (
            signal.SIGTERM,
            signal.SIGINT,
            signal.SIGHUP,
            signal.SIGUSR1,
            signal.SIGALRM,
        ):
            signal.signal(number, signal.SIG_DFL)  # the worker's handlers are not this process's
        _own_connection()
        with export_reads.export_read_transaction(imported=snapshot):
            summary = write_rows(rows(), progress=seen, **write)
        status, outcome = 0, ("done", summary)
    except InvalidExport as exc:
        broken = exc.broken
        where = (broken.row, broken.rule, broken.detail) if broken is not None else None
        outcome = ("invalid", str(exc), exc.file, where)
    except BaseException:  # noqa: BLE001 - every failure goes to the lead, which raises it
        outcome = ("failed", traceback.format_exc())
    try:
        result.write_bytes(pickle.dumps(outcome))
    finally:
        os._exit(status)  # no cleanup: what the lead's process holds is the lead's to close


def _fork() -> int:
    """os.fork, without the warning Python gives in a process with other threads (a test's, or a
    worker's heartbeat): a fork copies only this thread, so a lock another thread held stays held
    in the child. The part touches none: it makes its own connection and writer thread, logs
    nothing (logging's locks are renewed in a child anyway), and leaves with os._exit."""
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message=r".*fork\(\) may lead to deadlocks", category=DeprecationWarning
        )
        return os.fork()


def _die_with(lead: int) -> None:
    """Ask the kernel to kill this process when the lead's ends (Linux), and end now if it has."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != lead:
        os._exit(1)


def _own_connection() -> None:
    """A connection of this process's own in place of the lead's: the lead's socket belongs to
    the lead (psycopg does not close a connection in a process that did not open it, and the old
    wrapper is kept here unused). The pool, if any, is the lead's too: this one connects alone."""
    inherited = connections[DEFAULT_DB_ALIAS]
    _INHERITED.append(inherited)
    own = dict(inherited.settings_dict)
    own["OPTIONS"] = {k: v for k, v in own.get("OPTIONS", {}).items() if k != "pool"}
    backend = load_backend(own["ENGINE"])
    connections[DEFAULT_DB_ALIAS] = backend.DatabaseWrapper(own, DEFAULT_DB_ALIAS)


# --- the lead: waiting, failures, joining -------------------------------------------------------


class _Counts:
    """Pairs seen per part, in memory the parts share with the lead (a part writes its own)."""

    def __init__(self, parts: int) -> None:
        self.parts = parts
        self.memory = mmap.mmap(-1, 8 * parts)  # anonymous and shared: the forks see it

    def set(self, part: int, value: int) -> None:
        struct.pack_into("q", self.memory, 8 * part, value)

    def total(self) -> int:
        return sum(struct.unpack_from(f"{self.parts}q", self.memory))


def _suffix(part: int) -> str:
    return f".part{part}" if part else ""


def _result_path(data_dir: Path, part: int) -> Path:
    return data_dir / f".part{part}.result"


def _wait(running: dict[int, int], data_dir: Path, report: Callable[[], object]) -> dict:
    """Each part's outcome once its process has ended; ``running`` loses each one reaped."""
    outcomes = {}
    while running:
        for part, pid in list(running.items()):
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                del running[part]
                outcomes[part] = _outcome(_result_path(data_dir, part), status)
        report()
        if running:
            time.sleep(_POLL_SECONDS)
    return outcomes


def _outcome(path: Path, status: int) -> tuple:
    try:
        outcome = pickle.loads(path.read_bytes())  # noqa: S301 - written by our own fork
    except FileNotFoundError:
        code = os.waitstatus_to_exitcode(status)
        how = f"was killed by signal {-code}" if code < 0 else f"exited with status {code}"
        return ("failed", f"its process {how}")
    path.unlink()
    return outcome


def _stop(running: dict[int, int]) -> None:
    """Kill and reap the parts still running (the lead failed, or was stopped)."""
    for pid in running.values():
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    for pid in running.values():
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)
    running.clear()


def _failure(part: int, outcome: tuple, summaries: list, *, parts: int) -> ExportFailed:
    if outcome[0] == "invalid" and outcome[3] is not None:
        _, _, file, (row, rule, detail) = outcome
        split = Path(file).name.split(".")[0]
        before = sum(summaries[earlier].rows.get(split, 0) for earlier in range(part))
        broken = InvalidRow(row + before, rule, detail)
        return InvalidExport(f"{file} {broken}", file=file, broken=broken)
    if outcome[0] == "invalid":
        return InvalidExport(outcome[1])
    logger.error("export part %s of %s failed:\n%s", part + 1, parts, outcome[1])
    last = outcome[1].strip().splitlines()[-1] if outcome[1].strip() else "no error given"
    return ExportPartFailed(f"Part {part + 1} of {parts} of the export failed: {last}")


def _join(data_dir: Path, *, kind: str, splits: list[str], parts: int) -> None:
    """Append each part's file of each split to the lead's, in order, and remove it."""
    for split in splits:
        with open(data_dir / f"{split}.{kind}", "r+b", buffering=0) as joined:
            joined.seek(0, os.SEEK_END)
            for part in range(1, parts):
                path = data_dir / f"{split}{_suffix(part)}.{kind}"
                with open(path, "rb", buffering=0) as piece:
                    _append(piece, joined)
                path.unlink()


def _append(source, target) -> None:
    """The rest of ``source`` at ``target``'s position, copied by the kernel where it can (not
    to a file opened for appending: copy_file_range refuses those)."""
    left = os.fstat(source.fileno()).st_size - source.tell()
    try:
        while left > 0:
            copied = os.copy_file_range(source.fileno(), target.fileno(), left)
            if copied == 0:
                break
            left -= copied
    except OSError:  # a file system without it: what is left, through this process
        shutil.copyfileobj(source, target, 1 << 20)


def _remove_parts(data_dir: Path, parts: int) -> None:
    for part in range(1, parts):
        for path in data_dir.glob(f"*{_suffix(part)}.*"):
            path.unlink(missing_ok=True)
        _result_path(data_dir, part).unlink(missing_ok=True)
