"""Undo the last vote: within RATE_UNDO_SECONDS the pair comes back with the vote filled in; the
correction is a new vote pointing at the first (votes are never updated) and exports use it; after
the window, or for any vote but the rater's own last, 409 and why."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from annotate.exports.options import parse_options
from annotate.models import Assignment, Campaign, Judgment
from annotate.services.exports import export_build
from tests import factories
from tests.fakes.judge_fixtures import make_pair

HX = {"HX-Request": "true"}


def _url(campaign, name, *args):
    return reverse(f"annotate:{name}", args=[campaign.slug, *args])


@pytest.fixture
def pairs(campaign):
    Campaign.objects.filter(pk=campaign.pk).update(aspects=["helpful"], allow_rewrite=True)
    return [make_pair(campaign, f"Alpha answer {n}.", f"Beta answer {n}.") for n in range(3)]


def _lease(rater):
    return Assignment.objects.get(rater=rater, status=Assignment.Status.ACTIVE)


def _vote(client, campaign, rater, verdict="left", **extra):
    client.get(_url(campaign, "rate"))
    lease = _lease(rater)
    data = {"assignment": lease.pk, "verdict": verdict, "key": f"k{lease.pk}"}
    data.update({"aspect_helpful": "left", **extra})
    response = client.post(_url(campaign, "rate-vote"), data, headers=HX)
    assert response.status_code == 200
    return Judgment.objects.get(assignment=lease, revises__isnull=True)


def _correct(client, campaign, first, verdict="right", key="fix-1", **extra):
    data = {
        "assignment": first.assignment_id,
        "verdict": verdict,
        "key": key,
        "aspect_helpful": "right",
        **extra,
    }
    return client.post(_url(campaign, "rate-correct", first.pk), data, headers=HX)


def test_the_last_vote_comes_back_filled_in_and_the_correction_is_a_new_row(
    rater_client, rater, campaign, pairs
):
    first = _vote(rater_client, campaign, rater, rationale="", rewrite="My own better answer.")
    waiting = _lease(rater)  # the next pair, claimed by the vote
    response = rater_client.post(_url(campaign, "rate-undo"), headers=HX)
    html = response.content.decode()
    assert response.status_code == 200
    assert f'data-assignment="{first.assignment_id}"' in html and "data-correcting" in html
    assert (
        'data-verdict="left"' in html
        and 'aria-pressed="true"' in html.split('data-verdict="left"')[1][:200]
    )
    assert 'name="aspect_helpful" value="left" required checked' in html
    assert "My own better answer." in html  # the rewrite comes back too
    assert _url(campaign, "rate-correct", first.pk) in html
    assert "heartbeat" not in html.split('id="workbench"')[1].split(">")[0]  # a done lease

    response = _correct(rater_client, campaign, first, rewrite="My own better answer.")
    assert response.status_code == 200
    assert f'data-assignment="{waiting.pk}"' in response.content.decode()  # back to the next pair
    first.refresh_from_db()
    correction = Judgment.objects.get(revises=first)
    left_is_a = first.left_is_a
    assert (first.choice, first.aspects) == (
        "a" if left_is_a else "b",
        {"helpful": "a" if left_is_a else "b"},
    )  # the first vote is as it was
    assert correction.choice == ("b" if left_is_a else "a")
    assert correction.aspects == {"helpful": "b" if left_is_a else "a"}
    assert correction.rater == rater and correction.pair_id == first.pair_id
    assert correction.rewrite == "My own better answer." and correction.left_is_a == left_is_a
    # Not a new vote: the pair's and the rater's counts stay.
    assert Judgment.objects.filter(revises__isnull=True).count() == 1
    assert _lease(rater) == waiting
    # The same submit again stores nothing more.
    assert _correct(rater_client, campaign, first).status_code == 200
    assert Judgment.objects.filter(revises=first).count() == 1


def test_after_the_window_undo_is_refused_with_409(rater_client, rater, campaign, pairs, settings):
    settings.RATE_UNDO_SECONDS = 30
    first = _vote(rater_client, campaign, rater)
    Judgment.objects.filter(pk=first.pk).update(created_at=timezone.now() - timedelta(seconds=31))
    response = rater_client.post(_url(campaign, "rate-undo"), headers=HX)
    assert response.status_code == 409
    assert "can no longer be undone: undo lasts 30 seconds" in response.content.decode()
    plain = rater_client.post(_url(campaign, "rate-undo"))  # a plain form: the page and the reason
    assert plain.status_code == 409 and "undo lasts 30 seconds" in plain.content.decode()
    # The correction has a lease more to arrive, then it is refused too.
    assert _correct(rater_client, campaign, first).status_code == 200
    Judgment.objects.filter(pk=first.pk).update(
        created_at=timezone.now() - timedelta(seconds=31 + campaign.lease_seconds)
    )
    late = _correct(rater_client, campaign, first, key="fix-2")
    assert late.status_code == 409 and "no longer be undone" in late.content.decode()
    assert Judgment.objects.filter(revises=first).count() == 1


def test_only_the_raters_own_last_vote(rater_client, rater, campaign, pairs, client):
    assert rater_client.post(_url(campaign, "rate-undo"), headers=HX).status_code == 409  # none yet
    older = _vote(rater_client, campaign, rater)
    newer = _vote(rater_client, campaign, rater)
    response = _correct(rater_client, campaign, older)
    assert response.status_code == 409 and "Only your last vote" in response.content.decode()
    # Another rater of the campaign has no vote to undo, and cannot correct this one.
    eve = factories.UserFactory(username="eve")
    factories.EnrollmentFactory(campaign=campaign, rater=eve)
    client.force_login(eve)
    assert client.post(_url(campaign, "rate-undo"), headers=HX).status_code == 409
    assert _correct(client, campaign, newer).status_code == 409
    assert not Judgment.objects.filter(revises__isnull=False).exists()


def test_outsiders_and_anonymous_users_get_nothing(
    outsider_client, anon_client, rater_client, campaign, pairs
):
    assert outsider_client.post(_url(campaign, "rate-undo")).status_code == 404
    assert outsider_client.post(_url(campaign, "rate-correct", 1)).status_code == 404
    assert anon_client.post(_url(campaign, "rate-undo")).status_code == 302
    assert rater_client.get(_url(campaign, "rate-undo")).status_code == 405  # a POST only


def test_a_bad_correction_comes_back_with_the_reason(rater_client, rater, campaign, pairs):
    Campaign.objects.filter(pk=campaign.pk).update(
        rationale=Campaign.Rationale.REQUIRED, rationale_min_length=10
    )
    first = _vote(rater_client, campaign, rater, rationale="Because it is right.")
    response = _correct(rater_client, campaign, first, rationale="short")
    assert response.status_code == 400
    html = response.content.decode()
    assert (
        "at least 10 characters" in html
        and "data-correcting" in html
        and "short</textarea>" in html
    )
    assert _correct(rater_client, campaign, first, verdict="nope").status_code == 400
    assert not Judgment.objects.filter(revises=first).exists()


def test_the_undo_button_shows_only_while_undo_lasts(rater_client, rater, campaign, pairs):
    html = rater_client.get(_url(campaign, "rate")).content.decode()
    assert 'data-undo-ms="0" hidden' in html
    first = _vote(rater_client, campaign, rater)
    html = rater_client.get(_url(campaign, "rate")).content.decode()
    assert 'id="undo-button"' in html and 'data-undo-ms="0"' not in html
    Judgment.objects.filter(pk=first.pk).update(created_at=timezone.now() - timedelta(hours=1))
    assert 'data-undo-ms="0" hidden' in rater_client.get(_url(campaign, "rate")).content.decode()


@pytest.mark.django_db
def test_exports_use_the_correction(rater_client, rater, campaign, pairs, tmp_path):
    first = _vote(rater_client, campaign, rater)  # left
    assert _correct(rater_client, campaign, first, verdict="right").status_code == 200
    correction = Judgment.objects.get(revises=first)
    campaign.refresh_from_db()
    export_build(
        campaign=campaign, options=parse_options("trl-dpo-standard", {}), out_dir=tmp_path / "o"
    )
    (row,) = [
        json.loads(line) for line in (tmp_path / "o/data/train.jsonl").read_text().splitlines()
    ]
    pair = first.pair
    chosen = pair.candidate_a if correction.choice == "a" else pair.candidate_b
    rejected = pair.candidate_b if correction.choice == "a" else pair.candidate_a
    assert first.choice != correction.choice
    assert (row["chosen"], row["rejected"]) == (chosen.text, rejected.text)
    # The raw votes keep both, the correction marked as the one that counts.
    export_build(campaign=campaign, options=parse_options("raw-jsonl", {}), out_dir=tmp_path / "r")
    raw = [json.loads(line) for line in (tmp_path / "r/data/train.jsonl").read_text().splitlines()]
    latest = {r["judgment_id"]: r["is_latest"] for r in raw}
    assert latest == {first.pk: False, correction.pk: True}
    assert {r["revises_id"] for r in raw} == {None, first.pk}
