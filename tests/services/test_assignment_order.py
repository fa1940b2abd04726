from __future__ import annotations

from collections import Counter

from annotate.models import Assignment, Campaign, Pair, User
from annotate.services.assignment import assignment_next
from tests import factories


def _rater(campaign, name):
    user = factories.UserFactory(username=name, role=User.Role.RATER)
    factories.EnrollmentFactory(campaign=campaign, rater=user)
    return user


def test_it_finishes_started_pairs_first(campaign, rater):
    campaign.overlap = 3
    campaign.save()
    fresh = factories.PairFactory(campaign=campaign, random_key=0.1)
    started = factories.PairFactory(campaign=campaign, random_key=0.9, completed=1, assigned=1)
    assert assignment_next(campaign=campaign, rater=rater).pair == started
    assert fresh.assigned == 0


def test_it_follows_the_random_key_when_ordering_is_random(campaign, rater):
    campaign.ordering = Campaign.Ordering.RANDOM
    campaign.overlap = 3
    campaign.save()
    first = factories.PairFactory(campaign=campaign, random_key=0.1)
    factories.PairFactory(campaign=campaign, random_key=0.9, completed=1, assigned=1)
    assert assignment_next(campaign=campaign, rater=rater).pair == first


def test_it_balances_left_and_right_across_a_pairs_raters(campaign):
    campaign.overlap = 4
    campaign.save()
    pair = factories.PairFactory(campaign=campaign)
    leases = [assignment_next(campaign=campaign, rater=_rater(campaign, f"r{i}")) for i in range(4)]
    assert Counter(a.left_is_a for a in leases) == {True: 2, False: 2}
    pair.refresh_from_db()
    assert pair.left_a_count == 2


def test_it_randomises_the_side_at_overlap_one(campaign):
    factories.PairFactory.create_batch(40, campaign=campaign)
    sides = [
        assignment_next(campaign=campaign, rater=_rater(campaign, f"r{i}")).left_is_a
        for i in range(40)
    ]
    assert 5 < sum(sides) < 35  # both sides happen (p of failing ~ 1e-6)


def test_it_mixes_gold_pairs_at_the_campaign_rate(campaign):
    campaign.gold_rate = 0.5
    campaign.save()
    factories.PairFactory.create_batch(30, campaign=campaign)
    factories.PairFactory.create_batch(30, campaign=campaign, gold_answer="a")
    raters = [_rater(campaign, f"g{i}") for i in range(40)]
    gold = sum(bool(assignment_next(campaign=campaign, rater=r).pair.gold_answer) for r in raters)
    assert 8 <= gold <= 32


def test_it_serves_regular_pairs_when_gold_is_off(campaign):
    factories.PairFactory.create_batch(3, campaign=campaign)
    factories.PairFactory.create_batch(3, campaign=campaign, gold_answer="b")
    raters = [_rater(campaign, f"n{i}") for i in range(3)]
    assert all(assignment_next(campaign=campaign, rater=r) for r in raters)
    assert Assignment.objects.count() == 3
    assert Pair.objects.filter(assigned=1).count() == 3
