"""Gold for rating campaigns: a unit's known overall scores, checked in the service, the model and
the database; a rater is right within ±1 (GOLD_TOLERANCE); below the campaign's threshold the rater
is paused; gold units are served from the gold pool."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from annotate.models import Campaign, CandidateSet, Enrollment
from annotate.protocols.rating import GOLD_TOLERANCE, rating_gold_correct
from annotate.services.judgments import VoteRefused
from annotate.services.sets import (
    rating_gold_accuracy,
    rating_gold_mark,
    rating_vote_record,
    set_assignment_next,
)
from tests import factories

pytestmark = pytest.mark.django_db


def _campaign(**kw):
    kw.setdefault("aspects", [])
    return factories.CampaignFactory(protocol=Campaign.Protocol.RATING, rating_k=3, **kw)


def test_gold_scores_are_stored_per_candidate_with_the_ranking_they_make():
    campaign = _campaign()
    unit = factories.ranking_set(campaign=campaign, k=3)
    a, b, c = unit.member_ids()
    rating_gold_mark(candidate_set=unit, scores=[5, 2, 5])
    unit.refresh_from_db()
    assert unit.gold_scores == {str(a): 5, str(b): 2, str(c): 5}
    assert unit.gold_ranking == [sorted([a, c]), [b]]
    rating_gold_mark(candidate_set=unit, scores=None)
    unit.refresh_from_db()
    assert unit.gold_scores == {} and unit.gold_ranking == []


@pytest.mark.parametrize("scores", [[5, 2], [5, 2, 9], [5, 2, 0], [5, "x", 1], [True, 1, 1]])
def test_gold_off_the_scale_or_not_one_per_response_is_refused(scores):
    campaign = _campaign()
    unit = factories.ranking_set(campaign=campaign, k=3)
    with pytest.raises(VoteRefused):
        rating_gold_mark(candidate_set=unit, scores=scores)
    assert CandidateSet.objects.get(pk=unit.pk).gold_scores == {}


def test_the_model_and_the_database_check_gold_scores():
    campaign = _campaign()
    unit = factories.ranking_set(campaign=campaign, k=3)
    unit.gold_scores = {"999999": 3}
    unit.gold_ranking = [[999999]]
    with pytest.raises(ValidationError, match="gold_scores"):
        unit.full_clean()
    with pytest.raises(IntegrityError), transaction.atomic():
        CandidateSet.objects.filter(pk=unit.pk).update(gold_scores={"1": 3}, gold_ranking=[])


def test_a_rating_is_right_within_one_point_of_gold():
    assert GOLD_TOLERANCE == 1
    assert rating_gold_correct({1: 4, 2: 2}, {"1": 5, "2": 1})
    assert not rating_gold_correct({1: 3, 2: 2}, {"1": 5, "2": 1})


def test_gold_accuracy_pauses_a_rater_who_misses_gold():
    campaign = _campaign(gold_rate=1.0, gold_min_accuracy=0.5, gold_min_answered=1, overlap=2)
    unit = factories.ranking_set(campaign=campaign, k=3)
    factories.ranking_set(campaign=campaign, k=3)  # a regular unit
    rating_gold_mark(candidate_set=unit, scores=[5, 1, 3])
    careful, careless = factories.UserFactory(), factories.UserFactory()
    for rater, overall in ((careful, None), (careless, 3)):
        factories.EnrollmentFactory(campaign=campaign, rater=rater)
        lease = set_assignment_next(campaign=campaign, rater=rater)
        assert lease.candidate_set_id == unit.pk  # gold first (gold_rate 1)
        gold = dict(zip(unit.member_ids(), [5, 1, 3], strict=True))
        scores = [
            {"number": n, "overall": overall or max(1, gold[cid] - 1)}
            for n, cid in enumerate(lease.shown_order, start=1)
        ]
        rating_vote_record(lease=lease.pk, rater=rater, campaign=campaign, scores=scores)
    accuracy = rating_gold_accuracy(campaign=campaign)
    assert accuracy == {careful.pk: (1, 1), careless.pk: (0, 1)}
    assert not Enrollment.objects.get(rater=careful).paused
    assert Enrollment.objects.get(rater=careless).paused
