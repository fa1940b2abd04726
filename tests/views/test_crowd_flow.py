"""A participant's way through, with Django's test client: Prolific entry, consent, training with
feedback, work with a quota, and the finish with the right code; hostile links; who sees what."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from annotate.models import Assignment, Enrollment, Judgment, Participant, User
from annotate.services.participants import participant_seen
from tests import factories
from tests.fakes.crowd import crowd_campaign, gold_pairs_first, prolific_id

pytestmark = pytest.mark.django_db
HX = {"HX-Request": "true"}


def _prolific(client: Client, slug="study", pid=None, **extra):
    params = {"PROLIFIC_PID": pid or prolific_id(), "STUDY_ID": "a" * 24, "SESSION_ID": "b" * 24}
    params.update(extra)
    return client.get(reverse("annotate:crowd-prolific", args=[slug]), params)


def _u(name, slug="study"):
    return reverse(f"annotate:{name}", args=[slug])


def _arrive_and_consent(client, slug="study", pid=None):
    response = _prolific(client, slug, pid=pid)
    assert response.status_code == 302 and response.url == _u("crowd-next", slug)
    assert client.get(response.url).url == _u("crowd-consent", slug)
    return client.post(_u("crowd-consent", slug), {"consent": "yes"})


def _vote(client, slug="study", verdict="left", left_is_a=None):
    participant_user = User.objects.get(pk=client.session["_auth_user_id"])
    lease = Assignment.objects.get(rater=participant_user, status=Assignment.Status.ACTIVE)
    if left_is_a is not None:
        # Vote for the stored side given: "a" means the left side when A was shown on the left.
        verdict = "left" if (left_is_a == "a") == lease.left_is_a else "right"
    return client.post(
        _u("rate-vote", slug),
        {"assignment": lease.pk, "verdict": verdict, "key": f"k{lease.pk}"},
        headers=HX,
    )


def test_it_enrolls_a_prolific_participant_and_shows_consent_first():
    crowd_campaign()
    client = Client()
    pid = prolific_id()
    response = _prolific(client, pid=pid)
    assert response.status_code == 302
    participant = Participant.objects.get(external_id=pid)
    assert participant.platform == "prolific" and participant.session_id == "b" * 24
    assert not participant.user.has_usable_password()
    assert pid not in participant.user.username  # the account name does not carry the platform id
    enrollment = Enrollment.objects.get(rater=participant.user)
    assert enrollment.paused  # no lease before consent
    # The workbench sends them back to consent, and no pair is leased.
    assert client.get(_u("rate")).url == _u("crowd-consent")
    assert not Assignment.objects.filter(rater=participant.user).exists()
    page = client.get(_u("crowd-consent"))
    assert b"answers</strong> are kept" in page.content
    assert b"Pick the more" in page.content  # the guidelines come with it


def test_it_reuses_the_account_for_the_same_prolific_id():
    crowd_campaign()
    pid = prolific_id()
    _prolific(Client(), pid=pid)
    _prolific(Client(), pid=pid, SESSION_ID="c" * 24)
    participant = Participant.objects.get(external_id=pid)
    assert Participant.objects.count() == 1 and Enrollment.objects.count() == 1
    assert participant.session_id == "c" * 24


@pytest.mark.parametrize(
    "params",
    [
        {"PROLIFIC_PID": "x" * 24},
        {"PROLIFIC_PID": "a" * 23},
        {"PROLIFIC_PID": "A" * 24},
        {"PROLIFIC_PID": "a" * 24 + "\u00e9"},
        {"STUDY_ID": ""},
        {"SESSION_ID": "' OR 1=1 --"},
        {"PROLIFIC_PID": "<script>alert(1)</script>"},
        {"PROLIFIC_PID": "a" * 5000},
    ],
)
def test_it_refuses_malformed_prolific_ids_with_a_400_page(params):
    crowd_campaign()
    response = _prolific(Client(), **params)
    assert response.status_code == 400
    assert b"24 hexadecimal characters" in response.content
    assert b"<script>alert" not in response.content
    assert not Participant.objects.exists()


def test_it_refuses_a_nul_in_an_id_with_a_400():
    crowd_campaign()
    assert _prolific(Client(), PROLIFIC_PID="a" * 23 + "\x00").status_code == 400


def test_it_answers_404_for_a_campaign_without_platform_entry(campaign):
    assert _prolific(Client(), slug=campaign.slug).status_code == 404
    assert _prolific(Client(), slug="nope").status_code == 404


def test_it_refuses_a_link_of_another_study():
    crowd_campaign(prolific_study_id="f" * 24)
    response = _prolific(Client())
    assert response.status_code == 400 and b"another Prolific study" in response.content


def test_it_sends_a_participant_who_declines_back_with_the_returned_code():
    crowd_campaign()
    client = Client()
    _prolific(client)
    response = client.post(_u("crowd-consent"), {"consent": "no"})
    assert response.url == _u("crowd-done")
    done = client.get(_u("crowd-done"))
    assert done.status_code == 302
    assert done.url == "https://app.prolific.com/submissions/complete?cc=RETURNED"
    assert Participant.objects.get().status == "returned"


def test_it_refuses_a_consent_answer_that_is_neither():
    crowd_campaign()
    client = Client()
    _prolific(client)
    assert client.post(_u("crowd-consent"), {"consent": "maybe"}).status_code == 400


def test_it_redirects_to_the_completion_url_when_the_quota_is_reached():
    crowd_campaign(quota=3, pairs=6)
    client = Client()
    assert _arrive_and_consent(client).url == _u("rate")
    page = client.get(_u("rate"))
    assert page.status_code == 200
    assert b'id="my-quota">3<' in page.content  # "0 of 3"
    for n in range(2):
        response = _vote(client)
        assert response.status_code == 200
        assert f'id="my-votes">{n + 1}<'.encode() in response.content
    response = _vote(client)
    assert response.headers["HX-Redirect"] == _u("crowd-done")
    participant = Participant.objects.get()
    assert participant.status == "completed"
    assert not Assignment.objects.filter(
        rater=participant.user, status=Assignment.Status.ACTIVE
    ).exists()  # the lease claimed after the last vote went back
    done = client.get(_u("crowd-done"))
    assert done.url == "https://app.prolific.com/submissions/complete?cc=C0MPLETE"
    # Finished: every later request lands on the finish, and no lease is handed out.
    assert client.get(_u("rate")).url == _u("crowd-done")
    assert client.get(_u("crowd-consent")).url == _u("crowd-done")
    assert Judgment.objects.filter(rater=participant.user).count() == 3
    assert Assignment.objects.filter(rater=participant.user).count() == 4


def test_it_finishes_with_the_completion_code_when_the_campaign_runs_out_of_work():
    crowd_campaign(quota=10, pairs=2)
    client = Client()
    _arrive_and_consent(client)
    client.get(_u("rate"))
    assert _vote(client).status_code == 200
    response = _vote(client)
    assert response.headers["HX-Redirect"] == _u("crowd-done")
    assert Participant.objects.get().status_reason == "Out of work"


def test_it_fails_attention_below_the_gold_threshold():
    campaign, *_ = crowd_campaign(quota=10, pairs=4, gold=3, attention=0.6, attention_min=2)
    gold_pairs_first(campaign)
    client = Client()
    _arrive_and_consent(client)
    client.get(_u("rate"))
    assert _vote(client, left_is_a="b").status_code == 200  # wrong (gold is "a")
    response = _vote(client, left_is_a="b")
    assert response.headers["HX-Redirect"] == _u("crowd-done")
    assert Participant.objects.get().status == "failed_attention"
    assert client.get(_u("crowd-done")).url.endswith("cc=ATTENTION")


def test_it_keeps_a_participant_who_answers_gold_right():
    campaign, *_ = crowd_campaign(quota=3, pairs=2, gold=2, attention=0.6, attention_min=2)
    gold_pairs_first(campaign)
    client = Client()
    _arrive_and_consent(client)
    client.get(_u("rate"))
    assert _vote(client, left_is_a="a").status_code == 200
    assert _vote(client, left_is_a="a").status_code == 200
    assert Participant.objects.get().status == "working"


def test_training_gives_feedback_then_work_when_passed():
    campaign, _, _, units = crowd_campaign(training=2)
    client = Client()
    assert _arrive_and_consent(client).url == _u("crowd-training")
    page = client.get(_u("crowd-training"))
    assert b"Training question 1 of 2" in page.content
    assert f'name="unit" value="{units[0].pk}"'.encode() in page.content
    feedback = client.post(_u("crowd-training"), {"unit": units[0].pk, "choice": "a"})
    assert b"Correct" in feedback.content and b"A is better" in feedback.content
    assert b"Response A answers the question (0)." in feedback.content
    feedback = client.post(_u("crowd-training"), {"unit": units[1].pk, "choice": "b"})
    assert b"Not quite" in feedback.content
    participant = Participant.objects.get()
    assert participant.training_done and participant.training_score == 0.5
    assert client.get(_u("crowd-training")).url == _u("rate")
    assert client.get(_u("rate")).status_code == 200
    # Training pairs are never leased.
    assert not Assignment.objects.filter(pair__training__isnull=False).exists()


def test_training_below_the_pass_mark_screens_out():
    _, _, _, units = crowd_campaign(training=2, training_pass=1.0)
    client = Client()
    _arrive_and_consent(client)
    client.post(_u("crowd-training"), {"unit": units[0].pk, "choice": "a"})
    client.post(_u("crowd-training"), {"unit": units[1].pk, "choice": "tie"})
    participant = Participant.objects.get()
    assert participant.status == "screened_out"
    assert client.get(_u("rate")).url == _u("crowd-done")
    assert client.get(_u("crowd-done")).url.endswith("cc=SCREENED")


@pytest.mark.parametrize(
    "data",
    [{"unit": "x", "choice": "a"}, {"unit": "999999", "choice": "a"}, {"choice": "a"}, {}],
)
def test_training_refuses_hostile_answers_with_a_400(data):
    crowd_campaign(training=1)
    client = Client()
    _arrive_and_consent(client)
    assert client.post(_u("crowd-training"), data).status_code == 400


def test_training_refuses_a_choice_outside_the_scale():
    _, _, _, units = crowd_campaign(training=1)
    client = Client()
    _arrive_and_consent(client)
    response = client.post(_u("crowd-training"), {"unit": units[0].pk, "choice": "left"})
    assert response.status_code == 400


def test_a_participant_sees_only_their_own_campaign(campaign):
    crowd_campaign(slug="study")
    crowd_campaign(slug="other-study")
    client = Client()
    _arrive_and_consent(client)
    assert client.get(_u("rate", campaign.slug)).status_code == 404
    assert client.get(_u("rate", "other-study")).status_code == 404
    assert client.get(_u("crowd-consent", "other-study")).status_code == 404
    assert client.get(_u("crowd-done", "other-study")).status_code == 404
    assert client.get(_u("campaign-detail", "study")).status_code in (403, 404)
    assert client.get(_u("research", "study")).status_code in (403, 404)


def test_raters_and_anonymous_users_get_no_participant_pages(rater_client, anon_client):
    crowd_campaign()
    assert rater_client.get(_u("crowd-consent")).status_code == 404
    assert rater_client.get(_u("crowd-done")).status_code == 404
    assert anon_client.get(_u("crowd-consent")).status_code == 302  # to the login page


def test_active_time_counts_beats_and_skips_idle_gaps(settings):
    settings.CROWD_IDLE_SECONDS = 60
    crowd_campaign()
    client = Client()
    _arrive_and_consent(client)
    participant = Participant.objects.get()
    start = timezone.now()
    Participant.objects.filter(pk=participant.pk).update(last_seen_at=start)
    for seconds in (20, 40, 60, 200, 220):  # a 140 s gap between 60 and 200 is idle
        participant_seen(participant_id=participant.pk, now=start + timedelta(seconds=seconds))
    participant.refresh_from_db()
    assert participant.active_seconds == pytest.approx(80.0)


def test_the_heartbeat_adds_active_time():
    crowd_campaign()
    client = Client()
    _arrive_and_consent(client)
    client.get(_u("rate"))
    participant = Participant.objects.get()
    lease = Assignment.objects.get(rater=participant.user, status="active")
    Participant.objects.filter(pk=participant.pk).update(
        last_seen_at=timezone.now() - timedelta(seconds=15)
    )
    assert client.post(_u("rate-heartbeat"), {"assignment": lease.pk}).status_code == 204
    participant.refresh_from_db()
    assert 14 < participant.active_seconds < 30


def test_an_ordinary_rater_rates_as_before(rater_client, campaign):
    factories.PairFactory(campaign=campaign)
    page = rater_client.get(_u("rate", campaign.slug))
    assert page.status_code == 200 and b"my-quota" not in page.content


def test_training_settles_when_the_admin_asks_for_fewer_units_mid_way():
    campaign, _, _, units = crowd_campaign(training=2)
    client = Client()
    _arrive_and_consent(client)
    client.post(_u("crowd-training"), {"unit": units[0].pk, "choice": "a"})
    campaign.crowd.training_units = 1
    campaign.crowd.save()
    assert client.get(_u("crowd-training")).url == _u("rate")  # no endless wait for question 2
    assert Participant.objects.get().training_done
