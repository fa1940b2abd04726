"""Admin use cases: campaigns, their status, generators, raters and enrollments.

Every function raises ``CampaignError`` with a message fit to show the admin when the request
cannot be honoured; views show it as a message, the API as a 400.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.text import slugify

from annotate.markdown import render_markdown
from annotate.models import Campaign, Candidate, Enrollment, Generator, User
from annotate.protocols import protocol_for
from annotate.services.pairing import BuildReport


class CampaignError(Exception):
    """A request the admin made that cannot be done; the message says why.

    ``invalid``: the input itself is wrong (the API answers 400); otherwise the request conflicts
    with the campaign's current state — a name taken, no pairs yet, not enrolled (409).
    """

    def __init__(self, message: str, *, invalid: bool = False) -> None:
        super().__init__(message)
        self.invalid = invalid


# Settings an admin may set on create/update (everything else is managed by the system).
CAMPAIGN_FIELDS = (
    "title",
    "guidelines",
    "scale",
    "allow_both_bad",
    "aspects",
    "rationale",
    "rationale_min_length",
    "allow_rewrite",
    "min_read_ms_per_1k_chars",
    "overlap",
    "lease_seconds",
    "ordering",
    "protocol",
    "ranking_k",
    "rating_k",
    "rating_min",
    "rating_max",
    "rating_low_label",
    "rating_high_label",
    "step_split",
    "step_pattern",
    "step_source",
    "step_stop_at_wrong",
    "pairing",
    "max_pairs_per_prompt",
    "self_id_policy",
    "gold_rate",
    "gold_min_accuracy",
    "gold_min_answered",
    "judge_mode",
)


def _slug_unique(title: str) -> str:
    base = slugify(title)[:70] or "campaign"
    slug, n = base, 2
    while Campaign.objects.filter(slug=slug).exists():
        slug, n = f"{base}-{n}", n + 1
    return slug


def _apply(campaign: Campaign, values: dict[str, Any]) -> None:
    unknown = set(values) - set(CAMPAIGN_FIELDS)
    if unknown:
        raise CampaignError(
            f"Unknown campaign settings: {', '.join(sorted(unknown))}", invalid=True
        )
    for name, value in values.items():
        setattr(campaign, name, value)
    campaign.guidelines_html = render_markdown(campaign.guidelines)
    try:
        campaign.full_clean(exclude=["slug", "created_by"])
    except ValidationError as exc:
        raise CampaignError(_validation_text(exc), invalid=True) from None


def _validation_text(exc: ValidationError) -> str:
    if hasattr(exc, "message_dict"):
        return "; ".join(
            " ".join(v) if k == "__all__" else f"{k}: {' '.join(v)}"
            for k, v in exc.message_dict.items()
        )
    return " ".join(exc.messages)


def campaign_create(*, actor: User, title: str, **settings: Any) -> Campaign:
    """A new DRAFT campaign; the slug comes from the title and is made unique."""
    if not title.strip():
        raise CampaignError("A campaign needs a title.", invalid=True)
    campaign = Campaign(created_by=actor)
    _apply(campaign, {"title": title.strip(), **settings})
    for _ in range(3):  # two admins creating the same title at once: retry with the next slug
        campaign.slug = _slug_unique(campaign.title)
        try:
            with transaction.atomic():
                campaign.save()
            return campaign
        except IntegrityError:
            continue
    raise CampaignError("Could not find a free address for this title; try another title.")


# The steps are split once, when the traces are built: the rule cannot change afterwards.
_STEP_FIXED = ("step_split", "step_pattern", "step_source")


def campaign_update(*, campaign: Campaign, **settings: Any) -> Campaign:
    """Change settings. The slug stays (links and exports keep working)."""
    fixed = [
        name
        for name in ("overlap", "protocol", "ranking_k", "rating_k", *_STEP_FIXED)
        if name in settings and settings[name] != getattr(campaign, name)
    ]
    if fixed and protocol_for(campaign).units_exist(campaign=campaign):
        # Pair.needed (CandidateSet.needed, a set's size) is fixed at creation; changing it
        # afterwards would silently mean two things.
        unit = protocol_for(campaign).unit
        names = {
            "overlap": "Overlap",
            "protocol": "The protocol",
            "ranking_k": "K",
            "rating_k": "Responses per unit",
        }
        names.update(dict.fromkeys(_STEP_FIXED, "The step split"))
        raise CampaignError(f"{names[fixed[0]]} cannot change once {unit}s exist.")
    rescore = (
        settings.get("ordering") == Campaign.Ordering.ACTIVE
        and campaign.ordering != Campaign.Ordering.ACTIVE
    )
    _apply(campaign, settings)
    campaign.save()
    if rescore:
        from annotate.tasks import priorities_refresh_task

        transaction.on_commit(lambda: priorities_refresh_task.delay(campaign_id=campaign.pk))
    return campaign


# Which statuses each action may start from.
_TRANSITIONS = {
    "open": {Campaign.Status.DRAFT, Campaign.Status.GENERATING, Campaign.Status.PAUSED},
    "pause": {Campaign.Status.OPEN},
    "close": {
        Campaign.Status.DRAFT,
        Campaign.Status.GENERATING,
        Campaign.Status.OPEN,
        Campaign.Status.PAUSED,
    },
}
_TARGET = {
    "open": Campaign.Status.OPEN,
    "pause": Campaign.Status.PAUSED,
    "close": Campaign.Status.CLOSED,
}


def campaign_set_status(*, campaign: Campaign, action: str) -> BuildReport | None:
    """Open, pause or close. Opening builds the missing pairs first and refuses with none.

    Returns the pairing report when opening (so the caller can say how many pairs were made).
    """
    if action not in _TRANSITIONS:
        raise CampaignError(f"Unknown action {action!r}; use open, pause or close.", invalid=True)
    if campaign.status not in _TRANSITIONS[action]:
        done = {"open": "opened", "pause": "paused", "close": "closed"}[action]
        raise CampaignError(f"A {campaign.get_status_display().lower()} campaign cannot be {done}.")
    report = None
    if action == "open":
        protocol = protocol_for(campaign)
        report = protocol.units_build(campaign=campaign)
        if not protocol.units_exist(campaign=campaign):
            raise CampaignError(_no_pairs_reason(campaign, report))
    campaign.status = _TARGET[action]
    campaign.save(update_fields=["status"])
    return report


def _no_pairs_reason(campaign: Campaign, report: BuildReport) -> str:
    if campaign.is_live:
        why = "a live campaign needs two generators that can reply (not imported ones)"
    elif not campaign.prompts.exists():
        why = "it has no prompts yet; import some"
    elif not Candidate.objects.filter(
        prompt__campaign=campaign, status=Candidate.Status.DONE
    ).exists():
        why = "no responses are ready yet; add generators and run generation, or import responses"
    elif campaign.is_steps:
        why = "no response has text to split into steps (or every one has too many)"
    elif report.eligible and campaign.pairing == Campaign.Pairing.WITHIN_GENERATOR:
        why = "within-generator pairing needs at least two samples per generator on a prompt"
    elif report.eligible and campaign.pairing == Campaign.Pairing.CROSS_GENERATOR:
        why = "cross-generator pairing needs responses from two generators on the same prompt"
    elif campaign.is_ranking:
        why = "no prompt has two different responses to rank"
    elif campaign.is_rating:
        why = "no response is ready to rate"
    else:
        why = "no prompt has two different, pairable responses"
    hidden = f" ({report.flagged} hidden for naming a model)" if report.flagged else ""
    unit = protocol_for(campaign).unit
    return f"Cannot open: no {unit}s can be made — {why}.{hidden}"


# --- generators ----------------------------------------------------------------------------------

_NAME_LENGTH = Generator._meta.get_field("name").max_length


def generator_create(
    *,
    campaign: Campaign,
    name: str,
    provider: str,
    model: str,
    endpoint: str = "",
    base_url: str = "",
    params: dict[str, Any] | None = None,
    system_prompt: str = "",
    samples_per_prompt: int = 1,
) -> Generator:
    """Add a generator. ``endpoint`` names one the operator configured (its key never leaves the
    environment, nor goes to any other host); a typed ``base_url`` gets no key. The model's
    ``clean()`` checks the pair (annotate/endpoints.py)."""
    if params is not None and not isinstance(params, dict):
        raise CampaignError("Parameters must be a JSON object.", invalid=True)
    generator = Generator(
        campaign=campaign,
        name=(name or model.strip()[:_NAME_LENGTH]).strip(),  # a long model name is cut to fit
        provider=provider,
        model=model.strip(),
        endpoint=endpoint.strip(),
        base_url=base_url.strip(),
        params=params or {},
        system_prompt=system_prompt,
        samples_per_prompt=samples_per_prompt,
    )
    if campaign.generators.filter(name=generator.name).exists():
        raise CampaignError(f"A generator named {generator.name!r} already exists here.")
    try:
        generator.full_clean()
    except ValidationError as exc:
        raise CampaignError(_validation_text(exc), invalid=True) from None
    generator.save()
    return generator


def generator_delete(*, generator: Generator) -> None:
    """Delete a generator that has produced nothing yet; with candidates it would take votes along."""
    count = generator.candidates.exclude(status=Candidate.Status.PENDING).count()
    if count:
        raise CampaignError(
            f"{generator.name} has {count} responses; it cannot be deleted without losing them."
        )
    generator.delete()


# --- raters and enrollment -----------------------------------------------------------------------


def rater_create(*, username: str, password: str, role: str = User.Role.RATER) -> User:
    username = username.strip()
    if role not in User.Role.values:
        raise CampaignError(f"Unknown role {role!r}.", invalid=True)
    if User.objects.filter(username__iexact=username).exists():
        raise CampaignError(f"A user named {username!r} already exists.")
    user = User(username=username, role=role)
    try:
        user.full_clean(exclude=["password"])
        validate_password(password, user)
    except ValidationError as exc:
        raise CampaignError(_validation_text(exc), invalid=True) from None
    user.set_password(password)
    user.save()
    return user


def enrollment_add(*, campaign: Campaign, usernames: list[str]) -> list[Enrollment]:
    """Enroll users by username; all or none. Already-enrolled users are left as they are."""
    wanted = list(dict.fromkeys(u.strip() for u in usernames if u.strip()))
    if not wanted:
        raise CampaignError("Give at least one username.", invalid=True)
    users = {u.username: u for u in User.objects.filter(username__in=wanted, is_active=True)}
    missing = [u for u in wanted if u not in users]
    if missing:
        raise CampaignError(f"No such user: {', '.join(missing)}.")
    with transaction.atomic():
        enrollments = [Enrollment(campaign=campaign, rater=users[u]) for u in wanted]
        Enrollment.objects.bulk_create(enrollments, ignore_conflicts=True)
    return list(campaign.enrollments.filter(rater__username__in=wanted).select_related("rater"))


def enrollment_remove(*, campaign: Campaign, username: str) -> None:
    """Unenroll a rater. Their votes stay; their open lease simply expires."""
    deleted, _ = campaign.enrollments.filter(rater__username=username).delete()
    if not deleted:
        raise CampaignError(f"{username} is not enrolled in this campaign.")
