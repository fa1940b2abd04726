"""The AI judge on rating units (services/judging_ratings.py): through the real Anthropic SDK and
the fake server, and the offline demo judge; scores stored as the judge's own vote; malformed
answers retried then failed with nothing stored; exactly once; a killed worker's row recovered by
the sweep; human votes untouched; the refusals."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from annotate import tasks
from annotate.judge.ratings import RATING_TOOL, parse_ratings
from annotate.judge.samples import Malformed
from annotate.models import Campaign, RatingJudgement, RatingScore, RatingVote
from annotate.services.judging import MALFORMED_TRIES, JudgeRefused
from annotate.services.judging_ratings import rating_judge_run, rating_judge_start
from annotate.services.sets import rating_vote_record, set_assignment_next
from annotate.work.kinds import all_kinds
from annotate.work.sweep import work_sweep
from tests import factories
from tests.fakes.judge_fixtures import judge_config, judge_fake_fixture  # noqa: F401

pytestmark = pytest.mark.django_db

# The fake judge scores a response holding [[score=N]] N, overall and on every aspect.
TEXTS = ("A full answer. [[score=5]]", "A weak answer. [[score=2]]", "A wrong answer. [[score=1]]")


@pytest.fixture
def sent(monkeypatch):
    calls: list[int] = []
    monkeypatch.setattr(
        tasks.judge_ratings_task, "delay", lambda **kw: calls.append(kw["judgement_id"])
    )
    return calls


@pytest.fixture
def rated(campaign):
    Campaign.objects.filter(pk=campaign.pk).update(
        protocol="rating", aspects=["helpful", "honest"], rating_k=3, status=Campaign.Status.OPEN
    )
    campaign.refresh_from_db()
    unit = factories.ranking_set(campaign=campaign, k=3)
    for member, text in zip(unit.members.order_by("slot"), TEXTS, strict=True):
        member.candidate.text = text
        member.candidate.save()
    return campaign


def _start(campaign, admin_user, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        return rating_judge_start(campaign=campaign, actor=admin_user)


def _judge_scores(campaign) -> dict[str, tuple]:
    vote = RatingVote.objects.get(campaign=campaign, source="judge")
    return {
        s.candidate.text: (s.overall, s.aspects, s.rationale)
        for s in vote.scores.select_related("candidate")
    }


def test_the_judge_scores_every_response_through_the_sdk_as_its_own_vote(
    rated, admin_user, judge_fake, sent, django_capture_on_commit_callbacks
):
    judge_config(rated)
    rater = factories.UserFactory()
    factories.EnrollmentFactory(campaign=rated, rater=rater)
    lease = set_assignment_next(campaign=rated, rater=rater)
    mine = [{"number": n, "overall": 3, "aspects": {"helpful": 3, "honest": 3}} for n in (1, 2, 3)]
    human = rating_vote_record(lease=lease, rater=rater, campaign=rated, scores=mine)

    assert _start(rated, admin_user, django_capture_on_commit_callbacks) == 1
    row = RatingJudgement.objects.get()
    assert sent == [row.id] and row.status == "pending"
    assert rating_judge_run(judgement_id=row.id).status == "done"

    row.refresh_from_db()
    judge = RatingVote.objects.get(source="judge")
    assert row.status == "done" and row.vote == judge and row.attempts == 1
    assert row.input_tokens > 0 and row.output_tokens > 0 and row.provider == "anthropic"
    assert row.model == "claude-sonnet-4-6" and row.cost_usd > 0
    assert judge.rater is None and judge.lease is None
    assert judge.shown_order == rated.candidate_sets.get().member_ids()
    assert _judge_scores(rated) == {
        TEXTS[0]: (5, {"helpful": 5, "honest": 5}, "Response 1 scored."),
        TEXTS[1]: (2, {"helpful": 2, "honest": 2}, "Response 2 scored."),
        TEXTS[2]: (1, {"helpful": 1, "honest": 1}, "Response 3 scored."),
    }
    # The human vote is untouched.
    assert sorted(RatingScore.objects.filter(vote=human).values_list("overall", flat=True)) == [
        3,
        3,
        3,
    ]
    body = next(b for m, p, b in judge_fake.requests if p == "/v1/messages")
    assert body["tool_choice"]["name"] == RATING_TOOL
    schema = body["tools"][0]["input_schema"]["properties"]["responses"]
    assert schema["minItems"] == schema["maxItems"] == 3
    assert set(schema["items"]["properties"]["aspects"]["required"]) == {"helpful", "honest"}
    assert "[The Start of Response 3]\n" + TEXTS[2] in body["messages"][0]["content"]
    system = body["system"] if isinstance(body["system"], str) else body["system"][0]["text"]
    assert "from 1" in system and "helpful, honest" in system
    # Exactly once: a redelivered task claims nothing, a second start queues nothing.
    assert rating_judge_run(judgement_id=row.id).status == "skipped"
    assert _start(rated, admin_user, django_capture_on_commit_callbacks) == 0
    assert RatingVote.objects.filter(source="judge").count() == 1


def test_a_malformed_answer_is_asked_again_then_fails_visibly_with_nothing_stored(
    rated, admin_user, judge_fake, sent, django_capture_on_commit_callbacks
):
    judge_config(rated)
    _start(rated, admin_user, django_capture_on_commit_callbacks)
    row = RatingJudgement.objects.get()
    judge_fake.add_verdict_faults("malformed")
    assert rating_judge_run(judgement_id=row.id).status == "done"  # the second answer is good
    assert _judge_scores(rated)[TEXTS[0]][0] == 5

    RatingVote.objects.all().delete()
    RatingJudgement.objects.all().delete()
    _start(rated, admin_user, django_capture_on_commit_callbacks)
    row = RatingJudgement.objects.get()
    calls = judge_fake.judge_calls
    judge_fake.add_verdict_faults(*["malformed"] * MALFORMED_TRIES)
    assert rating_judge_run(judgement_id=row.id).status == "failed"
    assert judge_fake.judge_calls - calls == MALFORMED_TRIES
    row.refresh_from_db()
    assert row.status == "failed" and row.vote is None
    assert "Malformed answer 3 times" in row.error and "expected 3 scored responses" in row.error
    assert row.input_tokens > 0  # what the calls cost is kept
    assert not RatingVote.objects.exists()
    # Starting again gives the failed one another go.
    assert _start(rated, admin_user, django_capture_on_commit_callbacks) == 1
    assert RatingJudgement.objects.get().status == "pending"


def test_a_killed_workers_row_is_sent_again_by_the_sweep_and_finished(
    rated, admin_user, judge_fake, sent, django_capture_on_commit_callbacks, settings
):
    judge_config(rated)
    _start(rated, admin_user, django_capture_on_commit_callbacks)
    row = RatingJudgement.objects.get()
    # A worker claimed it and died: the row is RUNNING under a claim older than the stale window.
    settings.WORK_STALE_SECONDS = 60
    RatingJudgement.objects.filter(pk=row.pk).update(
        status="running", claimed_at=timezone.now() - timedelta(minutes=5), attempts=1
    )
    sent.clear()
    with django_capture_on_commit_callbacks(execute=True):
        result = work_sweep()
    assert result.resent["rating_judgement"] == 1 and sent == [row.id]
    assert rating_judge_run(judgement_id=row.id).status == "done"
    assert RatingVote.objects.filter(source="judge").count() == 1


def test_the_offline_demo_judge_scores_arithmetic_it_checks(
    campaign, admin_user, sent, django_capture_on_commit_callbacks
):
    Campaign.objects.filter(pk=campaign.pk).update(protocol="rating", rating_k=2, aspects=[])
    campaign.refresh_from_db()
    prompt = factories.PromptFactory(
        campaign=campaign, messages=[{"role": "user", "content": "What is 6 * 7?"}]
    )
    unit = factories.ranking_set(campaign=campaign, k=2, prompt=prompt)
    for member, text in zip(
        unit.members.order_by("slot"), ("6 * 7 = 42.\n\nAnswer: 42", "Answer: 41"), strict=True
    ):
        member.candidate.text = text
        member.candidate.save()
    judge_config(campaign, provider="demo", model="demo-judge")
    _start(campaign, admin_user, django_capture_on_commit_callbacks)
    assert rating_judge_run(judgement_id=RatingJudgement.objects.get().id).status == "done"
    scores = {t: s[0] for t, s in _judge_scores(campaign).items()}
    assert scores == {"6 * 7 = 42.\n\nAnswer: 42": 5, "Answer: 41": 1}


def test_only_a_rating_campaign_with_units_and_a_runnable_judge_is_judged(
    campaign, admin_user, monkeypatch
):
    judge_config(campaign, provider="demo", model="demo-judge")
    with pytest.raises(JudgeRefused, match="Only a rating campaign"):
        rating_judge_start(campaign=campaign, actor=admin_user)
    Campaign.objects.filter(pk=campaign.pk).update(protocol="rating")
    campaign.refresh_from_db()
    with pytest.raises(JudgeRefused, match="no units"):
        rating_judge_start(campaign=campaign, actor=admin_user)
    factories.ranking_set(campaign=campaign, k=2)
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    judge_config(campaign)  # Anthropic without a key: not runnable
    with pytest.raises(JudgeRefused, match="ANTHROPIC_API_KEY"):
        rating_judge_start(campaign=campaign, actor=admin_user)
    assert not RatingJudgement.objects.exists()


def test_the_sweep_knows_rating_judgements():
    assert "rating_judgement" in {k.name for k in all_kinds()}


ASPECTS = ("helpful",)


def _entry(**change):
    return {"rationale": "ok", "overall": 4, "aspects": {"helpful": 3}, **change}


@pytest.mark.parametrize(
    "tool_input, message",
    [
        (None, "did not call"),
        ({"responses": [_entry()]}, "expected 2"),
        ({"responses": "4,4"}, "expected 2"),
        ({"responses": [_entry(), _entry(overall=6)]}, "overall: 6"),
        ({"responses": [_entry(), _entry(overall=0)]}, "overall: 0"),
        ({"responses": [_entry(), _entry(overall=True)]}, "overall: True"),
        ({"responses": [_entry(), _entry(overall="4")]}, "overall: '4'"),
        ({"responses": [_entry(), _entry(overall=4.5)]}, "overall: 4.5"),
        ({"responses": [_entry(), _entry(aspects={})]}, "aspects must be exactly helpful"),
        ({"responses": [_entry(), _entry(aspects={"helpful": 3, "fun": 2})]}, "aspects"),
        ({"responses": [_entry(), _entry(aspects={"helpful": 9})]}, "helpful: 9"),
        ({"responses": [_entry(), _entry(aspects=[3])]}, "aspects"),
        ({"responses": [_entry(), {"overall": 4, "aspects": {"helpful": 3}}]}, "rationale"),
        ({"responses": [_entry(), 4]}, "not an object"),
    ],
)
def test_the_answer_is_parsed_strictly(tool_input, message):
    with pytest.raises(Malformed, match=message):
        parse_ratings(tool_input, n=2, low=1, high=5, aspects=ASPECTS)


def test_a_good_answer_is_kept_in_order_and_an_overall_only_scale_needs_no_aspects():
    entries = [_entry(rationale=" fine "), _entry(overall=1, aspects={"helpful": 1})]
    assert parse_ratings({"responses": entries}, n=2, low=1, high=5, aspects=ASPECTS) == [
        {"overall": 4, "aspects": {"helpful": 3}, "rationale": "fine"},
        {"overall": 1, "aspects": {"helpful": 1}, "rationale": "ok"},
    ]
    bare = [{"rationale": "", "overall": 7}]
    assert parse_ratings({"responses": bare}, n=1, low=1, high=7, aspects=()) == [
        {"overall": 7, "aspects": {}, "rationale": ""}
    ]


def test_an_openai_compatible_judge_scores_by_function_call(
    rated, admin_user, judge_fake, sent, django_capture_on_commit_callbacks
):
    judge_config(
        rated, provider="openai_compatible", model="llama-judge", base_url=judge_fake.url + "/v1"
    )
    _start(rated, admin_user, django_capture_on_commit_callbacks)
    judge_fake.add_verdict_faults("malformed")  # one response short: asked again
    assert rating_judge_run(judgement_id=sent[0]).status == "done"
    assert {t: s[0] for t, s in _judge_scores(rated).items()} == {
        TEXTS[0]: 5,
        TEXTS[1]: 2,
        TEXTS[2]: 1,
    }
    bodies = [b for m, p, b in judge_fake.requests if p == "/v1/chat/completions"]
    assert len(bodies) == 2
    assert bodies[0]["tool_choice"] == {"type": "function", "function": {"name": RATING_TOOL}}
    row = RatingJudgement.objects.get()
    assert row.provider == "openai_compatible" and row.input_tokens > 0 and row.cost_usd == 0
