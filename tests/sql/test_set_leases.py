"""annotate/sql/set_leases.py: the set protocols' claim, the lease insert with what the rater is
shown, the live and vote reads, and the vote's close-and-count."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from annotate.models import CandidateSet, Enrollment, SetAssignment
from annotate.sql import set_leases
from tests import factories
from tests.sql import FORMS

INSERTS = {
    "one statement": set_leases.insert_one_statement,
    "step by step": set_leases.insert_step_by_step,
}
CLOSES = {
    "one statement": set_leases.close_and_count_one_statement,
    "step by step": set_leases.close_and_count_step_by_step,
}


@pytest.fixture(params=FORMS)
def insert(request):
    return INSERTS[request.param]


@pytest.fixture(params=FORMS)
def close(request):
    return CLOSES[request.param]


def _lease(insert, unit, rater, *, rotation=1, now=None, seconds=90):
    now = now or timezone.now()
    slots = unit.member_ids()
    return insert(
        campaign_id=unit.campaign_id,
        set_id=unit.pk,
        rater_id=rater.pk,
        rotation=rotation,
        shown_order=slots[rotation:] + slots[:rotation],
        now=now,
        expires_at=now + timedelta(seconds=seconds),
    )


def test_the_claim_counts_one_open_set_and_returns_its_slots_and_rotations(campaign, rater):
    unit = factories.ranking_set(campaign=campaign, k=4)
    with transaction.atomic():
        set_id, slots, used = set_leases.claim_set(campaign=campaign, rater_id=rater.pk, gold=None)
    assert (set_id, slots, used) == (unit.pk, unit.member_ids(), [])
    assert CandidateSet.objects.get(pk=unit.pk).assigned == 1
    # k = 1 and it is counted: nothing left to claim, and nothing raced.
    assert set_leases.claim_set(campaign=campaign, rater_id=rater.pk, gold=None) is None


def test_the_claim_skips_sets_the_rater_had_and_reads_the_rotations_in_use(insert, campaign, rater):
    campaign.overlap = 3
    campaign.save()
    unit = factories.ranking_set(campaign=campaign, k=4)
    other = factories.UserFactory()
    factories.EnrollmentFactory(campaign=campaign, rater=other)
    set_id, _, _ = set_leases.claim_set(campaign=campaign, rater_id=rater.pk, gold=None)
    _lease(insert, unit, rater, rotation=2)
    assert set_leases.claim_set(campaign=campaign, rater_id=rater.pk, gold=None) is None
    assert set_leases.claim_set(campaign=campaign, rater_id=other.pk, gold=None)[2] == [2]


def test_the_claim_gives_nothing_to_a_paused_or_unenrolled_rater(campaign, rater):
    factories.ranking_set(campaign=campaign, k=3)
    Enrollment.objects.filter(rater=rater).update(paused=True)
    assert set_leases.claim_set(campaign=campaign, rater_id=rater.pk, gold=None) is None
    stranger = factories.UserFactory()
    assert set_leases.claim_set(campaign=campaign, rater_id=stranger.pk, gold=None) is None
    assert CandidateSet.objects.get().assigned == 0


def test_the_claim_keeps_to_the_gold_pool_asked_for(campaign, rater):
    regular = factories.ranking_set(campaign=campaign, k=3)
    gold_unit = factories.ranking_set(campaign=campaign, k=3)
    gold_unit.gold_ranking = [[m] for m in gold_unit.member_ids()]
    gold_unit.save()
    assert set_leases.claim_set(campaign=campaign, rater_id=rater.pk, gold=True)[0] == gold_unit.pk
    assert set_leases.claim_set(campaign=campaign, rater_id=rater.pk, gold=False)[0] == regular.pk
    assert set_leases.claim_set(campaign=campaign, rater_id=rater.pk, gold=None) is None


def test_the_insert_stores_the_lease_and_reads_what_the_rater_is_shown(insert, campaign, rater):
    unit = factories.ranking_set(campaign=campaign, k=4)
    now = timezone.now()
    lease = _lease(insert, unit, rater, rotation=1, now=now)
    stored = SetAssignment.objects.get()
    assert lease.pk == stored.pk and lease.status == "active" and stored.skip_reason == ""
    assert lease.shown_order == stored.shown_order == unit.member_ids()[1:] + unit.member_ids()[:1]
    assert (lease.rotation, lease.created_at, lease.expires_at) == (
        1,
        now,
        now + timedelta(seconds=90),
    )
    assert lease.candidate_set.prompt.pk == unit.prompt_id
    assert lease.candidate_set.prompt.messages == unit.prompt.messages
    assert lease.candidate_set.gold_ranking == []
    members = {m.candidate_id: m.candidate for m in unit.members.select_related("candidate")}
    assert lease.responses == {cid: (c.text, c.html) for cid, c in members.items()}
    assert lease.trace is None


def test_a_twin_insert_writes_nothing(insert, campaign, rater):
    unit = factories.ranking_set(campaign=campaign, k=3)
    assert _lease(insert, unit, rater) is not None
    assert _lease(insert, unit, rater) is None  # the same set again
    second = factories.ranking_set(campaign=campaign, k=3)
    assert _lease(insert, second, rater) is None  # a second live lease in the campaign
    assert SetAssignment.objects.count() == 1


def test_the_live_read_gives_the_step_trace_of_a_step_unit(insert, campaign, rater):
    unit = factories.step_trace(campaign=campaign)
    lease = _lease(insert, unit, rater, rotation=0)
    live = set_leases.live(campaign_id=campaign.pk, rater_id=rater.pk)
    assert live.pk == lease.pk and lease.trace.steps == live.trace.steps == unit.trace.steps
    assert live.trace.steps_html == unit.trace.steps_html and live.trace.source == "answer"


def test_the_vote_read_has_the_lease_and_its_gold(insert, campaign, rater):
    unit = factories.ranking_set(campaign=campaign, k=3)
    lease = _lease(insert, unit, rater)
    row = set_leases.for_vote(lease_id=lease.pk)
    assert (row.pk, row.rater_id, row.status, row.shown_order) == (
        lease.pk,
        rater.pk,
        "active",
        lease.shown_order,
    )
    assert row.candidate_set.gold_ranking == [] and row.expires_at == lease.expires_at
    assert set_leases.for_vote(lease_id=lease.pk + 1000) is None


def test_the_close_counts_once_and_refuses_what_is_not_the_raters_live_lease(
    insert, close, campaign, rater
):
    unit = factories.ranking_set(campaign=campaign, k=3)
    lease = _lease(insert, unit, rater)
    now = timezone.now()
    other = factories.UserFactory()
    assert not close(lease_id=lease.pk, rater_id=other.pk, campaign_id=campaign.pk, now=now)
    assert close(lease_id=lease.pk, rater_id=rater.pk, campaign_id=campaign.pk, now=now)
    assert not close(lease_id=lease.pk, rater_id=rater.pk, campaign_id=campaign.pk, now=now)
    stored = SetAssignment.objects.get()
    assert (stored.status, stored.completed_at) == ("done", now)
    assert CandidateSet.objects.get().completed == 1
    assert Enrollment.objects.get(rater=rater).votes == 1


def test_the_close_refuses_an_expired_lease(insert, close, campaign, rater):
    unit = factories.ranking_set(campaign=campaign, k=3)
    start = timezone.now() - timedelta(seconds=120)
    lease = _lease(insert, unit, rater, now=start, seconds=60)
    assert not close(
        lease_id=lease.pk, rater_id=rater.pk, campaign_id=campaign.pk, now=timezone.now()
    )
    assert SetAssignment.objects.get().status == "active"
    assert CandidateSet.objects.get().completed == 0


def test_the_vote_read_of_a_step_unit_has_its_trace(insert, campaign, rater):
    unit = factories.step_trace(campaign=campaign)
    lease = _lease(insert, unit, rater, rotation=0)
    row = set_leases.for_vote(lease_id=lease.pk)
    assert row.candidate_set.trace.steps == unit.trace.steps
    assert row.candidate_set.trace.gold_labels == []
