"""Create the demo: four users, one campaign with prompts and two generators, generation started,
and a finished sample campaign whose votes research pages and exports can show from the start.

Idempotent: running it again prints the logins and changes nothing that exists. With
ANTHROPIC_API_KEY set the generators are Claude models; otherwise the offline demo provider answers.

The demo passwords (`<username>-demo`) are set directly, past Django's password validators (which
`createsuperuser`, the back office and the rater forms apply): they are known to everyone and meant
for a local demo only.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction

from annotate.models import Campaign, Candidate, Enrollment, Generator, User

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
        if not Campaign.objects.filter(slug=SAMPLE_SLUG).exists():
            with transaction.atomic():
                sample, votes = _sample_create(admin=users["admin"])
            self.stdout.write(
                self.style.SUCCESS(
                    f"Created “{sample.title}” ({SAMPLE_SLUG}): {votes} votes by "
                    f"{len(SAMPLE_RATERS)} sample raters, ready to export."
                )
            )

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
                # The operator's own key, to Anthropic's API (or ANTHROPIC_BASE_URL): no setup.
                endpoint="anthropic" if provider == Generator.Provider.ANTHROPIC else "",
                params={"temperature": 1.0, "max_tokens": 1024},
            )
        for username in ("rater1", "rater2"):
            Enrollment.objects.create(campaign=campaign, rater=users[username])
        return campaign


def _has_key() -> bool:
    return bool(os.environ.get("ANTHROPIC_API_KEY") or os.environ.get("ANTHROPIC_API_KEY_FILE"))


# --- the finished sample: the shipped demo answers, imported, with votes by three sample raters ---
SAMPLE_SLUG = "demo-sample"
SAMPLE_RATERS = ["sample-rater-1", "sample-rater-2", "sample-rater-3"]
SAMPLE_GUIDELINES = """\
A finished sample so that progress, analytics and exports have data from the first minute: the
demo's offline answers, each pair rated by three sample raters. Rate the *Demo: helpful answers*
campaign yourself to collect your own.
"""


def _sample_create(*, admin: User) -> tuple[Campaign, int]:
    """The shipped answers as imported responses, cross-generator pairs, and three votes per pair."""
    from annotate.markdown import render_markdown
    from annotate.services.assignment import assignment_next
    from annotate.services.judgments import judgment_record
    from annotate.services.pairing import pairs_build
    from annotate.services.prompts import prompts_import
    from annotate.services.responses import responses_import

    campaign = Campaign.objects.create(
        title="Demo: a finished sample",
        slug=SAMPLE_SLUG,
        guidelines=SAMPLE_GUIDELINES,
        guidelines_html=render_markdown(SAMPLE_GUIDELINES),
        status=Campaign.Status.OPEN,
        overlap=len(SAMPLE_RATERS),
        created_by=admin,
    )
    prompts = prompts_import(
        campaign=campaign, file_name="prompts.jsonl", data=(DEMO_DIR / "prompts.jsonl").read_bytes()
    )
    rows = [json.loads(line) for line in (DEMO_DIR / "candidates.jsonl").read_text().splitlines()]
    answers = "".join(
        json.dumps({"prompt_id": r["prompt_id"], "model": r["model"], "response": r["text"]}) + "\n"
        for r in rows
    )
    responses = responses_import(
        campaign=campaign, file_name="answers.jsonl", data=answers.encode()
    )
    if getattr(prompts, "errors", None) or getattr(responses, "errors", None):
        raise RuntimeError(
            f"the demo sample failed to import: {prompts.errors or responses.errors}"
        )
    pairs_build(campaign=campaign)

    # Each model's first answer to a prompt is the good one (demo_data/README.md); the sample raters
    # prefer it, and otherwise the longer answer, but not always: each vote and its time on task are
    # drawn from a hash of rater and pair, so the sample has disagreement, ties and "both bad", and
    # is the same on every run. (Votes are dated up to 48 s after their lease was served.)
    votes = 0
    for username in SAMPLE_RATERS:
        rater, _ = User.objects.get_or_create(username=username, defaults={"role": User.Role.RATER})
        rater.set_unusable_password()
        rater.save(update_fields=["password"])
        Enrollment.objects.create(campaign=campaign, rater=rater)
        while (lease := assignment_next(campaign=campaign, rater=rater)) is not None:
            choice, seconds = _sample_vote(lease.pair.candidate_a, lease.pair.candidate_b, username)
            judgment_record(
                assignment=lease,
                rater=rater,
                choice=choice,
                idempotency_key=uuid.uuid4().hex,
                campaign=campaign,
                now=lease.created_at + timedelta(seconds=seconds),  # a plausible time on task
            )
            votes += 1
    campaign.status = Campaign.Status.CLOSED
    campaign.save(update_fields=["status"])
    return campaign, votes


def _sample_vote(a: Candidate, b: Candidate, rater: str) -> tuple[str, float]:
    if a.sample_index != b.sample_index:
        better = "a" if a.sample_index < b.sample_index else "b"
    else:
        better = "a" if len(a.text) >= len(b.text) else "b"
    worse = "b" if better == "a" else "a"
    digest = hashlib.sha256(f"{rater}:{a.pk}:{b.pk}".encode()).digest()
    roll, seconds = digest[0] / 256, 8 + digest[1] / 256 * 40
    if roll < 0.72:
        return better, seconds
    if roll < 0.86:
        return worse, seconds
    return ("tie" if roll < 0.95 else "both_bad"), seconds
