"""The judge API: the same services as the page, with the same access rules."""

from __future__ import annotations

import pytest
from django.urls import reverse

from annotate import tasks
from annotate.models import Campaign, JudgeJob
from tests.fakes.judge_fixtures import judge_config, make_pair, verdict


@pytest.fixture
def demo_judge(campaign):
    return judge_config(campaign, provider="demo", model="demo-judge")


def test_researchers_read_and_admins_change_the_settings(
    campaign, demo_judge, admin_client, researcher_client, rater_client, outsider_client
):
    url = reverse("api:judge-config", args=[campaign.slug])
    body = researcher_client.get(url).json()
    assert body["provider"] == "demo" and body["rubric_version"] == 1
    assert rater_client.get(url).status_code == 403
    assert outsider_client.get(url).status_code == 404
    update = reverse("api:judge-config-update", args=[campaign.slug])
    assert researcher_client.post(update, {"model": "x"}).status_code == 403
    changed = admin_client.post(
        update,
        {"judge_mode": "before_vote", "rubric_text": "A new rubric that is long enough."},
        content_type="application/json",
    )
    assert changed.status_code == 200 and changed.json()["rubric_version"] == 2
    campaign.refresh_from_db()
    assert campaign.judge_mode == Campaign.JudgeMode.BEFORE_VOTE
    assert (
        admin_client.post(
            update, {"provider": "imported"}, content_type="application/json"
        ).status_code
        == 400
    )


def test_starting_and_refusals(
    campaign, demo_judge, admin_client, monkeypatch, django_capture_on_commit_callbacks
):
    sent = []
    monkeypatch.setattr(tasks.judge_verdict_task, "delay", lambda **kw: sent.append(kw))
    start = reverse("api:judge-start", args=[campaign.slug])
    assert "no pairs" in admin_client.post(start).json()["detail"]
    make_pair(campaign, "long answer", "short")
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            start, {"kind": "pairs", "mode": "fast"}, content_type="application/json"
        )
    assert response.status_code == 201 and response.json()["total"] == 1
    assert JudgeJob.objects.count() == 1 and len(sent) == 1
    refused = admin_client.post(reverse("api:judge-auto-label", args=[campaign.slug]))
    assert refused.status_code == 409 and "Auto-label" in refused.json()["detail"]


def test_verdicts_and_analytics_read(campaign, demo_judge, researcher_client, rater_client):
    pair = make_pair(campaign, "one", "two")
    verdict(pair, "a")
    rows = researcher_client.get(reverse("api:judge-verdicts", args=[campaign.slug])).json()
    assert [(r["pair"], r["choice"], r["consistent"]) for r in rows] == [(pair.id, "a", True)]
    stats = researcher_client.get(reverse("api:judge-analytics", args=[campaign.slug])).json()
    assert stats["judged_pairs"] == 1 and stats["swap_consistency"]["rate"] == 1.0
    assert rater_client.get(reverse("api:judge-verdicts", args=[campaign.slug])).status_code == 403


def test_a_provider_given_comes_with_its_whole_target(campaign, admin_client):
    """With a provider, the request alone says where calls go: a 400 naming the field when it
    does not. Without one, a target the stored provider does not take is the judge's state: 409."""
    config = judge_config(campaign, provider="openai_compatible", base_url="http://10.0.0.5:8/v1")
    update = reverse("api:judge-config-update", args=[campaign.slug])

    def post(body):
        return admin_client.post(update, body, content_type="application/json")

    same = post({"provider": "openai_compatible"})  # the stored base URL does not carry over
    assert same.status_code == 400 and "endpoint" in same.json()
    config.refresh_from_db()
    assert config.base_url == "http://10.0.0.5:8/v1"
    moved = post({"provider": "openai_compatible", "base_url": "http://10.0.0.6:8/v1"})
    assert moved.status_code == 200 and moved.json()["base_url"] == "http://10.0.0.6:8/v1"
    claude = post({"provider": "anthropic"})
    assert claude.status_code == 200 and claude.json()["endpoint"] == "anthropic"
    kept = post({"base_url": "http://10.0.0.7:8/v1"})  # an Anthropic judge takes no base URL
    assert kept.status_code == 409 and "base URL" in kept.json()["detail"]
    config.refresh_from_db()
    assert (config.provider, config.base_url) == ("anthropic", "")
