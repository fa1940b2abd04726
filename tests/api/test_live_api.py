"""Live conversations through the API: start, message, vote, stop, retry, end, read; who may ask;
no model names before the reveal."""

from __future__ import annotations

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from annotate.models import Candidate, LiveTurn, User
from tests import factories
from tests.protocols.live.helpers import live_campaign, live_rater, stream_turn

pytestmark = pytest.mark.django_db
BASE = "/api/campaigns/chat/live"


def _api(user) -> APIClient:
    client = APIClient()
    token, _ = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def test_a_rater_chats_through_the_api_and_sees_names_only_after_the_reveal():
    campaign = live_campaign(max_turns=1, arena_reveal=True)
    api = _api(live_rater(campaign))
    started = api.post(f"{BASE}/start/", {}, format="json")
    assert started.status_code == 201
    cid = started.json()["id"]
    assert api.post(f"{BASE}/start/", {}, format="json").status_code == 200
    sent = api.post(f"{BASE}/conversations/{cid}/messages/", {"message": "Hi"}, format="json")
    assert sent.status_code == 201, sent.content
    turn = LiveTurn.objects.get()
    stream_turn(turn)
    body = api.get(f"{BASE}/conversations/{cid}/").json()
    assert body["turns"][0]["left"]["status"] == "done"
    assert "demo-alpha" not in str(body) and "alpha" not in str(body)
    refused = api.post(
        f"{BASE}/conversations/{cid}/vote/",
        {"turn": 1, "choice": "left", "key": "k", "surprise": 1},
        format="json",
    )
    assert refused.status_code == 400  # unknown keys refused
    voted = api.post(
        f"{BASE}/conversations/{cid}/vote/",
        {"turn": 1, "choice": "left", "key": "k"},
        format="json",
    )
    assert voted.status_code == 200, voted.content
    body = voted.json()
    assert body["revealed"] and body["status"] == "ended"
    assert {body["turns"][0]["left"]["model"], body["turns"][0]["right"]["model"]} == {
        "demo-alpha",
        "demo-beta",
    }
    again = api.post(f"{BASE}/conversations/{cid}/messages/", {"message": "More"}, format="json")
    assert again.status_code == 409 and "ended" in again.json()["detail"]


def test_refusals_are_clear_4xx_and_others_get_404():
    campaign = live_campaign(max_message_chars=3)
    rater = live_rater(campaign)
    api = _api(rater)
    cid = api.post(f"{BASE}/start/", {}, format="json").json()["id"]
    long = api.post(f"{BASE}/conversations/{cid}/messages/", {"message": "long"}, format="json")
    assert long.status_code == 400 and "the limit is 3" in long.json()["detail"]
    api.post(f"{BASE}/conversations/{cid}/messages/", {"message": "Hi"}, format="json")
    turn = LiveTurn.objects.get()
    early = api.post(
        f"{BASE}/conversations/{cid}/vote/", {"turn": 1, "choice": "tie", "key": "k"}, format="json"
    )
    assert early.status_code == 400 and "Wait until both replies" in early.json()["detail"]
    stop = api.post(f"{BASE}/replies/{turn.reply_a_id}/stop/", {}, format="json")
    assert stop.status_code == 202
    retry = api.post(f"{BASE}/replies/{turn.reply_a_id}/retry/", {}, format="json")
    assert retry.status_code == 400

    other = _api(live_rater(campaign, "carol"))
    assert other.get(f"{BASE}/conversations/{cid}/").status_code == 404
    assert (
        other.post(f"{BASE}/replies/{turn.reply_a_id}/stop/", {}, format="json").status_code == 404
    )
    assert other.post(f"{BASE}/conversations/{cid}/end/", {}, format="json").status_code == 404
    outsider = _api(factories.UserFactory(username="zed", role=User.Role.RATER))
    assert outsider.post(f"{BASE}/start/", {}, format="json").status_code == 404
    admin = _api(factories.UserFactory(username="alice", role=User.Role.ADMIN))
    assert admin.get(f"{BASE}/conversations/{cid}/").status_code == 200

    ended = api.post(f"{BASE}/conversations/{cid}/end/", {}, format="json")
    assert ended.status_code == 200 and ended.json()["status"] == "ended"
    assert Candidate.objects.filter(id=turn.reply_a_id).exists()


def test_a_pairwise_campaign_answers_409(campaign, rater):
    api = _api(rater)
    response = api.post("/api/campaigns/helpfulness/live/start/", {}, format="json")
    assert response.status_code == 409
