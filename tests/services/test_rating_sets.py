"""Rating units: the build (a prompt's responses split into units of rating_k), the lease (the
candidate-set leases: overlap k, never twice to a rater, rotated order), the vote (one set of
rules, one vote per lease, immutable score rows), and the campaign's scale rules."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from annotate.models import Campaign, CandidateSet, RatingScore, RatingVote, SetAssignment
from annotate.protocols import protocol_for
from annotate.services.campaigns import CampaignError, campaign_set_status, campaign_update
from annotate.services.judgments import VoteRefused
from annotate.services.sets import (
    rating_vote_record,
    set_assignment_expire_stale,
    set_assignment_next,
    sets_build_report,
)
from tests import factories

pytestmark = pytest.mark.django_db


def _rating_campaign(**kw) -> Campaign:
    kw.setdefault("aspects", ["helpful", "honest"])
    return factories.CampaignFactory(protocol=Campaign.Protocol.RATING, **kw)


def _rater(campaign):
    rater = factories.UserFactory()
    factories.EnrollmentFactory(campaign=campaign, rater=rater)
    return rater


def _scores(k, overall=4, **aspects):
    aspects = aspects or {"helpful": 5, "honest": 3}
    return [{"number": n, "overall": overall, "aspects": dict(aspects)} for n in range(1, k + 1)]


@pytest.mark.parametrize(
    "field, value", [("rating_k", 0), ("rating_k", 10), ("rating_min", 2), ("rating_max", 1),
                     ("rating_max", 10)],
)  # fmt: skip
def test_it_refuses_a_unit_size_or_scale_out_of_range_in_model_service_and_database(field, value):
    campaign = factories.CampaignFactory.build(protocol="rating", slug="x", **{field: value})
    with pytest.raises(ValidationError, match=field):
        campaign.full_clean(exclude=["created_by"])
    saved = factories.CampaignFactory()
    with pytest.raises(CampaignError, match=field):
        campaign_update(campaign=saved, **{field: value})
    with pytest.raises(IntegrityError), transaction.atomic():
        Campaign.objects.filter(pk=saved.pk).update(**{field: value})


def test_it_splits_each_prompts_distinct_responses_into_units_once():
    campaign = _rating_campaign(rating_k=2, status=Campaign.Status.DRAFT)
    prompt = factories.PromptFactory(campaign=campaign)
    for _ in range(5):
        factories.CandidateFactory(prompt=prompt)
    factories.CandidateFactory(prompt=prompt, text="Answer 0 twin.")
    factories.CandidateFactory(prompt=prompt, text="answer 0 TWIN. ")  # the same text: left out
    single = factories.PromptFactory(campaign=campaign)
    factories.CandidateFactory(prompt=single)
    report = sets_build_report(campaign=campaign)
    sizes = sorted((u.prompt_id, u.part, u.members.count()) for u in CandidateSet.objects.all())
    assert sizes == [(prompt.id, 0, 2), (prompt.id, 1, 2), (prompt.id, 2, 2), (single.id, 0, 1)]
    assert report.created == 4 and report.strategy == "rating"
    members = [m for u in CandidateSet.objects.all() for m in u.member_ids()]
    assert len(members) == len(set(members)) == 7
    assert sets_build_report(campaign=campaign).created == 0  # idempotent
    campaign_set_status(campaign=campaign, action="open")
    assert Campaign.objects.get(pk=campaign.pk).is_open
    with pytest.raises(CampaignError, match="Responses per unit cannot change"):
        campaign_update(campaign=campaign, rating_k=3)


def test_it_leases_a_unit_to_k_raters_never_twice_to_one_and_rotates_the_order():
    campaign = _rating_campaign(overlap=3, status=Campaign.Status.OPEN)
    unit = factories.ranking_set(campaign=campaign, k=3)
    raters = [_rater(campaign) for _ in range(4)]
    leases = [set_assignment_next(campaign=campaign, rater=r) for r in raters]
    assert [lease is not None for lease in leases] == [True, True, True, False]  # k = 3
    assert set_assignment_next(campaign=campaign, rater=raters[0]).pk == leases[0].pk  # reload
    firsts = {lease.shown_order[0] for lease in leases[:3]}
    assert firsts == set(unit.member_ids())  # each candidate first once (a Latin square)
    rating_vote_record(lease=leases[0], rater=raters[0], campaign=campaign, scores=_scores(3))
    assert set_assignment_next(campaign=campaign, rater=raters[0]) is None  # never twice
    # An expired lease goes back to the pool, and its rater cannot vote on it.
    SetAssignment.objects.filter(pk=leases[1].pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert set_assignment_expire_stale(campaign=campaign) == 1
    assert set_assignment_next(campaign=campaign, rater=raters[3]) is not None
    with pytest.raises(VoteRefused) as refused:
        rating_vote_record(lease=leases[1], rater=raters[1], campaign=campaign, scores=_scores(3))
    assert refused.value.code == "expired"
    assert "Your rating was not recorded; here is the next unit" in refused.value.messages[0]


def test_it_stores_one_score_row_per_response_in_candidate_ids():
    campaign = _rating_campaign(status=Campaign.Status.OPEN)
    factories.ranking_set(campaign=campaign, k=3)
    rater = _rater(campaign)
    lease = set_assignment_next(campaign=campaign, rater=rater)
    entries = [
        {"number": 1, "overall": 5, "aspects": {"helpful": 5, "honest": 4}, "rationale": " Best "},
        {"number": 2, "overall": 1, "aspects": {"helpful": 1, "honest": 2}},
        {"number": 3, "overall": 3, "aspects": {"helpful": 3, "honest": 3}, "rationale": ""},
    ]
    vote = rating_vote_record(lease=lease, rater=rater, campaign=campaign, scores=entries)
    assert vote.replayed is False and vote.shown_order == lease.shown_order
    rows = {s.candidate_id: s for s in RatingScore.objects.filter(vote=vote)}
    first, second, third = (rows[c] for c in lease.shown_order)
    assert (first.overall, first.aspects, first.rationale) == (
        5, {"helpful": 5, "honest": 4}, "Best"
    )  # fmt: skip
    assert (second.overall, third.overall) == (1, 3)
    lease.refresh_from_db()
    unit = CandidateSet.objects.get(pk=lease.candidate_set_id)
    assert lease.status == "done" and unit.completed == unit.assigned == 1
    # The same submit again returns the stored vote; nothing is written twice.
    again = rating_vote_record(lease=lease.pk, rater=rater, campaign=campaign, scores=entries)
    assert again.pk == vote.pk and again.replayed is True
    assert RatingVote.objects.count() == 1 and RatingScore.objects.count() == 3


@pytest.mark.parametrize(
    "scores, code",
    [
        (_scores(2), "scores"),  # one response not rated
        (_scores(3, overall=6), "scores"),
        (_scores(3, helpful=5), "scores"),  # honest missing
        ([{**e, "why": "x"} for e in _scores(3)], "scores"),
        ("not a list", "scores"),
    ],
)
def test_it_refuses_a_malformed_rating_and_keeps_the_lease(scores, code):
    campaign = _rating_campaign(status=Campaign.Status.OPEN)
    factories.ranking_set(campaign=campaign, k=3)
    rater = _rater(campaign)
    lease = set_assignment_next(campaign=campaign, rater=rater)
    with pytest.raises(VoteRefused) as refused:
        rating_vote_record(lease=lease, rater=rater, campaign=campaign, scores=scores)
    assert refused.value.code == code
    lease.refresh_from_db()
    assert lease.status == "active" and RatingVote.objects.count() == 0


def test_it_refuses_another_raters_lease_and_another_campaigns():
    campaign = _rating_campaign(status=Campaign.Status.OPEN)
    factories.ranking_set(campaign=campaign, k=2)
    owner, other = _rater(campaign), _rater(campaign)
    lease = set_assignment_next(campaign=campaign, rater=owner)
    with pytest.raises(VoteRefused) as refused:
        rating_vote_record(lease=lease, rater=other, campaign=campaign, scores=_scores(2))
    assert refused.value.code == "foreign"
    elsewhere = _rating_campaign(status=Campaign.Status.OPEN, slug="elsewhere")
    with pytest.raises(VoteRefused) as refused:
        rating_vote_record(lease=lease, rater=owner, campaign=elsewhere, scores=_scores(2))
    assert refused.value.code == "other_campaign"
    with pytest.raises(VoteRefused) as refused:
        rating_vote_record(lease=10**9, rater=owner, campaign=campaign, scores=_scores(2))
    assert refused.value.code == "missing"
    assert refused.value.messages[0] == (
        "There is no such unit to rate. Your rating was not recorded."
    )


def test_the_database_holds_one_human_rating_per_rater_and_unit():
    campaign = _rating_campaign()
    unit = factories.ranking_set(campaign=campaign, k=1)
    rater = _rater(campaign)
    RatingVote.objects.create(campaign=campaign, candidate_set=unit, rater=rater)
    with pytest.raises(IntegrityError), transaction.atomic():
        RatingVote.objects.create(campaign=campaign, candidate_set=unit, rater=rater)


def test_the_protocol_seam_reaches_the_rating_services():
    campaign = _rating_campaign(status=Campaign.Status.OPEN)
    factories.ranking_set(campaign=campaign, k=1)
    protocol = protocol_for(campaign)
    assert protocol.name == "rating" and protocol.rate_url == "annotate:rating"
    assert protocol.units_exist(campaign=campaign)
    rater = _rater(campaign)
    lease = protocol.unit_next(campaign=campaign, rater=rater)
    vote = protocol.vote_record(lease=lease, rater=rater, campaign=campaign, scores=_scores(1))
    assert vote.scores.count() == 1
