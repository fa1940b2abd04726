"""Prolific's side of a participant's session: returned, timed-out and rejected submissions.

With ``PROLIFIC_API_TOKEN`` set, the workers' keeper (annotate/work/workers.py) enqueues
``prolific_poll_task`` about once per ``PROLIFIC_POLL_SECONDS`` across all workers (a WorkLease
picks one). The task lists each polled study's submissions —
``GET {PROLIFIC_API_URL}/api/v1/studies/<study id>/submissions/`` with ``Authorization: Token
<token>``, answering ``{"results": [{"id", "participant_id", "status", ...}], ...}`` — and ends the
session of every working participant whose submission is RETURNED, TIMED-OUT or REJECTED: their
leases go back to the pool and they cannot submit again. No transaction is held across the call.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

import httpx
from django.conf import settings

from annotate.models import CrowdSettings, Participant
from annotate.services.participants import participants_return

log = logging.getLogger(__name__)

ENDED = {"RETURNED", "TIMED-OUT", "REJECTED"}
MAX_PAGES = 200
TIMEOUT_SECONDS = 20.0


class ProlificError(Exception):
    pass


@dataclass
class PollReport:
    studies: int = 0
    released: int = 0
    errors: list[str] = field(default_factory=list)


def _ended_participants(*, study_id: str, token: str, base_url: str) -> dict[str, str]:
    """participant id -> status, for the study's submissions that ended without completing."""
    url = f"{base_url.rstrip('/')}/api/v1/studies/{study_id}/submissions/"
    host = urlsplit(base_url).netloc
    ended: dict[str, str] = {}
    with httpx.Client(timeout=TIMEOUT_SECONDS, follow_redirects=False) as client:
        for _ in range(MAX_PAGES):
            response = client.get(url, headers={"Authorization": f"Token {token}"})
            if response.status_code != 200:
                raise ProlificError(
                    f"Prolific answered {response.status_code} for study {study_id}"
                )
            try:
                body = response.json()
                rows = body["results"]
            except (ValueError, KeyError, TypeError):
                raise ProlificError(
                    f"Prolific's answer for study {study_id} is not a list"
                ) from None
            for row in rows if isinstance(rows, list) else []:
                if not isinstance(row, dict):
                    continue
                status = str(row.get("status", "")).upper()
                pid = row.get("participant_id") or row.get("participant")
                if status in ENDED and isinstance(pid, str):
                    ended[pid] = status
            following = ((body.get("_links") or {}).get("next") or {}).get("href")
            if not following:
                break
            following = urljoin(url, following)
            if urlsplit(following).netloc != host:
                break  # never follow a link off Prolific's own API host
            url = following
    return ended


def prolific_poll() -> PollReport:
    """Poll every enabled campaign's Prolific study that still has working participants."""
    report = PollReport()
    token = settings.PROLIFIC_API_TOKEN
    if not token:
        return report
    crowds = CrowdSettings.objects.select_related("campaign").filter(enabled=True)
    for crowd in crowds:
        studies = set(
            Participant.objects.filter(
                campaign=crowd.campaign,
                platform=Participant.Platform.PROLIFIC,
                status=Participant.Status.WORKING,
            )
            .exclude(study_id="")
            .values_list("study_id", flat=True)
        )
        if crowd.prolific_study_id:
            studies &= {crowd.prolific_study_id}
        for study_id in sorted(studies):
            report.studies += 1
            try:
                ended = _ended_participants(
                    study_id=study_id, token=token, base_url=settings.PROLIFIC_API_URL
                )
            except (ProlificError, httpx.HTTPError) as exc:
                log.warning("prolific poll: %s", exc)
                report.errors.append(str(exc))
                continue
            for status in sorted(set(ended.values())):
                ids = [pid for pid, s in ended.items() if s == status]
                report.released += participants_return(
                    campaign=crowd.campaign, external_ids=ids, reason=f"Prolific: {status}"
                )
    return report
