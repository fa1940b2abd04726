"""The invariants of the data model hold in the database itself, not only in Python."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from annotate.models import Candidate, Judgment, Pair
from tests import factories


def test_it_refuses_a_second_candidate_for_the_same_sample(db):
    candidate = factories.CandidateFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        Candidate.objects.create(
            prompt=candidate.prompt, generator=candidate.generator, sample_index=0
        )


def test_it_refuses_a_pair_of_one_candidate_with_itself(db):
    candidate = factories.CandidateFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        Pair.objects.create(
            campaign=candidate.prompt.campaign,
            prompt=candidate.prompt,
            candidate_a=candidate,
            candidate_b=candidate,
            strategy="random",
        )


def test_it_refuses_a_pair_across_prompts(db):
    campaign = factories.CampaignFactory()
    first = factories.CandidateFactory(prompt__campaign=campaign)
    second = factories.CandidateFactory(prompt__campaign=campaign)
    a, b = sorted([first, second], key=lambda c: c.pk)
    with pytest.raises(IntegrityError), transaction.atomic():
        Pair.objects.create(
            campaign=campaign, prompt=a.prompt, candidate_a=a, candidate_b=b, strategy="random"
        )


def test_it_refuses_a_second_vote_by_the_same_rater(db):
    pair = factories.PairFactory()
    rater = factories.UserFactory()
    Judgment.objects.create(campaign=pair.campaign, pair=pair, rater=rater, choice="a")
    with pytest.raises(IntegrityError), transaction.atomic():
        Judgment.objects.create(campaign=pair.campaign, pair=pair, rater=rater, choice="b")


def test_it_keeps_a_revision_beside_the_first_vote(db):
    pair = factories.PairFactory()
    rater = factories.UserFactory()
    first = Judgment.objects.create(campaign=pair.campaign, pair=pair, rater=rater, choice="a")
    Judgment.objects.create(
        campaign=pair.campaign, pair=pair, rater=rater, choice="b", revises=first, judge_shown=True
    )
    assert Judgment.objects.filter(pair=pair).count() == 2


def test_it_refuses_more_claims_than_the_overlap(db):
    pair = factories.PairFactory(needed=1)
    with pytest.raises(IntegrityError), transaction.atomic():
        Pair.objects.filter(pk=pair.pk).update(assigned=2)
