"""Bulk invitations through the API: the page's rules (every bad line by number, nothing stored),
unknown keys refused, the links usable once, admins only."""

from __future__ import annotations

import csv
import io

import pytest
from django.test import Client
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from annotate.models import Enrollment, Invitation, User

pytestmark = pytest.mark.django_db
BASE = "/api/campaigns/helpfulness/invitations"


def _api(user) -> APIClient:
    client = APIClient()
    token, _ = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def test_it_invites_a_csv_and_the_links_work_once(admin_user, campaign):
    api = _api(admin_user)
    body = {"csv": "name,email\n김민지,minji@example.org\nPark,park@example.org\n"}
    response = api.post(f"{BASE}/csv/", body, format="json")
    assert response.status_code == 201, response.content
    rows = response.json()
    assert [r["name"] for r in rows] == ["김민지", "Park"]
    assert rows[0]["kind"] == "email" and rows[0]["link"].startswith("http://testserver/invite/")
    assert Enrollment.objects.filter(campaign=campaign).count() == 2
    link = "/" + rows[1]["link"].split("/", 3)[3]
    client = Client()
    assert client.post(link).status_code == 302
    assert User.objects.get(pk=client.session["_auth_user_id"]).email == "park@example.org"
    assert Client().post(link).status_code == 410
    listed = api.get(f"{BASE}/links.csv")
    assert listed.status_code == 200 and listed["Content-Type"].startswith("text/csv")
    assert [r["email"] for r in csv.DictReader(io.StringIO(listed.content.decode()))] == [
        "minji@example.org"
    ]


def test_it_makes_anonymous_accounts(admin_user, campaign):
    response = _api(admin_user).post(f"{BASE}/anonymous/", {"count": 4}, format="json")
    assert response.status_code == 201
    assert len(response.json()) == 4 and {r["kind"] for r in response.json()} == {"anonymous"}
    assert Invitation.objects.filter(campaign=campaign, created_by=admin_user).count() == 4


@pytest.mark.parametrize(
    "body, words",
    [
        ({"csv": "name,email\nA,a@example.org\nB,nope\nC,\n"}, ["Line 3", "Line 4"]),
        ({"csv": "name,email\nA\x00,a@example.org\n"}, ["NUL"]),  # the JSON parser's guard
        ({"csv": "email,role\na@example.org,admin\n"}, ["unknown column"]),
    ],
)
def test_it_reports_bad_lines_and_stores_nothing(admin_user, campaign, body, words):
    response = _api(admin_user).post(f"{BASE}/csv/", body, format="json")
    assert response.status_code == 400, response.content
    text = " ".join(response.json().get("csv", [])) or response.content.decode()
    for w in words:
        assert w in text
    assert not Invitation.objects.exists() and not User.objects.filter(email="a@example.org")


@pytest.mark.parametrize(
    "path, body",
    [
        ("/csv/", {"csv": "email\na@example.org\n", "surprise": 1}),
        ("/csv/", {"csv": 12}),
        ("/csv/", {}),
        ("/anonymous/", {"count": 0}),
        ("/anonymous/", {"count": 1001}),
        ("/anonymous/", {"count": "two"}),
        ("/anonymous/", {"count": True}),
        ("/anonymous/", {"count": 2, "role": "admin"}),
    ],
)
def test_it_refuses_bad_bodies_with_a_400(admin_user, campaign, path, body):
    response = _api(admin_user).post(BASE + path, body, format="json")
    assert response.status_code == 400, response.content
    assert not Invitation.objects.exists()


@pytest.mark.parametrize(
    "method, path, body",
    [
        ("post", "/csv/", {"csv": "email\nx@example.org\n"}),
        ("post", "/anonymous/", {"count": 1}),
        ("get", "/links.csv", None),
    ],
)
def test_only_admins_invite(method, path, body, researcher, rater, outsider, campaign):
    def send(client):
        return getattr(client, method)(BASE + path, body, format="json")

    assert send(_api(researcher)).status_code == 403
    assert send(_api(rater)).status_code == 403
    assert send(_api(outsider)).status_code == 404
    assert send(APIClient()).status_code in (401, 403)
    assert not Invitation.objects.exists()
