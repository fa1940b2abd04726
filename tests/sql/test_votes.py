"""annotate/sql/votes.py: the vote write, both forms (one statement on PostgreSQL, four on SQLite)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from annotate.models import Assignment, Enrollment, Judgment, Pair
from annotate.reading import reading_length
from annotate.sql import votes as votes_sql
from tests import factories
from tests.sql import FORMS

WRITERS = {
    "one statement": votes_sql.write_one_statement,
    "step by step": votes_sql.write_step_by_step,
}


@pytest.fixture(params=FORMS)
def write(request):
    return WRITERS[request.param]


def _lease(campaign, rater, *, left_is_a=True, gold="", served_ago=2.5, expires_in=60.0):
    now = timezone.now()
    pair = factories.PairFactory(campaign=campaign, gold_answer=gold, assigned=1)
    return Assignment.objects.create(
        campaign=campaign,
        pair=pair,
        rater=rater,
        left_is_a=left_is_a,
        created_at=now - timedelta(seconds=served_ago),
        expires_at=now + timedelta(seconds=expires_in),
    )


def _vote(lease, *, rater_id=None, campaign_id=None, key="key-1", now=None):
    """Shown "left" with aspect "left": a if the lease showed a on the left, else b."""
    return votes_sql.Vote(
        assignment_id=lease.pk,
        rater_id=rater_id or lease.rater_id,
        campaign_id=campaign_id or lease.campaign_id,
        by_side={True: ("a", {"helpful": "a"}), False: ("b", {"helpful": "b"})},
        strength=2,
        rationale="Clearer.",
        rewrite="",
        key=key,
        judge_shown=True,
        now=now or lease.created_at + timedelta(seconds=2.5),
    )


def test_it_closes_the_lease_stores_the_vote_and_counts_it(write, campaign, rater):
    lease = _lease(campaign, rater)
    vote = _vote(lease)
    written = write(vote)
    stored = Judgment.objects.get()
    assert written == (stored.pk, lease.pair_id, True, 2500, "", 1)
    assert (stored.choice, stored.aspects, stored.strength) == ("a", {"helpful": "a"}, 2)
    assert (stored.rationale, stored.judge_shown, stored.idempotency_key) == (
        "Clearer.",
        True,
        "key-1",
    )
    assert (stored.assignment_id, stored.rater_id, stored.campaign_id) == (
        lease.pk,
        rater.pk,
        campaign.pk,
    )
    assert (stored.source, stored.left_is_a, stored.time_on_task_ms) == ("human", True, 2500)
    assert stored.created_at == vote.now
    lease.refresh_from_db()
    assert (lease.status, lease.completed_at) == (Assignment.Status.DONE, vote.now)
    assert Pair.objects.values_list("completed", "assigned").get() == (1, 1)
    assert Enrollment.objects.get(campaign=campaign, rater=rater).votes == 1


@pytest.mark.parametrize("left_is_a, stored", [(True, "a"), (False, "b")])
def test_it_maps_the_vote_with_the_side_the_lease_showed(write, campaign, rater, left_is_a, stored):
    written = write(_vote(_lease(campaign, rater, left_is_a=left_is_a)))
    assert written.left_is_a is left_is_a
    judgment = Judgment.objects.get()
    assert (judgment.choice, judgment.aspects, judgment.left_is_a) == (
        stored,
        {"helpful": stored},
        left_is_a,
    )


def test_it_counts_the_raters_votes_and_returns_the_gold_answer(write, campaign, rater):
    write(_vote(_lease(campaign, rater), key="k1"))
    written = write(_vote(_lease(campaign, rater, gold="b"), key="k2"))
    assert (written.gold_answer, written.rater_votes) == ("b", 2)


def test_without_an_enrollment_it_stores_the_vote_and_counts_no_rater(write, campaign, admin_user):
    written = write(_vote(_lease(campaign, admin_user)))
    assert written.rater_votes is None and Judgment.objects.count() == 1


def test_a_time_on_task_is_never_negative(write, campaign, rater):
    lease = _lease(campaign, rater, served_ago=0)
    written = write(_vote(lease, now=lease.created_at - timedelta(seconds=1)))  # a clock step back
    assert written.time_on_task_ms == 0 == Judgment.objects.get().time_on_task_ms


@pytest.mark.parametrize("case", ["other rater", "other campaign", "expired", "done", "skipped"])
def test_it_writes_nothing_unless_the_lease_is_this_raters_active_unexpired_one(
    write, campaign, rater, case
):
    lease = _lease(campaign, rater, expires_in=-1 if case == "expired" else 60)
    kwargs = {}
    if case == "other rater":
        kwargs["rater_id"] = factories.EnrollmentFactory(campaign=campaign).rater_id
    elif case == "other campaign":
        kwargs["campaign_id"] = factories.CampaignFactory().pk
    elif case in ("done", "skipped"):
        Assignment.objects.filter(pk=lease.pk).update(status=case)
    status = Assignment.objects.get(pk=lease.pk).status
    assert write(_vote(lease, **kwargs)) is None
    assert not Judgment.objects.exists()
    assert Assignment.objects.get(pk=lease.pk).status == status
    assert Pair.objects.get().completed == 0
    assert Enrollment.objects.get(campaign=campaign, rater=rater).votes == 0


def test_a_used_key_on_another_lease_is_refused_by_the_unique_key(write, campaign, rater):
    first = _lease(campaign, rater)
    write(_vote(first, key="same"))
    second = _lease(campaign, rater)
    with pytest.raises(IntegrityError), transaction.atomic():
        write(_vote(second, key="same"))
    assert Assignment.objects.get(pk=second.pk).status == Assignment.Status.ACTIVE
    assert Judgment.objects.count() == 1


def test_the_read_time_facts_are_when_the_lease_was_served_and_how_long_both_responses_are(
    campaign, rater
):
    lease = _lease(campaign, rater)
    pair = lease.pair
    facts = votes_sql.read_time_facts(assignment_id=lease.pk, rater_id=rater.pk)
    length = reading_length(pair.candidate_a.text) + reading_length(pair.candidate_b.text)
    assert facts == (lease.created_at, length)
    other = factories.EnrollmentFactory(campaign=campaign).rater
    assert votes_sql.read_time_facts(assignment_id=lease.pk, rater_id=other.pk) is None
    assert votes_sql.read_time_facts(assignment_id=lease.pk + 1, rater_id=rater.pk) is None
