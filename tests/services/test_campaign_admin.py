"""Campaign admin services: create/update, status transitions, generators, raters, enrollment."""

from __future__ import annotations

import pytest

from annotate.models import Campaign, Enrollment, Generator, Pair, User
from annotate.services.campaigns import (
    CampaignError,
    campaign_create,
    campaign_set_status,
    campaign_update,
    enrollment_add,
    enrollment_remove,
    generator_create,
    generator_delete,
    rater_create,
)
from tests import factories


def test_it_creates_a_draft_with_a_unique_slug_and_rendered_guidelines(admin_user):
    first = campaign_create(actor=admin_user, title="Code review!", guidelines="Be **fair**.")
    second = campaign_create(actor=admin_user, title="Code review?")
    assert (first.slug, second.slug) == ("code-review", "code-review-2")
    assert first.status == Campaign.Status.DRAFT and first.created_by == admin_user
    assert first.guidelines_html == "<p>Be <strong>fair</strong>.</p>\n"


def test_it_refuses_bad_settings(admin_user):
    with pytest.raises(CampaignError, match="title"):
        campaign_create(actor=admin_user, title="  ")
    with pytest.raises(CampaignError, match="scale"):
        campaign_create(actor=admin_user, title="x", scale="eleven")
    with pytest.raises(CampaignError, match="Unknown campaign settings: status"):
        campaign_create(actor=admin_user, title="x", status="open")
    assert not Campaign.objects.exists()


def test_it_updates_settings_but_keeps_the_slug(campaign):
    campaign_update(campaign=campaign, title="Renamed", guidelines="# Hi", pairing="all_pairs")
    campaign.refresh_from_db()
    assert campaign.slug == "helpfulness" and campaign.title == "Renamed"
    assert campaign.guidelines_html.startswith("<h1>") and campaign.pairing == "all_pairs"


def test_it_refuses_to_change_overlap_once_pairs_exist(campaign):
    factories.PairFactory(campaign=campaign)
    with pytest.raises(CampaignError, match="Overlap"):
        campaign_update(campaign=campaign, overlap=3)


def _pairable(campaign):
    prompt = factories.PromptFactory(campaign=campaign)
    for _ in range(2):
        factories.CandidateFactory(prompt=prompt)


def test_it_opens_by_building_pairs(db):
    draft = factories.CampaignFactory(status="draft")
    _pairable(draft)
    report = campaign_set_status(campaign=draft, action="open")
    assert report.created == 1
    draft.refresh_from_db()
    assert draft.status == Campaign.Status.OPEN


@pytest.mark.parametrize(
    ("setup", "reason"),
    [
        (lambda c: None, "no prompts"),
        (lambda c: factories.PromptFactory(campaign=c), "no responses are ready"),
        (
            lambda c: factories.CandidateFactory(prompt=factories.PromptFactory(campaign=c)),
            "two generators",
        ),
    ],
)
def test_it_refuses_to_open_without_pairs_and_says_why(db, setup, reason):
    draft = factories.CampaignFactory(status="draft")
    setup(draft)
    with pytest.raises(CampaignError, match=reason):
        campaign_set_status(campaign=draft, action="open")
    draft.refresh_from_db()
    assert draft.status == Campaign.Status.DRAFT


def test_it_follows_sensible_transitions(db):
    c = factories.CampaignFactory(status="draft")
    _pairable(c)
    with pytest.raises(CampaignError, match="cannot be paused"):
        campaign_set_status(campaign=c, action="pause")
    campaign_set_status(campaign=c, action="open")
    campaign_set_status(campaign=c, action="pause")
    assert c.status == Campaign.Status.PAUSED
    campaign_set_status(campaign=c, action="open")
    campaign_set_status(campaign=c, action="close")
    for action in ("open", "pause", "close"):
        with pytest.raises(CampaignError):
            campaign_set_status(campaign=c, action=action)
    with pytest.raises(CampaignError, match="Unknown action"):
        campaign_set_status(campaign=c, action="delete")
    assert Campaign.objects.get(pk=c.pk).status == Campaign.Status.CLOSED
    assert Pair.objects.filter(campaign=c).count() == 1


def test_it_adds_generators_with_validation(campaign, settings):
    settings.PROVIDER_ENDPOINTS = (
        '{"vllm": {"provider": "openai_compatible", "base_url": "http://127.0.0.1:8001/v1",'
        ' "key_env": "VLLM_KEY"}}'
    )
    g = generator_create(
        campaign=campaign,
        name="",
        provider="openai_compatible",
        model="llama-3-8b",
        endpoint="vllm",
        params={"temperature": 0.7},
        samples_per_prompt=4,
    )
    assert g.name == "llama-3-8b" and g.params == {"temperature": 0.7}
    assert (g.endpoint, g.base_url) == ("vllm", "")
    local = generator_create(
        campaign=campaign, name="local", provider="openai_compatible", model="m",
        base_url="http://127.0.0.1:11434/v1",
    )  # fmt: skip
    assert (local.endpoint, local.base_url) == ("", "http://127.0.0.1:11434/v1")  # and no key
    claude = generator_create(campaign=campaign, name="c", provider="anthropic", model="m")
    assert claude.endpoint == "anthropic"  # the operator's own key, to Anthropic's API
    with pytest.raises(CampaignError, match="^base_url: An Anthropic generator"):
        generator_create(
            campaign=campaign, name="k", provider="anthropic", model="m",
            base_url="http://127.0.0.1:9/v1",
        )  # fmt: skip
    with pytest.raises(CampaignError, match="^endpoint: 'SECRET_KEY' is not an endpoint"):
        generator_create(
            campaign=campaign, name="s", provider="openai_compatible", model="m",
            endpoint="SECRET_KEY",
        )  # fmt: skip
    with pytest.raises(CampaignError, match="^base_url: Leave the base URL empty"):
        generator_create(
            campaign=campaign, name="v", provider="openai_compatible", model="m",
            endpoint="vllm", base_url="http://127.0.0.1:9/v1",
        )  # fmt: skip
    with pytest.raises(CampaignError, match="^endpoint: Choose an endpoint"):
        generator_create(campaign=campaign, name="o", provider="openai_compatible", model="m")
    with pytest.raises(CampaignError, match="already exists"):
        generator_create(campaign=campaign, name="llama-3-8b", provider="demo", model="m")
    assert Generator.objects.filter(campaign=campaign).count() == 3


def test_it_deletes_only_generators_without_responses(campaign):
    used = factories.CandidateFactory(prompt=factories.PromptFactory(campaign=campaign)).generator
    unused = factories.GeneratorFactory(campaign=campaign)
    with pytest.raises(CampaignError, match="1 responses"):
        generator_delete(generator=used)
    generator_delete(generator=unused)
    assert list(campaign.generators.all()) == [used]


def test_it_creates_raters_and_enrolls_them(campaign):
    user = rater_create(username="dora", password="long-enough-pw", role="rater")
    assert user.check_password("long-enough-pw") and user.role == User.Role.RATER
    with pytest.raises(CampaignError, match="already exists"):
        rater_create(username="DORA", password="long-enough-pw")
    with pytest.raises(CampaignError):
        rater_create(username="eve", password="short")
    enrollment_add(campaign=campaign, usernames=["dora", "dora"])
    enrollment_add(campaign=campaign, usernames=["dora"])  # again: no error, no twin
    assert Enrollment.objects.filter(campaign=campaign, rater=user).count() == 1
    enrollment_remove(campaign=campaign, username="dora")
    assert not Enrollment.objects.filter(campaign=campaign, rater=user).exists()
    with pytest.raises(CampaignError, match="not enrolled"):
        enrollment_remove(campaign=campaign, username="dora")


def test_it_enrolls_all_or_none(campaign):
    factories.UserFactory(username="fay")
    with pytest.raises(CampaignError, match="No such user: ghost"):
        enrollment_add(campaign=campaign, usernames=["fay", "ghost"])
    assert not campaign.enrollments.exists()


def test_it_names_a_generator_after_its_model_cut_to_fit(campaign):
    model = "org/" + "m" * 150
    generator = generator_create(campaign=campaign, name="", provider="demo", model=model)
    assert generator.name == model[:100] and generator.model == model
