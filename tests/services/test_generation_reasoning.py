"""A generator asking for extended thinking: the candidate keeps the trace apart from the reply,
with its tokens and its share of the cost (the real SDK against the fake server)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from annotate.models import Campaign, Generator
from annotate.services.generation import candidate_generate, generation_start
from tests import factories
from tests.fakes.fixtures import anthropic_fake_fixture, fake_server_fixture  # noqa: F401


@pytest.fixture
def thinking_claude(db, anthropic_fake):
    campaign = factories.CampaignFactory(slug="think", status=Campaign.Status.DRAFT)
    factories.PromptFactory(campaign=campaign)
    return factories.GeneratorFactory(
        campaign=campaign,
        name="claude-thinking",
        provider=Generator.Provider.ANTHROPIC,
        model="claude-sonnet-4-6",
        params={"thinking": {"type": "enabled", "budget_tokens": 1024}, "max_tokens": 2048},
    )


def test_it_stores_the_trace_apart_with_its_tokens_and_cost(thinking_claude, admin_user):
    job = generation_start(campaign=thinking_claude.campaign, actor=admin_user)
    candidate = job.candidates.get()
    assert candidate_generate(candidate_id=candidate.id).status == "done"
    candidate.refresh_from_db()
    assert candidate.reasoning.startswith("The user asks")
    assert candidate.reasoning_html.startswith("<p>")
    assert "The user asks" not in candidate.text and "The user asks" not in candidate.html
    assert 0 < candidate.reasoning_tokens < candidate.output_tokens
    # Sonnet's default price: $15 per million output tokens; the trace's share of cost_usd.
    expected = (Decimal(15) * candidate.reasoning_tokens / 10**6).quantize(Decimal("0.000001"))
    assert candidate.reasoning_cost_usd == expected
    assert candidate.reasoning_cost_usd < candidate.cost_usd
