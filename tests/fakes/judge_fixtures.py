"""Fixtures and builders for the AI-judge tests. Import the fixtures by their function names:
``from tests.fakes.judge_fixtures import judge_fake_fixture  # noqa: F401``."""

from __future__ import annotations

import pytest
from django.utils import timezone

from annotate.models import Campaign, JudgeConfig, JudgeVerdict, Judgment
from annotate.services.judging import rubric_current
from tests import factories
from tests.fakes.judge_server import JudgeFakeServer


@pytest.fixture(name="judge_fake")
def judge_fake_fixture(settings, monkeypatch):
    """The real Anthropic SDK pointed at the judging fake server, with a key in the environment."""
    server = JudgeFakeServer(min_cache_tokens=256).start()
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-not-a-real-key")
    settings.ANTHROPIC_BASE_URL = server.url
    settings.PROVIDER_TIMEOUT_SECONDS = 2.0
    settings.JUDGE_BATCH_POLL_SECONDS = 0.05
    yield server
    server.stop()


def judge_config(campaign: Campaign, *, provider: str = "anthropic", **fields) -> JudgeConfig:
    fields.setdefault("model", "claude-sonnet-4-6")
    fields.setdefault("mode", "fast")
    config, _ = JudgeConfig.objects.update_or_create(
        campaign=campaign, defaults={"provider": provider, **fields}
    )
    return config


def make_pair(
    campaign: Campaign,
    text_a: str,
    text_b: str,
    *,
    model_a: str = "m-one",
    model_b: str = "m-two",
    prompt=None,
):
    """A pair whose candidate_a has ``text_a`` (ids ordered, so a is created first)."""
    prompt = prompt or factories.PromptFactory(campaign=campaign)
    gen_a = factories.GeneratorFactory(campaign=campaign, model=model_a)
    gen_b = factories.GeneratorFactory(campaign=campaign, model=model_b)
    a = factories.CandidateFactory(prompt=prompt, generator=gen_a, text=text_a)
    b = factories.CandidateFactory(prompt=prompt, generator=gen_b, text=text_b)
    return factories.PairFactory(campaign=campaign, prompt=prompt, candidate_a=a, candidate_b=b)


def verdict(pair, choice: str, *, consistent: bool = True, candidates=None, prompt=None):
    """A finished verdict written directly (no provider): for tests of what verdicts are used for."""
    a, b = candidates or (pair.candidate_a, pair.candidate_b)
    campaign = (pair or a.prompt).campaign if pair else a.prompt.campaign
    return JudgeVerdict.objects.create(
        campaign=campaign,
        prompt=prompt or a.prompt,
        pair=pair,
        candidate_a=a,
        candidate_b=b,
        rubric=rubric_current(campaign=campaign),
        provider="demo",
        model="demo-judge",
        status="done",
        choice=choice if consistent else "inconsistent",
        consistent=consistent,
        order1={"choice": choice, "rationale": "Response 1 is better."},
        order2={"choice": choice if consistent else "b", "rationale": "Response 2 is better."},
        rationale="Response 1 is better.",
        finished_at=timezone.now(),
    )


def human_vote(pair, rater, choice, **extra):
    return Judgment.objects.create(
        campaign=pair.campaign, pair=pair, rater=rater, choice=choice, left_is_a=True, **extra
    )
