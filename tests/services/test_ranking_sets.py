"""Ranking sets: the build, the lease, the vote (validation, replay, counters) and gold."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from annotate.models import Campaign, CandidateSet, RankingVote, SetAssignment
from annotate.protocols import protocol_for
from annotate.services.campaigns import CampaignError, campaign_set_status, campaign_update
from annotate.services.judgments import VoteRefused
from annotate.services.sets import (
    ranking_vote_record,
    set_assignment_expire_stale,
    set_assignment_next,
    set_assignment_skip,
    set_gold_mark,
    sets_build_report,
)
from tests import factories

pytestmark = pytest.mark.django_db


def _ranking_campaign(**kw) -> Campaign:
    return factories.CampaignFactory(protocol=Campaign.Protocol.RANKING, **kw)


def _rater(campaign):
    rater = factories.UserFactory()
    factories.EnrollmentFactory(campaign=campaign, rater=rater)
    return rater


@pytest.mark.parametrize("k", [2, 10])
def test_it_refuses_k_outside_3_to_9_in_the_model(k):
    campaign = factories.CampaignFactory.build(protocol="ranking", ranking_k=k, slug="x")
    with pytest.raises(ValidationError, match="ranking_k"):
        campaign.full_clean(exclude=["created_by"])
    with pytest.raises(CampaignError, match="ranking_k"):
        campaign_update(campaign=factories.CampaignFactory(), ranking_k=k)


def test_it_refuses_k_outside_3_to_9_in_the_database():
    campaign = factories.CampaignFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        Campaign.objects.filter(pk=campaign.pk).update(ranking_k=12)


def test_it_builds_one_set_per_prompt_of_k_distinct_responses_once():
    campaign = _ranking_campaign(ranking_k=3, status=Campaign.Status.DRAFT)
    gens = [factories.GeneratorFactory(campaign=campaign) for _ in range(2)]
    full = factories.PromptFactory(campaign=campaign)
    for g in gens:  # best-of-N: two samples each, so 4 candidates, 3 picked
        for i in range(2):
            factories.CandidateFactory(prompt=full, generator=g, sample_index=i)
    twins = factories.PromptFactory(campaign=campaign)
    factories.CandidateFactory(prompt=twins, generator=gens[0], text="Same.")
    factories.CandidateFactory(prompt=twins, generator=gens[1], text="same. ")
    report = sets_build_report(campaign=campaign)
    assert report.created == 1  # the twins' prompt has one distinct text: no set
    unit = CandidateSet.objects.get(campaign=campaign)
    members = list(unit.members.select_related("candidate"))
    assert len(members) == 3 and sorted(m.slot for m in members) == [0, 1, 2]
    # Round-robin over generators: both generators' sample 0 are in.
    assert {(m.candidate.generator_id, m.candidate.sample_index) for m in members} >= {
        (gens[0].id, 0),
        (gens[1].id, 0),
    }
    assert sets_build_report(campaign=campaign).created == 0  # idempotent
    campaign_set_status(campaign=campaign, action="open")  # through the seam
    assert Campaign.objects.get(pk=campaign.pk).is_open
    with pytest.raises(CampaignError, match="K cannot change once sets exist"):
        campaign_update(campaign=campaign, ranking_k=5)


def test_it_does_not_open_a_ranking_campaign_without_sets():
    campaign = _ranking_campaign(status=Campaign.Status.DRAFT)
    factories.PromptFactory(campaign=campaign)
    with pytest.raises(CampaignError, match="no sets can be made"):
        campaign_set_status(campaign=campaign, action="open")


def test_it_leases_a_set_once_per_rater_and_returns_the_same_on_reload():
    campaign = _ranking_campaign(overlap=2)
    unit = factories.ranking_set(campaign=campaign, k=4)
    rater = _rater(campaign)
    lease = set_assignment_next(campaign=campaign, rater=rater)
    assert lease.candidate_set_id == unit.id
    assert sorted(lease.shown_order) == sorted(unit.member_ids())
    assert set_assignment_next(campaign=campaign, rater=rater).pk == lease.pk
    ranking_vote_record(lease=lease, rater=rater, campaign=campaign, ranking=[[1], [2], [3], [4]])
    assert set_assignment_next(campaign=campaign, rater=rater) is None  # never the same set twice
    unit.refresh_from_db()
    assert (unit.assigned, unit.completed) == (1, 1)


def test_it_balances_the_shown_order_across_a_sets_raters():
    campaign = _ranking_campaign(overlap=4)
    unit = factories.ranking_set(campaign=campaign, k=4)
    seen = Counter()
    for _ in range(4):
        lease = set_assignment_next(campaign=campaign, rater=_rater(campaign))
        for position, candidate in enumerate(lease.shown_order):
            seen[(candidate, position)] += 1
    assert len(seen) == 16 and set(seen.values()) == {1}  # each candidate once in each position
    assert unit.member_ids() != []


def test_it_gives_back_expired_and_skipped_leases():
    campaign = _ranking_campaign(overlap=1, lease_seconds=60)
    unit = factories.ranking_set(campaign=campaign, k=3)
    first, second = _rater(campaign), _rater(campaign)
    lease = set_assignment_next(campaign=campaign, rater=first)
    assert set_assignment_next(campaign=campaign, rater=second) is None  # k = 1, taken
    later = timezone.now() + timedelta(seconds=61)
    assert set_assignment_expire_stale(campaign=campaign, now=later) == 1
    assert set_assignment_expire_stale(campaign=campaign, now=later) == 0  # exactly once
    lease2 = set_assignment_next(campaign=campaign, rater=second)
    assert lease2.candidate_set_id == unit.id
    set_assignment_skip(lease_id=lease2.pk, rater=second, reason="unreadable")
    unit.refresh_from_db()
    assert unit.assigned == 0
    with pytest.raises(VoteRefused, match="ran out"):
        ranking_vote_record(lease=lease, rater=first, campaign=campaign, ranking=[[1], [2], [3]])


def test_it_claims_nothing_for_a_paused_or_unenrolled_rater():
    campaign = _ranking_campaign()
    factories.ranking_set(campaign=campaign, k=3)
    assert set_assignment_next(campaign=campaign, rater=factories.UserFactory()) is None
    paused = factories.UserFactory()
    factories.EnrollmentFactory(campaign=campaign, rater=paused, paused=True)
    assert set_assignment_next(campaign=campaign, rater=paused) is None


def _leased(k=4, **kw):
    campaign = _ranking_campaign(**kw)
    factories.ranking_set(campaign=campaign, k=k)
    rater = _rater(campaign)
    return campaign, rater, set_assignment_next(campaign=campaign, rater=rater)


def test_it_stores_the_ranking_in_candidate_ids_with_the_shown_order():
    campaign, rater, lease = _leased()
    shown = lease.shown_order
    vote = ranking_vote_record(
        lease=lease, rater=rater, campaign=campaign, ranking=[[3], [1, 4], [2]]
    )
    vote.refresh_from_db()
    assert vote.ranking == [[shown[2]], [shown[0], shown[3]], [shown[1]]]
    assert vote.shown_order == shown
    assert SetAssignment.objects.get(pk=lease.pk).status == "done"
    assert campaign.enrollments.get(rater=rater).votes == 1


@pytest.mark.parametrize(
    "ranking, code",
    [
        ([[1], [2], [3]], "ranking"),  # one missing
        ([[1], [2], [3], [3]], "ranking"),  # twice
        ([[1], [2], [3], [5]], "ranking"),  # not a position
        ([[1, 2, 3, 4], []], "ranking"),  # empty group
        ("1,2,3,4", "ranking"),
    ],
)
def test_it_refuses_a_malformed_ranking_and_keeps_the_lease(ranking, code):
    campaign, rater, lease = _leased()
    with pytest.raises(VoteRefused) as info:
        ranking_vote_record(lease=lease, rater=rater, campaign=campaign, ranking=ranking)
    assert info.value.code == code
    assert SetAssignment.objects.get(pk=lease.pk).status == "active"
    assert not RankingVote.objects.exists()


def test_it_stores_one_vote_for_a_double_submit():
    campaign, rater, lease = _leased()
    first = ranking_vote_record(lease=lease, rater=rater, campaign=campaign, ranking=[[1, 2, 3, 4]])
    again = ranking_vote_record(
        lease=lease.pk, rater=rater, campaign=campaign, ranking=[[4], [3], [2], [1]]
    )
    assert again.pk == first.pk and again.replayed
    assert RankingVote.objects.count() == 1
    assert CandidateSet.objects.get().completed == 1


def test_it_refuses_another_raters_lease_and_campaign_rules():
    campaign, rater, lease = _leased(allow_both_bad=False, rationale="required", aspects=["honest"])
    intruder = _rater(campaign)
    ok = {"aspects": {"honest": 2}, "rationale": "because"}
    with pytest.raises(VoteRefused) as info:
        ranking_vote_record(lease=lease, rater=intruder, campaign=campaign, ranking=[[1]], **ok)
    assert info.value.code == "foreign"
    for bad, code in [
        ({**ok, "all_bad": True}, "all_bad"),
        ({**ok, "rationale": ""}, "rationale"),
        ({**ok, "aspects": {}}, "aspects"),
        ({**ok, "aspects": {"honest": 9}}, "aspects"),
        ({**ok, "aspects": {"honest": 1, "fast": 1}}, "aspects"),
        ({**ok, "rewrite": "better"}, "rewrite"),
    ]:
        with pytest.raises(VoteRefused) as info:
            ranking_vote_record(
                lease=lease, rater=rater, campaign=campaign, ranking=[[1], [2], [3], [4]], **bad
            )
        assert info.value.code == code
    vote = ranking_vote_record(
        lease=lease, rater=rater, campaign=campaign, ranking=[[1], [2], [3], [4]], **ok
    )
    assert vote.aspects == {"honest": lease.shown_order[1]}


def test_it_validates_gold_against_the_sets_members_and_serves_gold():
    campaign = _ranking_campaign(gold_rate=1.0, gold_min_accuracy=0.9, gold_min_answered=1)
    unit = factories.ranking_set(campaign=campaign, k=3)
    with pytest.raises(VoteRefused):
        set_gold_mark(candidate_set=unit, ranking=[[1], [2]])
    unit.gold_ranking = [[1, 2, 3]]
    with pytest.raises(ValidationError):
        unit.full_clean()
    set_gold_mark(candidate_set=unit, ranking=[[3], [1, 2]])
    slots = unit.member_ids()
    assert CandidateSet.objects.get(pk=unit.pk).gold_ranking == [[slots[2]], [slots[0], slots[1]]]
    rater = _rater(campaign)
    lease = set_assignment_next(campaign=campaign, rater=rater)
    assert lease.candidate_set_id == unit.pk  # the gold pool
    worst_first = [[lease.shown_order.index(slots[0]) + 1]] + [
        [n] for n in range(1, 4) if lease.shown_order[n - 1] != slots[0]
    ]
    ranking_vote_record(lease=lease, rater=rater, campaign=campaign, ranking=worst_first)
    assert campaign.enrollments.get(rater=rater).paused  # its best was not gold's best


def test_the_protocol_seam_reaches_the_ranking_services():
    campaign, rater, lease = _leased(k=3)
    protocol = protocol_for(campaign)
    assert protocol.unit_next(campaign=campaign, rater=rater).pk == lease.pk
    vote = protocol.vote_record(lease=lease, rater=rater, campaign=campaign, ranking=[[2], [1, 3]])
    assert vote.pk
