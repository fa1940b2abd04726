"""The live protocol's service: turn rows, refusals, vote and continuation, reveal, self-id, stop,
retry and a dead worker's reply sent again."""

from __future__ import annotations

import random
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from annotate.live import relay
from annotate.models import (
    Assignment,
    Candidate,
    Judgment,
    LiveConversation,
    LiveReply,
    LiveSettings,
    LiveTurn,
    Pair,
    Prompt,
    WorkerProcess,
)
from annotate.protocols import protocol_for
from annotate.services import live
from annotate.work.sweep import work_sweep
from tests.protocols.live.helpers import (
    live_campaign,
    live_rater,
    replace_stream,
    send,
    stream_turn,
    vote,
)

pytestmark = pytest.mark.django_db


def _events(candidate_id: int) -> list[relay.Event]:
    return relay.backend().read(live.channel(candidate_id), None)


def test_it_makes_a_turn_of_ordinary_pairwise_rows():
    campaign = live_campaign()
    rater = live_rater(campaign)
    conversation, created = live.conversation_start(campaign=campaign, rater=rater)
    assert created
    assert {conversation.generator_a.name, conversation.generator_b.name} == {"alpha", "beta"}
    again, created = live.conversation_start(campaign=campaign, rater=rater)
    assert again.id == conversation.id and not created

    turn = send(conversation, rater, "Hello there")
    prompt = turn.prompt
    assert prompt.messages == [{"role": "user", "content": "Hello there"}]
    assert prompt.metadata == {"live": {"conversation": conversation.id, "turn": 1}}
    pair = turn.pair
    assert pair.needed == 1 and pair.assigned == 1
    assert pair.candidate_a.generator_id == conversation.generator_a_id
    assert pair.candidate_b.generator_id == conversation.generator_b_id
    lease = Assignment.objects.get(pair=pair)
    assert lease.rater == rater and lease.left_is_a == turn.left_is_a
    assert {c.status for c in (turn.reply_a, turn.reply_b)} == {Candidate.Status.PENDING}
    # The live protocol hands the rater their own turn, and nobody else anything.
    other = live_rater(campaign, "carol")
    assert protocol_for(campaign).unit_next(campaign=campaign, rater=rater) == lease
    assert protocol_for(campaign).unit_next(campaign=campaign, rater=other) is None

    stream_turn(turn)
    for reply in (turn.reply_a, turn.reply_b):
        assert reply.status == Candidate.Status.DONE
        assert reply.text and reply.html and reply.stop_reason == "end_turn"
        assert reply.output_tokens > 0 and reply.latency_ms is not None
        assert reply.ttft_ms is not None
        kinds = [e.kind for e in _events(reply.id)]
        assert kinds[-1] == "end" and kinds.count("delta") >= 1
        assert "".join(e.data["text"] for e in _events(reply.id) if e.kind == "delta") == reply.text


def test_it_refuses_long_blocked_and_over_budget_messages_with_clear_words():
    campaign = live_campaign(max_message_chars=20, blocklist=["secret", "/pass\\w+/"])
    rater = live_rater(campaign)
    conversation, _ = live.conversation_start(campaign=campaign, rater=rater)
    with pytest.raises(live.LiveRefused, match="21 characters long; the limit is 20"):
        send(conversation, rater, "x" * 21)
    with pytest.raises(live.LiveRefused, match="does not allow"):
        send(conversation, rater, "the SECRET plan")
    with pytest.raises(live.LiveRefused, match="does not allow"):
        send(conversation, rater, "my password")
    with pytest.raises(live.LiveRefused, match="Write a message"):
        send(conversation, rater, "   ")
    assert not LiveTurn.objects.exists()
    assert send(conversation, rater, "secretly fine").index == 1  # whole words only

    settings = live.live_settings(campaign=campaign)
    settings.rater_token_budget = 5
    settings.save()
    turn = LiveTurn.objects.get()
    stream_turn(turn)
    vote(turn, rater, "left")
    with pytest.raises(live.LiveRefused, match=r"used your budget .* tokens"):
        send(conversation, rater, "more")
    settings.rater_token_budget = 0
    settings.campaign_usd_budget = Decimal("0.0001")
    settings.save()
    Candidate.objects.filter(id=turn.reply_a_id).update(cost_usd=Decimal("1"))
    with pytest.raises(live.LiveRefused, match="campaign has used its budget"):
        send(conversation, rater, "more")


def test_the_blocklist_refuses_a_bad_pattern_when_saved():
    with pytest.raises(live.BlocklistError, match="not a valid pattern"):
        live.blocklist_compile(["/(unclosed/"])
    with pytest.raises(live.BlocklistError, match="empty"):
        live.blocklist_compile([""])


def test_a_vote_continues_the_conversation_from_the_chosen_reply():
    campaign = live_campaign(max_turns=2)
    rater = live_rater(campaign)
    conversation, _ = live.conversation_start(campaign=campaign, rater=rater)
    turn = send(conversation, rater, "First")
    with pytest.raises(live.LiveRefused, match="Wait until both replies"):
        vote(turn, rater, "left")
    stream_turn(turn)
    with pytest.raises(live.LiveRefused, match="Vote on the two replies"):
        send(conversation, rater, "Too soon")
    judgment = vote(turn, rater, "left")
    turn.refresh_from_db()
    left = turn.reply_a if turn.left_is_a else turn.reply_b
    assert judgment.choice == ("a" if turn.left_is_a else "b")
    assert Judgment.objects.get().left_is_a == turn.left_is_a
    assert turn.continued_with == ("a" if turn.left_is_a else "b")
    assert turn.continuation == left.text

    second = send(conversation, rater, "Second")
    assert second.prompt.messages == [
        {"role": "user", "content": "First"},
        {"role": "assistant", "content": left.text},
        {"role": "user", "content": "Second"},
    ]
    stream_turn(second)
    vote(second, rater, "right", rewrite="A better answer.", continue_with="rewrite")
    second.refresh_from_db()
    assert second.continued_with == "rewrite" and second.continuation == "A better answer."
    conversation.refresh_from_db()
    assert conversation.status == LiveConversation.Status.ENDED  # max_turns reached
    with pytest.raises(live.LiveRefused, match="ended"):
        send(conversation, rater, "Third")


def test_a_tie_asks_which_reply_to_continue_from():
    campaign = live_campaign()
    rater = live_rater(campaign)
    conversation, _ = live.conversation_start(campaign=campaign, rater=rater)
    turn = send(conversation, rater)
    stream_turn(turn)
    with pytest.raises(live.LiveRefused, match="which reply the conversation continues from"):
        vote(turn, rater, "tie")
    assert not Judgment.objects.exists()  # nothing stored by the refused vote
    with pytest.raises(live.LiveRefused, match="Write the rewrite"):
        vote(turn, rater, "both_bad", continue_with="rewrite")
    vote(turn, rater, "tie", continue_with="right")
    turn.refresh_from_db()
    right = turn.reply_b if turn.left_is_a else turn.reply_a
    assert turn.choice == "tie" and turn.continuation == right.text


def test_it_reveals_the_models_only_after_the_last_vote():
    campaign = live_campaign(max_turns=1, arena_reveal=True)
    rater = live_rater(campaign)
    conversation, _ = live.conversation_start(campaign=campaign, rater=rater)
    turn = send(conversation, rater)
    stream_turn(turn)
    view = live.conversation_view(conversation=conversation)
    assert live.conversation_reveal(conversation=conversation) is None
    assert "demo-alpha" not in str(view) and "alpha" not in str(view)
    vote(turn, rater, "left")
    conversation.refresh_from_db()
    view = live.conversation_view(conversation=conversation)
    assert view["revealed"]
    assert {view["turns"][0]["left"]["model"], view["turns"][0]["right"]["model"]} == {
        "demo-alpha",
        "demo-beta",
    }


def test_a_conversation_ended_early_gives_its_open_turn_back():
    campaign = live_campaign(arena_reveal=True)
    rater = live_rater(campaign)
    conversation, _ = live.conversation_start(campaign=campaign, rater=rater)
    turn = send(conversation, rater)
    live.conversation_end(conversation=conversation, rater=rater)
    assert Assignment.objects.get(pair=turn.pair).status == Assignment.Status.SKIPPED
    assert Pair.objects.get(id=turn.pair_id).assigned == 0
    conversation.refresh_from_db()
    assert conversation.status == LiveConversation.Status.ENDED and conversation.revealed_at
    # A new conversation may start.
    assert live.conversation_start(campaign=campaign, rater=rater)[1]


def _naming(monkeypatch, text: str = "As ChatGPT, I think tea is great."):
    """Every demo reply names its model."""
    from annotate.providers import demo

    original = demo.DemoProvider.complete

    def complete(self, **kw):
        import dataclasses

        return dataclasses.replace(original(self, **kw), text=text)

    monkeypatch.setattr(demo.DemoProvider, "complete", complete)


def test_a_self_identifying_reply_is_generated_again_once(monkeypatch):
    campaign = live_campaign(self_id_policy=LiveSettings.SelfId.REGENERATE)
    rater = live_rater(campaign)
    conversation, _ = live.conversation_start(campaign=campaign, rater=rater)
    turn = send(conversation, rater)
    _naming(monkeypatch)
    live.reply_stream(candidate_id=turn.reply_a_id)
    reply = Candidate.objects.get(id=turn.reply_a_id)
    assert reply.status == Candidate.Status.PENDING and reply.text == ""
    assert _events(reply.id)[-1].kind == "reset"
    assert LiveTurn.objects.get(id=turn.id).regenerated_a
    # The second one names itself too: kept, marked, and the pair left out.
    live.reply_stream(candidate_id=turn.reply_a_id)
    reply.refresh_from_db()
    assert reply.status == Candidate.Status.DONE and reply.self_identifies
    assert Pair.objects.get(id=turn.pair_id).excluded
    # The other reply gets its own second chance.
    live.reply_stream(candidate_id=turn.reply_b_id)
    assert Candidate.objects.get(id=turn.reply_b_id).status == Candidate.Status.PENDING


def test_a_self_identifying_reply_is_kept_out_under_exclude(monkeypatch):
    campaign = live_campaign(self_id_policy=LiveSettings.SelfId.EXCLUDE)
    rater = live_rater(campaign)
    conversation, _ = live.conversation_start(campaign=campaign, rater=rater)
    turn = send(conversation, rater)
    _naming(monkeypatch)
    stream_turn(turn)
    assert turn.reply_a.self_identifies and turn.reply_a.status == Candidate.Status.DONE
    assert Pair.objects.get(id=turn.pair_id).excluded
    vote(turn, rater, "left")
    rows = list(protocol_for(campaign).export_rows(campaign_id=campaign.id))
    assert rows == []  # the vote is kept, out of the exports
    from annotate.selectors.analytics import analytics_vote_rows

    assert analytics_vote_rows(campaign_id=campaign.id) == []
    assert Judgment.objects.count() == 1


def test_a_stopped_reply_is_done_and_votable():
    campaign = live_campaign()
    rater = live_rater(campaign)
    conversation, _ = live.conversation_start(campaign=campaign, rater=rater)
    turn = send(conversation, rater)
    live.reply_stop(rater=rater, candidate_id=turn.reply_a_id)
    stream_turn(turn)
    assert turn.reply_a.status == Candidate.Status.DONE
    assert turn.reply_a.stop_reason == live.STOPPED
    assert 0 < len(turn.reply_a.text) < len(turn.reply_b.text) or turn.reply_a.text
    vote(turn, rater, "left")
    other = live_rater(campaign, "carol")
    with pytest.raises(LiveReply.DoesNotExist):
        live.reply_stop(rater=other, candidate_id=turn.reply_b_id)


@pytest.mark.parametrize("on_loop", [True, False], ids=["streaming loop", "task thread"])
def test_a_failed_reply_shows_its_error_and_can_be_retried(monkeypatch, on_loop):
    from annotate.providers import demo
    from annotate.providers.base import ProviderError

    campaign = live_campaign()
    rater = live_rater(campaign)
    conversation, _ = live.conversation_start(campaign=campaign, rater=rater)
    turn = send(conversation, rater)

    broken = [ProviderError("The server is overloaded (529).", retryable=True)]
    with monkeypatch.context() as patch:
        replace_stream(patch, demo.DemoProvider, broken, on_loop=on_loop)
        live.reply_stream(candidate_id=turn.reply_a_id)
    reply = Candidate.objects.get(id=turn.reply_a_id)
    assert reply.status == Candidate.Status.FAILED and "overloaded" in reply.error
    assert _events(reply.id)[-1].kind == "error"
    with pytest.raises(live.LiveRefused, match="Only a failed reply"):
        live.reply_retry(rater=rater, candidate_id=turn.reply_b_id)
    live.reply_retry(rater=rater, candidate_id=reply.id)
    reply.refresh_from_db()
    assert reply.status == Candidate.Status.PENDING and reply.error == ""
    live.reply_stream(candidate_id=reply.id)
    reply.refresh_from_db()
    assert reply.status == Candidate.Status.DONE


def test_a_dead_workers_reply_is_swept_and_generated_again_from_the_start():
    campaign = live_campaign()
    rater = live_rater(campaign)
    conversation, _ = live.conversation_start(campaign=campaign, rater=rater)
    turn = send(conversation, rater)
    dead = WorkerProcess.objects.create(
        hostname="gone", pid=1, beat_at=timezone.now() - timedelta(minutes=5)
    )
    # Half a reply, held by a worker that stopped beating.
    Candidate.objects.filter(id=turn.reply_a_id).update(
        status=Candidate.Status.RUNNING,
        claimed_at=timezone.now() - timedelta(seconds=30),
        claimed_by=dead.id,
        attempts=1,
        text="Half a rep",
    )
    # Generation's candidates are not the sweep's business here, and vice versa.
    result = work_sweep(kinds=(live.LIVE_REPLIES,))
    assert result.resent["live_reply"] == 1
    reply = Candidate.objects.get(id=turn.reply_a_id)
    assert reply.status == Candidate.Status.PENDING
    live.reply_stream(candidate_id=reply.id)
    reply.refresh_from_db()
    assert reply.status == Candidate.Status.DONE and not reply.text.startswith("Half a rep")
    kinds = [e.kind for e in _events(reply.id)]
    assert kinds[0] == "reset" and kinds[-1] == "end"


def test_a_reply_whose_worker_died_too_often_fails_visibly():
    campaign = live_campaign()
    rater = live_rater(campaign)
    conversation, _ = live.conversation_start(campaign=campaign, rater=rater)
    turn = send(conversation, rater)
    dead = WorkerProcess.objects.create(
        hostname="gone", pid=1, beat_at=timezone.now() - timedelta(minutes=5)
    )
    Candidate.objects.filter(id=turn.reply_a_id).update(
        status=Candidate.Status.RUNNING,
        claimed_at=timezone.now(),
        claimed_by=dead.id,
        attempts=live.LIVE_REPLIES.max_attempts,
    )
    work_sweep(kinds=(live.LIVE_REPLIES,))
    reply = Candidate.objects.get(id=turn.reply_a_id)
    assert reply.status == Candidate.Status.FAILED and "Gave up" in reply.error
    # The pane streaming it is told too: the relay's "error" ends its stream (the page then
    # shows the error and the retry), where it would otherwise wait on a dead writer.
    last = _events(reply.id)[-1]
    assert last.kind == "error" and "Gave up after 3 attempts" in last.data["message"]
    assert _events(turn.reply_b_id) == []  # the other reply, never claimed, is left alone


def test_the_sweep_looks_at_streaming_replies_in_one_query_however_many_and_still_finds_the_lost():
    """Hundreds of replies streaming at once are hundreds of busy rows, each its own job: the
    sweep must not read each in turn (five queries a reply, in a streaming worker)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    campaign = live_campaign()
    alive = WorkerProcess.objects.create(hostname="here", pid=2, beat_at=timezone.now())

    def streaming(count: int) -> list[int]:
        ids = []
        for _ in range(count):
            rater = live_rater(campaign, f"r{Candidate.objects.count()}")
            conversation, _ = live.conversation_start(campaign=campaign, rater=rater)
            turn = send(conversation, rater)
            ids += [turn.reply_a_id, turn.reply_b_id]
        Candidate.objects.filter(id__in=ids).update(
            status=Candidate.Status.RUNNING, claimed_at=timezone.now(), claimed_by=alive.id
        )
        return ids

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            result = work_sweep(kinds=(live.LIVE_REPLIES,))
        assert not result.resent and not result.failed
        return len(captured)

    streaming(1)
    few = queries()
    streaming(15)
    assert queries() == few

    # Still found: a reply whose message was lost (never claimed, asked for long ago), and one
    # held by a process that stopped beating; a reply asked for just now is left to its queue.
    rater = live_rater(campaign, "late")
    conversation, _ = live.conversation_start(campaign=campaign, rater=rater)
    lost = send(conversation, rater)
    Prompt.objects.filter(id=lost.prompt_id).update(created_at=timezone.now() - timedelta(days=1))
    dead = WorkerProcess.objects.create(
        hostname="gone", pid=1, beat_at=timezone.now() - timedelta(minutes=5)
    )
    held = streaming(1)[0]
    Candidate.objects.filter(id=held).update(claimed_by=dead.id)
    rater = live_rater(campaign, "fresh")
    conversation, _ = live.conversation_start(campaign=campaign, rater=rater)
    fresh = send(conversation, rater)
    result = work_sweep(kinds=(live.LIVE_REPLIES,))
    assert result.resent["live_reply"] == 3  # the lost turn's two replies and the dead one's
    assert Candidate.objects.get(id=held).status == Candidate.Status.PENDING
    assert Candidate.objects.get(id=lost.reply_a_id).claimed_at is not None  # marked as sent
    assert Candidate.objects.get(id=fresh.reply_a_id).claimed_at is None


def test_widest_intervals_draws_two_different_generators():
    campaign = live_campaign(draw=LiveSettings.Draw.WIDEST_INTERVALS)
    settings = live.live_settings(campaign=campaign)
    for seed in range(5):
        a, b = live.generators_draw(campaign=campaign, settings=settings, rng=random.Random(seed))
        assert a != b


def test_a_streaming_reply_hands_its_pooled_connection_back_between_writes(monkeypatch):
    """With psycopg's pool the thread's connection goes back between saves; without, it stays."""
    from annotate.services import live as live_service

    class Connection:
        in_atomic_block = False

        def __init__(self, options):
            self.settings_dict = {"OPTIONS": options}
            self.closed = 0

        def close(self):
            self.closed += 1

    pooled, plain = Connection({"pool": {"max_size": 8}}), Connection({})
    for conn in (pooled, plain):
        monkeypatch.setattr(live_service, "connection", conn)
        live_service.hand_back_connection()
    assert (pooled.closed, plain.closed) == (1, 0)
    pooled.in_atomic_block = True  # inside a transaction: never
    monkeypatch.setattr(live_service, "connection", pooled)
    live_service.hand_back_connection()
    assert pooled.closed == 1


@pytest.mark.django_db(transaction=True)
def test_a_workers_replies_start_and_end_one_at_a_time_while_they_stream_together(monkeypatch):
    """The starts and ends take turns (the streaming loop then waits behind one of them, not behind
    every thread of the worker); the streams between them overlap."""
    import threading
    import time as time_module

    campaign = live_campaign()
    turns = []
    for i in range(3):
        rater = live_rater(campaign, f"t{i}")
        conversation, _ = live.conversation_start(campaign=campaign, rater=rater)
        turns.append(send(conversation, rater))
    inside, most, streaming, overlap = [0], [0], [0], [0]
    guard = threading.Lock()

    def counted(real):
        def run(*args, **kwargs):
            with guard:
                inside[0] += 1
                most[0] = max(most[0], inside[0])
            time_module.sleep(0.02)
            try:
                return real(*args, **kwargs)
            finally:
                with guard:
                    inside[0] -= 1

        return run

    events = live.streamer.events

    def slow_events(*args, **kwargs):
        with guard:
            streaming[0] += 1
            overlap[0] = max(overlap[0], streaming[0])
        try:
            time_module.sleep(0.2)
            yield from events(*args, **kwargs)
        finally:
            with guard:
                streaming[0] -= 1

    monkeypatch.setattr(live, "_start", counted(live._start))
    monkeypatch.setattr(live, "_finish", counted(live._finish))
    monkeypatch.setattr(live.streamer, "events", slow_events)
    ids = [i for t in turns for i in (t.reply_a_id, t.reply_b_id)]

    def stream(candidate_id: int) -> None:
        from django.db import connections

        try:
            live.reply_stream(candidate_id=candidate_id)
        finally:
            connections.close_all()  # this thread's own: the test database is dropped at the end

    threads = [threading.Thread(target=stream, args=(i,)) for i in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert Candidate.objects.filter(id__in=ids, status=Candidate.Status.DONE).count() == 6
    assert most[0] == 1
    assert overlap[0] > 1
