"""A live campaign with two demo generators, and a turn streamed in this process."""

from __future__ import annotations

import random

from annotate.models import Campaign, LiveSettings, User
from annotate.services import live
from tests import factories

FAST = {"tokens_per_second": 100_000}


def live_campaign(*, slug: str = "chat", **settings) -> Campaign:
    campaign = factories.CampaignFactory(
        slug=slug, protocol=Campaign.Protocol.LIVE, allow_rewrite=True
    )
    factories.GeneratorFactory(campaign=campaign, name="alpha", model="demo-alpha", params=FAST)
    factories.GeneratorFactory(campaign=campaign, name="beta", model="demo-beta", params=FAST)
    LiveSettings.objects.create(campaign=campaign, **settings)
    return campaign


def live_rater(campaign: Campaign, username: str = "bob") -> User:
    user = factories.UserFactory(username=username, role=User.Role.RATER)
    factories.EnrollmentFactory(campaign=campaign, rater=user)
    return user


def stream_turn(turn) -> None:
    """Both replies of a turn, streamed by the task body (here, not in a worker)."""
    for reply_id in (turn.reply_a_id, turn.reply_b_id):
        live.reply_stream(candidate_id=reply_id)
    turn.refresh_from_db()
    turn.reply_a.refresh_from_db()
    turn.reply_b.refresh_from_db()


def send(conversation, rater, text: str = "Tell me about tea.", seed: int = 0):
    return live.message_send(
        conversation=conversation, rater=rater, text=text, rng=random.Random(seed)
    )


def vote(turn, rater, choice: str = "left", **kw):
    return live.turn_vote(
        turn=turn,
        rater=rater,
        vote=live.Vote(choice=choice, key=f"k-{turn.id}-{choice}", **kw),
    )
