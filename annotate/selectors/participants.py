"""Reads about crowd participants: the campaign's participant table and its approvals CSV."""

from __future__ import annotations

import csv
import io

from django.db.models import QuerySet

from annotate.models import Campaign, CrowdSettings, Enrollment, Participant
from annotate.selectors.campaigns import rater_gold_accuracy

REPORT_COLUMNS = [
    "participant_id",
    "pseudonym",
    "platform",
    "study_id",
    "session_id",
    "assignment_id",
    "hit_id",
    "status",
    "active_minutes",
    "votes",
    "gold_answered",
    "gold_accuracy",
    "training_score",
    "started_at",
    "finished_at",
]


def campaign_participants(*, campaign: Campaign) -> QuerySet[Participant]:
    return Participant.objects.filter(campaign=campaign).order_by("id")


def participants_report(*, campaign: Campaign, raw_ids: bool = True) -> list[dict]:
    """One row per participant: time, votes, gold accuracy, training score, status. With
    ``raw_ids`` off, the platform id is the campaign's salted pseudonym instead."""
    from annotate.services.participants import participant_pseudonym

    crowd = CrowdSettings.objects.filter(campaign=campaign).first()
    salt = crowd.pseudonym_salt if crowd else ""
    if campaign.is_ranking:
        from annotate.services.sets import ranking_gold_accuracy

        gold = ranking_gold_accuracy(campaign=campaign)
    elif campaign.is_rating:
        from annotate.services.sets import rating_gold_accuracy

        gold = rating_gold_accuracy(campaign=campaign)
    else:
        gold = rater_gold_accuracy(campaign_id=campaign.pk)
    votes = dict(Enrollment.objects.filter(campaign=campaign).values_list("rater_id", "votes"))
    rows = []
    for p in campaign_participants(campaign=campaign):
        correct, answered = gold.get(p.user_id, (0, 0))
        score = p.training_score
        pseudonym = participant_pseudonym(participant=p, salt=salt)
        rows.append(
            {
                "participant_id": p.external_id if raw_ids else pseudonym,
                "pseudonym": pseudonym,  # the participant's name in the exports
                "platform": p.platform,
                "study_id": p.study_id if raw_ids else "",
                "session_id": p.session_id if raw_ids else "",
                "assignment_id": p.assignment_id if raw_ids else "",
                "hit_id": p.hit_id,
                "status": p.status,
                "active_minutes": round(p.active_seconds / 60, 2),
                "votes": votes.get(p.user_id, 0),
                "gold_answered": answered,
                "gold_accuracy": round(correct / answered, 3) if answered else None,
                "training_score": round(score, 3) if score is not None else None,
                "started_at": p.created_at.isoformat(),
                "finished_at": p.finished_at.isoformat() if p.finished_at else "",
            }
        )
    return rows


def participants_csv(*, campaign: Campaign, raw_ids: bool = True) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=REPORT_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in participants_report(campaign=campaign, raw_ids=raw_ids):
        writer.writerow({k: "" if v is None else v for k, v in row.items()})
    return out.getvalue()


def participant_names(*, campaign: Campaign, raw_ids: bool) -> dict[int, str]:
    """user id -> platform id (``raw_ids``) or the campaign's salted pseudonym of it."""
    from annotate.services.participants import participant_pseudonym

    crowd = CrowdSettings.objects.filter(campaign=campaign).first()
    if crowd is None:
        return {}
    return {
        p.user_id: p.external_id
        if raw_ids
        else participant_pseudonym(participant=p, salt=crowd.pseudonym_salt)
        for p in campaign_participants(campaign=campaign)
    }
