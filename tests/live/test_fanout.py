"""One Redis reader per event loop for all open streams (annotate/live/fanout.py): every event once
and in order for each subscription while writers publish, subscriptions of one stream at
different places, a subscription that the blocked read does not cover is woken into it, and the
reader ends when the last subscription goes."""

from __future__ import annotations

import asyncio
import itertools
import threading
import uuid

import pytest

from annotate.live import fanout, relay
from tests.async_run import run_async
from tests.celery_broker import REDIS_URL

pytestmark = [pytest.mark.timeout(60)]


@pytest.fixture(autouse=True)
def redis_relay(settings):
    settings.LIVE_RELAY_URL = REDIS_URL


def _channel() -> str:
    return f"test:{uuid.uuid4().hex}"


async def _until_end(sub: fanout.Subscription) -> list[relay.Event]:
    got: list[relay.Event] = []
    while not got or got[-1].kind not in relay.TERMINAL:
        batch = await sub.get(20)
        assert batch, "nothing came"
        got.extend(batch)
    await sub.close()
    return got


def test_every_subscription_gets_each_event_of_its_stream_once_in_order():
    channels = [_channel() for _ in range(12)]
    per_channel = 40

    def writer(channel: str) -> None:
        for i in range(per_channel):
            relay.publish_delta(channel, f"{i} ")
        relay.publish(channel, "end", {})

    async def main():
        reader = fanout.Fanout.of(relay.backend())
        subs = [await reader.subscribe(c, "0-0") for c in channels]
        threads = [threading.Thread(target=writer, args=(c,)) for c in channels]
        for t in threads:
            t.start()
        results = await asyncio.gather(*(_until_end(s) for s in subs))
        for t in threads:
            t.join()
        await asyncio.sleep(0)
        return results, reader

    results, reader = run_async(main())
    for got in results:
        assert [e.data["text"] for e in got[:-1]] == [f"{i} " for i in range(per_channel)]
        assert got[-1].kind == "end"
        ids = [tuple(map(int, e.id.split("-"))) for e in got]
        assert ids == sorted(set(ids))  # each once, in order
        assert got[0].raw == '{"text":"0 "}'  # sent on as published
    assert not reader.subs and not reader.cursor


def test_two_subscriptions_of_a_stream_at_different_places_each_get_what_is_new_to_them():
    channel = _channel()
    first = relay.publish(channel, "delta", {"text": "a"})
    relay.publish(channel, "delta", {"text": "b"})

    async def main():
        reader = fanout.Fanout.of(relay.backend())
        from_start = await reader.subscribe(channel, "0-0")
        from_first = await reader.subscribe(channel, first)
        relay.publish(channel, "end", {})
        return await _until_end(from_start), await _until_end(from_first)

    whole, rest = run_async(main())
    assert [e.data.get("text") for e in whole] == ["a", "b", None]
    assert [e.data.get("text") for e in rest] == ["b", None]


def test_a_new_stream_joins_the_read_in_flight_at_once(monkeypatch):
    """The reader blocks for a minute here: a new subscription is read only because it wakes it."""
    monkeypatch.setattr(fanout, "BLOCK_MS", 60_000)
    waiting, joining = _channel(), _channel()

    async def main():
        reader = fanout.Fanout.of(relay.backend())
        idle = await reader.subscribe(waiting, "0-0")
        assert await idle.get(0.3) == []  # the reader is now blocked on `waiting` alone
        late = await reader.subscribe(joining, "0-0")
        relay.publish(joining, "end", {"stop_reason": "end_turn"})
        got = await late.get(20)
        await late.close()
        await idle.close()
        await asyncio.wait_for(reader.task, 20)  # the last one gone: the reader ends
        return got

    got = run_async(main())
    assert [e.kind for e in got] == ["end"]


def test_the_sse_response_reads_through_the_shared_reader(monkeypatch):
    """Under ASGI the event stream of a Redis relay subscribes instead of reading on its own."""
    channel = _channel()
    relay.publish(channel, "delta", {"text": "Hello"})
    relay.publish(channel, "end", {})
    subscribed = []
    original = fanout.Fanout.subscribe

    async def spy(self, name, after):
        subscribed.append(name)
        return await original(self, name, after)

    monkeypatch.setattr(fanout.Fanout, "subscribe", spy)

    async def main():
        body = b""
        async for chunk in relay._sse_async(channel, None, heartbeat=15):
            body += chunk
        return body

    body = run_async(main()).decode()
    assert subscribed == [channel]
    assert 'data: {"text":"Hello"}' in body and "event: end" in body


def test_reads_are_paced_so_a_busy_stream_gives_several_tokens_a_read(monkeypatch):
    """Each XREAD names every open stream, so back-to-back reads of one token each cost the most
    when the process is busiest: two reads start at least PACE apart."""
    monkeypatch.setattr(fanout, "PACE", 0.02)
    channel = _channel()
    starts: list[float] = []

    def writer() -> None:
        for i in range(60):
            relay.publish_delta(channel, f"{i} ")
            threading.Event().wait(0.002)
        relay.publish(channel, "end", {})

    async def main():
        reader = fanout.Fanout.of(relay.backend())
        xread = reader.client.xread

        async def timed(*args, **kwargs):
            starts.append(asyncio.get_running_loop().time())
            return await xread(*args, **kwargs)

        reader.client.xread = timed
        sub = await reader.subscribe(channel, "0-0")
        thread = threading.Thread(target=writer)
        thread.start()
        got = await _until_end(sub)
        thread.join()
        return got

    got = run_async(main())
    assert [e.data["text"] for e in got[:-1]] == [f"{i} " for i in range(60)]
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert gaps and min(gaps) >= 0.02 * 0.9
    assert len(starts) < 40  # 61 events over at least 120 ms: several a read
