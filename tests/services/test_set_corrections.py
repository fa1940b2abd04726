"""Undo the last vote on ranking, rating and step units (services/set_corrections.py): within the
window the rater corrects it with a new row pointing at the first; exports, agreement and gold
count the latest row per (set, rater); outside the window, for another vote, or twice: refused."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from annotate.models import (
    Campaign,
    CandidateSet,
    Enrollment,
    RankingVote,
    RatingVote,
    SetAssignment,
    StepVote,
)
from annotate.models.sets import counted_votes
from annotate.selectors.ratings import rating_scores
from annotate.selectors.sets import ranking_export_rows, ranking_voters
from annotate.selectors.steps import step_agreement, step_votes
from annotate.services.judgments import VoteRefused
from annotate.services.set_corrections import (
    set_undo_ms,
    set_vote_correct,
    set_vote_shown,
    set_vote_undoable,
)
from annotate.services.sets import (
    ranking_gold_accuracy,
    ranking_vote_record,
    rating_vote_record,
    set_assignment_next,
)
from annotate.services.steps import step_vote_record
from tests import factories

pytestmark = pytest.mark.django_db


def _rater(campaign):
    rater = factories.UserFactory()
    factories.EnrollmentFactory(campaign=campaign, rater=rater)
    return rater


def _ranked(**kw):
    campaign = factories.CampaignFactory(protocol=Campaign.Protocol.RANKING, **kw)
    factories.ranking_set(campaign=campaign, k=3)
    factories.ranking_set(campaign=campaign, k=3)
    rater = _rater(campaign)
    lease = set_assignment_next(campaign=campaign, rater=rater)
    vote = ranking_vote_record(
        lease=lease.pk, rater=rater, campaign=campaign, ranking=[[1], [2], [3]]
    )
    return campaign, rater, lease, vote


def test_it_corrects_a_ranking_with_a_new_row_and_exports_count_only_the_latest():
    campaign, rater, lease, first = _ranked()
    got_first, last = set_vote_undoable(campaign=campaign, rater=rater)
    assert got_first == last == first
    assert set_vote_shown(first, campaign=campaign)["ranking"] == [[1], [2], [3]]
    assert 0 < set_undo_ms(campaign=campaign, rater=rater) <= 60_000
    fixed = set_vote_correct(
        campaign=campaign,
        rater=rater,
        vote_id=first.pk,
        prior_id=first.pk,
        vote={"ranking": [[3], [2, 1]]},
    )
    assert fixed.pk != first.pk and fixed.revises_id == first.pk and fixed.lease_id is None
    # A tie group is a set: its members in any order.
    assert [sorted(g) for g in fixed.ranking] == [
        [lease.shown_order[2]],
        sorted(lease.shown_order[:2]),
    ]
    first.refresh_from_db()
    assert first.ranking == [[c] for c in lease.shown_order]  # never updated
    # A correction is not one more vote: the set and the rater's counters stay.
    assert CandidateSet.objects.get(pk=lease.candidate_set_id).completed == 1
    assert Enrollment.objects.get(campaign=campaign, rater=rater).votes == 1
    assert list(counted_votes(RankingVote.objects.all())) == [fixed]
    rows = list(ranking_export_rows(campaign_id=campaign.pk))
    assert {r["judgment_id"] // 100 for r in rows} == {fixed.pk}
    assert {r["revises_id"] for r in rows} == {first.pk}
    assert ranking_voters(campaign_id=campaign.pk)[0]["votes"] == 1
    # The second correction of the same undo (a double submit) is refused: one row per submit.
    with pytest.raises(VoteRefused) as refused:
        set_vote_correct(
            campaign=campaign,
            rater=rater,
            vote_id=first.pk,
            prior_id=first.pk,
            vote={"ranking": [[3], [2, 1]]},
        )
    assert refused.value.code == "not_last"
    # A second undo starts from the correction and points at the first again.
    again = set_vote_correct(
        campaign=campaign,
        rater=rater,
        vote_id=first.pk,
        prior_id=fixed.pk,
        vote={"ranking": [[2], [3], [1]]},
    )
    assert again.revises_id == first.pk
    assert list(counted_votes(RankingVote.objects.all())) == [again]


def test_it_refuses_after_the_window_for_another_raters_vote_and_with_no_vote(settings):
    campaign, rater, _lease, first = _ranked()
    other = _rater(campaign)
    with pytest.raises(VoteRefused) as refused:
        set_vote_undoable(campaign=campaign, rater=other)
    assert refused.value.code == "nothing"
    with pytest.raises(VoteRefused) as refused:
        set_vote_correct(
            campaign=campaign, rater=other, vote_id=first.pk, vote={"ranking": [[1], [2], [3]]}
        )
    assert refused.value.code == "missing"
    later = timezone.now() + timedelta(seconds=settings.RATE_UNDO_SECONDS + 1)
    with pytest.raises(VoteRefused) as refused:
        set_vote_undoable(campaign=campaign, rater=rater, now=later)
    assert refused.value.code == "too_late"
    assert set_undo_ms(campaign=campaign, rater=rater, now=later) == 0
    # The correction itself has a lease's grace after the window, then no more.
    past = later + timedelta(seconds=campaign.lease_seconds)
    with pytest.raises(VoteRefused) as refused:
        set_vote_correct(
            campaign=campaign,
            rater=rater,
            vote_id=first.pk,
            vote={"ranking": [[1], [2], [3]]},
            now=past,
        )
    assert refused.value.code == "too_late"
    assert RankingVote.objects.count() == 1


def test_only_the_last_vote_can_be_undone_and_a_correction_keeps_the_rules():
    campaign, rater, _lease, first = _ranked()
    lease2 = set_assignment_next(campaign=campaign, rater=rater)
    second = ranking_vote_record(
        lease=lease2.pk, rater=rater, campaign=campaign, ranking=[[2], [1], [3]]
    )
    with pytest.raises(VoteRefused) as refused:
        set_vote_correct(
            campaign=campaign, rater=rater, vote_id=first.pk, vote={"ranking": [[1], [2], [3]]}
        )
    assert refused.value.code == "not_last"
    with pytest.raises(VoteRefused) as refused:
        set_vote_correct(
            campaign=campaign, rater=rater, vote_id=second.pk, vote={"ranking": [[1], [2]]}
        )
    assert refused.value.code == "ranking"
    assert RankingVote.objects.count() == 2


def test_the_database_keeps_one_first_vote_per_rater_and_set():
    campaign, rater, _lease, first = _ranked()
    with pytest.raises(IntegrityError), transaction.atomic():
        RankingVote.objects.create(
            campaign=campaign, candidate_set=first.candidate_set, rater=rater, ranking=[]
        )


def test_a_rating_correction_is_new_score_rows_and_only_they_count():
    campaign = factories.CampaignFactory(protocol=Campaign.Protocol.RATING, aspects=["helpful"])
    factories.ranking_set(campaign=campaign, k=2)
    rater = _rater(campaign)
    lease = set_assignment_next(campaign=campaign, rater=rater)
    scores = [{"number": n, "overall": 2, "aspects": {"helpful": 2}} for n in (1, 2)]
    first = rating_vote_record(lease=lease.pk, rater=rater, campaign=campaign, scores=scores)
    shown = set_vote_shown(first, campaign=campaign)["scores"]
    assert [e["number"] for e in shown] == [1, 2] and shown[0]["overall"] == 2
    fixed = set_vote_correct(
        campaign=campaign,
        rater=rater,
        vote_id=first.pk,
        vote={"scores": [{**e, "overall": 5} for e in scores]},
    )
    assert isinstance(fixed, RatingVote) and fixed.revises_id == first.pk
    assert first.scores.count() == 2 and {s.overall for s in first.scores.all()} == {2}
    rows = list(rating_scores(campaign_id=campaign.pk))
    assert {r["vote_id"] for r in rows} == {fixed.pk} and {r["overall"] for r in rows} == {5}
    with pytest.raises(VoteRefused) as refused:
        set_vote_correct(
            campaign=campaign,
            rater=rater,
            vote_id=first.pk,
            vote={"scores": [{**e, "overall": 9} for e in scores]},
        )
    assert refused.value.code == "scores"


def test_a_step_correction_replaces_the_labels_in_exports_and_agreement():
    campaign = factories.CampaignFactory(protocol=Campaign.Protocol.STEPS)
    factories.step_trace(campaign=campaign)
    rater = _rater(campaign)
    lease = set_assignment_next(campaign=campaign, rater=rater)
    first = step_vote_record(lease=lease.pk, rater=rater, campaign=campaign, labels=[1, 1, 1])
    assert set_vote_shown(first, campaign=campaign) == {"labels": [1, 1, 1], "notes": ["", "", ""]}
    fixed = set_vote_correct(
        campaign=campaign,
        rater=rater,
        vote_id=first.pk,
        vote={"labels": [1, 0, 1], "notes": ["", "a detour", ""]},
    )
    assert isinstance(fixed, StepVote) and fixed.revises_id == first.pk
    assert [v["vote_id"] for v in step_votes(campaign_id=campaign.pk)] == [fixed.pk]
    assert step_agreement(campaign=campaign)["step_labels"] == {"correct": 2, "neutral": 1}
    assert SetAssignment.objects.get(pk=lease.pk).status == "done"


def test_gold_accuracy_counts_the_corrected_ranking():
    campaign = factories.CampaignFactory(
        protocol=Campaign.Protocol.RANKING, gold_min_accuracy=0.5, gold_min_answered=1
    )
    unit = factories.ranking_set(campaign=campaign, k=3)
    rater = _rater(campaign)
    lease = set_assignment_next(campaign=campaign, rater=rater)
    best = lease.shown_order[0]
    unit.gold_ranking = [[best], sorted(lease.shown_order[1:])]
    unit.save(update_fields=["gold_ranking"])
    first = ranking_vote_record(
        lease=lease.pk, rater=rater, campaign=campaign, ranking=[[3], [2], [1]]
    )
    assert ranking_gold_accuracy(campaign=campaign)[rater.pk] == (0, 1)
    assert Enrollment.objects.get(rater=rater).paused
    set_vote_correct(
        campaign=campaign, rater=rater, vote_id=first.pk, vote={"ranking": [[1], [2], [3]]}
    )
    assert ranking_gold_accuracy(campaign=campaign)[rater.pk] == (1, 1)
