"""annotate/sql/leases.py: the rating claim, the lease insert with what the page shows, the lease
read and the sweep."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connections
from django.utils import timezone

from annotate.models import Assignment, Campaign, Enrollment, Pair
from annotate.reading import reading_length
from annotate.sql import leases as leases_sql
from tests import factories
from tests.sql import FORMS

INSERTS = {
    "one statement": leases_sql.insert_one_statement,
    "step by step": leases_sql.insert_step_by_step,
}


@pytest.fixture(params=FORMS)
def insert(request):
    return INSERTS[request.param]


def _pair(campaign, **kw):
    prompt = factories.PromptFactory(campaign=campaign, system="Be brief.")
    a = factories.CandidateFactory(prompt=prompt, text="Alpha.", html="<p>Alpha.</p>")
    b = factories.CandidateFactory(prompt=prompt, text="Beta, longer.", html="<p>Beta.</p>")
    return factories.PairFactory(
        campaign=campaign, prompt=prompt, candidate_a=a, candidate_b=b, **kw
    )


def _insert(insert, pair, rater, *, left_is_a=False, now=None):
    now = now or timezone.now()
    return insert(
        campaign_id=pair.campaign_id,
        pair_id=pair.pk,
        rater_id=rater.pk,
        left_is_a=left_is_a,
        now=now,
        expires_at=now + timedelta(seconds=90),
    )


def _assert_page(lease, pair):
    """What the rating page reads off a lease, as the ORM stores it."""
    stored = Assignment.objects.get(pk=lease.pk)
    for name in ("campaign_id", "pair_id", "rater_id", "status", "left_is_a", "created_at"):
        assert getattr(lease, name) == getattr(stored, name), name
    assert lease.expires_at == stored.expires_at
    assert lease.pair.prompt.system == "Be brief."
    assert lease.pair.prompt.rendered == pair.prompt.rendered
    assert (lease.pair.candidate_a.html, lease.pair.candidate_b.html) == (
        pair.candidate_a.html,
        pair.candidate_b.html,
    )
    assert (lease.pair.candidate_a_id, lease.pair.candidate_b_id) == (
        pair.candidate_a_id,
        pair.candidate_b_id,
    )
    assert lease.read_length == reading_length(pair.candidate_a.text) + reading_length(
        pair.candidate_b.text
    )


def test_the_insert_stores_an_active_lease_and_reads_what_the_page_shows(insert, campaign, rater):
    pair = _pair(campaign)
    now = timezone.now()
    lease = _insert(insert, pair, rater, now=now)
    _assert_page(lease, pair)
    assert (lease.status, lease.left_is_a, lease.created_at) == ("active", False, now)
    assert lease.expires_at == now + timedelta(seconds=90)
    assert Assignment.objects.get().skip_reason == ""


def test_the_insert_of_a_pair_the_rater_holds_stores_nothing(insert, campaign, rater):
    pair = _pair(campaign)
    first = _insert(insert, pair, rater)
    assert _insert(insert, pair, rater) is None  # a twin request from a second tab
    assert list(Assignment.objects.values_list("pk", flat=True)) == [first.pk]


def test_the_live_lease_read_loads_what_the_page_shows(campaign, rater, other_campaign):
    pair = _pair(campaign)
    lease = _insert(leases_sql.insert_step_by_step, pair, rater, left_is_a=True)
    live = leases_sql.live_for_page(campaign_id=campaign.pk, rater_id=rater.pk)
    assert live.pk == lease.pk
    _assert_page(live, pair)
    assert leases_sql.live_for_page(campaign_id=other_campaign.pk, rater_id=rater.pk) is None
    other = factories.EnrollmentFactory(campaign=campaign).rater
    assert leases_sql.live_for_page(campaign_id=campaign.pk, rater_id=other.pk) is None
    Assignment.objects.filter(pk=lease.pk).update(expires_at=timezone.now() - timedelta(hours=1))
    assert leases_sql.live_for_page(campaign_id=campaign.pk, rater_id=rater.pk).pk == lease.pk
    Assignment.objects.filter(pk=lease.pk).update(status=Assignment.Status.DONE)
    assert leases_sql.live_for_page(campaign_id=campaign.pk, rater_id=rater.pk) is None


def _claim(campaign, rater, gold=None):
    return leases_sql.claim_pair(campaign=campaign, rater_id=rater.pk, gold=gold)


def test_the_claim_counts_on_the_pairs_own_row_up_to_k(campaign, rater):
    campaign.overlap = 2
    campaign.save()
    pair = _pair(campaign, left_a_count=1)
    assert _claim(campaign, rater) == (pair.pk, 1, 1)
    other = factories.EnrollmentFactory(campaign=campaign).rater
    assert _claim(campaign, other) == (pair.pk, 2, 1)
    third = factories.EnrollmentFactory(campaign=campaign).rater
    assert _claim(campaign, third) is None  # k reached: nothing claimable, no retry
    assert Pair.objects.get().assigned == 2


def test_the_claim_never_gives_a_rater_a_pair_twice(campaign, rater):
    campaign.overlap = 3
    campaign.save()
    pair = _pair(campaign)
    Assignment.objects.create(
        campaign=campaign, pair=pair, rater=rater, left_is_a=True, expires_at=timezone.now(),
        status=Assignment.Status.EXPIRED,
    )  # fmt: skip
    assert _claim(campaign, rater) is None
    assert Pair.objects.get().assigned == 0


def test_the_claim_gives_nothing_to_a_paused_or_unenrolled_rater(campaign, rater, outsider):
    _pair(campaign)
    assert _claim(campaign, outsider) is None
    Enrollment.objects.filter(rater=rater).update(paused=True)
    assert _claim(campaign, rater) is None
    assert Pair.objects.get().assigned == 0


def test_the_claim_takes_gold_or_regular_pairs_as_asked(campaign, rater):
    regular = _pair(campaign)
    gold = _pair(campaign, gold_answer="a")
    assert _claim(campaign, rater, gold=True)[0] == gold.pk
    assert _claim(campaign, rater, gold=True) is None
    assert _claim(campaign, rater, gold=False)[0] == regular.pk


@pytest.mark.parametrize(
    "ordering, expected",
    [(Campaign.Ordering.RANDOM, ["fresh-low", "fresh-high", "started"]),
     (Campaign.Ordering.FINISH_STARTED, ["started", "fresh-high", "fresh-low"])],
)  # fmt: skip
def test_the_claim_follows_the_campaigns_order(campaign, ordering, expected):
    campaign.ordering = ordering
    campaign.save()
    names = {  # one open slot each
        _pair(campaign, random_key=0.9, needed=1).pk: "fresh-high",
        _pair(campaign, random_key=0.1, needed=1).pk: "fresh-low",
        _pair(campaign, random_key=0.5, needed=2, completed=1, assigned=1).pk: "started",
    }
    raters = [factories.EnrollmentFactory(campaign=campaign).rater for _ in expected]
    assert [names[_claim(campaign, who)[0]] for who in raters] == expected


@pytest.mark.postgresql
def test_the_claim_says_raced_when_the_only_open_pair_is_locked_by_another_claimer(
    transactional_db,
):
    campaign = factories.CampaignFactory()
    rater = factories.EnrollmentFactory(campaign=campaign).rater
    pair = _pair(campaign)
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute("BEGIN")
            cursor.execute(
                f"SELECT id FROM {Pair._meta.db_table} WHERE id = %s FOR UPDATE", [pair.pk]
            )
            assert _claim(campaign, rater) == "raced"  # worth a retry, unlike "nothing left"
            cursor.execute("ROLLBACK")
    finally:
        other.close()
    assert _claim(campaign, rater) == (pair.pk, 1, 0)


def test_the_sweep_expires_each_stale_lease_once_and_names_its_pair(
    campaign, rater, other_campaign
):
    now = timezone.now()
    stale, fresh, elsewhere = _pair(campaign), _pair(campaign), _pair(other_campaign)

    def lease(pair, *, left_is_a, expires, status=Assignment.Status.ACTIVE, who=rater):
        return Assignment.objects.create(
            campaign=pair.campaign, pair=pair, rater=who, left_is_a=left_is_a,
            expires_at=now + timedelta(seconds=expires), status=status,
        )  # fmt: skip

    gone = lease(stale, left_is_a=True, expires=-1)
    at_deadline = lease(stale, left_is_a=False, expires=0, who=factories.UserFactory())
    kept = lease(fresh, left_is_a=True, expires=30, who=factories.UserFactory())
    voted = lease(
        fresh,
        left_is_a=True,
        expires=-5,
        status=Assignment.Status.DONE,
        who=factories.UserFactory(),
    )
    other = lease(elsewhere, left_is_a=True, expires=-5)
    expired = leases_sql.expire_stale(campaign_id=campaign.pk, now=now)
    assert sorted(expired) == [(stale.pk, False), (stale.pk, True)]
    assert leases_sql.expire_stale(campaign_id=campaign.pk, now=now) == []  # exactly once
    statuses = dict(Assignment.objects.values_list("pk", "status"))
    assert statuses == {
        gone.pk: "expired", at_deadline.pk: "expired", kept.pk: "active", voted.pk: "done",
        other.pk: "active",
    }  # fmt: skip


def test_the_left_count_adds_one_on_the_pairs_row_only(campaign):
    pair, other = _pair(campaign, left_a_count=2), _pair(campaign)
    leases_sql.count_left_shown(pair_id=pair.pk)
    assert dict(Pair.objects.values_list("pk", "left_a_count")) == {pair.pk: 3, other.pk: 0}
