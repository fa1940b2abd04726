"""Bad API tokens are throttled per client address (annotate/api/authentication.py): 429 with
Retry-After once LOGIN_FAILURE_LIMIT bad tokens came from one address, for every token from there,
while other addresses and, after the lock, the same one work as before."""

from __future__ import annotations

from datetime import timedelta

from axes.models import AccessAttempt
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

ATTACKER = "203.0.113.7"
URL = "/api/campaigns/"


def _get(token: str, ip: str = ATTACKER):
    client = APIClient(REMOTE_ADDR=ip)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client.get(URL)


def test_bad_tokens_get_429_with_retry_after_then_even_a_good_one_does(admin_user):
    good = Token.objects.create(user=admin_user).key
    statuses = [_get(f"{i:040x}").status_code for i in range(5)]
    assert statuses == [401, 401, 401, 401, 429]
    response = _get(good)
    assert response.status_code == 429
    assert response["Retry-After"] == "900"
    assert "Too many bad API tokens" in response.json()["detail"]


def test_another_address_is_not_throttled(admin_user):
    good = Token.objects.create(user=admin_user).key
    for i in range(6):
        _get(f"{i:040x}")
    assert _get(good, ip="198.51.100.20").status_code == 200


def test_a_good_token_works_again_after_the_lock(admin_user):
    good = Token.objects.create(user=admin_user).key
    for i in range(5):
        _get(f"{i:040x}")
    assert _get(good).status_code == 429
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=15, seconds=1))
    assert _get(good).status_code == 200


def test_good_tokens_and_requests_without_one_are_not_counted(admin_user):
    good = Token.objects.create(user=admin_user).key
    for _ in range(10):
        assert _get(good).status_code == 200
    for _ in range(10):
        assert APIClient(REMOTE_ADDR=ATTACKER).get(URL).status_code in (401, 403)
    assert not AccessAttempt.objects.exists()


def test_token_failures_do_not_lock_a_users_password_login(admin_user):
    """The token counter is a pseudo-user per address; a user's login from there is separate."""
    admin_user.set_password("right")
    admin_user.save()
    for i in range(5):
        _get(f"{i:040x}")
    client = APIClient(REMOTE_ADDR=ATTACKER)
    response = client.post("/login/", {"username": admin_user.username, "password": "right"})
    assert response.status_code == 302
    assert AccessAttempt.objects.get().username == "<api token>"


def test_a_malformed_header_counts_as_a_bad_token(admin_user):
    client = APIClient(REMOTE_ADDR=ATTACKER)
    client.credentials(HTTP_AUTHORIZATION="Token two parts")
    assert client.get(URL).status_code == 401
    assert AccessAttempt.objects.get().failures_since_start == 1
