"""The crowd checks both workbenches run (views/rate.py for pairs, views/rank.py for sets), so a
participant from a platform gets the same session whatever the campaign's protocol:

* ``crowd_gate`` on the page's GET: consent and training first, a finished participant to the
  finish; a sign of life for the active time;
* ``crowd_context``: the session's quota ("12 of 40") and how often the page beats;
* ``crowd_after_vote`` after each vote, ``crowd_out_of_work`` when no unit is left: the session may
  end there (quota reached, attention failed, campaign out of work) and the participant is sent on;
* ``crowd_beat`` on the page's heartbeat: active time (idle gaps not counted).

Every other rater pays one dictionary lookup in the session: nothing is queried without the crowd
session key (set only at a platform entry).
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django_htmx.http import HttpResponseClientRedirect

from annotate.models import Campaign, Participant
from annotate.services.participants import participant_check, participant_for_user, participant_seen
from annotate.views.participants import QUOTA_KEY, SESSION_KEY, next_url

# A participant's page beats this often while they are active (their active time is the sum).
BEAT_SECONDS = 20


def crowd_participant(request: HttpRequest, campaign: Campaign) -> Participant | None:
    """The participant behind this session (None for every other rater, without a query)."""
    if SESSION_KEY not in request.session:
        return None
    return participant_for_user(user=request.user, campaign=campaign)


def crowd_leave(request: HttpRequest, participant: Participant) -> HttpResponse:
    """Off the workbench, to wherever the participant belongs (the finish, consent, training)."""
    url = next_url(participant)
    if request.htmx:
        return HttpResponseClientRedirect(url)
    return redirect(url)


def crowd_context(request: HttpRequest) -> dict:
    """What a workbench template shows a participant: the quota, and the beat (0: the page's own)."""
    quota = request.session.get(QUOTA_KEY)
    return {"quota": quota, "beat_seconds": BEAT_SECONDS if quota else 0}


def crowd_gate(
    request: HttpRequest, campaign: Campaign
) -> tuple[Participant | None, HttpResponse | None]:
    """On a workbench's GET: (the participant or None, a response sending them elsewhere or None)."""
    participant = crowd_participant(request, campaign)
    if participant is None:
        return None, None
    # Consent and training come first; a finished participant is sent to the finish.
    if not (participant.is_working and participant.training_done):
        return participant, crowd_leave(request, participant)
    participant_seen(participant_id=participant.pk)
    return participant, None


def _send_on(
    request: HttpRequest, participant: Participant, *, votes: int | None, out_of_work: bool
) -> HttpResponse | None:
    participant = participant_check(participant=participant, votes=votes, out_of_work=out_of_work)
    if participant.is_working:
        return None
    return crowd_leave(request, participant)


def crowd_out_of_work(
    request: HttpRequest, campaign: Campaign, participant: Participant | None = None
) -> HttpResponse | None:
    """No unit is left for this rater: a participant's session ends (completed, or failed
    attention when the campaign's own gold rule paused them). None: not a participant, or the
    campaign is closed (then the page says so, and the session waits)."""
    if not campaign.is_open or SESSION_KEY not in request.session:
        return None
    participant = participant or crowd_participant(request, campaign)
    if participant is None:
        return None
    return _send_on(request, participant, votes=None, out_of_work=True)


def crowd_after_vote(
    request: HttpRequest, campaign: Campaign, *, votes: int | None, out_of_work: bool
) -> HttpResponse | None:
    """After a vote: a response sending the participant on if their session ended here (quota
    reached, attention failed, or no unit left), else None (keep working). ``votes``: the rater's
    count after the vote when the service knows it (None: read it)."""
    participant = crowd_participant(request, campaign)
    if participant is None:
        return None
    participant_seen(participant_id=participant.pk)
    return _send_on(request, participant, votes=votes, out_of_work=out_of_work and campaign.is_open)


def crowd_beat(request: HttpRequest) -> None:
    """A heartbeat: a participant's sign of life (their active time)."""
    if SESSION_KEY in request.session:
        participant_seen(participant_id=request.session[SESSION_KEY])
