"""Returned, timed-out and rejected Prolific submissions end the participant's session and give
their leases back, polled from a fake Prolific API on 127.0.0.1 (same path, header and shape)."""

from __future__ import annotations

import pytest

from annotate.models import Assignment, Participant
from annotate.services.assignment import assignment_next
from annotate.services.participants import participant_arrive, participant_consent
from annotate.services.prolific_poll import prolific_poll
from annotate.tasks import prolific_poll_task
from annotate.work import workers
from tests.fakes.crowd import CaptureServer, crowd_campaign, prolific_id

pytestmark = pytest.mark.django_db
STUDY = "5f" * 12
TOKEN = "prolific-test-token"


@pytest.fixture
def prolific(settings):
    server = CaptureServer(token=TOKEN).start()
    settings.PROLIFIC_API_TOKEN = TOKEN
    settings.PROLIFIC_API_URL = server.url
    yield server
    server.stop()


def _working(campaign, pid):
    p = participant_arrive(
        campaign=campaign, platform="prolific", external_id=pid, study_id=STUDY, session_id=pid
    )
    participant_consent(participant=p, accept=True)
    lease = assignment_next(campaign=campaign, rater=p.user)
    assert lease is not None
    return p


def test_it_releases_returned_timed_out_and_rejected_participants(prolific):
    campaign, *_ = crowd_campaign(pairs=6)
    ids = [prolific_id() for _ in range(5)]
    people = [_working(campaign, pid) for pid in ids]
    statuses = ["RETURNED", "TIMED-OUT", "REJECTED", "ACTIVE", "AWAITING REVIEW"]
    prolific.submissions[STUDY] = [
        {"id": prolific_id(), "participant_id": pid, "status": status}
        for pid, status in zip(ids, statuses, strict=True)
    ]
    report = prolific_poll()
    assert report.errors == [] and report.released == 3
    for person, status in zip(people, statuses, strict=True):
        person.refresh_from_db()
        live = Assignment.objects.filter(rater=person.user, status="active").exists()
        if status in ("RETURNED", "TIMED-OUT", "REJECTED"):
            assert person.status == "returned" and person.status_reason == f"Prolific: {status}"
            assert not live  # the pair went back to the pool
            assert assignment_next(campaign=campaign, rater=person.user) is None
        else:
            assert person.status == "working" and live
    request = prolific.requests[-1]
    assert request["path"] == f"/api/v1/studies/{STUDY}/submissions/"
    assert request["headers"]["Authorization"] == f"Token {TOKEN}"


def test_a_refused_token_changes_nothing(prolific, settings):
    campaign, *_ = crowd_campaign()
    pid = prolific_id()
    _working(campaign, pid)
    prolific.submissions[STUDY] = [{"participant_id": pid, "status": "RETURNED"}]
    settings.PROLIFIC_API_TOKEN = "wrong"
    report = prolific_poll()
    assert report.released == 0 and "401" in report.errors[0]
    assert Participant.objects.get().status == "working"


def test_without_a_token_it_asks_nothing(prolific, settings):
    campaign, *_ = crowd_campaign()
    _working(campaign, prolific_id())
    settings.PROLIFIC_API_TOKEN = ""
    assert prolific_poll().studies == 0
    assert prolific.requests == []


def test_the_task_runs_the_poll(prolific):
    campaign, *_ = crowd_campaign()
    pid = prolific_id()
    _working(campaign, pid)
    prolific.submissions[STUDY] = [{"participant_id": pid, "status": "TIMED-OUT"}]
    prolific_poll_task.apply()
    assert Participant.objects.get().status == "returned"


def test_one_worker_enqueues_the_poll_once_per_period(settings, monkeypatch):
    settings.PROLIFIC_API_TOKEN = TOKEN
    settings.PROLIFIC_POLL_SECONDS = 3600
    sent = []
    monkeypatch.setattr(prolific_poll_task, "delay", lambda: sent.append(1))
    for _ in range(3):
        workers._maybe_poll_prolific(workers._Serving(pid=1, sweep=True))
    assert sent == [1]
    settings.PROLIFIC_API_TOKEN = ""
    workers._maybe_poll_prolific(workers._Serving(pid=1, sweep=True))
    assert sent == [1]
