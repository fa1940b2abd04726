"""Login throttling (annotate/lockout.py): the login page and the back office's login lock a
username from one address after LOGIN_FAILURE_LIMIT failures, say so and for how long, and let the
same user in from elsewhere, other users from the same address, and everyone once the lock is over."""

from __future__ import annotations

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.test import Client
from django.utils import timezone

from annotate.models import User
from tests import factories

LOGIN_PAGES = ["/login/", "/backoffice/login/"]
ATTACKER = "203.0.113.7"


@pytest.fixture
def staff(db):
    return factories.UserFactory(
        username="alice", role=User.Role.ADMIN, is_staff=True, is_superuser=True, password="right"
    )


def _attempt(url: str, password: str, *, ip: str = ATTACKER, username: str = "alice"):
    client = Client(REMOTE_ADDR=ip)
    return client, client.post(url, {"username": username, "password": password, "next": "/"})


def _logged_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def _fail(url: str, times: int, **kwargs) -> None:
    for _ in range(times):
        client, response = _attempt(url, "wrong", **kwargs)
        assert not _logged_in(client)


@pytest.mark.parametrize("url", LOGIN_PAGES)
def test_thirty_wrong_passwords_lock_out_the_right_one(url, staff):
    for i in range(30):
        _, response = _attempt(url, f"wrong-{i}")
        if response.status_code == 429:
            break
    assert i == 4  # the fifth failure locks (LOGIN_FAILURE_LIMIT)
    client, response = _attempt(url, "right")
    assert response.status_code == 429
    assert not _logged_in(client)
    assert response["Retry-After"] == "900"
    page = response.content.decode()
    assert "Locked out for 15 minutes" in page
    assert "alice" in page
    assert "right" not in page.split("alice", 1)[1].split("</strong>")[0]


@pytest.mark.parametrize("url", LOGIN_PAGES)
def test_the_same_user_from_another_address_and_another_user_from_this_one_still_log_in(url, staff):
    factories.UserFactory(username="bob", is_staff=True, password="bobs")
    _fail(url, 5)
    client, response = _attempt(url, "right", ip="198.51.100.20")
    assert response.status_code == 302 and _logged_in(client)
    client, response = _attempt(url, "bobs", username="bob")
    assert response.status_code == 302 and _logged_in(client)


@pytest.mark.parametrize("url", LOGIN_PAGES)
def test_the_right_password_works_again_once_the_lock_is_over(url, staff):
    _fail(url, 5)
    assert _attempt(url, "right")[1].status_code == 429
    # Fifteen minutes (and a second) after the last attempt:
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=15, seconds=1))
    client, response = _attempt(url, "right")
    assert response.status_code == 302 and _logged_in(client)


def test_an_attempt_during_the_lock_starts_it_again(staff):
    _fail("/login/", 5)
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=14))
    assert _attempt("/login/", "right")[1].status_code == 429  # restarts the 15 minutes
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=14))
    assert _attempt("/login/", "right")[1].status_code == 429


def test_a_success_before_the_limit_clears_the_count(staff):
    _fail("/login/", 4)
    client, response = _attempt("/login/", "right")
    assert response.status_code == 302 and _logged_in(client)
    _fail("/login/", 4)
    client, response = _attempt("/login/", "right")
    assert response.status_code == 302 and _logged_in(client)


def test_a_wrong_password_below_the_limit_gets_the_form_again(staff):
    _, response = _attempt("/login/", "wrong")
    assert response.status_code == 200
    assert "didn't match" in response.content.decode()


def test_the_count_is_kept_in_the_database_without_the_password(staff):
    _fail("/login/", 2)
    attempt = AccessAttempt.objects.get()
    assert (attempt.username, attempt.ip_address, attempt.failures_since_start) == (
        "alice",
        ATTACKER,
        2,
    )
    assert "wrong" not in attempt.post_data


def test_behind_trusted_proxies_the_address_is_the_one_they_saw(staff, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    for spoofed in range(5):  # the left-most entries are the client's own invention
        client = Client(REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR=f"1.1.1.{spoofed}, {ATTACKER}")
        client.post("/login/", {"username": "alice", "password": "wrong"})
    assert AccessAttempt.objects.get().ip_address == ATTACKER
    client = Client(REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR=ATTACKER)
    assert client.post("/login/", {"username": "alice", "password": "right"}).status_code == 429
    client = Client(REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="198.51.100.20")
    assert client.post("/login/", {"username": "alice", "password": "right"}).status_code == 302


def test_logout_is_post_only(rater_client):
    assert rater_client.get("/logout/").status_code == 405
    assert rater_client.post("/logout/").status_code == 302
