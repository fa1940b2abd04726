"""Bulk invitations on the pages: a CSV of names and emails (every bad line reported by number,
nothing stored then), a count of anonymous accounts, the links CSV, the one-time link (a second
use gets 410, not a 500), and the persona matrix."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from annotate.models import Enrollment, Invitation, User
from annotate.services.invitations import invitation_token, invitations_anonymous_create
from tests import factories

pytestmark = pytest.mark.django_db


def _u(name, slug="helpfulness"):
    return reverse(f"annotate:{name}", args=[slug])


def _links(response) -> list[dict]:
    return list(csv.DictReader(io.StringIO(response.content.decode())))


def _path(link: str) -> str:
    return "/" + link.split("/", 3)[3]


def test_the_admin_invites_a_csv_and_downloads_the_links(admin_client, campaign):
    existing = factories.UserFactory(username="minji", email="Minji@Example.org")
    body = "name,email\nKim Minji,minji@example.org\n\nPark Jisoo,jisoo@example.org\n"
    response = admin_client.post(_u("invitations-csv"), {"text": body})
    assert response.status_code == 201
    assert b"jisoo@example.org" in response.content
    # Reused by email (case aside), and a new password-less rater for the other.
    assert Invitation.objects.get(user=existing).new_account is False
    new = User.objects.get(email="jisoo@example.org")
    assert new.first_name == "Park Jisoo" and new.role == "rater"
    assert not new.has_usable_password()
    assert set(
        Enrollment.objects.filter(campaign=campaign).values_list("rater__email", flat=True)
    ) == {
        "Minji@Example.org",
        "jisoo@example.org",
    }
    rows = _links(admin_client.get(_u("invitations-links")))
    assert [r["email"] for r in rows] == ["Minji@Example.org", "jisoo@example.org"]
    assert all("/invite/" in r["link"] for r in rows)
    assert admin_client.get(_u("invitations-links"))["Cache-Control"] == "no-store"


def test_the_csv_may_be_an_uploaded_file(admin_client, campaign):
    upload = SimpleUploadedFile("raters.csv", "\ufeffemail\nhana@example.org\n".encode())
    response = admin_client.post(_u("invitations-csv"), {"file": upload})
    assert response.status_code == 201
    assert User.objects.filter(email="hana@example.org").exists()


@pytest.mark.parametrize(
    "body, expected",
    [
        (
            "name,email\nA,a@example.org\nB,not-an-email\nC,c@example.org,extra\n",
            ["Line 3", "Line 4"],
        ),
        ("name,email,phone\nA,a@example.org,1\n", ["Line 1: unknown column"]),
        ("name\nA\n", ["email column"]),
        ("name,email\nA,a@example.org\nA2,A@example.org\n", ["Line 3", "already on line 2"]),
        ("name,email\nA\x00,a@example.org\n", ["NUL"]),  # the page's guard answers first
        ('name,email\n"A\nB,a@example.org\n', ["Line"]),
        ("name,email\n", ["no rater"]),
        ("name,email,email\na,a@example.org,b@example.org\n", ["named twice"]),
    ],
)
def test_a_bad_csv_is_refused_line_by_line_and_nothing_is_stored(
    admin_client, campaign, body, expected
):
    users = User.objects.count()
    response = admin_client.post(_u("invitations-csv"), {"text": body})
    assert response.status_code == 400
    page = response.content.decode()
    for words in expected:
        assert words in page
    assert User.objects.count() == users and not Invitation.objects.exists()


def test_a_file_that_is_not_utf8_is_a_400(admin_client, campaign):
    upload = SimpleUploadedFile("raters.csv", b"email\n\xff\xfe@example.org\n")
    response = admin_client.post(_u("invitations-csv"), {"file": upload})
    assert response.status_code == 400 and b"not UTF-8" in response.content


def test_the_form_wants_a_file_or_text_not_both(admin_client, campaign):
    upload = SimpleUploadedFile("raters.csv", b"email\na@example.org\n")
    both = admin_client.post(_u("invitations-csv"), {"file": upload, "text": "email\nb@x.org\n"})
    assert both.status_code == 400
    assert admin_client.post(_u("invitations-csv"), {}).status_code == 400


def test_a_disabled_or_ambiguous_account_is_a_bad_line(admin_client, campaign):
    factories.UserFactory(username="off", email="off@example.org", is_active=False)
    factories.UserFactory(username="twin1", email="twin@example.org")
    factories.UserFactory(username="twin2", email="TWIN@example.org")
    body = "email\nok@example.org\noff@example.org\ntwin@example.org\n"
    response = admin_client.post(_u("invitations-csv"), {"text": body})
    assert response.status_code == 400
    assert b"Line 3" in response.content and b"Line 4" in response.content
    assert not User.objects.filter(email="ok@example.org").exists()


@pytest.mark.parametrize("count", ["0", "-1", "1001", "many", ""])
def test_a_bad_count_is_a_400(admin_client, campaign, count):
    response = admin_client.post(_u("invitations-anonymous"), {"count": count})
    assert response.status_code == 400 and not Invitation.objects.exists()


def test_an_anonymous_link_signs_in_once_and_enrolls(admin_client, campaign):
    response = admin_client.post(_u("invitations-anonymous"), {"count": "3"})
    assert response.status_code == 201
    assert Invitation.objects.filter(kind="anonymous").count() == 3
    link = _path(_links(admin_client.get(_u("invitations-links")))[0]["link"])
    guest = Client()
    # GET only shows the page: a link preview does not use the link up.
    assert guest.get(link).status_code == 200
    assert guest.get(link).status_code == 200
    used = guest.post(link)
    assert used.status_code == 302 and used.url == _u("rate")
    user = User.objects.get(pk=guest.session["_auth_user_id"])
    assert user.username.startswith("guest-")
    Enrollment.objects.filter(rater=user).delete()  # unenrolled meanwhile: the link enrolls
    assert guest.get(_u("rate")).status_code == 404
    # A second use (by anyone) is a clear 410 page, and signs no one in.
    again = Client()
    second = again.post(link)
    assert second.status_code == 410 and b"already used" in second.content
    assert "_auth_user_id" not in again.session
    assert again.get(link).status_code == 410
    # The used link is no longer in the CSV of open links.
    assert len(_links(admin_client.get(_u("invitations-links")))) == 2


def test_the_link_enrolls_again_when_used(campaign):
    invitation = invitations_anonymous_create(campaign=campaign, count=1)[0]
    Enrollment.objects.filter(rater=invitation.user).delete()
    client = Client()
    client.post(reverse("annotate:invite", args=[invitation_token(invitation)]))
    assert Enrollment.objects.filter(campaign=campaign, rater=invitation.user).exists()
    assert client.get(_u("rate")).status_code == 200


def test_an_email_link_signs_in_and_offers_a_password(admin_client, campaign):
    admin_client.post(_u("invitations-csv"), {"text": "name,email\nKim,kim@example.org\n"})
    invitation = Invitation.objects.get()
    client = Client()
    response = client.post(reverse("annotate:invite", args=[invitation_token(invitation)]))
    assert response.url == reverse("annotate:invite-password") + "?campaign=helpfulness"
    page = client.get(response.url)
    assert page.status_code == 200
    short = client.post(response.url, {"new_password1": "a", "new_password2": "a"})
    assert short.status_code == 400
    done = client.post(
        response.url,
        {"new_password1": "Quiet-River-1988", "new_password2": "Quiet-River-1988"},
    )
    assert done.status_code == 302 and done.url == _u("rate")
    assert User.objects.get(email="kim@example.org").check_password("Quiet-River-1988")
    # With a password, the page is not for them any more.
    assert client.get(reverse("annotate:invite-password")).url == reverse("annotate:home")


def test_an_existing_account_is_never_signed_in_by_a_link(admin_client, campaign):
    owner = factories.UserFactory(username="owner", email="owner@example.org", role="admin")
    owner.set_password("Secret-Word-2024")
    owner.save()
    admin_client.post(_u("invitations-csv"), {"text": "email\nowner@example.org\n"})
    invitation = Invitation.objects.get(user=owner)
    client = Client()
    response = client.post(reverse("annotate:invite", args=[invitation_token(invitation)]))
    assert response.status_code == 302 and response.url.startswith(reverse("login"))
    assert "_auth_user_id" not in client.session


@pytest.mark.parametrize("token", ["nonsense", "MQ:1tXXXX:forged", "a" * 300, "%00"])
def test_a_forged_link_is_a_400(campaign, token):
    client = Client()
    assert client.get(reverse("annotate:invite", args=[token])).status_code == 400
    assert client.post(reverse("annotate:invite", args=[token])).status_code == 400


def test_an_expired_link_is_a_410(campaign):
    invitation = invitations_anonymous_create(campaign=campaign, count=1)[0]
    Invitation.objects.filter(pk=invitation.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    client = Client()
    link = reverse("annotate:invite", args=[invitation_token(invitation)])
    response = client.post(link)
    assert response.status_code == 410 and b"expired" in response.content
    assert "_auth_user_id" not in client.session


def test_a_link_of_a_deleted_invitation_is_a_404(campaign):
    invitation = invitations_anonymous_create(campaign=campaign, count=1)[0]
    token = invitation_token(invitation)
    invitation.delete()
    assert Client().post(reverse("annotate:invite", args=[token])).status_code == 404


@pytest.mark.parametrize(
    "name, method, data",
    [
        ("invitations", "get", None),
        ("invitations-links", "get", None),
        ("invitations-csv", "post", {"text": "email\nx@example.org\n"}),
        ("invitations-anonymous", "post", {"count": "2"}),
    ],
)
def test_only_admins_may_invite(
    name, method, data, campaign, researcher_client, rater_client, outsider_client, anon_client
):
    url = _u(name)
    send = lambda c: getattr(c, method)(url, data) if data else getattr(c, method)(url)  # noqa: E731
    assert send(researcher_client).status_code == 403
    assert send(rater_client).status_code == 403
    assert send(outsider_client).status_code == 404
    response = send(anon_client)
    assert response.status_code == 302 and response.url.startswith(reverse("login"))
    assert not Invitation.objects.exists()
    assert not User.objects.filter(email="x@example.org").exists()


def test_the_people_and_crowd_pages_link_to_invitations(admin_client, campaign):
    for page in ("campaign-detail", "crowd-admin"):
        assert _u("invitations").encode() in admin_client.get(_u(page)).content


def test_account_names_never_clash(admin_client, campaign):
    factories.UserFactory(username="kim@example.org", email="someone@else.org")
    body = "email\nkim@example.org\nkim!x@example.org\nkim#x@example.org\n"
    assert admin_client.post(_u("invitations-csv"), {"text": body}).status_code == 201
    names = list(Invitation.objects.order_by("id").values_list("user__username", flat=True))
    assert len(set(names)) == 3 and all(n != "kim@example.org" for n in names)
    assert names[1].startswith("kim-x@example.org")


def test_a_name_taken_at_the_same_moment_is_a_400_not_a_500(admin_client, campaign, monkeypatch):
    from annotate.services import invitations

    factories.UserFactory(username="taken")
    # As if another admin's invitation took the name between the check and the insert.
    monkeypatch.setattr(invitations, "_usernames_for", lambda emails: ["taken"] * len(emails))
    response = admin_client.post(_u("invitations-csv"), {"text": "email\nnew@example.org\n"})
    assert response.status_code == 400 and b"same moment" in response.content
    assert not Invitation.objects.exists() and not User.objects.filter(email="new@example.org")
