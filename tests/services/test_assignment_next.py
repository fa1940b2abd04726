from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from annotate.models import Assignment, Campaign, Pair, User
from annotate.services.assignment import (
    AssignmentError,
    assignment_expire_stale,
    assignment_next,
    assignment_release,
    assignment_renew,
    assignment_skip,
)
from tests import factories


def _rater(campaign, name):
    user = factories.UserFactory(username=name, role=User.Role.RATER)
    factories.EnrollmentFactory(campaign=campaign, rater=user)
    return user


def test_it_claims_a_pair_and_counts_it(campaign, rater):
    pair = factories.PairFactory(campaign=campaign)
    assignment = assignment_next(campaign=campaign, rater=rater)
    assert assignment.pair == pair
    assert assignment.status == Assignment.Status.ACTIVE
    assert assignment.expires_at > timezone.now()
    pair.refresh_from_db()
    assert pair.assigned == 1


def test_it_returns_the_same_pair_on_reload(campaign, rater):
    factories.PairFactory.create_batch(3, campaign=campaign)
    first = assignment_next(campaign=campaign, rater=rater)
    again = assignment_next(campaign=campaign, rater=rater)
    assert again.pk == first.pk
    assert Assignment.objects.filter(rater=rater).count() == 1


def test_it_respects_overlap_k(campaign):
    campaign.overlap = 2
    campaign.save()
    pair = factories.PairFactory(campaign=campaign)
    raters = [_rater(campaign, f"r{i}") for i in range(3)]
    got = [assignment_next(campaign=campaign, rater=r) for r in raters]
    assert [a is not None for a in got] == [True, True, False]
    pair.refresh_from_db()
    assert pair.assigned == 2


def test_it_never_gives_a_rater_the_same_pair_twice(campaign, rater):
    campaign.overlap = 3
    campaign.save()
    pair = factories.PairFactory(campaign=campaign)
    first = assignment_next(campaign=campaign, rater=rater)
    Assignment.objects.filter(pk=first.pk).update(status=Assignment.Status.DONE)
    assert assignment_next(campaign=campaign, rater=rater) is None
    pair.refresh_from_db()
    assert pair.assigned == 1


def test_it_gives_nothing_when_campaign_is_not_open(campaign, rater):
    factories.PairFactory(campaign=campaign)
    campaign.status = Campaign.Status.PAUSED
    campaign.save()
    assert assignment_next(campaign=campaign, rater=rater) is None


def test_it_gives_nothing_to_paused_or_unenrolled_raters(campaign, rater, admin_user):
    factories.PairFactory(campaign=campaign)
    campaign.enrollments.filter(rater=rater).update(paused=True, paused_reason="gold")
    assert assignment_next(campaign=campaign, rater=rater) is None
    assert assignment_next(campaign=campaign, rater=admin_user) is None
    assert Pair.objects.get().assigned == 0


def test_it_returns_expired_leases_to_the_pool(campaign, rater):
    pair = factories.PairFactory(campaign=campaign)
    other = _rater(campaign, "other")
    lease = assignment_next(campaign=campaign, rater=rater)
    Assignment.objects.filter(pk=lease.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    taken = assignment_next(campaign=campaign, rater=other)
    assert taken.pair == pair
    lease.refresh_from_db()
    assert lease.status == Assignment.Status.EXPIRED
    pair.refresh_from_db()
    assert pair.assigned == 1


def test_it_expires_each_lease_once(campaign, rater):
    factories.PairFactory(campaign=campaign)
    lease = assignment_next(campaign=campaign, rater=rater)
    Assignment.objects.filter(pk=lease.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert assignment_expire_stale(campaign=campaign) == 1
    assert assignment_expire_stale(campaign=campaign) == 0
    assert Pair.objects.get().assigned == 0


def test_it_gives_the_rater_a_new_pair_after_their_lease_expired(campaign, rater):
    factories.PairFactory.create_batch(2, campaign=campaign)
    lease = assignment_next(campaign=campaign, rater=rater)
    Assignment.objects.filter(pk=lease.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    fresh = assignment_next(campaign=campaign, rater=rater)
    assert fresh.pk != lease.pk and fresh.pair_id != lease.pair_id


def test_it_renews_an_active_lease_but_not_an_expired_one(campaign, rater):
    factories.PairFactory(campaign=campaign)
    lease = assignment_next(campaign=campaign, rater=rater)
    soon = timezone.now() + timedelta(seconds=5)
    Assignment.objects.filter(pk=lease.pk).update(expires_at=soon)
    assert assignment_renew(assignment_id=lease.pk, rater=rater)
    lease.refresh_from_db()
    assert lease.expires_at > soon + timedelta(seconds=60)
    Assignment.objects.filter(pk=lease.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert not assignment_renew(assignment_id=lease.pk, rater=rater)


def test_it_skips_with_a_reason_and_frees_the_slot(campaign, rater):
    factories.PairFactory(campaign=campaign)
    lease = assignment_next(campaign=campaign, rater=rater)
    with pytest.raises(AssignmentError):
        assignment_skip(assignment_id=lease.pk, rater=rater, reason="  ")
    assignment_skip(assignment_id=lease.pk, rater=rater, reason="not my field")
    lease.refresh_from_db()
    assert (lease.status, lease.skip_reason) == (Assignment.Status.SKIPPED, "not my field")
    assert Pair.objects.get().assigned == 0
    assert assignment_next(campaign=campaign, rater=rater) is None  # never the same pair again


def test_it_refuses_to_skip_someone_elses_lease(campaign, rater):
    factories.PairFactory(campaign=campaign)
    lease = assignment_next(campaign=campaign, rater=rater)
    intruder = _rater(campaign, "mallory")
    with pytest.raises(AssignmentError):
        assignment_skip(assignment_id=lease.pk, rater=intruder, reason="mine now")


def test_it_lets_an_admin_release_a_lease(campaign, rater):
    factories.PairFactory(campaign=campaign)
    lease = assignment_next(campaign=campaign, rater=rater)
    assert assignment_release(campaign=campaign, assignment_id=lease.pk)
    assert not assignment_release(campaign=campaign, assignment_id=lease.pk)
    lease.refresh_from_db()
    assert lease.status == Assignment.Status.RELEASED
    assert Pair.objects.get().assigned == 0
