"""Create the demo: four users, one campaign with prompts and two generators, generation started.

Idempotent: running it again prints the logins and changes nothing that exists. With
ANTHROPIC_API_KEY set the generators are Claude models; otherwise the offline demo provider answers.
"""

from __future__ import annotations

import os
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction

from annotate.models import Campaign, Enrollment, Generator, User

DEMO_DIR = Path(settings.BASE_DIR) / "annotate" / "demo_data"
USERS = [
    ("admin", User.Role.ADMIN),
    ("researcher", User.Role.RESEARCHER),
    ("rater1", User.Role.RATER),
    ("rater2", User.Role.RATER),
]
GUIDELINES = """\
## What you are judging

You will see a user's request and **two answers**, A (left) and B (right). Pick the answer that a
thoughtful expert would rather receive.

- **Helpful**: does it actually do what was asked, completely and correctly?
- **Honest**: no invented facts; says so when unsure.
- **Harmless**: no dangerous or hurtful content.

Length is not quality: a short, correct answer beats a long, padded one. Choose **Tie** only when you
truly cannot prefer one, and **Both bad** when neither is acceptable.

Keys: `1` A better · `2` B better · `t` tie · `x` both bad · `?` help.
"""


class Command(BaseCommand):
    help = "Create the demo campaign and users (idempotent) and start generating candidates."

    def handle(self, *args, **options) -> None:
        from annotate.services.generation import generation_start
        from annotate.services.prompts import prompts_import

        users = {}
        for username, role in USERS:
            user, created = User.objects.get_or_create(username=username, defaults={"role": role})
            if created:
                user.set_password(f"{username}-demo")
                user.is_staff = role == User.Role.ADMIN
                user.is_superuser = role == User.Role.ADMIN
                user.save()
            users[username] = user

        campaign = Campaign.objects.filter(slug="demo-helpfulness").first()
        if campaign is None:
            with transaction.atomic():
                campaign = self._create_campaign(users, prompts_import)
            generation_start(campaign=campaign, actor=users["admin"])
            self.stdout.write(self.style.SUCCESS(f"Created the demo campaign “{campaign.title}”."))

        self.stdout.write("\nDemo logins (local demo accounts only):")
        for username, role in USERS:
            self.stdout.write(f"  {role.label:<10}  {username:<10}  password: {username}-demo")
        provider = "Claude (ANTHROPIC_API_KEY is set)" if _has_key() else "offline demo candidates"
        self.stdout.write(f"Candidates come from: {provider}.\n")

    def _create_campaign(self, users, prompts_import) -> Campaign:
        from annotate.markdown import render_markdown

        campaign = Campaign.objects.create(
            title="Demo: helpful answers",
            slug="demo-helpfulness",
            guidelines=GUIDELINES,
            guidelines_html=render_markdown(GUIDELINES),
            status=Campaign.Status.OPEN,
            created_by=users["admin"],
        )
        result = prompts_import(
            campaign=campaign,
            file_name="prompts.jsonl",
            data=(DEMO_DIR / "prompts.jsonl").read_bytes(),
        )
        if getattr(result, "errors", None):
            raise RuntimeError(f"demo prompts failed to import: {result.errors}")
        if _has_key():
            specs = [
                ("claude-sonnet", Generator.Provider.ANTHROPIC, settings.ANTHROPIC_DEFAULT_MODEL),
                ("claude-haiku", Generator.Provider.ANTHROPIC, "claude-haiku-4-5"),
            ]
        else:
            specs = [
                ("concise", Generator.Provider.DEMO, "demo-concise"),
                ("thorough", Generator.Provider.DEMO, "demo-thorough"),
            ]
        for name, provider, model in specs:
            Generator.objects.create(
                campaign=campaign,
                name=name,
                provider=provider,
                model=model,
                params={"temperature": 1.0, "max_tokens": 1024},
            )
        for username in ("rater1", "rater2"):
            Enrollment.objects.create(campaign=campaign, rater=users[username])
        return campaign


def _has_key() -> bool:
    return bool(os.environ.get("ANTHROPIC_API_KEY") or os.environ.get("ANTHROPIC_API_KEY_FILE"))
