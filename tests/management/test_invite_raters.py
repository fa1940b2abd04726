"""manage.py invite_raters: the page's rules for the CSV and the count, the links as CSV."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from annotate.models import Enrollment, Invitation, User

pytestmark = pytest.mark.django_db
BASE = "https://rate.example.org"


def _run(*args) -> str:
    out = io.StringIO()
    call_command("invite_raters", *args, stdout=out)
    return out.getvalue()


def test_it_invites_a_csv_and_prints_the_links(campaign, tmp_path):
    path = tmp_path / "raters.csv"
    path.write_text("name,email\n이서연,seoyeon@example.org\n", encoding="utf-8")
    rows = list(
        csv.DictReader(io.StringIO(_run("helpfulness", "--csv", str(path), "--base-url", BASE)))
    )
    assert rows[0]["name"] == "이서연" and rows[0]["link"].startswith(f"{BASE}/invite/")
    user = User.objects.get(email="seoyeon@example.org")
    assert Enrollment.objects.filter(campaign=campaign, rater=user).exists()
    client = Client()
    link = rows[0]["link"].removeprefix(BASE)
    assert client.post(link).status_code == 302
    assert client.post(link).status_code == 410


def test_it_makes_anonymous_accounts_into_a_file(campaign, tmp_path):
    out = tmp_path / "links.csv"
    message = _run("helpfulness", "--anonymous", "3", "--base-url", BASE, "--out", str(out))
    assert "Invited 3" in message
    assert len(list(csv.DictReader(out.open(encoding="utf-8")))) == 3
    assert Invitation.objects.filter(kind="anonymous").count() == 3


@pytest.mark.parametrize(
    "content, words",
    [
        (b"name,email\nA,a@example.org\nB,bad\n", "Line 3"),
        (b"email,notes\na@example.org,x\n", "unknown column"),
        (b"email\n\xff@example.org\n", "not UTF-8"),
        (b"name,email\nA\x00,a@example.org\n", "NUL"),
    ],
)
def test_it_refuses_a_bad_csv_and_stores_nothing(campaign, tmp_path, content, words):
    path = tmp_path / "raters.csv"
    path.write_bytes(content)
    with pytest.raises(CommandError, match=words):
        _run("helpfulness", "--csv", str(path), "--base-url", BASE)
    assert not Invitation.objects.exists() and not User.objects.filter(email="a@example.org")


@pytest.mark.parametrize(
    "args, words",
    [
        (["nope", "--anonymous", "2", "--base-url", BASE], "No campaign"),
        (["helpfulness", "--anonymous", "0", "--base-url", BASE], "from 1 to"),
        (["helpfulness", "--anonymous", "2", "--base-url", "ftp://x"], "base-url"),
        (["helpfulness", "--csv", "/no/such/file.csv", "--base-url", BASE], "Cannot read"),
    ],
)
def test_it_refuses_bad_arguments(campaign, args, words):
    with pytest.raises(CommandError, match=words):
        _run(*args)
    assert not Invitation.objects.exists()
