"""The judge's settings and its versioned rubric (see services/judging.py for the runs)."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from annotate.endpoints import DEFAULT as DEFAULT_ENDPOINT
from annotate.judge.rubric import rubric_build
from annotate.models import Campaign, JudgeConfig, JudgeRubric, User
from annotate.providers.base import env_key

log = logging.getLogger(__name__)

JUDGE_PROVIDERS = (
    JudgeConfig.Provider.ANTHROPIC,
    JudgeConfig.Provider.OPENAI_COMPATIBLE,
    JudgeConfig.Provider.DEMO,
)


class JudgeRefused(Exception):
    """An action that cannot run as asked; the message is shown to the admin as is."""


# --- configuration and rubric -----------------------------------------------------------------


def judge_config_get(*, campaign: Campaign, create: bool = True) -> JudgeConfig:
    """The campaign's judge settings, created on first use: Claude when a key is set, else the
    offline demo judge (so the demo shows the feature with no network). Readers (pages, the API's
    GET) pass ``create=False`` and get the unsaved defaults, so looking never writes."""
    config = JudgeConfig.objects.filter(campaign=campaign).first()
    if config is not None:
        return config
    if env_key("ANTHROPIC_API_KEY"):
        defaults = {
            "provider": JudgeConfig.Provider.ANTHROPIC,
            "model": settings.ANTHROPIC_DEFAULT_MODEL,
            "endpoint": DEFAULT_ENDPOINT,
        }
    else:
        defaults = {"provider": JudgeConfig.Provider.DEMO, "model": "demo-judge"}
    if not create:
        return JudgeConfig(campaign=campaign, **defaults)
    config, _ = JudgeConfig.objects.get_or_create(campaign=campaign, defaults=defaults)
    return config


def rubric_current(*, campaign: Campaign, create: bool = True) -> JudgeRubric:
    """The latest rubric version; version 1 is built from the guidelines and aspects (unsaved when
    ``create=False``, for readers)."""
    rubric = JudgeRubric.objects.filter(campaign=campaign).order_by("-version").first()
    if rubric is not None:
        return rubric
    text = rubric_build(
        guidelines=campaign.guidelines,
        aspects=list(campaign.aspects or []),
        scale=campaign.scale,
        allow_both_bad=campaign.allow_both_bad,
    )
    if not create:
        return JudgeRubric(campaign=campaign, version=1, text=text)
    rubric, _ = JudgeRubric.objects.get_or_create(
        campaign=campaign, version=1, defaults={"text": text}
    )
    return rubric


def rubric_save(*, campaign: Campaign, text: str, actor: User | None) -> JudgeRubric:
    """An edit is a new version (verdicts keep pointing at the one they used). Same text: no-op."""
    text = text.replace("\r\n", "\n").strip() + "\n"
    if len(text.strip()) < 20:
        raise JudgeRefused("The rubric is too short to judge with (at least 20 characters).")
    # Version 1 is always the rubric built from the guidelines (pages show it without saving it);
    # the first edit is stored as version 2, so the history says what the admin changed.
    rubric_current(campaign=campaign)
    with transaction.atomic():
        current = (
            JudgeRubric.objects.select_for_update()
            .filter(campaign=campaign)
            .order_by("-version")
            .first()
        )
        if current is not None and current.text == text:
            return current
        version = (current.version if current else 0) + 1
        return JudgeRubric.objects.create(
            campaign=campaign, version=version, text=text, created_by=actor
        )


def judge_config_update(*, campaign: Campaign, actor: User, **fields: Any) -> JudgeConfig:
    """Save settings (provider, model, endpoint or base_url, mode, thresholds) and the campaign's
    judge mode; a changed rubric text becomes a new version. Where calls go is checked by the
    model (JudgeConfig.clean: a key only goes with its endpoint)."""
    config = judge_config_get(campaign=campaign)
    rubric_text = fields.pop("rubric_text", None)
    judge_mode = fields.pop("judge_mode", None)
    if fields.get("provider") and fields["provider"] not in JUDGE_PROVIDERS:
        raise JudgeRefused(
            "The judge runs on Anthropic, an OpenAI-compatible server or the demo judge."
        )
    if fields.get("provider") and fields["provider"] != config.provider:
        # Another provider: the old target does not carry over unless given again.
        fields.setdefault("endpoint", "")
        fields.setdefault("base_url", "")
    for name, value in fields.items():
        setattr(config, name, value)
    config.updated_at = timezone.now()
    config.full_clean()
    with transaction.atomic():
        config.save()
        if rubric_text is not None:
            rubric_save(campaign=campaign, text=rubric_text, actor=actor)
        if judge_mode is not None and judge_mode != campaign.judge_mode:
            campaign.judge_mode = judge_mode
            campaign.save(update_fields=["judge_mode"])
    log.info("judge settings of %s changed by %s", campaign.slug, actor)
    return config
