"""Undo the last vote on the ranking, rating and step pages (views/set_undo.py): the unit comes back
in the order the rater saw it with the vote filled in, the correction is a new row, the current
lease waits; after the window, for another's vote, or from outside the campaign: refused."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.urls import reverse

from annotate.models import (
    Campaign,
    RankingVote,
    RatingVote,
    SetAssignment,
    StepVote,
)
from tests import factories

pytestmark = pytest.mark.django_db
HX = {"HX-Request": "true"}


def _url(campaign, name, *args):
    return reverse(f"annotate:{name}", args=[campaign.slug, *args])


def _protocol(campaign, protocol, **fields):
    Campaign.objects.filter(pk=campaign.pk).update(protocol=protocol, **fields)
    campaign.refresh_from_db()
    for _ in range(2):
        if protocol == "steps":
            factories.step_trace(campaign=campaign)
        else:
            factories.ranking_set(campaign=campaign, k=3)
    return campaign


def _lease(rater):
    return SetAssignment.objects.get(rater=rater, status="active")


def _rank(client, campaign, rater, ranking=((1,), (2,), (3,))):
    client.get(_url(campaign, "rank"))
    lease = _lease(rater)
    data = {"lease": lease.pk, "ranking": json.dumps([list(g) for g in ranking])}
    assert client.post(_url(campaign, "rank-vote"), data, headers=HX).status_code == 200
    return lease, RankingVote.objects.get(lease=lease)


def test_the_rank_page_offers_undo_and_brings_the_ranking_back_to_correct(
    rater_client, rater, campaign
):
    ranked = _protocol(campaign, "ranking", aspects=["helpful"], allow_rewrite=True)
    rater_client.get(_url(ranked, "rank"))
    lease = _lease(rater)
    data = {
        "lease": lease.pk,
        "ranking": json.dumps([[2], [1], [3]]),
        "aspect_helpful": "2",
        "rewrite": "A better answer.",
    }
    after = rater_client.post(_url(ranked, "rank-vote"), data, headers=HX).content.decode()
    assert 'id="undo-form"' in after and 'data-undo-ms="60000"' in after
    first = RankingVote.objects.get()
    waiting = _lease(rater)
    page = rater_client.post(_url(ranked, "rank-undo"), headers=HX)
    html = page.content.decode()
    assert page.status_code == 200
    assert 'data-prefill="[[2], [1], [3]]"' in html
    assert _url(ranked, "rank-correct", first.pk) in html
    assert 'value="2" required checked' in html and "A better answer." in html
    assert "data-heartbeat-url" not in html and 'id="skip-panel"' not in html
    fixed = {**data, "ranking": json.dumps([[3], [1], [2]]), "prior": first.pk}
    done = rater_client.post(_url(ranked, "rank-correct", first.pk), fixed, headers=HX)
    assert done.status_code == 200 and "Your vote is corrected" in done.content.decode()
    correction = RankingVote.objects.exclude(pk=first.pk).get()
    assert correction.revises_id == first.pk
    s = lease.shown_order
    assert correction.ranking == [[s[2]], [s[0]], [s[1]]]
    assert _lease(rater).pk == waiting.pk  # the current set waited
    # The same correction again (a double submit): refused, no third row.
    again = rater_client.post(_url(ranked, "rank-correct", first.pk), fixed, headers=HX)
    assert again.status_code == 409 and RankingVote.objects.count() == 2


def test_a_bad_correction_comes_back_with_the_reason(rater_client, rater, campaign):
    ranked = _protocol(campaign, "ranking")
    _, first = _rank(rater_client, ranked, rater)
    bad = {"lease": first.lease_id, "ranking": json.dumps([[1], [2]]), "prior": first.pk}
    response = rater_client.post(_url(ranked, "rank-correct", first.pk), bad, headers=HX)
    assert response.status_code == 400
    assert 'class="flash flash-error"' in response.content.decode()
    assert RankingVote.objects.count() == 1


def test_undo_after_the_window_or_with_no_vote_is_409(rater_client, rater, campaign, settings):
    ranked = _protocol(campaign, "ranking")
    response = rater_client.post(_url(ranked, "rank-undo"), headers=HX)
    assert response.status_code == 409 and "no vote to undo" in response.content.decode()
    _, first = _rank(rater_client, ranked, rater)
    RankingVote.objects.filter(pk=first.pk).update(
        created_at=first.created_at - timedelta(seconds=settings.RATE_UNDO_SECONDS + 1)
    )
    response = rater_client.post(_url(ranked, "rank-undo"), headers=HX)
    assert response.status_code == 409 and "can no longer be undone" in response.content.decode()
    plain = rater_client.post(_url(ranked, "rank-undo"))
    assert plain.status_code == 409 and 'class="flash flash-error"' in plain.content.decode()


def test_another_raters_vote_cannot_be_corrected_and_outsiders_see_nothing(
    rater_client, rater, campaign, outsider_client, anon_client
):
    ranked = _protocol(campaign, "ranking")
    _, first = _rank(rater_client, ranked, rater)
    other = factories.UserFactory()
    factories.EnrollmentFactory(campaign=ranked, rater=other)
    from django.test import Client

    other_client = Client()
    other_client.force_login(other)
    data = {"lease": first.lease_id, "ranking": "[[3],[2],[1]]", "prior": first.pk}
    response = other_client.post(_url(ranked, "rank-correct", first.pk), data, headers=HX)
    assert response.status_code == 409
    assert other_client.post(_url(ranked, "rank-undo"), headers=HX).status_code == 409
    for name, args in (("rank-undo", ()), ("rank-correct", (first.pk,))):
        assert outsider_client.post(_url(ranked, name, *args), data).status_code == 404
        assert anon_client.post(_url(ranked, name, *args), data).status_code == 302
    assert RankingVote.objects.count() == 1


def test_the_rating_page_brings_the_scores_back_and_stores_a_correction(
    rater_client, rater, campaign
):
    rated = _protocol(campaign, "rating", aspects=["helpful"], rating_k=3)
    rater_client.get(_url(rated, "rating"))
    lease = _lease(rater)
    cells = {f"s_{n}_{c}": "2" for n in (1, 2, 3) for c in (0, 1)}
    response = rater_client.post(
        _url(rated, "rating-vote"), {"lease": lease.pk, **cells}, headers=HX
    )
    assert 'id="undo-form"' in response.content.decode()
    first = RatingVote.objects.get()
    html = rater_client.post(_url(rated, "rating-undo"), headers=HX).content.decode()
    assert 'id="s-1-0" data-n="1" data-c="0" value="2"' in html
    assert _url(rated, "rating-correct", first.pk) in html
    fixed = {"lease": lease.pk, "prior": first.pk, **cells, "s_1_0": "5"}
    done = rater_client.post(_url(rated, "rating-correct", first.pk), fixed, headers=HX)
    assert done.status_code == 200
    correction = RatingVote.objects.exclude(pk=first.pk).get()
    assert correction.revises_id == first.pk
    assert correction.scores.get(candidate_id=lease.shown_order[0]).overall == 5


def test_the_steps_page_brings_the_labels_back_and_stores_a_correction(
    rater_client, rater, campaign
):
    traced = _protocol(campaign, "steps")
    rater_client.get(_url(traced, "steps"))
    lease = _lease(rater)
    labels = {"label_1": "1", "label_2": "1", "label_3": "1"}
    rater_client.post(_url(traced, "steps-vote"), {"lease": lease.pk, **labels}, headers=HX)
    first = StepVote.objects.get()
    html = rater_client.post(_url(traced, "steps-undo"), headers=HX).content.decode()
    assert 'name="label_2" value="1" checked' in html
    fixed = {"lease": lease.pk, "prior": first.pk, **labels, "label_2": "0", "note_2": "A detour."}
    done = rater_client.post(_url(traced, "steps-correct", first.pk), fixed, headers=HX)
    assert done.status_code == 200
    correction = StepVote.objects.exclude(pk=first.pk).get()
    assert correction.labels == [1, 0, 1] and correction.notes[1] == "A detour."
    assert correction.revises_id == first.pk
