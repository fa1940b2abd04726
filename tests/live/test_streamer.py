"""The live replies' streaming loop (annotate/live/streamer.py), on both relay backends: every
delta published once and in order while many replies stream on the one loop, the task's thread
woken only for the first delta, the text to save and the end; the stop flag; an error raised in
the task's thread; and a reply closed early stops its stream."""

from __future__ import annotations

import asyncio
import threading
import uuid

import pytest

from annotate.live import relay, streamer
from annotate.providers.base import Completion, ProviderError
from tests.celery_broker import REDIS_URL

pytestmark = [pytest.mark.django_db(transaction=False), pytest.mark.timeout(60)]


@pytest.fixture(params=["file", "redis"])
def backend_kind(request, settings, tmp_path):
    settings.LIVE_RELAY_URL = f"file://{tmp_path}" if request.param == "file" else REDIS_URL
    return request.param


class Paced:
    """A provider whose ``astream`` yields ``n`` deltas, ``pause`` seconds apart, then its
    Completion; it notes whether its stream was closed and raises ``fail`` after ``fail_after``."""

    def __init__(self, n: int, *, pause: float = 0.0, fail: Exception | None = None):
        self.n, self.pause, self.fail = n, pause, fail
        self.closed = threading.Event()

    async def astream(self, **_):
        try:
            for i in range(self.n):
                await asyncio.sleep(self.pause)
                yield f"{i} "
            if self.fail is not None:
                raise self.fail
            text = "".join(f"{i} " for i in range(self.n))
            yield Completion(text=text, stop_reason="end_turn", output_tokens=self.n)
        finally:
            self.closed.set()


REQUEST = {
    "messages": [{"role": "user", "content": "hi"}],
    "system": "",
    "model": "m",
    "params": {},
}


def _channel() -> str:
    return f"test:{uuid.uuid4().hex}"


def _texts(channel: str) -> list[str]:
    return [e.data["text"] for e in relay.backend().read(channel, None) if e.kind == "delta"]


def test_many_replies_share_the_loop_and_lose_or_reorder_nothing(backend_kind):
    channels = [_channel() for _ in range(20)]
    ends: dict[str, streamer.Event] = {}
    seen: dict[str, list[str]] = {}

    def task(channel: str) -> None:  # what each live task's thread does
        kinds = []
        ticks = iter(range(10_000))
        for event in streamer.events(
            Paced(60, pause=0.001), REQUEST, channel, save_every=10, clock=lambda: next(ticks)
        ):
            kinds.append(event.kind)
            if event.kind == "end":
                ends[channel] = event
        seen[channel] = kinds

    threads = [threading.Thread(target=task, args=(c,)) for c in channels]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for channel in channels:
        assert _texts(channel) == [f"{i} " for i in range(60)]
        end = ends[channel]
        assert end.completion.output_tokens == 60 and end.text == "".join(_texts(channel))
        kinds = seen[channel]
        assert kinds[0] == "first" and kinds[-1] == "end"
        assert 1 <= kinds.count("save") <= 60 // 10 + 1  # woken a few times, not per delta


def test_the_stop_flag_ends_the_reply_and_its_stream(backend_kind):
    channel = _channel()
    relay.request_stop(channel)
    provider = Paced(50)
    found = list(streamer.events(provider, REQUEST, channel, save_every=99, clock=lambda: 0.0))
    assert [e.kind for e in found] == ["first", "end"]
    assert found[-1].stopped and found[-1].completion is None and found[-1].text == "0 "
    assert provider.closed.wait(5)
    assert _texts(channel) == ["0 "]


def test_a_provider_error_is_raised_in_the_tasks_thread(backend_kind):
    failing = Paced(3, fail=ProviderError("The server is overloaded (529).", retryable=True))
    kinds = []
    with pytest.raises(ProviderError, match="overloaded"):
        for event in streamer.events(failing, REQUEST, _channel(), save_every=99, clock=float):
            kinds.append(event.kind)
    assert kinds == ["first"]


def test_a_reply_closed_early_stops_its_stream_on_the_loop(backend_kind):
    provider = Paced(10_000, pause=0.001)
    channel = _channel()
    reply = streamer.events(provider, REQUEST, channel, save_every=99, clock=lambda: 0.0)
    assert next(reply).kind == "first"
    reply.close()  # the task gave up (its claim was taken over)
    assert provider.closed.wait(5)
    published = len(_texts(channel))
    assert 1 <= published < 10_000


def test_a_provider_without_astream_is_read_in_the_tasks_thread(backend_kind):
    class Threaded:
        def stream(self, **_):
            yield "a "
            yield "b "
            yield Completion(text="a b ", stop_reason="end_turn")

    channel = _channel()
    found = list(streamer.events(Threaded(), REQUEST, channel, save_every=99, clock=lambda: 0.0))
    assert [e.kind for e in found] == ["first", "end"]
    assert found[-1].completion.text == "a b " and _texts(channel) == ["a ", "b "]
