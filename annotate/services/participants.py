"""Crowd participants: arrival from a platform, consent, training, the finish, active time.

The participant's state machine is drawn in annotate/models/participants.py. The enrollment is the
claim engine's gate: it is created *paused* ("consent pending"), unpaused when the participant may
work (consent given, training passed or none), and paused again when they finish, so a finished
participant can never be leased a pair whatever URL they ask for (the claim's SQL checks it).

Arrival is race-free: the unique constraint (campaign, platform, external id) decides, the insert
runs in a savepoint, and the loser of a race reads the winner's row.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count, F, Q
from django.utils import timezone
from django.utils.translation import gettext

from annotate.markdown import render_markdown
from annotate.models import (
    Assignment,
    Campaign,
    CrowdSettings,
    Enrollment,
    Judgment,
    Pair,
    Participant,
    SetAssignment,
    TrainingAnswer,
    TrainingUnit,
    User,
)
from annotate.services.assignment import assignment_release
from annotate.services.sets import ranking_gold_accuracy, set_assignment_release

S = Participant.Status
FINAL = (S.COMPLETED, S.SCREENED_OUT, S.RETURNED, S.FAILED_ATTENTION)
CONSENT_PENDING = "Consent pending"


class CrowdError(Exception):
    """Input from a platform or an admin that cannot be used; the message says why (a 400)."""


def idle_seconds() -> float:
    return float(getattr(settings, "CROWD_IDLE_SECONDS", 60))


# --- settings -----------------------------------------------------------------------------------

CROWD_FIELDS = (
    "enabled",
    "completion_code",
    "screened_out_code",
    "failed_attention_code",
    "returned_code",
    "completion_url",
    "units_per_participant",
    "attention_min_accuracy",
    "attention_min_answered",
    "consent",
    "training_units",
    "training_pass",
    "return_hosts",
    "prolific_study_id",
)


def crowd_settings_get(*, campaign: Campaign) -> CrowdSettings:
    """The campaign's crowd settings, created (disabled) on first use."""
    found, _ = CrowdSettings.objects.get_or_create(campaign=campaign)
    return found


def crowd_settings_update(*, campaign: Campaign, **values) -> CrowdSettings:
    """Set crowd settings: the model's validators and clean() decide (page and API alike)."""
    unknown = set(values) - set(CROWD_FIELDS)
    if unknown:
        raise CrowdError(
            gettext("Unknown settings: %(names)s.") % {"names": ", ".join(sorted(unknown))}
        )
    crowd = crowd_settings_get(campaign=campaign)
    for name, value in values.items():
        setattr(crowd, name, value)
    crowd.full_clean()
    crowd.consent_html = render_markdown(crowd.consent)
    crowd.save()
    return crowd


# --- arrival ------------------------------------------------------------------------------------


def _username(campaign: Campaign, platform: str, external_id: str) -> str:
    """A stable account name that does not show the platform id (it goes into no export either)."""
    digest = hashlib.sha256(f"{campaign.pk}:{platform}:{external_id}".encode()).hexdigest()[:20]
    return f"crowd-{campaign.pk}-{platform}-{digest}"


def participant_arrive(
    *,
    campaign: Campaign,
    platform: str,
    external_id: str,
    study_id: str = "",
    session_id: str = "",
    assignment_id: str = "",
    hit_id: str = "",
    submit_to: str = "",
    return_url: str = "",
) -> Participant:
    """The participant for this platform id: created with a password-less account and a paused
    enrollment on first arrival, the same row afterwards (its session/assignment refreshed while
    working)."""
    fresh = {
        "study_id": study_id,
        "session_id": session_id,
        "assignment_id": assignment_id,
        "hit_id": hit_id,
        "submit_to": submit_to,
        "return_url": return_url,
    }
    found = Participant.objects.filter(
        campaign=campaign, platform=platform, external_id=external_id
    ).first()
    if found is None:
        try:
            with transaction.atomic():
                user = User(username=_username(campaign, platform, external_id))
                user.set_unusable_password()
                user.save()
                found = Participant.objects.create(
                    campaign=campaign,
                    user=user,
                    platform=platform,
                    external_id=external_id,
                    last_seen_at=timezone.now(),
                    **fresh,
                )
                Enrollment.objects.create(
                    campaign=campaign, rater=user, paused=True, paused_reason=CONSENT_PENDING
                )
            return found
        except IntegrityError:
            # Someone else created this participant a moment ago: theirs it is.
            found = Participant.objects.get(
                campaign=campaign, platform=platform, external_id=external_id
            )
    changed = {k: v for k, v in fresh.items() if v and getattr(found, k) != v}
    if changed and found.is_working:
        Participant.objects.filter(pk=found.pk).update(**changed)
        for k, v in changed.items():
            setattr(found, k, v)
    return found


def participant_for_user(*, user: User, campaign: Campaign | None = None) -> Participant | None:
    qs = Participant.objects.select_related("campaign", "campaign__crowd").filter(user=user)
    if campaign is not None:
        qs = qs.filter(campaign=campaign)
    return qs.first()


# --- consent and training -----------------------------------------------------------------------


def _unpause(participant: Participant) -> None:
    Enrollment.objects.filter(
        campaign_id=participant.campaign_id, rater_id=participant.user_id, paused=True
    ).update(paused=False, paused_reason="")


def training_units(*, campaign: Campaign) -> list[TrainingUnit]:
    return list(TrainingUnit.objects.filter(campaign=campaign).order_by("id"))


def _training_needed(crowd: CrowdSettings) -> int:
    if not crowd.training_units:
        return 0
    return min(crowd.training_units, TrainingUnit.objects.filter(campaign=crowd.campaign).count())


def participant_consent(*, participant: Participant, accept: bool) -> Participant:
    if not participant.is_working:
        return participant
    if not accept:
        return participant_finish(
            participant=participant, status=S.RETURNED, reason="Declined consent"
        )
    crowd = participant.campaign.crowd
    now = timezone.now()
    needs_training = _training_needed(crowd) > 0
    Participant.objects.filter(pk=participant.pk, consented_at__isnull=True).update(
        consented_at=now, training_done=not needs_training
    )
    participant.refresh_from_db()
    if participant.training_done:
        _unpause(participant)
    return participant


def training_next(*, participant: Participant) -> TrainingUnit | None:
    """The next training unit this participant has not answered (None: training over)."""
    crowd = participant.campaign.crowd
    if participant.training_done or participant.training_answered >= _training_needed(crowd):
        return None
    answered = TrainingAnswer.objects.filter(participant=participant).values("unit_id")
    return (
        TrainingUnit.objects.select_related(
            "pair__prompt", "pair__candidate_a", "pair__candidate_b"
        )
        .filter(campaign=participant.campaign)
        .exclude(pk__in=answered)
        .order_by("id")
        .first()
    )


@dataclass
class TrainingFeedback:
    correct: bool
    expected: str  # Pair.Gold value
    explanation: str
    finished: bool


def training_answer(*, participant: Participant, unit_id: int, choice: str) -> TrainingFeedback:
    """Record a training answer (once per unit) and say whether it was right; the last one decides
    pass (work begins) or fail (screened out)."""
    if choice not in Pair.Gold.values:
        raise CrowdError(gettext("Choose one of the answers."))
    unit = (
        TrainingUnit.objects.select_related("pair")
        .filter(pk=unit_id, campaign_id=participant.campaign_id)
        .first()
    )
    if unit is None or not participant.is_working or participant.training_done:
        raise CrowdError(gettext("This training question is not yours to answer."))
    correct = choice == unit.pair.gold_answer
    with transaction.atomic():
        _, created = TrainingAnswer.objects.get_or_create(
            participant=participant, unit=unit, defaults={"choice": choice, "correct": correct}
        )
        if created:
            Participant.objects.filter(pk=participant.pk).update(
                training_answered=F("training_answered") + 1,
                training_correct=F("training_correct") + (1 if correct else 0),
            )
    participant.refresh_from_db()
    finished = training_decide(participant=participant)
    return TrainingFeedback(
        correct=correct,
        expected=unit.pair.gold_answer,
        explanation=unit.explanation,
        finished=finished,
    )


def training_decide(*, participant: Participant) -> bool:
    """Once every training unit due is answered: pass (work begins) or fail (screened out).
    True when training is over. Also settles a participant whose due count shrank (an admin
    lowered ``training_units``), who would otherwise wait for a question that never comes."""
    crowd = participant.campaign.crowd
    if participant.training_answered < _training_needed(crowd):
        return False
    if participant.training_done or not participant.is_working:
        return True
    answered = participant.training_answered
    score = participant.training_correct / answered if answered else 1.0
    if score + 1e-9 >= crowd.training_pass:
        Participant.objects.filter(pk=participant.pk).update(training_done=True)
        participant.training_done = True
        _unpause(participant)
    else:
        participant_finish(
            participant=participant,
            status=S.SCREENED_OUT,
            reason=f"Training {participant.training_correct}/{answered}",
        )
    return True


def training_unit_add(*, campaign: Campaign, pair_id: int, explanation: str = "") -> TrainingUnit:
    """Make a gold pair a training unit: it leaves the pool (``needed = 0``) if no one holds it."""
    pair = Pair.objects.filter(pk=pair_id, campaign=campaign).first()
    if pair is None:
        raise CrowdError(gettext("No such pair in this campaign."))
    unit = TrainingUnit(campaign=campaign, pair=pair, explanation=explanation)
    try:
        unit.full_clean()
    except ValidationError as exc:
        raise CrowdError(" ".join(exc.messages)) from None
    with transaction.atomic():
        taken = Pair.objects.filter(pk=pair.pk, assigned=0).update(needed=0)
        if not taken:
            raise CrowdError(
                gettext("This pair already has votes or leases; pick another gold pair.")
            )
        unit.save()
    return unit


# --- the finish ---------------------------------------------------------------------------------


def participant_finish(*, participant: Participant, status: str, reason: str = "") -> Participant:
    """End a working participant's session (once: guarded on status), pause their enrollment and
    give their live leases back to the pool."""
    now = timezone.now()
    with transaction.atomic():
        ended = Participant.objects.filter(pk=participant.pk, status=S.WORKING).update(
            status=status, status_reason=reason[:300], finished_at=now
        )
        if ended:
            Enrollment.objects.filter(
                campaign_id=participant.campaign_id, rater_id=participant.user_id
            ).update(paused=True, paused_reason=f"Finished: {status}"[:300])
            live = Assignment.objects.filter(
                campaign_id=participant.campaign_id,
                rater_id=participant.user_id,
                status=Assignment.Status.ACTIVE,
            ).values_list("pk", flat=True)
            for lease_id in list(live):
                assignment_release(campaign=participant.campaign, assignment_id=lease_id)
            # A ranking campaign leases sets: those go back too.
            live_sets = SetAssignment.objects.filter(
                campaign_id=participant.campaign_id,
                rater_id=participant.user_id,
                status=SetAssignment.Status.ACTIVE,
            ).values_list("pk", flat=True)
            for lease_id in list(live_sets):
                set_assignment_release(campaign=participant.campaign, lease_id=lease_id)
    participant.refresh_from_db()
    return participant


def gold_stats(*, campaign: Campaign, rater_id: int) -> tuple[int, int]:
    """(correct, answered) on the campaign's gold units: first (blind) votes on gold pairs, or
    rankings of gold sets (ranking campaigns: right when the best response is one of gold's best)."""
    if campaign.is_ranking:
        return ranking_gold_accuracy(campaign=campaign, rater_id=rater_id).get(rater_id, (0, 0))
    if campaign.is_rating:
        from annotate.services.sets import rating_gold_accuracy

        return rating_gold_accuracy(campaign=campaign, rater_id=rater_id).get(rater_id, (0, 0))
    stats = Judgment.objects.filter(
        campaign_id=campaign.pk,
        rater_id=rater_id,
        source=Judgment.Source.HUMAN,
        revises__isnull=True,
        pair__gold_answer__gt="",
    ).aggregate(answered=Count("id"), correct=Count("id", filter=Q(choice=F("pair__gold_answer"))))
    return stats["correct"], stats["answered"]


def participant_check(
    *, participant: Participant, votes: int | None = None, out_of_work: bool = False
) -> Participant:
    """After a vote (or when no pair is left): attention, then quota, then out of work."""
    if not participant.is_working or not participant.training_done:
        return participant
    crowd = participant.campaign.crowd
    if crowd.attention_min_accuracy > 0:
        correct, answered = gold_stats(campaign=participant.campaign, rater_id=participant.user_id)
        if answered >= crowd.attention_min_answered and (
            correct / answered < crowd.attention_min_accuracy
        ):
            return participant_finish(
                participant=participant,
                status=S.FAILED_ATTENTION,
                reason=f"Gold accuracy {correct}/{answered}",
            )
    if votes is None:
        votes = (
            Enrollment.objects.filter(
                campaign_id=participant.campaign_id, rater_id=participant.user_id
            )
            .values_list("votes", flat=True)
            .first()
            or 0
        )
    if votes >= crowd.units_per_participant:
        return participant_finish(participant=participant, status=S.COMPLETED, reason="Quota")
    if out_of_work:
        enrollment = Enrollment.objects.filter(
            campaign_id=participant.campaign_id, rater_id=participant.user_id
        ).first()
        if enrollment is not None and enrollment.paused:
            # Paused by the campaign's own gold rule (judgment_gold_check).
            return participant_finish(
                participant=participant,
                status=S.FAILED_ATTENTION,
                reason=enrollment.paused_reason,
            )
        return participant_finish(participant=participant, status=S.COMPLETED, reason="Out of work")
    return participant


def finish_code(participant: Participant) -> str:
    crowd = participant.campaign.crowd
    return {
        S.COMPLETED: crowd.completion_code,
        S.SCREENED_OUT: crowd.screened_out_code,
        S.FAILED_ATTENTION: crowd.failed_attention_code,
        S.RETURNED: crowd.returned_code,
    }.get(participant.status, "")


# --- active time --------------------------------------------------------------------------------


def participant_seen(*, participant_id: int, now: datetime | None = None) -> None:
    """A sign of life (heartbeat, vote, page): the time since the last one counts as active when
    it is under CROWD_IDLE_SECONDS. Guarded on the last value read, so two beats at once count once."""
    now = now or timezone.now()
    last = (
        Participant.objects.filter(pk=participant_id, status=S.WORKING)
        .values_list("last_seen_at", flat=True)
        .first()
    )
    qs = Participant.objects.filter(pk=participant_id, status=S.WORKING, last_seen_at=last)
    gap = (now - last).total_seconds() if last else None
    if gap is not None and 0 < gap <= idle_seconds():
        qs.update(active_seconds=F("active_seconds") + gap, last_seen_at=now)
    elif gap is None or gap > 0:
        qs.update(last_seen_at=now)


# --- platform-driven ends (Prolific returns, time-outs, rejections) -----------------------------


def participants_return(*, campaign: Campaign, external_ids: list[str], reason: str) -> int:
    """Mark working participants as returned (their leases go back to the pool). Returns how many."""
    n = 0
    for participant in Participant.objects.filter(
        campaign=campaign, status=S.WORKING, external_id__in=external_ids
    ).select_related("campaign"):
        participant_finish(participant=participant, status=S.RETURNED, reason=reason)
        n += 1
    return n


# --- pseudonyms ---------------------------------------------------------------------------------


def participant_pseudonym(*, participant: Participant, salt: str) -> str:
    """A salted, keyed pseudonym of the platform id: stable within a campaign, not reversible."""
    key = f"{settings.SECRET_KEY}:{salt}".encode()
    msg = f"{participant.platform}:{participant.external_id}".encode()
    return "p_" + hmac.new(key, msg, hashlib.sha256).hexdigest()[:16]
