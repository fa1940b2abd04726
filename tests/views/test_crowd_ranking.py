"""A crowd participant on a ranking campaign (views/rank.py with views/crowd_hooks.py): the same
session as on the pairwise page: consent first, the quota ("2 of 3"), heartbeats counted as active
time, gold sets as attention checks, and the finish with the platform's code."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from annotate.models import Enrollment, Participant, RankingVote, SetAssignment, User
from tests.fakes.crowd import crowd_ranking_campaign, gold_pairs_first, prolific_id

pytestmark = pytest.mark.django_db
HX = {"HX-Request": "true"}


def _u(name, slug="study"):
    return reverse(f"annotate:{name}", args=[slug])


def _arrive_and_consent(client, pid=None):
    params = {"PROLIFIC_PID": pid or prolific_id(), "STUDY_ID": "a" * 24, "SESSION_ID": "b" * 24}
    response = client.get(_u("crowd-prolific"), params)
    assert response.status_code == 302 and response.url == _u("crowd-next")
    assert client.get(response.url).url == _u("crowd-consent")
    return client.post(_u("crowd-consent"), {"consent": "yes"})


def _lease(client) -> SetAssignment:
    user = User.objects.get(pk=client.session["_auth_user_id"])
    return SetAssignment.objects.get(rater=user, status=SetAssignment.Status.ACTIVE)


def _rank(client, *, right: bool = True):
    """Rank the current set in shown numbers 1 … K, its first member (gold's best, on a gold set)
    ranked first (``right``) or last."""
    lease = _lease(client)
    numbers = list(range(1, len(lease.shown_order) + 1))
    best = lease.shown_order.index(lease.candidate_set.member_ids()[0]) + 1
    numbers.remove(best)
    numbers = [best, *numbers] if right else [*numbers, best]
    ranking = json.dumps([[n] for n in numbers])
    return client.post(_u("rank-vote"), {"lease": lease.pk, "ranking": ranking}, headers=HX)


def test_a_prolific_participant_ranks_to_the_completion_code():
    crowd_ranking_campaign(quota=3, sets=5)
    client = Client()
    # Consent leads to the ranking page, not the pairwise one.
    assert _arrive_and_consent(client).url == _u("rank")
    page = client.get(_u("rank"))
    assert page.status_code == 200
    assert b'id="my-quota">3<' in page.content  # "0 of 3"
    assert b'data-beat-seconds="20"' in page.content
    for n in range(2):
        response = _rank(client)
        assert response.status_code == 200
        assert f'id="my-votes">{n + 1}<'.encode() in response.content
    response = _rank(client)
    assert response.headers["HX-Redirect"] == _u("crowd-done")
    participant = Participant.objects.get()
    assert participant.status == "completed" and participant.status_reason == "Quota"
    # The set claimed after the last ranking went back to the pool.
    assert not SetAssignment.objects.filter(
        rater=participant.user, status=SetAssignment.Status.ACTIVE
    ).exists()
    assert client.get(_u("crowd-done")).url.endswith("cc=C0MPLETE")
    # Finished: the ranking page sends them to the finish and leases nothing more.
    assert client.get(_u("rank")).url == _u("crowd-done")
    assert client.get(_u("rate")).url == _u("rank")  # which itself sends them on
    assert RankingVote.objects.filter(rater=participant.user).count() == 3
    assert SetAssignment.objects.filter(rater=participant.user).count() == 4


def test_the_ranking_page_waits_for_consent():
    crowd_ranking_campaign()
    client = Client()
    client.get(
        _u("crowd-prolific"),
        {"PROLIFIC_PID": prolific_id(), "STUDY_ID": "a" * 24, "SESSION_ID": "b" * 24},
    )
    assert client.get(_u("rank")).url == _u("crowd-consent")
    assert not SetAssignment.objects.exists()


def test_a_plain_form_vote_that_ends_the_session_redirects_to_the_finish():
    crowd_ranking_campaign(quota=1, sets=3)
    client = Client()
    _arrive_and_consent(client)
    client.get(_u("rank"))
    lease = _lease(client)
    ranking = json.dumps([[n] for n in range(1, len(lease.shown_order) + 1)])
    response = client.post(_u("rank-vote"), {"lease": lease.pk, "ranking": ranking})
    assert response.status_code == 302 and response.url == _u("crowd-done")


def test_it_finishes_when_the_campaign_runs_out_of_sets():
    crowd_ranking_campaign(quota=10, sets=2)
    client = Client()
    _arrive_and_consent(client)
    client.get(_u("rank"))
    assert _rank(client).status_code == 200
    response = _rank(client)
    assert response.headers["HX-Redirect"] == _u("crowd-done")
    assert Participant.objects.get().status_reason == "Out of work"


def test_it_fails_attention_on_gold_sets_ranked_wrong():
    campaign, *_ = crowd_ranking_campaign(quota=10, sets=4, gold=3, attention=0.6, attention_min=2)
    gold_pairs_first(campaign)  # gold_rate 1: gold sets first
    client = Client()
    _arrive_and_consent(client)
    client.get(_u("rank"))
    assert _rank(client, right=False).status_code == 200
    response = _rank(client, right=False)
    assert response.headers["HX-Redirect"] == _u("crowd-done")
    participant = Participant.objects.get()
    assert participant.status == "failed_attention"
    assert client.get(_u("crowd-done")).url.endswith("cc=ATTENTION")


def test_it_keeps_a_participant_who_ranks_gold_right():
    campaign, *_ = crowd_ranking_campaign(quota=4, sets=2, gold=2, attention=0.6, attention_min=2)
    gold_pairs_first(campaign)
    client = Client()
    _arrive_and_consent(client)
    client.get(_u("rank"))
    assert _rank(client).status_code == 200
    assert _rank(client).status_code == 200
    assert Participant.objects.get().status == "working"


def test_the_ranking_heartbeat_adds_active_time():
    crowd_ranking_campaign()
    client = Client()
    _arrive_and_consent(client)
    client.get(_u("rank"))
    participant = Participant.objects.get()
    Participant.objects.filter(pk=participant.pk).update(
        last_seen_at=timezone.now() - timedelta(seconds=15)
    )
    response = client.post(_u("rank-heartbeat"), {"lease": _lease(client).pk})
    assert response.status_code == 204
    participant.refresh_from_db()
    assert 14 <= participant.active_seconds <= 30


def test_an_ordinary_rater_ranks_without_the_quota(rater_client, rater):
    campaign, *_ = crowd_ranking_campaign(slug="plain")
    Enrollment.objects.create(campaign=campaign, rater=rater)
    page = rater_client.get(_u("rank", "plain"))
    assert page.status_code == 200
    assert b"my-quota" not in page.content and b"data-beat-seconds" not in page.content
