"""MTurk's ExternalQuestion entry (preview, accept, start, the finish's externalSubmit form), the
signed link of any other platform, and framing: only the MTurk pages, only by MTurk."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from django.core import signing
from django.test import Client
from django.urls import reverse

from annotate.models import Assignment, CrowdSettings, Participant
from annotate.services.participants import participant_finish
from annotate.views.participants import JOIN_SALT, join_link
from tests.fakes.crowd import crowd_campaign

pytestmark = pytest.mark.django_db
MTURK = "https://workersandbox.mturk.com"


def _u(name, *args, slug="study"):
    return reverse(f"annotate:{name}", args=[slug, *args])


def _mturk(client, **params):
    base = {
        "assignmentId": "3AMYWKA6YBLU92KSOGLNT786NTMO6R",
        "hitId": "3V0TR1NRVAA4W3KF0AEJZF1MW0R3IV",
        "workerId": "A1B2C3D4E5F6G7",
        "turkSubmitTo": MTURK,
    }
    return client.get(_u("crowd-mturk"), {**base, **params})


def _frame_ancestors(response) -> str:
    policy = response["Content-Security-Policy"]
    return next(p for p in policy.split(";") if "frame-ancestors" in p).strip()


def test_the_preview_shows_a_sample_and_claims_nothing():
    campaign, pairs, _, _ = crowd_campaign()
    response = _mturk(Client(), assignmentId="ASSIGNMENT_ID_NOT_AVAILABLE")
    assert response.status_code == 200
    assert pairs[0].candidate_a.html.encode() in response.content
    assert b"Accept the HIT" in response.content
    assert not Participant.objects.exists() and not Assignment.objects.exists()


def test_the_accepted_hit_records_the_worker_and_links_to_the_task():
    crowd_campaign()
    response = _mturk(Client())
    assert response.status_code == 200
    participant = Participant.objects.get()
    assert participant.platform == "mturk" and participant.external_id == "A1B2C3D4E5F6G7"
    assert participant.submit_to == MTURK
    assert participant.assignment_id == "3AMYWKA6YBLU92KSOGLNT786NTMO6R"
    start = response.context["start_url"]
    assert f'href="{start}"'.encode() in response.content
    client = Client()  # the task opens in its own tab: the frame's cookies do not carry over
    assert client.get(start).url == _u("crowd-next")
    assert client.get(_u("crowd-consent")).status_code == 200


def test_the_mturk_finish_posts_the_assignment_to_external_submit():
    crowd_campaign()
    start = _mturk(Client()).context["start_url"]
    client = Client()
    client.get(start)
    participant = Participant.objects.get()
    participant_finish(participant=participant, status="completed")
    done = client.get(_u("crowd-done"))
    assert done.status_code == 200
    html = done.content.decode()
    assert f'action="{MTURK}/mturk/externalSubmit"' in html
    assert 'name="assignmentId" value="3AMYWKA6YBLU92KSOGLNT786NTMO6R"' in html
    policy = done["Content-Security-Policy"]
    assert f"form-action 'self' {MTURK}" in policy
    # The finish opens top-level, in the task's own tab: it stays unframeable like every page.
    assert done["X-Frame-Options"] == "DENY"
    assert _frame_ancestors(done) == "frame-ancestors 'none'"


@pytest.mark.parametrize(
    "params",
    [
        {"turkSubmitTo": "https://evil.example.org"},
        {"turkSubmitTo": "http://www.mturk.com"},
        {"turkSubmitTo": "https://www.mturk.com.evil.org"},
        {"turkSubmitTo": "https://www.mturk.com/mturk/externalSubmit"},
        {"turkSubmitTo": "https://user:pw@www.mturk.com"},
        {"turkSubmitTo": "javascript:alert(1)"},
        {"turkSubmitTo": "https://www.mturk.com:99999"},
        {"workerId": ""},
        {"workerId": "A1<script>"},
        {"assignmentId": "x" * 65},
        {"hitId": "../../etc"},
    ],
)
def test_it_refuses_hostile_mturk_parameters_with_a_400(params):
    crowd_campaign()
    response = _mturk(Client(), **params)
    assert response.status_code == 400
    assert not Participant.objects.exists()


def test_it_refuses_a_forged_start_link():
    crowd_campaign()
    forged = signing.dumps(1, salt="something else")
    assert Client().get(_u("crowd-start", forged)).status_code == 400
    assert Client().get(_u("crowd-start", "garbage")).status_code == 400


def test_only_the_mturk_pages_may_be_framed_and_only_by_mturk(rater_client, campaign):
    crowd_campaign()
    framed = [
        _mturk(Client()),
        _mturk(Client(), assignmentId="ASSIGNMENT_ID_NOT_AVAILABLE"),
        _mturk(Client(), workerId="bad id"),
    ]
    for response in framed:
        assert "X-Frame-Options" not in response
        ancestors = _frame_ancestors(response)
        assert (
            "https://worker.mturk.com" in ancestors
            and "https://workersandbox.mturk.com" in ancestors
        )
        assert "'none'" not in ancestors
    client = Client()
    unframed = [
        client.get(
            _u("crowd-prolific"),
            {"PROLIFIC_PID": "a" * 24, "STUDY_ID": "b" * 24, "SESSION_ID": "c" * 24},
        ),
        client.get(_u("crowd-consent")),
        client.get(_u("rate")),
        rater_client.get(reverse("annotate:rate", args=[campaign.slug])),
        Client().get(reverse("login")),
    ]
    for response in unframed:
        assert response["X-Frame-Options"] == "DENY"
        assert _frame_ancestors(response) == "frame-ancestors 'none'"


# --- the signed link ----------------------------------------------------------------------------


def _link_campaign():
    campaign, *_ = crowd_campaign(return_hosts=["survey.example.org"])
    return CrowdSettings.objects.get(campaign=campaign)


def test_a_signed_link_enrolls_and_returns_to_its_url_with_the_status():
    crowd = _link_campaign()
    link = join_link(
        crowd=crowd, external_id="sona-42", return_url="https://survey.example.org/back?x=1"
    )
    client = Client()
    assert client.get(link).url == _u("crowd-next")
    participant = Participant.objects.get()
    assert participant.platform == "link" and participant.external_id == "sona-42"
    participant_finish(participant=participant, status="completed")
    done = client.get(_u("crowd-done"))
    parts = urlsplit(done.url)
    assert parts.netloc == "survey.example.org"
    assert parse_qs(parts.query) == {"x": ["1"], "status": ["completed"], "code": ["C0MPLETE"]}


def test_a_tampered_signed_link_is_refused():
    crowd = _link_campaign()
    link = join_link(crowd=crowd, external_id="sona-42", return_url="https://survey.example.org/")
    assert Client().get(link[:-3] + "xyz/").status_code == 400
    assert not Participant.objects.exists()


def test_a_signed_link_to_a_host_no_longer_allowed_is_refused():
    crowd = _link_campaign()
    link = join_link(crowd=crowd, external_id="sona-42", return_url="https://survey.example.org/")
    crowd.return_hosts = []
    crowd.save()
    response = Client().get(link)
    assert response.status_code == 400 and b"return hosts" in response.content


def test_a_signed_link_of_another_campaign_is_refused():
    crowd = _link_campaign()
    crowd_campaign(slug="other")
    token = signing.dumps(
        {"c": crowd.campaign_id, "id": "x1", "r": "https://survey.example.org/"},
        salt=JOIN_SALT,
        compress=True,
    )
    assert Client().get(_u("crowd-join", token, slug="other")).status_code == 400


@pytest.mark.parametrize(
    "external_id, url",
    [
        ("ok", "https://elsewhere.example.org/"),
        ("ok", "http://survey.example.org/"),
        ("ok", "javascript:alert(1)"),
        ("", "https://survey.example.org/"),
        ("a b", "https://survey.example.org/"),
        ("x" * 65, "https://survey.example.org/"),
    ],
)
def test_it_makes_no_signed_link_for_bad_input(external_id, url):
    from annotate.services.participants import CrowdError

    crowd = _link_campaign()
    with pytest.raises(CrowdError):
        join_link(crowd=crowd, external_id=external_id, return_url=url)
