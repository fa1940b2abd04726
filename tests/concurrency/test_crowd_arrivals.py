"""64 participants arriving at once from one study link: 64 accounts, each enrolled once; the same
Prolific id arriving many times at once: one account. Through the real entry view, each arrival on
its own thread and PostgreSQL connection."""

from __future__ import annotations

import threading

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse

from annotate.models import Enrollment, Participant, User
from tests.fakes.crowd import crowd_campaign, prolific_id

pytestmark = pytest.mark.django_db(transaction=True)


def _arrive_all(pids: list[str]) -> tuple[list[int], list[str]]:
    url = reverse("annotate:crowd-prolific", args=["study"])
    barrier = threading.Barrier(len(pids))
    statuses: list[int] = []
    errors: list[str] = []

    def arrive(pid: str) -> None:
        try:
            client = Client()
            barrier.wait(timeout=30)
            response = client.get(
                url, {"PROLIFIC_PID": pid, "STUDY_ID": "a" * 24, "SESSION_ID": prolific_id()}
            )
            statuses.append(response.status_code)
        except BaseException as exc:  # noqa: BLE001 - reported to the test
            errors.append(repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=arrive, args=(pid,)) for pid in pids]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return statuses, errors


def test_it_gives_64_simultaneous_arrivals_64_accounts_each_enrolled_once():
    campaign, *_ = crowd_campaign()
    pids = [prolific_id() for _ in range(64)]
    statuses, errors = _arrive_all(pids)
    assert errors == []
    assert statuses == [302] * 64
    assert Participant.objects.filter(campaign=campaign).count() == 64
    assert set(Participant.objects.values_list("external_id", flat=True)) == set(pids)
    assert User.objects.filter(participant__campaign=campaign).count() == 64
    assert Enrollment.objects.filter(campaign=campaign).count() == 64


def test_it_gives_one_id_arriving_16_times_at_once_one_account():
    campaign, *_ = crowd_campaign()
    pid = prolific_id()
    statuses, errors = _arrive_all([pid] * 16)
    assert errors == []
    assert statuses == [302] * 16
    assert Participant.objects.filter(campaign=campaign).count() == 1
    assert User.objects.filter(username__startswith="crowd-").count() == 1
    assert Enrollment.objects.filter(campaign=campaign).count() == 1
