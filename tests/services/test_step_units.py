"""Step labels: the build (one stored split per candidate), leases through the set engine
(overlap, never twice), the vote (validation, one per lease, counters), gold."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from annotate.models import Campaign, CandidateSet, Enrollment, SetAssignment, StepTrace, StepVote
from annotate.protocols import protocol_for
from annotate.services.campaigns import CampaignError, campaign_set_status, campaign_update
from annotate.services.judgments import VoteRefused
from annotate.services.sets import set_assignment_next
from annotate.services.steps import (
    step_gold_accuracy,
    step_gold_mark,
    step_units_build_report,
    step_vote_record,
)
from tests import factories

pytestmark = pytest.mark.django_db

TRACE = "Add 2 and 2: 4.\n\nDouble it: 8.\n\nSo the answer is 8."


def steps_campaign(**kw) -> Campaign:
    kw.setdefault("status", Campaign.Status.DRAFT)
    return factories.CampaignFactory(protocol=Campaign.Protocol.STEPS, **kw)


def rater_in(campaign):
    rater = factories.UserFactory()
    factories.EnrollmentFactory(campaign=campaign, rater=rater)
    return rater


def built(campaign, texts=(TRACE,), **cand):
    prompt = factories.PromptFactory(campaign=campaign)
    for text in texts:
        factories.CandidateFactory(prompt=prompt, text=text, **cand)
    step_units_build_report(campaign=campaign)
    return campaign


def test_it_builds_one_trace_per_candidate_split_once_and_opens_through_the_seam():
    campaign = steps_campaign(overlap=2)
    prompt = factories.PromptFactory(campaign=campaign)
    factories.CandidateFactory(prompt=prompt, text=TRACE)
    factories.CandidateFactory(prompt=prompt, text="One step only.")
    factories.CandidateFactory(prompt=prompt, text=" one  STEP only. ")  # a twin: left out
    factories.CandidateFactory(prompt=prompt, text="   ")  # nothing to split
    report = protocol_for(campaign).units_build(campaign=campaign)
    assert report.created == 2
    traces = {t.candidate.text: t for t in StepTrace.objects.select_related("candidate")}
    assert traces[TRACE].steps == ["Add 2 and 2: 4.", "Double it: 8.", "So the answer is 8."]
    assert traces[TRACE].steps_html[1].strip() == "<p>Double it: 8.</p>"
    unit = traces[TRACE].candidate_set
    assert unit.candidate_id == traces[TRACE].candidate_id and unit.needed == 2
    assert unit.member_ids() == [traces[TRACE].candidate_id]
    assert step_units_build_report(campaign=campaign).created == 0  # idempotent
    campaign_set_status(campaign=campaign, action="open")
    with pytest.raises(CampaignError, match="step split cannot change"):
        campaign_update(campaign=campaign, step_split="numbered")


def test_it_splits_the_reasoning_when_the_campaign_says_so():
    campaign = steps_campaign(step_source="reasoning", step_split="numbered")
    built(campaign, texts=["Answer: 8"], reasoning="1. add\n2. double")
    assert StepTrace.objects.get().steps == ["1. add", "2. double"]


def test_a_hostile_pattern_fails_the_build_with_a_clear_error_and_builds_nothing(monkeypatch):
    from annotate.protocols import steps as rules

    monkeypatch.setattr(rules, "REGEX_SECONDS", 0.5)
    campaign = steps_campaign(step_split="regex", step_pattern=r"(a+)+$")
    prompt = factories.PromptFactory(campaign=campaign)
    factories.CandidateFactory(prompt=prompt, text="a" * 60 + "!")
    with pytest.raises(CampaignError, match="took longer"):
        campaign_set_status(campaign=campaign, action="open")
    assert not CandidateSet.objects.exists()


def test_it_refuses_a_pattern_that_is_no_regex_and_a_regex_split_without_one_at_open():
    with pytest.raises(CampaignError, match="step_pattern"):
        campaign_update(campaign=steps_campaign(), step_split="regex", step_pattern="(unclosed")
    campaign = steps_campaign(step_split="regex")  # a draft may wait for its pattern
    factories.CandidateFactory(prompt=factories.PromptFactory(campaign=campaign), text="a;b")
    with pytest.raises(CampaignError, match="needs a pattern"):
        campaign_set_status(campaign=campaign, action="open")


def test_leases_give_each_trace_to_k_raters_never_twice():
    campaign = built(steps_campaign(overlap=2), texts=[TRACE, "Other.\n\nTwo."])
    campaign_set_status(campaign=campaign, action="open")
    raters = [rater_in(campaign) for _ in range(3)]
    seen = {}
    for rater in raters:
        got = []
        while (lease := set_assignment_next(campaign=campaign, rater=rater)) is not None:
            n = len(lease.candidate_set.trace.steps)
            step_vote_record(lease=lease, rater=rater, campaign=campaign, labels=[1] * n)
            got.append(lease.candidate_set_id)
        seen[rater.pk] = got
    assert [len(v) for v in seen.values()] == [2, 2, 0]  # k = 2 per trace, 2 traces
    assert all(len(set(v)) == len(v) for v in seen.values())
    assert StepVote.objects.count() == 4
    assert Enrollment.objects.get(rater=raters[0]).votes == 2
    assert set(CandidateSet.objects.values_list("completed", flat=True)) == {2}


def _lease(campaign):
    rater = rater_in(campaign)
    return rater, set_assignment_next(campaign=campaign, rater=rater)


def test_the_vote_stores_labels_and_notes_and_a_replay_returns_it():
    campaign = built(steps_campaign())
    campaign_set_status(campaign=campaign, action="open")
    rater, lease = _lease(campaign)
    vote = step_vote_record(
        lease=lease.pk, rater=rater, campaign=campaign, labels=[1, -1, 1], notes=["", "no", "x"]
    )
    assert (vote.labels, vote.notes, vote.replayed) == ([1, -1, None], ["", "no", ""], False)
    again = step_vote_record(lease=lease.pk, rater=rater, campaign=campaign, labels=[1, 1, 1])
    assert again.pk == vote.pk and again.replayed and again.labels == [1, -1, None]
    assert StepVote.objects.count() == 1
    assert SetAssignment.objects.get(pk=lease.pk).status == "done"


@pytest.mark.parametrize(
    "labels, notes, code",
    [
        ([1, 1], None, "labels"),
        ([1, None, 1], None, "labels"),
        ([1, 5, 1], None, "labels"),
        ([1, 1, 1], ["", "a\x00b", ""], "notes"),
        ([1, 1, 1], "a note", "labels"),
    ],
)
def test_it_refuses_bad_labels_and_keeps_the_lease(labels, notes, code):
    campaign = built(steps_campaign())
    campaign_set_status(campaign=campaign, action="open")
    rater, lease = _lease(campaign)
    with pytest.raises(VoteRefused) as caught:
        step_vote_record(lease=lease.pk, rater=rater, campaign=campaign, labels=labels, notes=notes)
    assert caught.value.code == code
    assert SetAssignment.objects.get(pk=lease.pk).status == "active"
    assert not StepVote.objects.exists()


def test_it_refuses_someone_elses_or_an_expired_lease():
    campaign = built(steps_campaign(), texts=[TRACE, "A.\n\nB."])
    campaign_set_status(campaign=campaign, action="open")
    rater, lease = _lease(campaign)
    other = rater_in(campaign)
    with pytest.raises(VoteRefused, match="not assigned to you") as caught:
        step_vote_record(lease=lease.pk, rater=other, campaign=campaign, labels=[1, 1, 1])
    assert caught.value.code == "foreign"
    with pytest.raises(VoteRefused, match="ran out") as caught:
        step_vote_record(
            lease=lease.pk,
            rater=rater,
            campaign=campaign,
            labels=[1, 1, 1],
            now=timezone.now() + timedelta(days=1),
        )
    with pytest.raises(VoteRefused, match="no such trace"):
        step_vote_record(lease=999999, rater=rater, campaign=campaign, labels=[1])


@pytest.mark.django_db(transaction=True)
def test_four_simultaneous_submits_store_one_vote():
    if connection.vendor != "postgresql":
        pytest.skip("threads share one SQLite connection")  # the PostgreSQL run covers it
    campaign = built(steps_campaign())
    campaign_set_status(campaign=campaign, action="open")
    rater, lease = _lease(campaign)

    def submit(_):
        try:
            return step_vote_record(
                lease=lease.pk, rater=rater, campaign=campaign, labels=[1, 0, 1]
            ).pk
        finally:
            connection.close()

    with ThreadPoolExecutor(4) as pool:
        ids = set(pool.map(submit, range(4)))
    assert len(ids) == 1 and StepVote.objects.count() == 1
    assert CandidateSet.objects.get().completed == 1


def test_gold_traces_score_the_rater_and_pause_below_the_threshold():
    campaign = built(
        steps_campaign(gold_rate=1.0, gold_min_accuracy=0.9, gold_min_answered=1),
        texts=[TRACE],
    )
    unit = CandidateSet.objects.get()
    with pytest.raises(VoteRefused, match="one label per step"):
        step_gold_mark(candidate_set=unit, labels=[1])
    step_gold_mark(candidate_set=unit, labels=[1, -1, None])
    unit.refresh_from_db()
    assert unit.is_gold and unit.trace.gold_labels == [1, -1, None]
    campaign_set_status(campaign=campaign, action="open")
    rater, lease = _lease(campaign)
    assert lease.candidate_set_id == unit.pk  # the gold pool
    step_vote_record(lease=lease, rater=rater, campaign=campaign, labels=[1, 1, 1])
    assert step_gold_accuracy(campaign=campaign) == {rater.pk: (0, 1)}
    assert Enrollment.objects.get(rater=rater).paused
