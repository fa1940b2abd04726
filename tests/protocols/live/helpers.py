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


def replace_stream(patch, provider_class, items: list, *, on_loop: bool) -> None:
    """Make ``provider_class`` stream ``items`` (text; an exception is raised where it stands):
    through ``astream``, read on the process's streaming loop (live/streamer.py), or, with
    ``on_loop`` False, through ``stream`` in the task's own thread, as a provider without
    ``astream`` is read."""

    def stream(self, **_):
        for item in items:
            if isinstance(item, BaseException):
                raise item
            yield item

    async def astream(self, **_):
        for item in items:
            if isinstance(item, BaseException):
                raise item
            yield item

    patch.setattr(provider_class, "stream", stream)
    if on_loop:
        patch.setattr(provider_class, "astream", astream)
    else:
        patch.delattr(provider_class, "astream")


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
