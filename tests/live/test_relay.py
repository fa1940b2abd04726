"""The live relay (annotate/live/relay.py) on both backends: every event once and in order under
concurrent writers, replay and resume, a second writer's reset, the stop flag, expiry, and the
Server-Sent Events response streaming as events come (WSGI and ASGI)."""

from __future__ import annotations

import itertools
import os
import threading
import time
import uuid

import httpx
import pytest
from django.test import AsyncRequestFactory, RequestFactory

from annotate.live import relay
from tests.async_run import run_async
from tests.celery_broker import REDIS_URL

pytestmark = [pytest.mark.django_db(transaction=False), pytest.mark.timeout(60)]


@pytest.fixture(params=["file", "redis"])
def backend_kind(request, settings, tmp_path):
    settings.LIVE_RELAY_URL = f"file://{tmp_path}" if request.param == "file" else REDIS_URL
    return request.param


@pytest.fixture
def channel() -> str:
    return f"test:{uuid.uuid4().hex}"


def order_key(event_id: str) -> tuple[int, ...]:
    return tuple(int(part) for part in event_id.split("-"))


def collect(channel: str, after: str | None = None) -> list[relay.Event]:
    return list(relay.events_sync(channel, after))


async def acollect(channel: str, after: str | None = None) -> list[relay.Event]:
    return [event async for event in relay.events(channel, after)]


def collect_now(channel: str) -> list[relay.Event]:
    return relay.backend().read(channel, None)


def test_it_delivers_every_event_once_in_order_while_a_writer_publishes(backend_kind, channel):
    n = 1500

    def writer() -> None:
        for i in range(n):
            relay.publish(channel, "delta", {"text": f"{i} "})
        relay.publish(channel, "end", {"stop_reason": "end_turn"})

    thread = threading.Thread(target=writer)
    thread.start()
    got_sync = collect(channel)  # starts before most events exist: waits for them

    async def read_async():
        return await acollect(channel)

    got_async = run_async(read_async())
    thread.join()
    for got in (got_sync, got_async):
        assert [e.data["text"] for e in got[:-1]] == [f"{i} " for i in range(n)]
        assert got[-1].kind == "end" and got[-1].data == {"stop_reason": "end_turn"}
        assert [order_key(e.id) for e in got] == sorted(order_key(e.id) for e in got)
        assert len({e.id for e in got}) == n + 1


def test_two_writers_interleave_without_loss_and_ids_grow(backend_kind, channel):
    def writer(name: str) -> None:
        for i in range(300):
            relay.publish(channel, "delta", {"text": f"{name}{i}"})

    threads = [threading.Thread(target=writer, args=(name,)) for name in "xy"]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    relay.publish(channel, "end", {})
    got = collect(channel)
    texts = [e.data["text"] for e in got[:-1]]
    for name in "xy":
        assert [t for t in texts if t.startswith(name)] == [f"{name}{i}" for i in range(300)]
    keys = [order_key(e.id) for e in got]
    assert keys == sorted(keys) and len(set(keys)) == len(keys)


def test_it_replays_from_the_start_and_resumes_strictly_after_an_id(backend_kind, channel):
    ids = [relay.publish(channel, "delta", {"text": w}) for w in ("one ", "two ", "three")]
    ids.append(relay.publish(channel, "end", {"output_tokens": 3}))
    assert [e.id for e in collect(channel)] == ids
    assert [e.data for e in collect(channel, ids[1])] == [{"text": "three"}, {"output_tokens": 3}]
    assert [e.kind for e in run_async(acollect(channel, ids[0]))] == ["delta", "delta", "end"]


def test_a_second_writer_after_a_dead_one_resets_and_continues_the_channel(
    backend_kind, channel, settings
):
    relay.publish(channel, "delta", {"text": "half a rep"})  # the first worker, then kill -9
    relay._backends.clear()  # the next worker: a process of its own, its own connections
    second = [
        relay.publish(channel, "reset", {}),
        relay.publish(channel, "delta", {"text": "A whole reply."}),
        relay.publish(channel, "end", {}),
    ]
    got = collect(channel)
    assert [e.kind for e in got] == ["delta", "reset", "delta", "end"]
    assert [e.id for e in got[1:]] == second
    assert order_key(got[0].id) < order_key(second[0])


def test_the_stop_flag_is_raised_per_channel(backend_kind, channel):
    other = channel + "-other"
    assert not relay.stop_requested(channel)
    relay.request_stop(channel)
    assert relay.stop_requested(channel) and not relay.stop_requested(other)
    # How cheap the check is between deltas is bench/live.py's to say, not a timed test's.
    assert all(relay.stop_requested(channel) for _ in range(3))


def test_a_delta_published_says_whether_a_stop_was_asked(backend_kind, channel):
    assert relay.publish_delta(channel, "Once ") is False
    relay.request_stop(channel)
    assert relay.publish_delta(channel, "upon") is True  # the writer stops after this piece
    assert [e.data for e in collect_now(channel)] == [{"text": "Once "}, {"text": "upon"}]


def test_clear_forgets_a_channel_and_a_retry_starts_it_over(backend_kind, channel):
    relay.publish(channel, "delta", {"text": "par"})
    relay.publish(channel, "error", {"message": "The provider is overloaded."})
    relay.request_stop(channel)
    relay.clear(channel)
    assert not relay.stop_requested(channel)
    relay.publish(channel, "delta", {"text": "Again."})
    relay.publish(channel, "end", {})
    assert [e.data.get("text") for e in collect(channel)] == ["Again.", None]


def test_a_reader_stops_after_an_error_event(backend_kind, channel):
    relay.publish(channel, "delta", {"text": "par"})
    relay.publish(channel, "error", {"message": "The provider is overloaded."})
    relay.publish(channel, "delta", {"text": "never read"})
    got = collect(channel)
    assert [e.kind for e in got] == ["delta", "error"]


def test_bad_names_kinds_and_ids_are_refused(backend_kind, channel):
    with pytest.raises(ValueError):
        relay.publish("../etc/passwd", "delta", {"text": "x"})
    with pytest.raises(ValueError):
        relay.publish(channel, "shout", {})
    with pytest.raises(relay.BadEventId):
        next(relay.events_sync(channel, "not-an-id"))


def test_embedded_channels_expire_after_the_retention(settings, tmp_path, channel):
    settings.LIVE_RELAY_URL = f"file://{tmp_path}"
    last = relay.publish(channel, "end", {})
    relay.request_stop(channel)
    fresh = relay.publish(channel + "-fresh", "delta", {"text": "x"})
    old = time.time() - settings.LIVE_RELAY_RETENTION_SECONDS - 60
    for suffix in (".jsonl", ".stop"):
        os.utime(tmp_path / settings.LIVE_RELAY_PREFIX / f"{channel}{suffix}", (old, old))
    assert relay.purge_expired() == 2
    assert fresh
    assert not relay.stop_requested(channel)
    assert relay.finished(channel, last)  # gone: an EventSource coming back is told to stop
    assert (tmp_path / settings.LIVE_RELAY_PREFIX / f"{channel}-fresh.jsonl").exists()


def test_redis_channels_expire_after_the_retention(settings, channel):
    import redis

    settings.LIVE_RELAY_URL = REDIS_URL
    client = redis.Redis.from_url(REDIS_URL)
    relay.publish(channel, "delta", {"text": "x"})
    assert (
        0
        < client.ttl(f"{settings.LIVE_RELAY_PREFIX}:{channel}")
        <= settings.LIVE_RELAY_RETENTION_SECONDS
    )
    settings.LIVE_RELAY_RETENTION_SECONDS = 1
    relay.publish(channel, "end", {})
    relay.request_stop(channel)
    time.sleep(1.3)
    key = f"{settings.LIVE_RELAY_PREFIX}:{channel}"
    assert not client.exists(key, f"{key}:stop")
    assert not relay.stop_requested(channel)


def test_redis_channels_are_bounded(settings, channel):
    import redis

    settings.LIVE_RELAY_URL = REDIS_URL
    settings.LIVE_RELAY_MAXLEN = 10
    for i in range(500):
        relay.publish(channel, "delta", {"text": str(i)})
    assert redis.Redis.from_url(REDIS_URL).xlen(f"{settings.LIVE_RELAY_PREFIX}:{channel}") < 500


def test_embedded_channels_are_bounded(settings, tmp_path, channel):
    settings.LIVE_RELAY_URL = f"file://{tmp_path}"
    settings.LIVE_RELAY_MAX_BYTES = 200
    with pytest.raises(relay.ChannelFull):
        for _ in range(20):
            relay.publish(channel, "delta", {"text": "0123456789"})


def parse_sse(body: str) -> list[dict[str, str]]:
    frames = []
    for block in body.split("\n\n"):
        if not block:
            continue
        frame: dict[str, str] = {}
        for line in block.split("\n"):
            name, _, value = line.partition(":")
            frame[name or "comment"] = value.removeprefix(" ")
        frames.append(frame)
    return frames


def test_the_sse_response_under_wsgi_is_an_event_stream_with_ids(backend_kind, channel):
    ids = [
        relay.publish(channel, "delta", {"text": "Hello\nworld "}),
        relay.publish(channel, "reset", {}),
        relay.publish(channel, "end", {"stop_reason": "end_turn"}),
    ]
    response = relay.sse_response(RequestFactory().get("/"), channel)
    assert response.status_code == 200 and not response.is_async
    assert response["Content-Type"].startswith("text/event-stream")
    assert response["Cache-Control"] == "no-cache" and response["X-Accel-Buffering"] == "no"
    frames = parse_sse(b"".join(response.streaming_content).decode())
    assert frames[0] == {"retry": str(relay.RETRY_MS)}
    assert frames[1:] == [
        {"id": ids[0], "event": "delta", "data": '{"text":"Hello\\nworld "}'},
        {"id": ids[1], "event": "reset", "data": "{}"},
        {"id": ids[2], "event": "end", "data": '{"stop_reason":"end_turn"}'},
    ]


def test_the_sse_response_under_asgi_streams_an_async_iterator(backend_kind, channel):
    first = relay.publish(channel, "delta", {"text": "a"})
    relay.publish(channel, "delta", {"text": "b"})
    relay.publish(channel, "end", {})
    request = AsyncRequestFactory().get("/", headers={"Last-Event-ID": first})
    response = relay.sse_response(request, channel)
    assert response.is_async

    async def body() -> str:
        return b"".join([chunk async for chunk in response.streaming_content]).decode()

    frames = parse_sse(run_async(body()))
    assert [f.get("data") for f in frames[1:]] == ['{"text":"b"}', "{}"]


def test_a_reconnect_after_the_end_or_with_a_bad_id_is_told_so(backend_kind, channel):
    relay.publish(channel, "delta", {"text": "a"})
    end = relay.publish(channel, "end", {})
    done = relay.sse_response(RequestFactory().get("/", headers={"Last-Event-ID": end}), channel)
    assert done.status_code == 204  # EventSource stops reconnecting
    bad = relay.sse_response(RequestFactory().get("/", headers={"Last-Event-ID": "x\ny"}), channel)
    assert bad.status_code == 400
    if backend_kind == "file":  # an offset inside a line, or past the end (from before a clear)
        for stale in (str(int(end) - 3), str(int(end) + 40)):
            request = RequestFactory().get("/", headers={"Last-Event-ID": stale})
            assert relay.sse_response(request, channel).status_code == 400
    gone = relay.sse_response(RequestFactory().get("/"), channel + "-new")
    assert gone.status_code == 200  # not yet started: wait for it


def test_a_heartbeat_comment_comes_while_nothing_happens(backend_kind, channel):
    response = relay.sse_response(RequestFactory().get("/"), channel, heartbeat=0.05)
    chunks = list(itertools.islice(response.streaming_content, 3))
    assert chunks[1:] == [b": keep-alive\n\n", b": keep-alive\n\n"]
    response.close()


@pytest.mark.urls("tests.live.urls")
def test_it_streams_each_event_as_it_comes_under_the_wsgi_live_server(
    backend_kind, channel, live_server
):
    """runserver and live_server are WSGI: the first event reaches the client while the writer
    holds the last one back (a buffered response would send nothing until the end)."""
    relay.publish(channel, "delta", {"text": "first "})
    first_seen = threading.Event()
    published_end_at: list[float] = []

    def writer() -> None:
        first_seen.wait(timeout=10)
        time.sleep(0.2)
        relay.publish(channel, "delta", {"text": "second"})
        published_end_at.append(time.monotonic())
        relay.publish(channel, "end", {})

    thread = threading.Thread(target=writer)
    thread.start()
    arrivals: list[tuple[float, str]] = []
    with httpx.stream("GET", f"{live_server.url}/sse/{channel}/", timeout=15) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if line.startswith("data:"):
                arrivals.append((time.monotonic(), line))
                first_seen.set()
    thread.join()
    assert [line for _, line in arrivals] == [
        'data: {"text":"first "}',
        'data: {"text":"second"}',
        "data: {}",
    ]
    assert arrivals[0][0] < published_end_at[0]


@pytest.mark.django_db(transaction=True)
def test_a_stream_hands_back_the_views_database_connection(backend_kind, channel):
    """Django closes a request's connections when its response ends: a stream of minutes would
    hold one (under ASGI a slot of the pool) unless it gives it back when it starts."""
    from asgiref.sync import sync_to_async
    from django.db import connection

    relay.publish(channel, "delta", {"text": "a"})
    connection.ensure_connection()
    response = relay.sse_response(RequestFactory().get("/"), channel, heartbeat=0.05)
    next(iter(response.streaming_content))
    assert connection.connection is None
    response.close()

    async def under_asgi() -> bool:
        await sync_to_async(connection.ensure_connection)()  # the view's thread
        response = relay.sse_response(AsyncRequestFactory().get("/"), channel, heartbeat=0.05)
        stream = aiter(response.streaming_content)
        await anext(stream)
        released = await sync_to_async(lambda: connection.connection is None)()
        await stream.aclose()
        return released

    assert run_async(under_asgi())


def test_a_redis_writer_renews_the_ttl_on_its_first_and_last_events_and_after_a_clear(
    settings, channel
):
    """A delta between is one XADD (the TTL is a day; renewing it on every token cost a command)."""
    import redis

    settings.LIVE_RELAY_URL = REDIS_URL
    client = redis.Redis.from_url(REDIS_URL)
    key = f"{settings.LIVE_RELAY_PREFIX}:{channel}"
    relay.publish(channel, "delta", {"text": "a"})
    assert client.ttl(key) > 0
    client.persist(key)  # as if renewed long ago: the next delta leaves the TTL alone
    relay.publish(channel, "delta", {"text": "b"})
    assert client.ttl(key) == -1
    relay.publish(channel, "end", {})
    assert client.ttl(key) > 0
    relay.clear(channel)
    relay.publish(channel, "delta", {"text": "again"})
    assert client.ttl(key) > 0
    assert [e.data for e in relay.backend().read(channel, None)] == [{"text": "again"}]


def test_more_writer_threads_than_connections_wait_their_turn(settings, channel, monkeypatch):
    """A worker's threads past the pool's size wait for a connection instead of failing."""
    from annotate.live import relay as relay_module

    settings.LIVE_RELAY_URL = REDIS_URL
    monkeypatch.setattr(relay_module, "_REDIS_MAX_CONNECTIONS", 2)
    small = relay_module.RedisBackend(REDIS_URL)  # a pool of two connections
    errors: list[BaseException] = []

    def writer(i: int) -> None:
        try:
            for j in range(20):
                small.publish_delta(f"{channel}-{i}", f"{j}")
        except BaseException as error:  # noqa: BLE001
            errors.append(error)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert all(len(small.read(f"{channel}-{i}", None)) == 20 for i in range(8))


def test_writer_threads_publishing_together_each_get_their_own_events_and_errors(settings, channel):
    """The threads of a process publish in shared round trips (relay._Together): each channel
    still gets its own events in order, each stop flag reaches its own writer only, and a command
    Redis refuses raises in the thread that sent it, the other threads' events going through."""
    settings.LIVE_RELAY_URL = REDIS_URL
    b = relay.backend()
    relay.request_stop(f"{channel}-3")
    b.client.set(relay.RedisBackend.key(f"{channel}-bad"), "not a stream")
    start = threading.Barrier(9)
    stops: dict[int, list[bool]] = {}
    errors: dict[str, BaseException] = {}

    def writer(i: int) -> None:
        start.wait()
        stops[i] = [relay.publish_delta(f"{channel}-{i}", f"{j} ") for j in range(50)]
        relay.publish(f"{channel}-{i}", "end", {})

    def bad() -> None:
        start.wait()
        try:
            relay.publish_delta(f"{channel}-bad", "x")
        except Exception as error:  # noqa: BLE001
            errors["bad"] = error

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(8)]
    threads.append(threading.Thread(target=bad))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert "WRONGTYPE" in str(errors["bad"])
    for i in range(8):
        got = collect_now(f"{channel}-{i}")
        assert [e.data.get("text") for e in got[:-1]] == [f"{j} " for j in range(50)]
        assert got[-1].kind == "end"
        assert stops[i] == [i == 3] * 50
