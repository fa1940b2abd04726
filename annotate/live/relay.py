"""The relay between workers and web processes (a minimal in-process stand-in).

Channels are named ``f"candidate:{id}"``. A worker ``publish``es events ("delta" {"text"}, "reset"
{}, "end" {status, …}, "error" {"message"}); a web process reads them with ``events(channel,
after)``, which replays the channel from the start (or after an event id) and ends after "end" or
"error". The rater's stop button sets a flag the worker reads between deltas.

This stand-in keeps the channels in this process's memory: it serves tests with an in-process
worker and a single-process deployment. The real relay (Redis pub/sub when scaled out, a
serverless one in the embedded default) replaces this module with the same names.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field

from django.http import StreamingHttpResponse

_lock = threading.Lock()
_channels: dict[str, list[Event]] = {}
_stops: set[str] = set()
_ids = itertools.count(1)
TERMINAL = ("end", "error")


@dataclass(frozen=True)
class Event:
    id: str
    kind: str
    data: dict = field(default_factory=dict)


def publish(channel: str, kind: str, data: dict) -> str:
    with _lock:
        event = Event(id=f"{next(_ids)}", kind=kind, data=dict(data))
        _channels.setdefault(channel, []).append(event)
    return event.id


def request_stop(channel: str) -> None:
    with _lock:
        _stops.add(channel)


def stop_requested(channel: str) -> bool:
    with _lock:
        return channel in _stops


def clear(channel: str) -> None:
    """Forget a channel (a retried reply starts a fresh stream)."""
    with _lock:
        _channels.pop(channel, None)
        _stops.discard(channel)


def _after(channel: str, after: str | None) -> list[Event]:
    with _lock:
        events = list(_channels.get(channel, ()))
    if after is None:
        return events
    for i, event in enumerate(events):
        if event.id == after:
            return events[i + 1 :]
    return events


async def events(
    channel: str, after: str | None = None, *, poll: float = 0.02
) -> AsyncIterator[Event]:
    last = after
    while True:
        for event in _after(channel, last):
            last = event.id
            yield event
            if event.kind in TERMINAL:
                return
        await asyncio.sleep(poll)


def _frame(event: Event) -> str:
    return f"id: {event.id}\nevent: {event.kind}\ndata: {json.dumps(event.data)}\n\n"


def _sync(events_iter: AsyncIterator[Event]) -> Iterator[str]:
    loop = asyncio.new_event_loop()
    try:
        while True:
            try:
                event = loop.run_until_complete(anext(events_iter))
            except StopAsyncIteration:
                return
            yield _frame(event)
    finally:
        loop.close()


def sse_response(request, events_iter: AsyncIterator[Event]) -> StreamingHttpResponse:
    async def frames():
        async for event in events_iter:
            yield _frame(event)

    is_asgi = hasattr(request, "scope")
    response = StreamingHttpResponse(
        frames() if is_asgi else _sync(events_iter), content_type="text/event-stream"
    )
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"
    return response
