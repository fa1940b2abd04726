"""The relay between the workers that stream a live reply and the web processes that send it on.

A worker calls ``publish(channel, kind, data)`` for each piece of a reply; any web process reads
the channel with ``events(channel, after)`` (async, under ASGI) or ``events_sync`` (under WSGI), or
serves it to a browser's EventSource with ``sse_response``. One channel is one reply.

Events of a channel, in the order they were published (every reader sees all of them, in that
order; nothing is lost between a publish and a reader that comes later, since readers replay)::

    delta {"text": "..."}*   the next piece of text
    reset {}                 a new writer starts over (the one before died mid-reply): drop the text
    end   {...}              the reply is finished (stop reason, usage: the writer's own fields)
    error {"message": "..."} the reply failed

``end`` and ``error`` are terminal: ``events`` stops after one, and an EventSource that comes
back after it gets a 204, which tells the browser to stop reconnecting. A retry after an
``error`` calls ``clear(channel)`` and starts the channel over (new readers replay from its start).

Every event has an id, an opaque string that grows with each event of a channel whoever writes
it; ``events(channel, after=id)`` gives the events strictly after that one, so a reader that lost
its connection (the browser's ``Last-Event-ID``) resumes with nothing lost or repeated.

``request_stop(channel)`` raises a flag the writer checks between deltas (``stop_requested``:
one key lookup, or one ``stat``; ``publish_delta`` publishes a delta and reads the flag in one
round trip), then publishes ``end`` with what it has.

Two backends, chosen by ``LIVE_RELAY_URL`` (settings; by default the Redis of
``CELERY_BROKER_URL`` when that is ``redis://``, else the embedded one in ``DATA_DIR``). Names
start with ``LIVE_RELAY_PREFIX`` (``live``; the tests use one of their own per run, as their
databases number rows from 1 again each time):

- **Redis Streams** (``redis://…``), for web and worker processes on several machines. A channel
  is the stream ``live:<channel>``: ``XADD`` (bounded ``MAXLEN ~ LIVE_RELAY_MAXLEN``) gives the id
  (Redis makes ids grow per stream, whichever client adds), readers ``XREAD BLOCK`` from the id
  they have (under ASGI one reader per process and event loop reads every open stream in one
  ``XREAD``, annotate/live/fanout.py; a blocked reader costs no thread). The
  stop flag is the key ``live:<channel>:stop`` with a TTL. A writer renews the stream's TTL with
  its first and last events and at most every 30 s between (a delta is one ``XADD``).
- **Embedded** (``file:///path``), for one machine with no server (SQLite and Celery's
  filesystem broker). A channel is the file ``live/<channel>.jsonl``, one JSON line per event, appended
  with one ``write`` under ``O_APPEND`` and an exclusive ``flock`` (so two writers' lines never
  interleave); an event's id is the byte offset just past its line, so "after id" is "from that
  offset". Readers tail the file, polling its size with short sleeps (5 ms, backing off to 50 ms
  while nothing comes). The stop flag is the file ``live/<channel>.stop``. A channel holds at most
  ``LIVE_RELAY_MAX_BYTES``; past that ``publish`` raises ``ChannelFull``.

Retention: a channel (and its stop flag) expires ``LIVE_RELAY_RETENTION_SECONDS`` (24 h) after its
last event, an ended one as well as one whose writer died. Redis expires the keys itself; the
embedded backend removes old files when a channel ends (at most once every 10 minutes per
process), or when ``purge_expired()`` is called.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
import re
import threading
import time
import weakref
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.handlers.asgi import ASGIRequest
from django.db import connections
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, StreamingHttpResponse

KINDS = frozenset({"delta", "reset", "end", "error"})
TERMINAL = frozenset({"end", "error"})
CHANNEL_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,199}")
RETRY_MS = 2000  # the EventSource's reconnect delay (the ``retry:`` hint)
# The longest a reader waits in one read; then it reads again (or sends a heartbeat). Below the
# Redis clients' socket timeout, which a blocked XREAD must not reach.
MAX_WAIT = 5.0
_REDIS_SOCKET_TIMEOUT = 15.0
_REDIS_MAX_CONNECTIONS = 256  # per process (a pipeline holds one only for its round trip)
_PURGE_EVERY = 600.0
# A writer renews its stream's TTL on its first event, its last, and at most this often between.
_RENEW_EVERY = 30.0


class BadEventId(ValueError):
    """An ``after`` id that is not one of this backend's ids."""


class ChannelFull(RuntimeError):
    """The embedded channel reached LIVE_RELAY_MAX_BYTES."""


@dataclass(frozen=True)
class Event:
    id: str
    kind: str
    data: dict[str, Any] = field(default_factory=dict)
    # The data as published (compact JSON), when the backend has it: sent on as it is.
    raw: str | None = field(default=None, compare=False, repr=False)


def _check_channel(channel: str) -> str:
    if not isinstance(channel, str) or not CHANNEL_RE.fullmatch(channel):
        raise ValueError(f"bad channel name: {channel!r}")
    return channel


def _encode(kind: str, data: dict[str, Any]) -> str:
    if kind not in KINDS:
        raise ValueError(f"unknown event kind: {kind!r}")
    if not isinstance(data, dict):
        raise TypeError("event data must be a dict")
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


# --- the embedded backend ---------------------------------------------------------------------


class FileBackend:
    """One append-only JSON-lines file per channel; an event's id is the offset past its line."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._made: set[Path] = set()
        self._last_purge = 0.0

    @property
    def folder(self) -> Path:
        return self.root / settings.LIVE_RELAY_PREFIX

    def _path(self, channel: str, suffix: str = ".jsonl") -> Path:
        return self.folder / f"{_check_channel(channel)}{suffix}"

    def _mkdir(self) -> None:
        folder = self.folder
        if folder not in self._made:
            folder.mkdir(parents=True, exist_ok=True)
            self._made.add(folder)

    def publish(self, channel: str, kind: str, data: dict[str, Any]) -> str:
        _encode(kind, data)  # checks kind and data
        # ASCII JSON escapes every line break, so a line is exactly one event.
        line = (json.dumps({"k": kind, "d": data}, separators=(",", ":")) + "\n").encode()
        path = self._path(channel)
        self._mkdir()
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # released by close
            size = os.fstat(fd).st_size
            if size + len(line) > settings.LIVE_RELAY_MAX_BYTES:
                raise ChannelFull(f"live channel {channel} is full")
            written = os.write(fd, line)
            if written != len(line):  # a full disk: leave no half line behind
                os.ftruncate(fd, size)
                raise OSError(f"short write to {path}")
            end = size + written
        finally:
            os.close(fd)
        if kind in TERMINAL and time.monotonic() - self._last_purge > _PURGE_EVERY:
            self._last_purge = time.monotonic()
            self.purge_expired()
        return str(end)

    def publish_delta(self, channel: str, text: str) -> bool:
        self.publish(channel, "delta", {"text": text})
        return self.stop_requested(channel)

    async def apublish_delta(self, channel: str, text: str) -> bool:
        return self.publish_delta(channel, text)  # an append to a local file: no need to wait apart

    def request_stop(self, channel: str) -> None:
        self._mkdir()
        self._path(channel, ".stop").touch()

    def clear(self, channel: str) -> None:
        for suffix in (".jsonl", ".stop"):
            self._path(channel, suffix).unlink(missing_ok=True)

    def stop_requested(self, channel: str) -> bool:
        return self._path(channel, ".stop").exists()

    def purge_expired(self, now: float | None = None) -> int:
        """Remove channels (and stop flags) whose last event is older than the retention."""
        cutoff = (now or time.time()) - settings.LIVE_RELAY_RETENTION_SECONDS
        removed = 0
        try:
            entries = list(os.scandir(self.folder))
        except FileNotFoundError:
            return 0
        for entry in entries:
            if not entry.name.endswith((".jsonl", ".stop")):
                continue
            try:
                if entry.stat().st_mtime < cutoff:
                    os.unlink(entry.path)
                    removed += 1
            except FileNotFoundError:
                pass
        return removed

    def check_after(self, after: str | None) -> int:
        if after is None:
            return 0
        if not isinstance(after, str) or not after.isdigit() or len(after) > 15:
            raise BadEventId(f"bad event id: {after!r}")
        return int(after)

    def read(self, channel: str, after: str | None) -> list[Event]:
        """The events after ``after`` that are in the file now (no waiting)."""
        offset = self.check_after(after)
        path = self._path(channel)
        try:
            with open(path, "rb") as f:
                if offset:
                    f.seek(offset - 1)
                    chunk = f.read()
                    if not chunk:
                        return []  # the file is shorter than the id: it was removed and re-made
                    if chunk[:1] != b"\n":
                        raise BadEventId(f"event id {after} is not an event's end")
                    chunk = chunk[1:]
                else:
                    chunk = f.read()
        except FileNotFoundError:
            return []
        events = []
        start = 0
        while (
            stop := chunk.find(b"\n", start)
        ) >= 0:  # a line not yet ended waits for the next read
            line = chunk[start : stop + 1]
            start = stop + 1
            offset += len(line)
            row = json.loads(line)
            events.append(Event(str(offset), row["k"], row["d"]))
        return events

    def check_position(self, channel: str, after: str) -> None:
        """Raise BadEventId unless ``after`` ends an event of the channel as it is now (an id from
        before a ``clear`` may point past its end, or into a line)."""
        offset = self.check_after(after)
        size = self.size(channel)
        if size < 0:
            return  # gone: nothing more will come
        if offset > size:
            raise BadEventId(f"event id {after} is past the end of {channel}")
        if offset:
            with open(self._path(channel), "rb") as f:
                f.seek(offset - 1)
                if f.read(1) != b"\n":
                    raise BadEventId(f"event id {after} is not an event's end")

    def size(self, channel: str) -> int:
        try:
            return os.stat(self._path(channel)).st_size
        except FileNotFoundError:
            return -1

    def last(self, channel: str) -> Event | None:
        """The channel's last event (None when it has none)."""
        path = self._path(channel)
        try:
            with open(path, "rb") as f:
                end = f.seek(0, os.SEEK_END)
                back = 4096
                while True:
                    start = max(0, end - back)
                    f.seek(start)
                    tail = f.read(end - start)
                    cut = tail.rstrip(b"\n").rfind(b"\n")
                    if cut >= 0 or start == 0:
                        break
                    back *= 4
        except FileNotFoundError:
            return None
        line = tail[cut + 1 :]
        if not line.endswith(b"\n"):
            return None
        row = json.loads(line)
        return Event(str(end), row["k"], row["d"])

    # Readers poll the file's size: a few microseconds, and nothing to read until it grows.
    def _wait_grown(self, channel: str, after: str | None) -> bool:
        return self.size(channel) > (int(after) if after else 0)

    def read_wait(self, channel: str, after: str | None, timeout: float) -> list[Event]:
        self.check_after(after)
        deadline = time.monotonic() + timeout
        pause = 0.005
        while True:
            if self._wait_grown(channel, after):
                batch = self.read(channel, after)
                if batch:
                    return batch
            left = deadline - time.monotonic()
            if left <= 0:
                return []
            time.sleep(min(pause, left))
            pause = min(pause * 2, 0.05)

    async def aread_wait(self, channel: str, after: str | None, timeout: float) -> list[Event]:
        self.check_after(after)
        deadline = time.monotonic() + timeout
        pause = 0.005
        while True:
            if self._wait_grown(channel, after):
                batch = self.read(channel, after)
                if batch:
                    return batch
            left = deadline - time.monotonic()
            if left <= 0:
                return []
            await asyncio.sleep(min(pause, left))
            pause = min(pause * 2, 0.05)


# --- the Redis Streams backend ----------------------------------------------------------------

_REDIS_ID = re.compile(r"\d{1,20}-\d{1,20}")


class _Waiting:
    """One thread's commands in a _Together batch: their replies, or the error, once sent."""

    __slots__ = ("commands", "replies", "error", "lead", "_ready")

    def __init__(self, commands: list[tuple]) -> None:
        self.commands = commands
        self.replies: list[Any] = []
        self.error: BaseException | None = None
        self.lead = False
        self._ready = threading.Lock()
        self._ready.acquire()

    def wake(self) -> None:
        self._ready.release()

    def wait(self) -> None:
        self._ready.acquire()


class _Together:
    """Group commit of a process's publishes: the commands of every thread that publishes while a
    round trip is under way go to Redis together in the next one, one pipeline. A live worker's
    threads each publish a delta some 20 times a second; one round trip each (a pipeline, its
    connection taken from the pool and back, the thread blocking and waking for the send and
    the reply) cost more CPU than the rest of the delta, and 100 threads in one process spent it
    queueing for the GIL (bench/live.py --source real). Each ``run`` still returns only once its
    commands are in Redis (an event published is there, in its channel's order, when ``publish``
    returns; a failed round trip raises in every thread it carried), so nothing changes for the
    caller. No thread of its own: the first thread to find no round trip under way sends the
    batch (its own commands with those queued), then hands the next batch to the first thread
    queued behind it."""

    def __init__(self, client) -> None:
        self.client = client
        self._lock = threading.Lock()
        self._queue: list[_Waiting] = []
        self._busy = False

    def run(self, commands: list[tuple]) -> list[Any]:
        me = _Waiting(commands)
        with self._lock:
            self._queue.append(me)
            lead = me.lead = not self._busy
            self._busy = True
        if not lead:
            me.wait()  # sent (by another thread), or handed the next batch
        if me.lead:
            self._send()
        if me.error is not None:
            raise me.error
        return me.replies

    def _send(self) -> None:
        with self._lock:
            batch, self._queue = self._queue, []
        try:
            pipe = self.client.pipeline(transaction=False)
            for waiting in batch:
                for command in waiting.commands:
                    pipe.execute_command(*command)
            replies = pipe.execute(raise_on_error=False)
            at = 0
            for waiting in batch:
                mine = replies[at : at + len(waiting.commands)]
                at += len(waiting.commands)
                failed = next((r for r in mine if isinstance(r, Exception)), None)
                waiting.replies, waiting.error = mine, failed
        except BaseException as error:  # noqa: BLE001 - every thread of the batch raises it
            for waiting in batch:
                waiting.error = error
        finally:
            with self._lock:
                following = self._queue[0] if self._queue else None
                if following is not None:
                    following.lead = True
                else:
                    self._busy = False
            for waiting in batch:
                if not waiting.lead:
                    waiting.wake()
            if following is not None:
                following.wake()


class _TogetherAsync:
    """_Together for the replies one event loop streams: a publish joins the batch waiting to go,
    which a task sends, one pipeline per round trip, until none is left; each publish returns once
    its commands are in Redis (a failed round trip raises in each)."""

    def __init__(self, client) -> None:
        self.client = client
        self._queue: list[tuple[list[tuple], asyncio.Future]] = []
        self._sending: asyncio.Task | None = None

    async def run(self, commands: list[tuple]) -> list[Any]:
        loop = asyncio.get_running_loop()
        mine = loop.create_future()
        self._queue.append((commands, mine))
        if self._sending is None:
            # A task of its own: a reply cancelled while it waits leaves the others' batch going.
            self._sending = loop.create_task(self._send_all())
        return await mine

    async def _send_all(self) -> None:
        try:
            while self._queue:
                batch, self._queue = self._queue, []
                await self._send(batch)
        finally:
            self._sending = None

    async def _send(self, batch: list[tuple[list[tuple], asyncio.Future]]) -> None:
        try:
            pipe = self.client.pipeline(transaction=False)
            for commands, _ in batch:
                for command in commands:
                    pipe.execute_command(*command)
            replies = await pipe.execute(raise_on_error=False)
        except BaseException as error:  # every publish of the batch raises it
            failed = error if isinstance(error, Exception) else ConnectionError(repr(error))
            for _, waiting in batch:
                if not waiting.done():
                    waiting.set_exception(failed)
            if not isinstance(error, Exception):
                raise
            return
        at = 0
        for commands, waiting in batch:
            mine = replies[at : at + len(commands)]
            at += len(commands)
            failed = next((r for r in mine if isinstance(r, Exception)), None)
            if waiting.done():  # its reply was cancelled meanwhile
                continue
            if failed is not None:
                waiting.set_exception(failed)
            else:
                waiting.set_result(mine)


class RedisBackend:
    """One stream per channel (``live:<channel>``); the stream's ids are the events' ids."""

    def __init__(self, url: str) -> None:
        import redis

        self.url = url
        # A live worker's threads share the pool; past its size a thread waits for a connection
        # (redis-py's default pool raises past 100, which failed replies mid-stream).
        pool = redis.BlockingConnectionPool.from_url(
            url,
            max_connections=_REDIS_MAX_CONNECTIONS,
            timeout=_REDIS_SOCKET_TIMEOUT,
            decode_responses=True,
            socket_timeout=_REDIS_SOCKET_TIMEOUT,
        )
        self.client = redis.Redis(connection_pool=pool)
        # redis.asyncio clients belong to the event loop they were made in.
        self._async: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any] = (
            weakref.WeakKeyDictionary()
        )
        self._lock = threading.Lock()
        self._renewed: dict[str, float] = {}  # stream key -> when this process last renewed its TTL
        self._together = _Together(self.client)
        self._together_async: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any] = (
            weakref.WeakKeyDictionary()
        )

    @staticmethod
    def key(channel: str) -> str:
        return f"{settings.LIVE_RELAY_PREFIX}:{_check_channel(channel)}"

    def _aclient(self):
        import redis.asyncio

        loop = asyncio.get_running_loop()
        with self._lock:
            client = self._async.get(loop)
            if client is None:
                client = redis.asyncio.Redis.from_url(
                    self.url, decode_responses=True, socket_timeout=_REDIS_SOCKET_TIMEOUT
                )
                self._async[loop] = client
        return client

    def publish(self, channel: str, kind: str, data: dict[str, Any]) -> str:
        return self._publish(channel, kind, data, check_stop=False)[0]

    def publish_delta(self, channel: str, text: str) -> bool:
        return self._publish(channel, "delta", {"text": text}, check_stop=True)[1]

    def _publish(
        self, channel: str, kind: str, data: dict[str, Any], *, check_stop: bool
    ) -> tuple[str, bool]:
        """XADD the event (renewing the stream's TTL when due) and, with ``check_stop``, read the
        stop flag in the same round trip (shared with the other threads publishing now)."""
        commands, done = self._commands(channel, kind, data, check_stop=check_stop)
        return done(self._together.run(commands))

    async def apublish_delta(self, channel: str, text: str) -> bool:
        """publish_delta from an event loop (live/streamer.py): the deltas of every reply the loop
        streams go to Redis together, one pipeline per round trip (_TogetherAsync)."""
        commands, done = self._commands(channel, "delta", {"text": text}, check_stop=True)
        loop = asyncio.get_running_loop()
        together = self._together_async.get(loop)
        if together is None:  # the loop's own client: redis.asyncio's belong to one loop
            together = self._together_async[loop] = _TogetherAsync(self._aclient())
        return done(await together.run(commands))[1]

    def _commands(self, channel: str, kind: str, data: dict[str, Any], *, check_stop: bool):
        """The commands of a publish, and what turns their replies into (event id, stop asked)."""
        payload = _encode(kind, data)
        key = self.key(channel)
        now = time.monotonic()
        renew = kind != "delta" or now - self._renewed.get(key, -_RENEW_EVERY) >= _RENEW_EVERY
        commands: list[tuple] = [
            ("XADD", key, "MAXLEN", "~", settings.LIVE_RELAY_MAXLEN, "*", "k", kind, "d", payload)
        ]
        if renew:  # else the TTL (a day) was renewed a moment ago: the delta alone
            commands.append(("EXPIRE", key, settings.LIVE_RELAY_RETENTION_SECONDS))
        if check_stop:
            commands.append(("EXISTS", f"{key}:stop"))

        def done(replies: list[Any]) -> tuple[str, bool]:
            if kind in TERMINAL:
                self._renewed.pop(key, None)
            elif renew:
                if len(self._renewed) > 10_000:  # writers that died mid-reply: forget them
                    self._renewed.clear()
                self._renewed[key] = now
            return replies[0], bool(check_stop and replies[-1])

        return commands, done

    def request_stop(self, channel: str) -> None:
        self.client.set(f"{self.key(channel)}:stop", "1", ex=settings.LIVE_RELAY_RETENTION_SECONDS)

    def stop_requested(self, channel: str) -> bool:
        return bool(self.client.exists(f"{self.key(channel)}:stop"))

    def clear(self, channel: str) -> None:
        self._renewed.pop(self.key(channel), None)
        self.client.delete(self.key(channel), f"{self.key(channel)}:stop")

    def purge_expired(self, now: float | None = None) -> int:
        return 0  # Redis expires the keys itself

    def check_after(self, after: str | None) -> str:
        if after is None:
            return "0-0"
        if not isinstance(after, str) or not _REDIS_ID.fullmatch(after):
            raise BadEventId(f"bad event id: {after!r}")
        return after

    @staticmethod
    def _events(reply: Any) -> list[Event]:
        if not reply:
            return []
        entries = reply[0][1] if isinstance(reply, list) else next(iter(reply.values()))[0]
        return [Event(eid, f["k"], json.loads(f["d"]), f["d"]) for eid, f in entries]

    def read(self, channel: str, after: str | None) -> list[Event]:
        start = self.check_after(after)
        return self._events(self.client.xread({self.key(channel): start}, count=1000))

    def read_wait(self, channel: str, after: str | None, timeout: float) -> list[Event]:
        start = self.check_after(after)
        reply = self.client.xread(
            {self.key(channel): start}, count=1000, block=max(1, int(timeout * 1000))
        )
        return self._events(reply)

    async def aread_wait(self, channel: str, after: str | None, timeout: float) -> list[Event]:
        start = self.check_after(after)
        reply = await self._aclient().xread(
            {self.key(channel): start}, count=1000, block=max(1, int(timeout * 1000))
        )
        return self._events(reply)

    def last(self, channel: str) -> Event | None:
        rows = self.client.xrevrange(self.key(channel), "+", "-", count=1)
        if not rows:
            return None
        eid, f = rows[0]
        return Event(eid, f["k"], json.loads(f["d"]))

    @staticmethod
    def after_or_at(a: str, b: str) -> bool:
        """Whether id ``a`` is ``b`` or later."""
        ams, aseq = (int(x) for x in a.split("-"))
        bms, bseq = (int(x) for x in b.split("-"))
        return (ams, aseq) >= (bms, bseq)


def _file_after_or_at(a: str, b: str) -> bool:
    return int(a) >= int(b)


_backends: dict[str, FileBackend | RedisBackend] = {}
_backends_lock = threading.Lock()


def backend() -> FileBackend | RedisBackend:
    """The backend LIVE_RELAY_URL names (one instance per URL and process)."""
    url = settings.LIVE_RELAY_URL
    found = _backends.get(url)
    if found is None:
        with _backends_lock:
            found = _backends.get(url)
            if found is None:
                if url.startswith(("redis://", "rediss://", "unix://")):
                    found = RedisBackend(url)
                elif url.startswith("file://"):
                    found = FileBackend(Path(url.removeprefix("file://")))
                else:
                    raise ValueError(f"LIVE_RELAY_URL must be redis://… or file:///…, not {url!r}")
                _backends[url] = found
    return found


# --- the interface ----------------------------------------------------------------------------


def publish(channel: str, kind: str, data: dict[str, Any]) -> str:
    """Append an event to the channel; returns its id."""
    return backend().publish(channel, kind, data)


def publish_delta(channel: str, text: str) -> bool:
    """Append the next piece of text, and say whether the reader asked the writer to stop (one
    round trip to Redis for both)."""
    return backend().publish_delta(channel, text)


async def apublish_delta(channel: str, text: str) -> bool:
    """publish_delta from an event loop (live/streamer.py)."""
    return await backend().apublish_delta(channel, text)


def request_stop(channel: str) -> None:
    backend().request_stop(channel)


def stop_requested(channel: str) -> bool:
    return backend().stop_requested(channel)


def clear(channel: str) -> None:
    """Forget a channel and its stop flag (a retried reply starts over on it). Readers must then
    start from the beginning: an id of the old events means nothing in the new ones."""
    backend().clear(channel)


def purge_expired() -> int:
    """Remove expired channels now (embedded backend; Redis expires its keys itself)."""
    return backend().purge_expired()


def check_event_id(after: str | None) -> None:
    """Raise BadEventId unless ``after`` is None or an id of the configured backend."""
    backend().check_after(after)


def finished(channel: str, after: str | None) -> bool:
    """Whether a reader that has every event through ``after`` will get nothing more: the channel
    ended (its last event is terminal) at or before ``after``, or it is gone (expired)."""
    if after is None:
        return False
    b = backend()
    if isinstance(b, FileBackend):
        b.check_position(channel, after)
    else:
        b.check_after(after)
    last = b.last(channel)
    if last is None:
        return True
    later = b.after_or_at if isinstance(b, RedisBackend) else _file_after_or_at
    return last.kind in TERMINAL and later(after, last.id)


async def events(channel: str, after: str | None = None) -> AsyncIterator[Event]:
    """Every event of the channel after ``after`` (from the start when None), waiting for new
    ones, until a terminal one."""
    b = backend()
    b.check_after(after)
    while True:
        for event in await b.aread_wait(channel, after, MAX_WAIT):
            yield event
            if event.kind in TERMINAL:
                return
            after = event.id


def events_sync(channel: str, after: str | None = None) -> Iterator[Event]:
    """``events`` for synchronous code (WSGI, workers, tests)."""
    b = backend()
    b.check_after(after)
    while True:
        for event in b.read_wait(channel, after, MAX_WAIT):
            yield event
            if event.kind in TERMINAL:
                return
            after = event.id


# --- Server-Sent Events -----------------------------------------------------------------------


def format_event(event: Event) -> str:
    data = event.raw
    if data is None:
        data = json.dumps(event.data, separators=(",", ":"), ensure_ascii=False)
    return f"id: {event.id}\nevent: {event.kind}\ndata: {data}\n\n"


def _frames(batch: list[Event]) -> tuple[bytes, bool]:
    """One chunk for the events of a read (through the first terminal one), and whether it ended."""
    out = []
    for event in batch:
        out.append(format_event(event))
        if event.kind in TERMINAL:
            return "".join(out).encode(), True
    return "".join(out).encode(), False


def _release_database() -> None:
    """Hand back this thread's database connections before a stream that may last minutes: Django
    closes them only when the response ends, so each open stream would hold one (under ASGI, a
    slot of the pool, which a few streams use up)."""
    for conn in connections.all(initialized_only=True):
        if not conn.in_atomic_block:
            conn.close()


_HELLO = f"retry: {RETRY_MS}\n\n".encode()
_BEAT = b": keep-alive\n\n"


async def _sse_async(channel: str, after: str | None, heartbeat: float) -> AsyncIterator[bytes]:
    b = backend()
    # The request's sync code (its view, or an async view's sync_to_async) ran in this thread.
    await sync_to_async(_release_database)()
    yield _HELLO
    subscription = None
    if isinstance(b, RedisBackend):  # one XREAD for all of this process's streams
        from annotate.live.fanout import Fanout

        subscription = await Fanout.of(b).subscribe(channel, b.check_after(after))
    try:
        sent = time.monotonic()
        while True:
            wait = min(MAX_WAIT, max(0.0, sent + heartbeat - time.monotonic()))
            if subscription is not None:
                batch = await subscription.get(wait)
            else:
                batch = await b.aread_wait(channel, after, wait)
            if not batch:
                if time.monotonic() - sent >= heartbeat:
                    yield _BEAT
                    sent = time.monotonic()
                continue
            chunk, ended = _frames(batch)
            yield chunk
            if ended:
                return
            sent = time.monotonic()
            after = batch[-1].id
    finally:
        if subscription is not None:
            await subscription.close()


def _sse_sync(channel: str, after: str | None, heartbeat: float) -> Iterator[bytes]:
    b = backend()
    _release_database()  # WSGI: the view's thread is this one
    yield _HELLO
    sent = time.monotonic()
    while True:
        wait = min(MAX_WAIT, max(0.0, sent + heartbeat - time.monotonic()))
        batch = b.read_wait(channel, after, wait)
        if not batch:
            if time.monotonic() - sent >= heartbeat:
                yield _BEAT  # also how a WSGI server learns the client has gone
                sent = time.monotonic()
            continue
        chunk, ended = _frames(batch)
        yield chunk
        if ended:
            return
        sent = time.monotonic()
        after = batch[-1].id


def sse_response(
    request: HttpRequest, channel: str, after: str | None = None, *, heartbeat: float = 15
) -> HttpResponse:
    """A ``text/event-stream`` of the channel for a browser's EventSource.

    Resumes after ``after``, else after the request's ``Last-Event-ID`` (the browser sends the
    last id it saw when it reconnects). Streams from an async iterator under ASGI and a sync one
    under WSGI (Django would read the other kind to the end before sending anything). A bad id is
    a 400; a channel that has ended before ``after``, or expired, is a 204 (the EventSource then
    stops reconnecting). The caller checks who is asking before calling this.
    """
    _check_channel(channel)
    if after is None:
        after = request.headers.get("Last-Event-ID") or None
    try:
        if finished(channel, after):
            return HttpResponse(status=204)
    except BadEventId:
        return HttpResponseBadRequest("Bad Last-Event-ID.", content_type="text/plain")
    if isinstance(request, ASGIRequest):
        stream: Any = _sse_async(channel, after, heartbeat)
    else:
        stream = _sse_sync(channel, after, heartbeat)
    response = StreamingHttpResponse(stream, content_type="text/event-stream; charset=utf-8")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # nginx: pass each event on as it comes
    return response
