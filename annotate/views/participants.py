"""Crowd participants' pages: the platform entries (Prolific, MTurk, a signed link), consent,
training with feedback, and the finish that sends them back to their platform with a code.

Entries are GETs because platforms send people with a link; what they create is idempotent (the
same platform id is the same participant). Every page after the entry needs the participant's own
session. Only the MTurk pages may be framed, by MTurk's origins (``_mturk_frame``); every other
response keeps ``X-Frame-Options: DENY`` and ``frame-ancestors 'none'``.

Both workbenches (views/rate.py for pairs, views/rank.py for sets) run the crowd checks of
views/crowd_hooks.py, so a participant works like any rater but is sent to the finish when their
session ends.
"""

from __future__ import annotations

import re
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.core import signing
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.csp import CSP
from django.utils.translation import gettext
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.http import require_GET, require_http_methods

from annotate.models import Campaign, CrowdSettings, Pair, Participant
from annotate.models.participants import PROLIFIC_ID, url_problem
from annotate.services.participants import (
    CrowdError,
    finish_code,
    participant_arrive,
    participant_consent,
    participant_for_user,
    training_answer,
    training_decide,
    training_next,
)
from annotate.sides import left_and_right

SESSION_KEY = "crowd_participant"
QUOTA_KEY = "crowd_quota"
JOIN_SALT = "annotate.crowd.join"
START_SALT = "annotate.crowd.start"
MTURK_PREVIEW = "ASSIGNMENT_ID_NOT_AVAILABLE"
_MTURK_ID = re.compile(r"[A-Za-z0-9]{1,64}\Z")
_EXTERNAL_ID = re.compile(r"[A-Za-z0-9_.@:-]{1,64}\Z")


def _crowd(slug: str) -> CrowdSettings:
    """The campaign's crowd settings when its platform entries are on; 404 otherwise."""
    crowd = (
        CrowdSettings.objects.select_related("campaign")
        .filter(campaign__slug=slug, enabled=True)
        .first()
    )
    if crowd is None:
        raise Http404("No such study")
    return crowd


def _bad_link(request: HttpRequest, message: str, status: int = 400) -> HttpResponse:
    return render(request, "annotate/crowd_error.html", {"message": message}, status=status)


def _enter(request: HttpRequest, participant: Participant) -> HttpResponse:
    """Log the participant's account in (no password: the platform vouched for them) and go on."""
    login(request, participant.user, backend="django.contrib.auth.backends.ModelBackend")
    request.session[SESSION_KEY] = participant.pk
    request.session[QUOTA_KEY] = participant.campaign.crowd.units_per_participant
    return redirect("annotate:crowd-next", slug=participant.campaign.slug)


# --- entries ------------------------------------------------------------------------------------


@require_GET
def crowd_prolific(request: HttpRequest, slug: str) -> HttpResponse:
    """/p/<slug>/prolific/?PROLIFIC_PID=…&STUDY_ID=…&SESSION_ID=… (Prolific ids: 24 hex chars)."""
    crowd = _crowd(slug)
    ids = {k: request.GET.get(k, "") for k in ("PROLIFIC_PID", "STUDY_ID", "SESSION_ID")}
    bad = [k for k, v in ids.items() if not PROLIFIC_ID.match(v)]
    if bad:
        return _bad_link(
            request,
            gettext(
                "This study link is missing or has a malformed %(names)s (Prolific ids are "
                "24 hexadecimal characters). Please open the study again from Prolific."
            )
            % {"names": ", ".join(bad)},
        )
    if crowd.prolific_study_id and ids["STUDY_ID"] != crowd.prolific_study_id:
        return _bad_link(request, gettext("This link belongs to another Prolific study."))
    participant = participant_arrive(
        campaign=crowd.campaign,
        platform=Participant.Platform.PROLIFIC,
        external_id=ids["PROLIFIC_PID"],
        study_id=ids["STUDY_ID"],
        session_id=ids["SESSION_ID"],
    )
    return _enter(request, participant)


def mturk_submit_origins() -> list[str]:
    return list(getattr(settings, "CROWD_MTURK_SUBMIT_ORIGINS", []))


def _submit_origin(value: str) -> str | None:
    """turkSubmitTo as an origin we allow (MTurk's, or loopback in tests), else None."""
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        return None
    if parts.path.strip("/") or parts.query or parts.username or not parts.hostname:
        return None
    origin = f"{parts.scheme}://{parts.hostname}" + (f":{port}" if port else "")
    if origin in mturk_submit_origins():
        return origin
    loopback = parts.hostname in ("127.0.0.1", "localhost") and parts.scheme == "http"
    if loopback and getattr(settings, "CROWD_ALLOW_LOOPBACK", False):
        return origin
    return None


def _mturk_frame(response: HttpResponse) -> HttpResponse:
    """This response (and only this kind) may be framed, by MTurk's origins."""
    policy = dict(settings.SECURE_CSP)
    policy["frame-ancestors"] = list(getattr(settings, "CROWD_MTURK_FRAME_ANCESTORS", []))
    response._csp_config = policy
    return response


def _submit_allowed(response: HttpResponse, origin: str) -> HttpResponse:
    """The finish page's form may post to MTurk (form-action); nothing else changes."""
    policy = dict(settings.SECURE_CSP)
    policy["form-action"] = [CSP.SELF, origin]
    response._csp_config = policy
    return response


def _sample_pair(campaign: Campaign) -> Pair | None:
    """A pair to show in an MTurk preview: no gold, no training unit, nothing claimed."""
    return (
        Pair.objects.select_related("prompt", "candidate_a", "candidate_b")
        .filter(campaign=campaign, gold_answer="", needed__gt=0)
        .order_by("id")
        .first()
    )


@xframe_options_exempt
@require_GET
def crowd_mturk(request: HttpRequest, slug: str) -> HttpResponse:
    """The ExternalQuestion page, framed by MTurk. Preview: a sample pair, nothing claimed.
    Accepted: the participant is recorded and opens the task in its own tab (a framed page gets no
    first-party cookie, so the work cannot happen inside the frame)."""
    crowd = _crowd(slug)
    g = request.GET
    assignment = g.get("assignmentId", "")
    if assignment == MTURK_PREVIEW:
        pair = _sample_pair(crowd.campaign)
        left = right = None
        if pair is not None:
            left, right = left_and_right(
                pair.candidate_a.html, pair.candidate_b.html, left_is_a=True
            )
        ctx = {"campaign": crowd.campaign, "pair": pair, "left": left, "right": right}
        return _mturk_frame(render(request, "annotate/crowd_mturk_preview.html", ctx))
    bad = [k for k in ("assignmentId", "hitId", "workerId") if not _MTURK_ID.match(g.get(k, ""))]
    if bad:
        return _mturk_frame(
            _bad_link(
                request,
                gettext("This HIT's %(names)s is missing or malformed.")
                % {"names": ", ".join(bad)},
            )
        )
    origin = _submit_origin(g.get("turkSubmitTo", ""))
    if origin is None:
        return _mturk_frame(_bad_link(request, "turkSubmitTo is not an MTurk address."))
    participant = participant_arrive(
        campaign=crowd.campaign,
        platform=Participant.Platform.MTURK,
        external_id=g["workerId"],
        assignment_id=assignment,
        hit_id=g["hitId"],
        submit_to=origin,
    )
    token = signing.dumps(participant.pk, salt=START_SALT)
    ctx = {
        "campaign": crowd.campaign,
        "participant": participant,
        "start_url": reverse("annotate:crowd-start", args=[slug, token]),
    }
    return _mturk_frame(render(request, "annotate/crowd_mturk.html", ctx))


@require_GET
def crowd_start(request: HttpRequest, slug: str, token: str) -> HttpResponse:
    """The MTurk page's "Start" link: a signed participant id, opened in a tab of its own."""
    crowd = _crowd(slug)
    try:
        pk = signing.loads(token, salt=START_SALT, max_age=7 * 24 * 3600)
    except signing.BadSignature:
        return _bad_link(
            request, gettext("This start link is not valid (or is more than a week old).")
        )
    participant = (
        Participant.objects.select_related("user", "campaign__crowd")
        .filter(pk=pk, campaign=crowd.campaign)
        .first()
        if isinstance(pk, int)
        else None
    )
    if participant is None:
        return _bad_link(request, gettext("This start link is not for this study."))
    return _enter(request, participant)


def join_link(*, crowd: CrowdSettings, external_id: str, return_url: str) -> str:
    """A signed join path for one participant (admins make these on the crowd page)."""
    problem = join_problem(crowd=crowd, external_id=external_id, return_url=return_url)
    if problem:
        raise CrowdError(problem)
    token = signing.dumps(
        {"c": crowd.campaign_id, "id": external_id, "r": return_url}, salt=JOIN_SALT, compress=True
    )
    return reverse("annotate:crowd-join", args=[crowd.campaign.slug, token])


def join_problem(*, crowd: CrowdSettings, external_id: str, return_url: str) -> str | None:
    if not _EXTERNAL_ID.match(external_id or ""):
        return gettext("A participant id is 1 to 64 letters, digits or . _ @ : -")
    problem = url_problem(return_url or "")
    if problem:
        return gettext("Return URL: %(problem)s") % {"problem": problem}
    host = (urlsplit(return_url).netloc or "").lower()
    if host not in crowd.return_hosts:
        return gettext("Return URL: %(host)s is not one of this campaign's return hosts.") % {
            "host": host
        }
    return None


@require_GET
def crowd_join(request: HttpRequest, slug: str, token: str) -> HttpResponse:
    crowd = _crowd(slug)
    try:
        data = signing.loads(token, salt=JOIN_SALT)
    except signing.BadSignature:
        return _bad_link(
            request, gettext("This link is not valid: it was changed or not made here.")
        )
    if not isinstance(data, dict) or data.get("c") != crowd.campaign_id:
        return _bad_link(request, gettext("This link is for another study."))
    external_id, return_url = str(data.get("id", "")), str(data.get("r", ""))
    problem = join_problem(crowd=crowd, external_id=external_id, return_url=return_url)
    if problem:
        return _bad_link(request, problem)
    participant = participant_arrive(
        campaign=crowd.campaign,
        platform=Participant.Platform.LINK,
        external_id=external_id,
        return_url=return_url,
    )
    return _enter(request, participant)


# --- the participant's way through --------------------------------------------------------------


def _mine(request: HttpRequest, slug: str) -> Participant:
    """The signed-in participant of this campaign, or 404 (a rater, or another study's)."""
    campaign = Campaign.objects.filter(slug=slug).first()
    participant = participant_for_user(user=request.user, campaign=campaign) if campaign else None
    if participant is None:
        raise Http404("No such study")
    return participant


def next_url(participant: Participant) -> str:
    slug = participant.campaign.slug
    if not participant.is_working:
        return reverse("annotate:crowd-done", args=[slug])
    if participant.consented_at is None:
        return reverse("annotate:crowd-consent", args=[slug])
    if not participant.training_done:
        return reverse("annotate:crowd-training", args=[slug])
    if participant.campaign.is_ranking:
        return reverse("annotate:rank", args=[slug])
    return reverse("annotate:rate", args=[slug])


@login_required
@require_GET
def crowd_next(request: HttpRequest, slug: str) -> HttpResponse:
    return redirect(next_url(_mine(request, slug)))


@login_required
@require_http_methods(["GET", "POST"])
def crowd_consent(request: HttpRequest, slug: str) -> HttpResponse:
    participant = _mine(request, slug)
    if not participant.is_working or participant.consented_at is not None:
        return redirect(next_url(participant))
    if request.method == "POST":
        answer = request.POST.get("consent", "")
        if answer not in ("yes", "no"):
            return _bad_link(request, gettext("Choose whether you consent."))
        participant = participant_consent(participant=participant, accept=answer == "yes")
        return redirect(next_url(participant))
    crowd = participant.campaign.crowd
    ctx = {"campaign": participant.campaign, "crowd": crowd, "participant": participant}
    return render(request, "annotate/crowd_consent.html", ctx)


@login_required
@require_http_methods(["GET", "POST"])
def crowd_training(request: HttpRequest, slug: str) -> HttpResponse:
    """One training pair at a time; after each answer, the expected answer and the explanation."""
    participant = _mine(request, slug)
    if request.method == "POST":
        try:
            unit_id = int(request.POST.get("unit", ""))
        except ValueError:
            return _bad_link(request, gettext("This answer is not for a training question."))
        try:
            feedback = training_answer(
                participant=participant, unit_id=unit_id, choice=request.POST.get("choice", "")
            )
        except CrowdError as exc:
            return _bad_link(request, str(exc))
        participant.refresh_from_db()
        ctx = {
            "campaign": participant.campaign,
            "feedback": feedback,
            "expected": Pair.Gold(feedback.expected).label,
            "next_url": next_url(participant),
            "participant": participant,
            "total": participant.campaign.crowd.training_units,
        }
        return render(request, "annotate/crowd_training.html", ctx)
    unit = training_next(participant=participant)
    if unit is None and participant.is_working and participant.consented_at is not None:
        training_decide(participant=participant)  # nothing left to ask: pass or screen out now
        participant.refresh_from_db()
    if unit is None or not participant.is_working or participant.consented_at is None:
        return redirect(next_url(participant))
    pair = unit.pair
    choices = [
        c for c in Pair.Gold.choices if c[0] != "both_bad" or participant.campaign.allow_both_bad
    ]
    ctx = {
        "campaign": participant.campaign,
        "unit": unit,
        "pair": pair,
        "left_html": pair.candidate_a.html,
        "right_html": pair.candidate_b.html,
        "choices": choices,
        "number": participant.training_answered + 1,
        "total": min(
            participant.campaign.crowd.training_units, participant.campaign.training_units.count()
        ),
        "participant": participant,
    }
    return render(request, "annotate/crowd_training.html", ctx)


@login_required
@require_GET
def crowd_done(request: HttpRequest, slug: str) -> HttpResponse:
    """The finish: Prolific and signed links are redirected with the code; MTurk gets the form
    that posts the assignment to externalSubmit."""
    participant = _mine(request, slug)
    if participant.is_working:
        return redirect(next_url(participant))
    crowd = participant.campaign.crowd
    code = finish_code(participant)
    if participant.platform == Participant.Platform.PROLIFIC and code:
        return HttpResponseRedirect(crowd.completion_link(code))
    if participant.platform == Participant.Platform.LINK and participant.return_url:
        sep = "&" if "?" in participant.return_url else "?"
        query = urlencode({"status": participant.status, "code": code})
        return HttpResponseRedirect(f"{participant.return_url}{sep}{query}")
    ctx = {"campaign": participant.campaign, "participant": participant, "code": code}
    if participant.platform == Participant.Platform.MTURK:
        origin = _submit_origin(participant.submit_to)
        ctx["submit_url"] = f"{origin}/mturk/externalSubmit" if origin else ""
        response = render(request, "annotate/crowd_done.html", ctx)
        return _submit_allowed(response, origin) if origin else response
    return render(request, "annotate/crowd_done.html", ctx)
