from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from annotate.models import Assignment, Campaign, Enrollment, Judgment, Pair, User
from annotate.services.assignment import assignment_next
from annotate.services.judgments import VoteRefused, judgment_record
from annotate.sql import votes as votes_sql
from tests import factories


@pytest.fixture(autouse=True, params=["one statement", "step by step"])
def vote_writer(request, monkeypatch):
    """Every test here runs against both ways of writing a vote: PostgreSQL's single statement and
    the step-by-step statements SQLite uses (plain SQL, so they run on PostgreSQL too)."""
    if request.param == "step by step":
        monkeypatch.setattr(votes_sql, "write_one_statement", votes_sql.write_step_by_step)
    return request.param


@pytest.fixture
def lease(campaign, rater):
    factories.PairFactory(campaign=campaign)
    return assignment_next(campaign=campaign, rater=rater)


def _vote(lease, rater, **kw):
    kw.setdefault("choice", "a")
    kw.setdefault("idempotency_key", f"key-{lease.pk}")
    kw.setdefault("campaign", Campaign.objects.get(pk=lease.campaign_id))  # fresh settings
    return judgment_record(assignment=lease, rater=rater, **kw)


def test_it_records_a_vote_and_closes_the_lease(lease, rater):
    judgment = _vote(lease, rater, choice="b")
    assert (judgment.choice, judgment.rater, judgment.pair_id) == ("b", rater, lease.pair_id)
    assert judgment.left_is_a == lease.left_is_a
    assert judgment.time_on_task_ms is not None
    lease.refresh_from_db()
    assert lease.status == Assignment.Status.DONE
    pair = Pair.objects.get()
    assert (pair.completed, pair.assigned) == (1, 1)


def test_it_stores_one_vote_when_a_submit_is_replayed(lease, rater):
    first = _vote(lease, rater)
    again = _vote(lease, rater)
    assert again.pk == first.pk
    assert Judgment.objects.count() == 1
    assert Pair.objects.get().completed == 1


def test_it_keeps_the_raters_vote_count_in_step(campaign, rater):
    factories.PairFactory.create_batch(2, campaign=campaign)
    first = _vote(assignment_next(campaign=campaign, rater=rater), rater)
    second = _vote(assignment_next(campaign=campaign, rater=rater), rater)
    _vote(Assignment.objects.get(pk=second.assignment_id), rater)  # a replay counts once
    assert (first.rater_votes, second.rater_votes) == (1, 2)
    assert Enrollment.objects.get(campaign=campaign, rater=rater).votes == 2
    stored = Judgment.objects.get(pk=second.pk)  # what the raw INSERT wrote, read back
    assert (stored.choice, stored.aspects, stored.rater_id) == ("a", {}, rater.pk)


def test_it_refuses_a_vote_on_someone_elses_lease(lease, campaign):
    mallory = factories.UserFactory(username="mallory", role=User.Role.RATER)
    factories.EnrollmentFactory(campaign=campaign, rater=mallory)
    with pytest.raises(VoteRefused, match="not assigned to you"):
        _vote(lease, mallory, idempotency_key="other")
    assert not Judgment.objects.exists()


def test_it_refuses_a_vote_on_an_expired_lease(lease, rater):
    Assignment.objects.filter(pk=lease.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    with pytest.raises(VoteRefused, match="ran out"):
        _vote(lease, rater)
    assert not Judgment.objects.exists()


def test_it_refuses_a_second_vote_with_another_key(lease, rater):
    _vote(lease, rater)
    with pytest.raises(VoteRefused, match="already voted"):
        _vote(lease, rater, idempotency_key="fresh-key")
    assert Judgment.objects.count() == 1


def test_it_refuses_a_key_used_by_another_vote(campaign, rater):
    factories.PairFactory.create_batch(2, campaign=campaign)
    first = assignment_next(campaign=campaign, rater=rater)
    _vote(first, rater, idempotency_key="same")
    second = assignment_next(campaign=campaign, rater=rater)
    with pytest.raises(VoteRefused, match="already used"):
        _vote(second, rater, idempotency_key="same")


def test_it_maps_shown_terms_to_canonical(lease, rater):
    judgment = _vote(lease, rater, choice="left", in_shown_terms=True)
    assert judgment.choice == ("a" if lease.left_is_a else "b")


def test_it_refuses_both_bad_when_the_campaign_does_not_allow_it(lease, rater, campaign):
    campaign.allow_both_bad = False
    campaign.save()
    with pytest.raises(VoteRefused, match="both bad"):
        _vote(lease, rater, choice="both_bad")


def test_it_needs_a_strength_on_the_graded_scale(lease, rater, campaign):
    campaign.scale = Campaign.Scale.GRADED7
    campaign.save()
    with pytest.raises(VoteRefused, match="how much"):
        _vote(lease, rater, choice="a")
    judgment = _vote(lease, rater, choice="a", strength=3)
    assert judgment.strength == 3


def test_it_stores_strength_zero_for_a_graded_tie(lease, rater, campaign):
    campaign.scale = Campaign.Scale.GRADED7
    campaign.save()
    assert _vote(lease, rater, choice="tie").strength == 0


def test_it_checks_aspects(lease, rater, campaign):
    campaign.aspects = ["helpful", "honest"]
    campaign.save()
    with pytest.raises(VoteRefused, match="missing: honest"):
        _vote(lease, rater, aspects={"helpful": "a"})
    with pytest.raises(VoteRefused, match="Unknown aspect"):
        _vote(lease, rater, aspects={"helpful": "a", "honest": "b", "funny": "a"})
    judgment = _vote(lease, rater, aspects={"helpful": "a", "honest": "tie"})
    assert judgment.aspects == {"helpful": "a", "honest": "tie"}


def test_it_enforces_a_required_rationale_and_its_length(lease, rater, campaign):
    campaign.rationale = Campaign.Rationale.REQUIRED
    campaign.rationale_min_length = 20
    campaign.save()
    with pytest.raises(VoteRefused, match="at least 20"):
        _vote(lease, rater, rationale="too short")
    judgment = _vote(lease, rater, rationale="A cites its sources and B does not.")
    assert judgment.rationale.startswith("A cites")


def test_it_keeps_a_rewrite_only_when_allowed(lease, rater, campaign):
    with pytest.raises(VoteRefused, match="rewrites"):
        _vote(lease, rater, rewrite="Better answer")
    campaign.allow_rewrite = True
    campaign.save()
    assert _vote(lease, rater, rewrite="Better answer").rewrite == "Better answer"


def test_it_refuses_a_vote_before_the_minimum_read_time(campaign, rater):
    campaign.min_read_ms_per_1k_chars = 10_000
    campaign.save()
    pair = factories.PairFactory(campaign=campaign)
    pair.candidate_a.text = "x" * 1000
    pair.candidate_a.save()
    lease = assignment_next(campaign=campaign, rater=rater)
    with pytest.raises(VoteRefused, match="read both responses"):
        _vote(lease, rater)
    lease.refresh_from_db()
    assert lease.status == Assignment.Status.ACTIVE  # nothing lost; the rater can vote later
    later = timezone.now() + timedelta(seconds=11)
    assert (
        judgment_record(
            assignment=lease, rater=rater, choice="a", idempotency_key="k", now=later
        ).time_on_task_ms
        >= 10_000
    )


def test_it_pauses_a_rater_below_the_gold_threshold(campaign, rater):
    campaign.gold_min_accuracy = 0.7
    campaign.gold_min_answered = 2
    campaign.save()
    factories.PairFactory.create_batch(3, campaign=campaign, gold_answer="a")
    for n in range(2):
        lease = assignment_next(campaign=campaign, rater=rater)
        judgment_record(assignment=lease, rater=rater, choice="b", idempotency_key=f"g{n}")
    enrollment = Enrollment.objects.get(campaign=campaign, rater=rater)
    assert enrollment.paused
    assert "0%" in enrollment.paused_reason and "(0/2)" in enrollment.paused_reason
    assert assignment_next(campaign=campaign, rater=rater) is None


def test_it_keeps_an_accurate_rater_going(campaign, rater):
    campaign.gold_min_accuracy = 0.7
    campaign.gold_min_answered = 2
    campaign.save()
    factories.PairFactory.create_batch(3, campaign=campaign, gold_answer="a")
    for n in range(2):
        lease = assignment_next(campaign=campaign, rater=rater)
        judgment_record(assignment=lease, rater=rater, choice="a", idempotency_key=f"g{n}")
    assert not Enrollment.objects.get(campaign=campaign, rater=rater).paused


def test_the_migration_counts_votes_stored_before_the_counter(campaign, rater):
    import importlib

    from django.apps import apps

    migration = importlib.import_module("annotate.migrations.0003_enrollment_votes")
    factories.PairFactory.create_batch(3, campaign=campaign)
    for _ in range(2):
        _vote(assignment_next(campaign=campaign, rater=rater), rater)
    Enrollment.objects.update(votes=0)  # as it was before the counter existed
    migration.count_existing_votes(apps, None)
    assert Enrollment.objects.get(campaign=campaign, rater=rater).votes == 2


@pytest.mark.parametrize("left_is_a", [True, False])
def test_it_stores_what_the_rater_saw_in_canonical_terms(campaign, rater, left_is_a):
    campaign.aspects = ["helpful", "honest"]
    campaign.save()
    factories.PairFactory(campaign=campaign)
    lease = assignment_next(campaign=campaign, rater=rater)
    served = timezone.now() - timedelta(seconds=3)
    Assignment.objects.filter(pk=lease.pk).update(left_is_a=left_is_a, created_at=served)
    judgment = _vote(
        lease,
        rater,
        choice="left",
        aspects={"helpful": "left", "honest": "right"},
        in_shown_terms=True,
    )
    stored = Judgment.objects.get(pk=judgment.pk)
    a, b = ("a", "b") if left_is_a else ("b", "a")
    assert (stored.choice, stored.aspects) == (a, {"helpful": a, "honest": b})
    assert (judgment.choice, judgment.aspects) == (stored.choice, stored.aspects)
    assert stored.left_is_a is left_is_a
    assert 3000 <= stored.time_on_task_ms < 60_000


# --- what a refused vote says: what actually happened to the lease ---------------------------


def test_it_says_a_lease_of_another_campaign_belongs_there(campaign, other_campaign, rater):
    factories.EnrollmentFactory(campaign=other_campaign, rater=rater)
    factories.PairFactory(campaign=other_campaign)
    elsewhere = assignment_next(campaign=other_campaign, rater=rater)
    # The rater's own, live lease, but voted through this campaign (its page, its URL).
    with pytest.raises(VoteRefused, match="belongs to another of your campaigns") as refused:
        _vote(elsewhere, rater, campaign=Campaign.objects.get(pk=campaign.pk))
    assert refused.value.code == "other_campaign"
    assert "taken back" not in refused.value.messages[0]
    assert not Judgment.objects.exists()
    elsewhere.refresh_from_db()
    assert elsewhere.status == Assignment.Status.ACTIVE  # still there to vote on in its campaign


def test_it_says_a_lease_that_is_not_the_raters_is_not_theirs(lease, campaign):
    mallory = factories.UserFactory(username="mallory2", role=User.Role.RATER)
    factories.EnrollmentFactory(campaign=campaign, rater=mallory)
    with pytest.raises(VoteRefused, match="not assigned to you") as refused:
        _vote(lease, mallory, idempotency_key="m")
    assert refused.value.code == "foreign"


def test_it_says_a_missing_lease_does_not_exist(campaign, rater):
    with pytest.raises(VoteRefused, match="no such pair") as refused:
        judgment_record(
            assignment=987654, rater=rater, campaign=campaign, choice="a", idempotency_key="x"
        )
    assert refused.value.code == "missing"


@pytest.mark.parametrize(
    ("status", "says", "code"),
    [
        (Assignment.Status.SKIPPED, "You skipped this pair", "skipped"),
        (Assignment.Status.RELEASED, "An admin released this pair", "released"),
        (Assignment.Status.EXPIRED, "ran out", "expired"),
    ],
)
def test_it_says_why_a_closed_lease_takes_no_vote(lease, rater, status, says, code):
    Assignment.objects.filter(pk=lease.pk).update(status=status)
    with pytest.raises(VoteRefused, match=says) as refused:
        _vote(lease, rater)
    assert refused.value.code == code
    assert "taken back" not in refused.value.messages[0]


# --- a rewrite must rewrite ------------------------------------------------------------------


@pytest.mark.parametrize("side", ["left", "right"])
def test_it_refuses_a_rewrite_with_the_text_of_a_response(lease, rater, campaign, side):
    campaign.allow_rewrite = True
    campaign.save()
    pair = Pair.objects.get(pk=lease.pair_id)
    a, b = pair.candidate_a, pair.candidate_b
    a.text, b.text = "Paris is the capital.\n\nOf France.", "Lyon."
    a.save()
    b.save()
    shown = {"left": a, "right": b} if lease.left_is_a else {"left": b, "right": a}
    # The same text but for white space is the same text.
    copied = "  " + " ".join(shown[side].text.split()) + "\n"
    with pytest.raises(VoteRefused, match="same text as response") as refused:
        _vote(lease, rater, choice="both_bad", rewrite=copied)
    assert f"response {'A' if side == 'left' else 'B'}." in refused.value.messages[0]
    assert not Judgment.objects.exists()
    stored = _vote(lease, rater, choice="both_bad", rewrite="Paris is the capital of France.")
    assert stored.rewrite == "Paris is the capital of France."
