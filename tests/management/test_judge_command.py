"""manage.py judge: the campaign's AI judge started from the command line, per protocol, as the
judge page does (the workers run it; here the queueing is recorded), and its refusals."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from annotate import tasks
from annotate.models import Campaign, JudgeJob, JudgeVerdict, RatingJudgement, StepJudgement
from tests import factories
from tests.fakes.judge_fixtures import judge_config, make_pair

pytestmark = pytest.mark.django_db


@pytest.fixture
def queued(monkeypatch):
    """What each judge's task was handed (the workers are not running)."""
    calls: list[tuple[str, int]] = []
    for name in ("judge_verdict_task", "judge_steps_task", "judge_ratings_task"):
        task = getattr(tasks, name)
        monkeypatch.setattr(
            task, "delay", lambda _n=name, **kw: calls.append((_n, next(iter(kw.values()))))
        )
        monkeypatch.setattr(task, "apply_async", lambda *a, _n=name, **kw: calls.append((_n, 0)))
    return calls


def _run(*args) -> str:
    from io import StringIO

    out = StringIO()
    call_command("judge", *args, stdout=out)
    return out.getvalue()


def test_it_judges_a_pairwise_campaigns_pairs(campaign, queued, django_capture_on_commit_callbacks):
    judge_config(campaign, provider="demo", model="demo-judge")
    make_pair(campaign, "An answer.", "Another answer.")
    with django_capture_on_commit_callbacks(execute=True):
        out = _run(campaign.slug)
    job = JudgeJob.objects.get(campaign=campaign)
    assert f"Judge job {job.id}: {job.total} verdicts" in out and job.total >= 1
    assert job.kind == JudgeJob.Kind.PAIRS
    assert JudgeVerdict.objects.filter(campaign=campaign).exists()


def test_rank_judges_every_two_candidates_of_each_prompt(campaign, queued):
    judge_config(campaign, provider="demo", model="demo-judge")
    prompt = factories.PromptFactory(campaign=campaign)
    for _ in range(3):
        factories.CandidateFactory(prompt=prompt, text="An answer.")
    assert "3 verdicts" in _run(campaign.slug, "--rank")
    assert JudgeJob.objects.get(campaign=campaign).kind == JudgeJob.Kind.RANK


def test_it_scores_a_rating_campaigns_units_and_labels_a_step_campaigns_traces(
    campaign, other_campaign, queued
):
    Campaign.objects.filter(pk=campaign.pk).update(protocol="rating", aspects=["helpful"])
    campaign.refresh_from_db()
    judge_config(campaign, provider="demo", model="demo-judge")
    factories.ranking_set(campaign=campaign, k=3)
    assert _run(campaign.slug).startswith("1 units, every response scored")
    assert RatingJudgement.objects.filter(campaign=campaign, status="pending").count() == 1

    Campaign.objects.filter(pk=other_campaign.pk).update(protocol="steps")
    other_campaign.refresh_from_db()
    judge_config(other_campaign, provider="demo", model="demo-judge")
    factories.step_trace(campaign=other_campaign)
    assert _run(other_campaign.slug).startswith("1 traces")
    assert StepJudgement.objects.filter(campaign=other_campaign).count() == 1
    with pytest.raises(CommandError, match="--rank and --mode are for pairs"):
        _run(other_campaign.slug, "--rank")


def test_its_refusals_are_command_errors(campaign, queued):
    with pytest.raises(CommandError, match="No campaign"):
        _run("no-such-campaign")
    judge_config(campaign, provider="anthropic", model="claude-sonnet-4-6")
    with pytest.raises(CommandError):  # no key here, or nothing to judge: said, not a traceback
        _run(campaign.slug)
    assert not JudgeJob.objects.exists()
