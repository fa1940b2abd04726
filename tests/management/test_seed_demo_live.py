"""The demo's live campaign: open, two streaming demo models, seed prompts, arena reveal; a demo
rater can start a conversation from a seed and the replies stream."""

from __future__ import annotations

from annotate.management.commands.seed_demo import _live_create
from annotate.models import Candidate, Generator
from annotate.services import live
from tests import factories


def test_it_ships_an_open_live_campaign_with_two_streaming_models(db):
    admin = factories.UserFactory(username="admin", role="admin")
    rater = factories.UserFactory(username="rater1")
    campaign, seeds = _live_create(admin=admin, raters=[rater])
    assert campaign.is_live and campaign.is_open and seeds >= 10
    settings = campaign.live
    assert settings.arena_reveal and settings.start == "either" and settings.max_turns == 3
    paces = [g.params["tokens_per_second"] for g in campaign.generators.all()]
    assert len(paces) == 2 and all(10 <= p <= 100 for p in paces)
    conversation, _ = live.conversation_start(campaign=campaign, rater=rater)
    assert conversation.seed_id is not None
    turn = live.message_send(conversation=conversation, rater=rater, use_seed=True)
    assert turn.prompt.messages == conversation.seed.messages
    # Streamed here at full speed (the demo's pace is the worker's business).
    Generator.objects.filter(campaign=campaign).update(params={"tokens_per_second": 100_000})
    live.reply_stream(candidate_id=turn.reply_a_id)
    assert Candidate.objects.get(id=turn.reply_a_id).status == "done"
