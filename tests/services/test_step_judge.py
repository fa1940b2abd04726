"""The AI judge on step traces (services/judging_steps.py): through the real Anthropic SDK and the
fake server, and the offline demo judge; malformed answers retried then failed with nothing stored;
exactly once; human votes untouched."""

from __future__ import annotations

import pytest

from annotate import tasks
from annotate.judge.samples import Malformed
from annotate.judge.steps import STEP_TOOL, parse_step_labels
from annotate.models import Campaign, StepJudgement, StepVote
from annotate.services.judging import MALFORMED_TRIES, JudgeRefused
from annotate.services.judging_steps import step_judge_run, step_judge_start
from annotate.services.sets import set_assignment_next
from annotate.services.steps import step_vote_record
from annotate.work.kinds import all_kinds
from tests import factories
from tests.fakes.judge_fixtures import judge_config, judge_fake_fixture  # noqa: F401

pytestmark = pytest.mark.django_db

STEPS = ("Add 2 and 2: 4.", "Double it: 9. [[wrong]]", "So 9.")


@pytest.fixture
def sent(monkeypatch):
    calls: list[int] = []
    monkeypatch.setattr(
        tasks.judge_steps_task, "delay", lambda **kw: calls.append(kw["judgement_id"])
    )
    return calls


@pytest.fixture
def stepped(campaign):
    Campaign.objects.filter(pk=campaign.pk).update(protocol="steps", step_stop_at_wrong=True)
    campaign.refresh_from_db()
    factories.step_trace(campaign=campaign, steps=STEPS)
    return campaign


def _start(campaign, admin_user, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        return step_judge_start(campaign=campaign, actor=admin_user)


def test_the_judge_labels_every_step_through_the_sdk_as_its_own_vote(
    stepped, admin_user, judge_fake, sent, django_capture_on_commit_callbacks
):
    judge_config(stepped)
    rater = factories.UserFactory()
    factories.EnrollmentFactory(campaign=stepped, rater=rater)
    lease = set_assignment_next(campaign=stepped, rater=rater)
    human = step_vote_record(lease=lease, rater=rater, campaign=stepped, labels=[1, 1, 1])

    assert _start(stepped, admin_user, django_capture_on_commit_callbacks) == 1
    row = StepJudgement.objects.get()
    assert sent == [row.id] and row.status == "pending"
    assert step_judge_run(judgement_id=row.id).status == "done"

    row.refresh_from_db()
    judge = StepVote.objects.get(source="judge")
    assert row.status == "done" and row.vote == judge and row.input_tokens > 0
    # The step after the first wrong one is unlabelled, as a rater's is (stop_at_wrong).
    assert judge.labels == [1, -1, None] and judge.rater is None and judge.lease is None
    assert judge.notes == ["Step 1 checked.", "Step 2 checked.", ""]
    human.refresh_from_db()
    assert human.labels == [1, 1, 1] and human.source == "human"
    body = next(b for m, p, b in judge_fake.requests if p == "/v1/messages")
    assert (
        body["tool_choice"]["name"] == STEP_TOOL
        and "[Step 3]\nSo 9." in body["messages"][0]["content"]
    )
    # Exactly once: a redelivered task claims nothing, a second start queues nothing.
    assert step_judge_run(judgement_id=row.id).status == "skipped"
    assert _start(stepped, admin_user, django_capture_on_commit_callbacks) == 0
    assert StepVote.objects.filter(source="judge").count() == 1


def test_a_malformed_answer_is_asked_again_then_fails_with_nothing_stored(
    stepped, admin_user, judge_fake, sent, django_capture_on_commit_callbacks
):
    judge_config(stepped)
    _start(stepped, admin_user, django_capture_on_commit_callbacks)
    row = StepJudgement.objects.get()
    judge_fake.add_verdict_faults("malformed")
    assert step_judge_run(judgement_id=row.id).status == "done"  # the second answer is good
    assert StepVote.objects.get(source="judge").labels == [1, -1, None]

    StepVote.objects.all().delete()
    StepJudgement.objects.all().delete()
    _start(stepped, admin_user, django_capture_on_commit_callbacks)
    row = StepJudgement.objects.get()
    judge_fake.add_verdict_faults(*["malformed"] * MALFORMED_TRIES)
    assert step_judge_run(judgement_id=row.id).status == "failed"
    row.refresh_from_db()
    assert row.status == "failed" and "Malformed answer" in row.error and row.vote is None
    assert not StepVote.objects.exists()
    # Starting again gives the failed one another go.
    assert _start(stepped, admin_user, django_capture_on_commit_callbacks) == 1


def test_the_offline_demo_judge_checks_the_arithmetic(
    campaign, admin_user, sent, django_capture_on_commit_callbacks
):
    Campaign.objects.filter(pk=campaign.pk).update(protocol="steps", step_stop_at_wrong=False)
    campaign.refresh_from_db()
    factories.step_trace(campaign=campaign, steps=("2 + 2 = 4", "4 * 2 = 9", "So 9."))
    judge_config(campaign, provider="demo", model="demo-judge")
    _start(campaign, admin_user, django_capture_on_commit_callbacks)
    assert step_judge_run(judgement_id=StepJudgement.objects.get().id).status == "done"
    assert StepVote.objects.get(source="judge").labels == [1, -1, -1]


def test_only_a_step_campaign_with_traces_is_judged(campaign, admin_user):
    judge_config(campaign, provider="demo", model="demo-judge")
    with pytest.raises(JudgeRefused, match="step-labels"):
        step_judge_start(campaign=campaign, actor=admin_user)
    Campaign.objects.filter(pk=campaign.pk).update(protocol="steps")
    campaign.refresh_from_db()
    with pytest.raises(JudgeRefused, match="no traces"):
        step_judge_start(campaign=campaign, actor=admin_user)


def test_the_sweep_knows_step_judgements():
    assert "step_judgement" in {k.name for k in all_kinds()}


@pytest.mark.parametrize(
    "tool_input, message",
    [
        (None, "did not call"),
        ({"steps": [{"label": 1, "reason": "ok"}] * 2}, "expected 3"),
        ({"steps": "1,1,1"}, "expected 3"),
        ({"steps": [{"label": 1, "reason": "ok"}] * 2 + [{"label": 2, "reason": ""}]}, "label 2"),
        ({"steps": [{"label": True, "reason": "ok"}] * 3}, "label True"),
        ({"steps": [{"label": "1", "reason": "ok"}] * 3}, "label '1'"),
        ({"steps": [{"label": 1}] * 3}, "reason"),
        ({"steps": [1, 1, 1]}, "not an object"),
    ],
)
def test_the_answer_is_parsed_strictly(tool_input, message):
    with pytest.raises(Malformed, match=message):
        parse_step_labels(tool_input, n=3, stop_at_wrong=False)


def test_a_good_answer_keeps_every_label_without_stop_at_wrong():
    entries = [{"label": x, "reason": f" r{x} "} for x in (1, -1, 0)]
    assert parse_step_labels({"steps": entries}, n=3, stop_at_wrong=False) == (
        [1, -1, 0],
        ["r1", "r-1", "r0"],
    )


def test_the_judge_page_starts_the_step_judge_in_a_worker(
    admin_client, rater_client, stepped, sent, django_capture_on_commit_callbacks
):
    from django.urls import reverse

    judge_config(stepped, provider="demo", model="demo-judge")
    page = admin_client.get(reverse("annotate:judge", args=[stepped.slug])).content.decode()
    assert 'name="kind" value="steps"' in page
    start = reverse("annotate:judge-start", args=[stepped.slug])
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(start, {"kind": "steps"}, follow=True)
    assert "1 traces, every step labelled" in response.content.decode()
    # Queued for a worker, not judged in the request.
    assert sent == [StepJudgement.objects.get().id] and not StepVote.objects.exists()
    assert StepJudgement.objects.get().status == "pending"
    assert rater_client.post(start, {"kind": "steps"}).status_code in (403, 404)


def test_the_api_starts_the_step_judge_for_admins_only(
    admin_user, rater, stepped, sent, django_capture_on_commit_callbacks
):
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    def api(user):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0]}")
        return client

    judge_config(stepped, provider="demo", model="demo-judge")
    url = f"/api/campaigns/{stepped.slug}/judge/units/start/"
    assert api(rater).post(url, {}, format="json").status_code == 403
    with django_capture_on_commit_callbacks(execute=True):
        response = api(admin_user).post(url, {}, format="json")
    assert response.status_code == 202 and response.json() == {"pending": 1}
    assert sent == [StepJudgement.objects.get().id]
