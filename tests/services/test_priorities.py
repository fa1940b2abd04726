"""The "active" ordering: open pairs scored by what one more vote is worth, served highest first
(annotate/services/priorities.py, annotate/analytics/informativeness.py)."""

from __future__ import annotations

from collections import Counter

import pytest
from django.core.exceptions import ValidationError

from annotate.analytics.informativeness import (
    JUDGE_WEIGHT,
    comparisons_by_generators,
    generator_overlap,
    interval_overlap,
    pair_priority,
)
from annotate.models import Campaign, Judgment, Pair, User
from annotate.services.assignment import assignment_next
from annotate.services.priorities import priorities_due, priorities_refresh
from tests import factories


def test_interval_overlap_is_the_shared_part_of_the_shorter_interval():
    board = [
        {"name": "x", "low": 900.0, "high": 1100.0},
        {"name": "y", "low": 1000.0, "high": 1050.0},  # inside x
        {"name": "z", "low": 1200.0, "high": 1300.0},  # apart from both
        {"name": "w", "low": 1050.0, "high": 1250.0},  # half of z's width shared
    ]
    overlap = interval_overlap(board)
    assert overlap[("x", "y")] == overlap[("y", "x")] == 1.0
    assert overlap[("x", "z")] == 0.0
    assert overlap[("z", "w")] == pytest.approx(0.5)
    assert generator_overlap(overlap, "x", "new") == 1.0  # no interval yet: unknown, worth asking
    assert generator_overlap(overlap, "x", "x") == 0.0  # two samples of one generator


def test_the_score_adds_the_judge_signals_to_the_overlap_decayed_by_the_votes_so_far():
    assert pair_priority(judge_unsure=False, judge_human_disagree=False, generators_overlap=0) == 0
    both = pair_priority(judge_unsure=True, judge_human_disagree=True, generators_overlap=0.5)
    assert both == pytest.approx(2 * JUDGE_WEIGHT + 0.5)
    assert pair_priority(
        judge_unsure=False, judge_human_disagree=False, generators_overlap=1.0, comparisons=3
    ) == pytest.approx(0.5)
    counts = Counter(
        {("x", "y", 1.0): 2, ("y", "x", 1.0): 1, ("x", "y", 0.5): 2, ("y", "x", 0.5): 2}
    )
    assert comparisons_by_generators(counts) == {("x", "y"): 5, ("y", "x"): 5}


def _pair(campaign, gen_a, gen_b):
    prompt = factories.PromptFactory(campaign=campaign)
    return factories.PairFactory(
        campaign=campaign,
        prompt=prompt,
        candidate_a=factories.CandidateFactory(prompt=prompt, generator=gen_a),
        candidate_b=factories.CandidateFactory(prompt=prompt, generator=gen_b),
    )


def _verdict(pair, *, choice, consistent):
    return factories.judge_verdict(pair, choice=choice, consistent=consistent)


def _vote(pair, rater, choice):
    return Judgment.objects.create(
        campaign=pair.campaign, pair=pair, rater=rater, choice=choice, left_is_a=True
    )


@pytest.fixture
def active(campaign):
    campaign.ordering = Campaign.Ordering.ACTIVE
    campaign.overlap = 2
    campaign.save()
    return campaign


def test_it_serves_the_pair_the_judge_was_unsure_of_then_the_contested_one(active, rater):
    x = factories.GeneratorFactory(campaign=active, name="x")
    y = factories.GeneratorFactory(campaign=active, name="y")
    calm, contested, unsure = (_pair(active, x, y) for _ in range(3))
    for p, key in ((calm, 0.0), (contested, 0.5), (unsure, 0.9)):
        Pair.objects.filter(pk=p.pk).update(random_key=key)
    _verdict(calm, choice="a", consistent=True)
    _verdict(contested, choice="a", consistent=True)
    _verdict(unsure, choice="inconsistent", consistent=False)
    first = factories.UserFactory(username="first", role=User.Role.RATER)
    _vote(calm, first, "a")  # agrees with the judge
    _vote(contested, first, "b")  # does not
    Pair.objects.filter(pk__in=[calm.pk, contested.pk]).update(assigned=1, completed=1)

    assert priorities_refresh(campaign=active) == 3
    scores = dict(Pair.objects.values_list("id", "priority"))
    # x and y have no interval yet (too few votes for a leaderboard of two): overlap 1 each.
    # calm and contested have one vote each between x and y: overlap 1 / sqrt(1 + 2).
    level = 1 / 3**0.5
    assert scores[unsure.pk] == pytest.approx(JUDGE_WEIGHT + level)
    assert scores[contested.pk] == pytest.approx(JUDGE_WEIGHT + level)
    assert scores[calm.pk] == pytest.approx(level)
    active.refresh_from_db()
    assert active.priorities_at is not None

    # The claim: priority first, then the fewer votes, then the random key.
    served = [assignment_next(campaign=active, rater=rater).pair.pk]
    for name in ("r2", "r3"):
        other = factories.UserFactory(username=name, role=User.Role.RATER)
        factories.EnrollmentFactory(campaign=active, rater=other)
        served.append(assignment_next(campaign=active, rater=other).pair.pk)
    assert served == [unsure.pk, unsure.pk, contested.pk]


def test_a_campaign_with_new_votes_is_due_and_a_scored_one_is_not(active, rater):
    x = factories.GeneratorFactory(campaign=active, name="x")
    y = factories.GeneratorFactory(campaign=active, name="y")
    pair = _pair(active, x, y)
    assert priorities_due() == [active]  # never scored
    priorities_refresh(campaign=active)
    assert priorities_due() == []
    _vote(pair, rater, "a")
    assert priorities_due() == [active]
    active.ordering = Campaign.Ordering.RANDOM
    active.save()
    assert priorities_due() == []


def test_active_ordering_is_for_pairwise_campaigns(campaign):
    campaign.protocol = Campaign.Protocol.RANKING
    campaign.ordering = Campaign.Ordering.ACTIVE
    with pytest.raises(ValidationError, match="pairwise"):
        campaign.full_clean()


def test_generators_far_apart_on_the_leaderboard_score_below_close_ones(active):
    x, y, z = (factories.GeneratorFactory(campaign=active, name=n) for n in "xyz")
    raters = [factories.UserFactory(username=f"v{i}", role=User.Role.RATER) for i in range(40)]
    for i, r in enumerate(raters):
        # x beats z every time; x and y split evenly.
        _vote(_pair(active, x, z), r, "a")
        _vote(_pair(active, x, y), r, "a" if i % 2 else "b")
    Pair.objects.update(assigned=2, completed=2)  # all full: only the two below are open
    far, close = _pair(active, x, z), _pair(active, x, y)
    priorities_refresh(campaign=active)
    far.refresh_from_db()
    close.refresh_from_db()
    assert close.priority > far.priority


def test_the_task_rescores_what_is_due(active, rater):
    from annotate.tasks import priorities_refresh_task

    x = factories.GeneratorFactory(campaign=active, name="x")
    y = factories.GeneratorFactory(campaign=active, name="y")
    pair = _pair(active, x, y)
    _verdict(pair, choice="inconsistent", consistent=False)
    priorities_refresh_task()
    pair.refresh_from_db()
    assert pair.priority == pytest.approx(JUDGE_WEIGHT + 1.0)
