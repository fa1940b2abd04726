"""The live replies a worker process streams, read on one event loop of its own.

A live reply's task (services/live.py reply_stream) runs in a Celery worker thread. It used to read
its provider's stream itself: each delta woke its thread, which took the GIL, parsed the event and
waited for the relay's round trip. Dozens of such threads in one process cost more in waking and
handing the GIL over than in the work: 100 replies at 20 deltas a second from the fake provider, in
one process, cost 518 µs of CPU a delta read by threads and 255 µs read by one event loop through
the same SDK (bench/live.py measures the whole path).

So the reading moves here: a process runs one loop, in a daemon thread, which streams every reply
of the process (the provider's ``astream``) and publishes each delta to the relay (batched across
the loop's replies, relay.apublish_delta), and reads the stop flag with it. The task's thread only
waits for what it acts on, a few times a second: the first delta (time to first token), the text
so far to save (every ``save_every`` seconds), and the end. A provider without ``astream`` is read
by the task's thread as before (``events`` gives the same events either way).
"""

from __future__ import annotations

import asyncio
import os
import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from annotate.live import relay
from annotate.providers.base import Completion


@dataclass(frozen=True)
class Event:
    """``first`` (at: the clock when the first delta came), ``save`` (text: so far), ``end``
    (text: all of it; completion: the provider's, or None when the reader asked to stop)."""

    kind: str
    at: float = 0.0
    text: str = ""
    completion: Completion | None = None
    stopped: bool = False


def events(
    provider, request: dict, channel: str, *, save_every: float, clock: Callable[[], float]
) -> Iterator[Event]:
    """The reply's events, in order, ending with ``end`` (or the provider's error, raised). Every
    delta is published to ``channel`` as it comes. Closing the iterator early stops the stream."""
    if not hasattr(provider, "astream"):
        yield from _events_here(provider, request, channel, save_every=save_every, clock=clock)
        return
    found: queue.SimpleQueue = queue.SimpleQueue()
    loop = _loop()
    done = asyncio.run_coroutine_threadsafe(
        _stream(provider, request, channel, found, save_every=save_every, clock=clock), loop
    )
    try:
        while True:
            event = found.get()
            if isinstance(event, BaseException):
                raise event
            yield event
            if event.kind == "end":
                return
    finally:
        done.cancel()  # an early close, or the task's own failure: the stream ends with it


class _Reading:
    """What one reply's deltas give the task's thread, read on the loop or in the thread itself:
    the first delta, the text so far every ``save_every`` seconds, and the end."""

    def __init__(self, *, save_every: float, clock: Callable[[], float]) -> None:
        self.save_every, self.clock = save_every, clock
        self.parts: list[str] = []
        self.saved_at = clock()

    def take(self, item: str) -> list[Event]:
        """A delta read, before it is published (the first one is the time to first token)."""
        first = [] if self.parts else [Event("first", at=self.clock())]
        self.parts.append(item)
        return first

    def published(self, stop: bool) -> list[Event]:
        """The delta is in the relay; ``stop``: the reader asked the writer to stop."""
        found = []
        if self.clock() - self.saved_at >= self.save_every:
            self.saved_at = self.clock()
            found.append(Event("save", text="".join(self.parts)))
        if stop:
            found.append(self.end(stopped=True))
        return found

    def end(self, completion: Completion | None = None, *, stopped: bool = False) -> Event:
        """The end: with the provider's Completion, or without (stopped, or no final message,
        which the caller reports)."""
        return Event("end", text="".join(self.parts), completion=completion, stopped=stopped)


async def _stream(provider, request, channel, found, *, save_every, clock) -> None:
    reading = _Reading(save_every=save_every, clock=clock)
    try:
        stream = provider.astream(**request, sample_index=0)
        try:
            async for item in stream:
                if isinstance(item, Completion):
                    found.put(reading.end(item))
                    return
                for event in reading.take(item):
                    found.put(event)
                stop = await relay.apublish_delta(channel, item)
                for event in reading.published(stop):
                    found.put(event)
                if stop:
                    return
        finally:
            await stream.aclose()
        found.put(reading.end())
    except BaseException as exc:  # the task's thread raises it
        found.put(exc)
        if not isinstance(exc, Exception):
            raise


def _events_here(provider, request, channel, *, save_every, clock) -> Iterator[Event]:
    """``events`` read in the calling thread (a provider that has no ``astream``)."""
    reading = _Reading(save_every=save_every, clock=clock)
    stream = provider.stream(**request, sample_index=0)
    try:
        for item in stream:
            if isinstance(item, Completion):
                yield reading.end(item)
                return
            yield from reading.take(item)
            stop = relay.publish_delta(channel, item)
            yield from reading.published(stop)
            if stop:
                return
        yield reading.end()
    finally:
        if hasattr(stream, "close"):
            stream.close()


_lock = threading.Lock()
_running: dict[int, asyncio.AbstractEventLoop] = {}  # process id -> its loop


def _loop() -> asyncio.AbstractEventLoop:
    """This process's streaming loop, started on first use (a forked process starts its own)."""
    pid = os.getpid()
    loop = _running.get(pid)
    if loop is None:
        with _lock:
            loop = _running.get(pid)
            if loop is None:
                loop = asyncio.new_event_loop()
                threading.Thread(target=loop.run_forever, name="live-streamer", daemon=True).start()
                _running.clear()
                _running[pid] = loop
    return loop
