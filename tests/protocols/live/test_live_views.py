"""The live page and its event stream: who may see what (the rater's own conversation only; an
admin may look; model names absent before the reveal), and a turn from message to vote."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from annotate.models import Judgment, LiveConversation, LiveTurn, User
from annotate.services import live
from tests import factories
from tests.protocols.live.helpers import live_campaign, live_rater, stream_turn

pytestmark = pytest.mark.django_db


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def chat():
    campaign = live_campaign(max_turns=2, arena_reveal=True)
    return campaign, live_rater(campaign)


def test_it_chats_votes_and_continues_from_the_page(chat):
    campaign, rater = chat
    client = _client(rater)
    page = client.get(reverse("annotate:live", args=[campaign.slug]))
    assert page.status_code == 200 and b"live-start" in page.content
    assert not LiveConversation.objects.exists()  # a GET starts nothing
    client.post(reverse("annotate:live-start", args=[campaign.slug]))
    conversation = LiveConversation.objects.get()
    response = client.post(
        reverse("annotate:live-send", args=[campaign.slug]),
        {"conversation": conversation.id, "message": "Hello, who are you?"},
    )
    assert response.status_code == 302
    turn = LiveTurn.objects.get()
    page = client.get(reverse("annotate:live", args=[campaign.slug])).content.decode()
    assert f"/live/replies/{turn.reply_a_id}/events/" in page
    for name in ("alpha", "beta", "demo-alpha", "demo-beta"):
        assert name not in page

    stream_turn(turn)
    page = client.get(reverse("annotate:live", args=[campaign.slug])).content.decode()
    assert 'id="live-vote"' in page
    assert "demo-alpha" not in page and "demo-beta" not in page
    lease = turn.pair.assignments.get()
    response = client.post(
        reverse("annotate:live-vote", args=[campaign.slug]),
        {
            "conversation": conversation.id,
            "turn": 1,
            "assignment": lease.id,
            "key": "k1",
            "verdict": "tie",
        },
        follow=True,
    )
    assert "which reply the conversation continues from" in response.content.decode()
    assert not Judgment.objects.exists()
    client.post(
        reverse("annotate:live-vote", args=[campaign.slug]),
        {
            "conversation": conversation.id,
            "turn": 1,
            "assignment": lease.id,
            "key": "k1",
            "verdict": "tie",
            "continue_with": "left",
        },
    )
    turn.refresh_from_db()
    assert turn.voted_at and turn.choice == "tie"

    client.post(
        reverse("annotate:live-send", args=[campaign.slug]),
        {"conversation": conversation.id, "message": "And then?"},
    )
    second = LiveTurn.objects.get(index=2)
    stream_turn(second)
    client.post(
        reverse("annotate:live-vote", args=[campaign.slug]),
        {
            "conversation": conversation.id,
            "turn": 2,
            "assignment": second.pair.assignments.get().id,
            "key": "k2",
            "verdict": "left",
        },
    )
    page = client.get(reverse("annotate:live", args=[campaign.slug])).content.decode()
    assert 'id="live-reveal"' in page
    assert "demo-alpha" in page and "demo-beta" in page


def test_a_refused_message_says_why_and_keeps_the_draft(chat):
    campaign, rater = chat
    settings = live.live_settings(campaign=campaign)
    settings.max_message_chars = 5
    settings.save()
    client = _client(rater)
    client.post(reverse("annotate:live-start", args=[campaign.slug]))
    conversation = LiveConversation.objects.get()
    page = client.post(
        reverse("annotate:live-send", args=[campaign.slug]),
        {"conversation": conversation.id, "message": "far too long"},
        follow=True,
    ).content.decode()
    assert "the limit is 5" in page and "far too long" in page


def test_another_rater_gets_404_and_an_admin_may_look(chat):
    campaign, rater = chat
    conversation, _ = live.conversation_start(campaign=campaign, rater=rater)
    turn = live.message_send(conversation=conversation, rater=rater, text="Hi")
    stream_turn(turn)
    other = _client(live_rater(campaign, "carol"))
    events = reverse("annotate:live-events", args=[campaign.slug, turn.reply_a_id])
    assert other.get(events).status_code == 404
    for name in ("live-stop", "live-retry"):
        assert (
            other.post(
                reverse(f"annotate:{name}", args=[campaign.slug]), {"reply": turn.reply_a_id}
            )
        ).status_code == 404
    for name in ("live-vote", "live-end", "live-send"):
        response = other.post(
            reverse(f"annotate:{name}", args=[campaign.slug]),
            {"conversation": conversation.id, "turn": 1, "message": "x"},
        )
        assert response.status_code == 404
    outsider = _client(factories.UserFactory(username="zed", role=User.Role.RATER))
    assert outsider.get(events).status_code == 404
    assert outsider.get(reverse("annotate:live", args=[campaign.slug])).status_code == 404
    anonymous = Client().get(events)
    assert anonymous.status_code == 302

    admin = _client(factories.UserFactory(username="alice", role=User.Role.ADMIN))
    response = admin.get(events)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/event-stream")
    body = b"".join(response.streaming_content).decode()
    assert "event: delta" in body and "event: end" in body
    mine = _client(rater).get(events)
    assert mine.status_code == 200
    assert "demo-alpha" not in b"".join(mine.streaming_content).decode()


def test_events_resume_after_the_last_event_id(chat):
    campaign, rater = chat
    conversation, _ = live.conversation_start(campaign=campaign, rater=rater)
    turn = live.message_send(conversation=conversation, rater=rater, text="Hi")
    stream_turn(turn)
    url = reverse("annotate:live-events", args=[campaign.slug, turn.reply_a_id])
    full = b"".join(_client(rater).get(url).streaming_content).decode()
    ids = [line[4:] for line in full.splitlines() if line.startswith("id: ")]
    rest = b"".join(
        _client(rater).get(url, headers={"Last-Event-ID": ids[0]}).streaming_content
    ).decode()
    assert f"id: {ids[0]}\n" not in rest and f"id: {ids[-1]}\n" in rest


def test_a_pairwise_campaign_has_no_live_page(campaign, rater_client):
    assert rater_client.get(reverse("annotate:live", args=[campaign.slug])).status_code == 404


def _campaign_form(**overrides):
    from tests.views.test_campaign_pages import _form

    return _form(protocol="live", **overrides)


def test_an_admin_creates_and_edits_a_live_campaign_with_its_settings():
    admin = _client(factories.UserFactory(username="alice", role=User.Role.ADMIN))
    live_fields = {
        "live-start": "either",
        "live-max_turns": 4,
        "live-max_message_chars": 500,
        "live-draw": "widest_intervals",
        "live-arena_reveal": "on",
        "live-self_id_policy": "exclude",
        "live-rater_token_budget": 10_000,
        "live-rater_usd_budget": "1.50",
        "live-campaign_token_budget": 0,
        "live-campaign_usd_budget": "0",
        "live-blocklist": "password\n/\\bssn\\b/",
    }
    page = admin.get(reverse("annotate:campaign-create")).content.decode()
    assert 'name="live-max_turns"' in page
    response = admin.post(reverse("annotate:campaign-create"), _campaign_form(**live_fields))
    assert response.status_code == 302
    from annotate.models import Campaign

    made = Campaign.objects.get(title="Coding help")
    assert made.is_live
    assert made.live.max_turns == 4 and made.live.draw == "widest_intervals"
    assert made.live.blocklist == ["password", "/\\bssn\\b/"] and made.live.arena_reveal
    bad = admin.post(
        reverse("annotate:campaign-edit", args=[made.slug]),
        _campaign_form(**{**live_fields, "live-blocklist": "/(oops/", "live-max_turns": 30}),
    )
    assert bad.status_code == 200
    assert "not a valid pattern" in bad.content.decode()
    made.live.refresh_from_db()
    assert made.live.max_turns == 4


def test_the_admin_and_research_pages_of_a_live_campaign_render(chat):
    campaign, rater = chat
    conversation, _ = live.conversation_start(campaign=campaign, rater=rater)
    turn = live.message_send(conversation=conversation, rater=rater, text="Hi")
    stream_turn(turn)
    live.turn_vote(turn=turn, rater=rater, vote=live.Vote(choice="left", key="k"))
    admin = _client(factories.UserFactory(username="alice", role=User.Role.ADMIN))
    for name in ("campaign-detail", "campaign-edit", "research", "research-analytics", "browse"):
        response = admin.get(reverse(f"annotate:{name}", args=[campaign.slug]))
        assert response.status_code == 200, name
    # The rater's pairwise workbench sends them to the live page.
    response = _client(rater).get(reverse("annotate:rate", args=[campaign.slug]))
    assert response.status_code == 302 and response.url.endswith("/live/")


def test_a_failed_reply_shows_its_error_and_a_retry_on_the_page(chat):
    from annotate.models import Candidate

    campaign, rater = chat
    conversation, _ = live.conversation_start(campaign=campaign, rater=rater)
    turn = live.message_send(conversation=conversation, rater=rater, text="Hi")
    Candidate.objects.filter(id=turn.reply_a_id).update(
        status=Candidate.Status.FAILED, error="The server is overloaded (529)."
    )
    client = _client(rater)
    page = client.get(reverse("annotate:live", args=[campaign.slug])).content.decode()
    assert "The server is overloaded (529)." in page and 'id="live-failed"' in page
    response = client.post(
        reverse("annotate:live-retry", args=[campaign.slug]), {"reply": turn.reply_a_id}
    )
    assert response.status_code == 302
    assert Candidate.objects.get(id=turn.reply_a_id).status == Candidate.Status.PENDING
