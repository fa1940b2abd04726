"""Hostile input on the HTML pages: a 400, or the page again with the reason; never a 500, never stored.

Runs on PostgreSQL (bin/test) and on SQLite: TEST_DATABASE_URL=sqlite:////tmp/x.sqlite3 bin/test <this>.
"""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from annotate import validation
from annotate.models import Assignment, Generator, Judgment, PairFlag, Prompt
from tests import factories

HTMX = {"HX-Request": "true"}


def _url(campaign, name):
    return reverse(f"annotate:{name}", args=[campaign.slug])


@pytest.fixture
def lease(campaign, rater, rater_client):
    factories.PairFactory.create_batch(2, campaign=campaign)
    rater_client.get(_url(campaign, "rate"))
    return Assignment.objects.get(rater=rater, status=Assignment.Status.ACTIVE)


def _vote(client, campaign, lease, **extra):
    data = {"assignment": lease.pk, "verdict": "left", "key": f"k{lease.pk}", **extra}
    return client.post(_url(campaign, "rate-vote"), data, headers=HTMX)


@pytest.mark.parametrize(
    "extra",
    [{"rationale": "because\x00"}, {"key": "k\x00"}, {"rewrite": "\x00"}],
    ids=["rationale", "key", "rewrite"],
)
def test_it_refuses_a_nul_in_a_vote_field(rater_client, campaign, lease, extra):
    response = _vote(rater_client, campaign, lease, **extra)
    assert response.status_code == 400
    assert "NUL" in response.content.decode() and next(iter(extra)) in response.content.decode()
    assert not Judgment.objects.exists()


def test_it_refuses_an_over_long_rationale_and_keeps_the_lease(rater_client, campaign, lease):
    rationale = "x" * (validation.MAX_RATIONALE + 1)
    response = _vote(rater_client, campaign, lease, rationale=rationale)
    assert response.status_code == 200
    assert "Your rationale is too long" in response.content.decode()
    assert not Judgment.objects.exists()
    lease.refresh_from_db()
    assert lease.status == Assignment.Status.ACTIVE


def test_it_refuses_a_control_character_in_the_key(rater_client, campaign, lease):
    response = _vote(rater_client, campaign, lease, key="k\x1b[2J")
    assert "control character" in response.content.decode()
    assert not Judgment.objects.exists()


@pytest.mark.parametrize("assignment", ["9" * 22, "-1", "1e3", "", "٣"])
def test_it_answers_an_assignment_id_out_of_range_with_a_message(
    rater_client, campaign, lease, assignment
):
    response = _vote(rater_client, campaign, lease, assignment=assignment)
    assert response.status_code == 200
    assert "not for a pair" in response.content.decode()
    for name in ("rate-skip", "rate-flag", "rate-heartbeat"):
        data = {"assignment": assignment, "reason": "other"}
        assert rater_client.post(_url(campaign, name), data, headers=HTMX).status_code < 500
    assert not Judgment.objects.exists()


def test_it_refuses_an_over_long_skip_reason_and_a_nul_in_a_flag_note(
    rater_client, campaign, lease
):
    response = rater_client.post(
        _url(campaign, "rate-skip"),
        {"assignment": lease.pk, "reason": "r" * (validation.MAX_REASON + 1)},
        headers=HTMX,
    )
    assert "The reason is too long" in response.content.decode()
    lease.refresh_from_db()
    assert lease.status == Assignment.Status.ACTIVE
    response = rater_client.post(
        _url(campaign, "rate-flag"),
        {"assignment": lease.pk, "reason": "other", "note": "n\x00"},
        headers=HTMX,
    )
    assert response.status_code == 400 and "'note'" in response.content.decode()
    assert not PairFlag.objects.exists()


def test_it_refuses_a_nul_in_any_query_or_form_field(admin_client, campaign):
    for url in (
        reverse("annotate:rater-create") + "?campaign=%00",
        "/backoffice/annotate/campaign/?q=%00",
        reverse("annotate:home") + "?x=a%00",
    ):
        response = admin_client.get(url)
        assert response.status_code == 400 and b"NUL" in response.content, url
    response = admin_client.post(reverse("annotate:campaign-create"), {"title": "a\x00"})
    assert response.status_code == 400 and b"'title'" in response.content


def test_the_leases_page_survives_ids_that_are_not_numbers(admin_client, campaign, rater):
    for data in ({"enrollment": "abc"}, {"enrollment": "9" * 22}, {"assignment": "x"}):
        for name in ("rater-pause", "lease-release"):
            response = admin_client.post(_url(campaign, name), data)
            assert response.status_code == 302, (name, data)
    enrollment = campaign.enrollments.get(rater=rater)
    response = admin_client.post(
        _url(campaign, "rater-pause"), {"enrollment": enrollment.pk, "reason": "x" * 301}
    )
    enrollment.refresh_from_db()
    assert response.status_code == 302 and not enrollment.paused


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ('{"stop": ["\\u0000"]}', "NUL"),
        ('{"a": ' * 40 + "1" + "}" * 40, "nested deeper than 32"),
        ('{"t": 1, "t": 2}', "appears twice"),
        ('{"t": NaN}', "NaN"),
    ],
)
def test_the_generator_form_refuses_hostile_parameters(admin_client, campaign, params, expected):
    data = {"provider": "demo", "model": "m", "samples_per_prompt": 1, "params": params}
    response = admin_client.post(_url(campaign, "generator-add"), data)
    assert response.status_code == 400
    assert expected in response.content.decode()
    assert not Generator.objects.exists()


def test_the_import_page_names_the_bad_line(admin_client, campaign):
    upload = SimpleUploadedFile("p.jsonl", b'{"prompt": "ok"}\n{"prompt": "a\\u0000"}\n')
    response = admin_client.post(_url(campaign, "prompt-import"), {"file": upload})
    assert response.status_code == 400
    assert "line 2" in response.content.decode() and "NUL" in response.content.decode()
    assert not Prompt.objects.exists()
