"""One Redis reader per web process for all its open event streams (annotate/live/relay.py).

A web process under ASGI holds many Server-Sent Events streams at once, two per live battle. Read
one by one, each stream is a blocked ``XREAD`` of its own: a Redis connection per stream and a
round trip for every token of every reply. Here each event loop has one ``Fanout``, a task that
blocks in a single ``XREAD`` over every subscribed stream and hands each new entry to the
subscriptions of its stream; a busy process reads many tokens of many streams per round trip.

A subscription starts after the id it is given (a reconnecting browser's Last-Event-ID) and
receives every later event of its stream once and in order; two subscriptions of one stream may
be at different places (the reader reads the stream from the earlier one, and each subscription
keeps only what is new to it). The ``XREAD`` also reads the loop's own wake stream: a
subscription that the read in flight does not cover (a new stream, or one read from a later id)
adds an entry there, which ends the read at once so that the next covers it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import uuid
import weakref

from annotate.live import relay

log = logging.getLogger(__name__)

BLOCK_MS = 5_000  # the longest one XREAD blocks (below the client's socket timeout)
# The shortest time between two reads. Each XREAD names every stream of the process, so its cost
# grows with the streams open, whatever it returns; read back to back, a busy process read one or
# two tokens a time. At most 5 ms more on a token, several tokens a read (bench/live.py: the
# web processes' µs per event, and Redis's share of the cores).
PACE = 0.005
_COUNT = 1_000  # entries per stream per read
_WAKE_TTL = 3_600


def _id(value: str) -> tuple[int, int]:
    ms, _, seq = value.partition("-")
    return int(ms), int(seq or 0)


class Subscription:
    """One reader's place in one stream; ``get`` gives what came since the last call."""

    def __init__(self, fanout: Fanout, key: str, after: str) -> None:
        self.fanout = fanout
        self.key = key
        self.after = after  # the last id handed over
        self._ready: asyncio.Queue[list[relay.Event] | BaseException] = asyncio.Queue()

    def _give(self, events: list[relay.Event]) -> None:
        last = _id(self.after)
        fresh = [e for e in events if _id(e.id) > last]
        if fresh:
            self.after = fresh[-1].id
            self._ready.put_nowait(fresh)

    async def get(self, timeout: float) -> list[relay.Event]:
        """The events that came since the last call, waiting up to ``timeout`` seconds for the
        first ([] if none came). The reader's failure (Redis gone) is raised here."""
        try:
            first = await asyncio.wait_for(self._ready.get(), timeout)
        except TimeoutError:
            return []
        items = [first]
        while not self._ready.empty():
            items.append(self._ready.get_nowait())
        out: list[relay.Event] = []
        for item in items:
            if isinstance(item, BaseException):
                raise item
            out.extend(item)
        return out

    async def close(self) -> None:
        await self.fanout.unsubscribe(self)


class Fanout:
    """The reader of one event loop and relay URL: ``await Fanout.of(backend).subscribe(...)``."""

    _per_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, Fanout]] = (
        weakref.WeakKeyDictionary()
    )

    def __init__(self, backend: relay.RedisBackend) -> None:
        import redis.asyncio

        self.backend = backend
        # Its own client: the blocked XREAD holds one connection all the time.
        self.client = redis.asyncio.Redis.from_url(
            backend.url, decode_responses=True, socket_timeout=BLOCK_MS / 1000 + 10
        )
        self.subs: dict[str, set[Subscription]] = {}
        self.cursor: dict[str, str] = {}  # per stream: the earliest place of its subscriptions
        self.wake_key = backend.key(f"wake.{os.getpid()}.{uuid.uuid4().hex}")
        self.wake_after = "0-0"
        self.reading: dict[str, str] = {}  # the XREAD in flight: stream -> from which id
        self.task: asyncio.Task | None = None

    @classmethod
    def of(cls, backend: relay.RedisBackend) -> Fanout:
        fanouts = cls._per_loop.setdefault(asyncio.get_running_loop(), {})
        found = fanouts.get(backend.url)
        if found is None:
            found = fanouts[backend.url] = cls(backend)
        return found

    async def subscribe(self, channel: str, after: str) -> Subscription:
        """Every event of ``channel`` after the id ``after`` ("0-0": from its start)."""
        sub = Subscription(self, self.backend.key(channel), after)
        self.subs.setdefault(sub.key, set()).add(sub)
        self._recompute(sub.key)
        if self.task is None or self.task.done():
            self.task = asyncio.get_running_loop().create_task(self._run())
        else:
            reading = self.reading.get(sub.key)
            if reading is None or _id(reading) > _id(after):
                await self._wake()  # the read in flight does not cover it
        return sub

    async def unsubscribe(self, sub: Subscription) -> None:
        subs = self.subs.get(sub.key)
        if subs is None or sub not in subs:
            return
        subs.discard(sub)
        if subs:
            self._recompute(sub.key)
            return
        del self.subs[sub.key]
        self.cursor.pop(sub.key, None)
        if not self.subs and self.task is not None and not self.task.done():
            await self._wake()  # no one is left: the reader ends

    def _recompute(self, key: str) -> None:
        self.cursor[key] = min((s.after for s in self.subs[key]), key=_id)

    async def _wake(self) -> None:
        pipe = self.client.pipeline(transaction=False)
        pipe.xadd(self.wake_key, {"w": "1"}, maxlen=16, approximate=True)
        pipe.expire(self.wake_key, _WAKE_TTL)
        await pipe.execute()

    async def _run(self) -> None:
        try:
            # A subscriber that finds the task done starts another; one that finds it running is
            # read by the next XREAD (the pause below awaits before the streams are taken).
            loop = asyncio.get_running_loop()
            read_at = 0.0
            while self.subs:
                wait = read_at + PACE - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                    if not self.subs:
                        break
                read_at = loop.time()
                self.reading = dict(self.cursor)
                reply = await self.client.xread(
                    {**self.reading, self.wake_key: self.wake_after}, count=_COUNT, block=BLOCK_MS
                )
                for key, entries in _streams(reply):
                    if key == self.wake_key:
                        self.wake_after = entries[-1][0]
                        continue
                    subs = self.subs.get(key)
                    if not subs:
                        continue
                    events = [
                        relay.Event(eid, f["k"], json.loads(f["d"]), f["d"]) for eid, f in entries
                    ]
                    for sub in subs:
                        sub._give(events)
                    self._recompute(key)
        except Exception as error:  # noqa: BLE001 (each stream is told, and ends; the next starts over)
            log.warning("live relay reader failed: %s", error)
            for subs in self.subs.values():
                for sub in subs:
                    sub._ready.put_nowait(error)
        finally:
            self.reading = {}


def _streams(reply) -> list[tuple[str, list]]:
    """XREAD's reply as (stream, entries) pairs: a list of pairs (RESP2) or a dict (RESP3)."""
    if not reply:
        return []
    if isinstance(reply, dict):
        return [(key, value[0]) for key, value in reply.items()]
    return [(key, entries) for key, entries in reply]
