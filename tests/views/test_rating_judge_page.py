"""The rating judge where people meet it: blind first, then reveal (after_vote), a suggestion up
front (before_vote), nothing when off — on the rating page and through the API; started from the
judge page and the API by admins only, refused with a 4xx for other protocols or a judge that
cannot run; the dashboard's human–judge agreement."""

from __future__ import annotations

import pytest
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from annotate import tasks
from annotate.models import Campaign, RatingJudgement, RatingVote, SetAssignment
from annotate.services.judging_ratings import rating_judge_run, rating_judge_start
from annotate.services.sets import rating_vote_record, set_assignment_next
from tests import factories
from tests.fakes.judge_fixtures import judge_config, judge_fake_fixture  # noqa: F401

pytestmark = pytest.mark.django_db

PAGE = "/campaigns/helpfulness/rating/"
VOTE = PAGE + "vote/"
NEXT_API = "/api/campaigns/helpfulness/rating/next/"
VOTE_API = "/api/campaigns/helpfulness/rating/vote/"
UNITS_START_API = "/api/campaigns/helpfulness/judge/units/start/"
# What the judge says only the judge says: its rationale (tests/fakes/judge_server.py).
JUDGE_WORDS = "scored."
TEXTS = ("First reply. [[score=5]]", "Second reply. [[score=2]]")


def _api(user) -> APIClient:
    client = APIClient()
    token, _ = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture
def sent(monkeypatch):
    calls: list[int] = []
    monkeypatch.setattr(
        tasks.judge_ratings_task, "delay", lambda **kw: calls.append(kw["judgement_id"])
    )
    return calls


@pytest.fixture
def rated(campaign):
    Campaign.objects.filter(pk=campaign.pk).update(
        protocol="rating", aspects=["honest"], rating_k=2, status=Campaign.Status.OPEN, overlap=2
    )
    campaign.refresh_from_db()
    unit = factories.ranking_set(campaign=campaign, k=2)
    for member, text in zip(unit.members.order_by("slot"), TEXTS, strict=True):
        member.candidate.text = text
        member.candidate.save()
    return campaign


@pytest.fixture
def judged(rated, admin_user, judge_fake, sent, django_capture_on_commit_callbacks):
    """The unit scored by the judge through the SDK and the fake server (5 and 2)."""
    judge_config(rated)
    with django_capture_on_commit_callbacks(execute=True):
        rating_judge_start(campaign=rated, actor=admin_user)
    assert rating_judge_run(judgement_id=RatingJudgement.objects.get().id).status == "done"
    return rated


def _mode(campaign, mode):
    Campaign.objects.filter(pk=campaign.pk).update(judge_mode=mode)
    campaign.refresh_from_db()


def _cells(lease):
    data = {"lease": lease.pk}
    for n in (1, 2):
        data[f"s_{n}_0"], data[f"s_{n}_1"] = 3, 3
    return data


def _judge_by_number(lease) -> list[int]:
    """The judge's overall scores in this lease's shown order."""
    by_text = {TEXTS[0]: 5, TEXTS[1]: 2}
    texts = dict(
        RatingVote.objects.get(source="judge")
        .scores.select_related("candidate")
        .values_list("candidate_id", "candidate__text")
    )
    return [by_text[texts[cid]] for cid in lease.shown_order]


def test_after_vote_the_page_is_blind_until_the_vote_then_reveals(rater_client, rater, judged):
    _mode(judged, Campaign.JudgeMode.AFTER_VOTE)
    html = rater_client.get(PAGE).content.decode()
    assert "AI judge" not in html and JUDGE_WORDS not in html and "judge-reveal" not in html
    lease = SetAssignment.objects.get(rater=rater)
    response = rater_client.post(VOTE, _cells(lease), HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert 'id="judge-reveal"' in html and "scores of the unit you just rated" in html
    first, second = _judge_by_number(lease)
    assert f"Judge: <strong>{first}</strong> · honest {first}" in html
    assert f"Judge: <strong>{second}</strong>" in html and JUDGE_WORDS in html


def test_after_vote_the_api_is_blind_until_the_vote_then_reveals(rater, judged):
    _mode(judged, Campaign.JudgeMode.AFTER_VOTE)
    client = _api(rater)
    unit = client.post(NEXT_API, {}, format="json").json()
    assert unit["judge"] is None and JUDGE_WORDS not in str(unit)
    lease = SetAssignment.objects.get(pk=unit["lease"])
    scores = [{"number": n, "overall": 3, "aspects": {"honest": 3}} for n in (1, 2)]
    body = client.post(VOTE_API, {"lease": lease.pk, "scores": scores}, format="json").json()
    first, second = _judge_by_number(lease)
    assert [(j["number"], j["overall"], j["aspects"]) for j in body["judge"]] == [
        (1, first, {"honest": first}),
        (2, second, {"honest": second}),
    ]
    assert all(j["rationale"].endswith(JUDGE_WORDS) for j in body["judge"])
    # A replay of the stored vote still reveals; the lease's unit is never re-served.
    again = client.post(VOTE_API, {"lease": lease.pk, "scores": scores}, format="json").json()
    assert again["replayed"] is True and again["judge"] == body["judge"]


def test_after_vote_another_rater_cannot_reach_the_reveal_through_someone_elses_lease(
    rater, judged
):
    _mode(judged, Campaign.JudgeMode.AFTER_VOTE)
    lease = _api(rater).post(NEXT_API, {}, format="json").json()["lease"]
    other = factories.UserFactory()
    factories.EnrollmentFactory(campaign=judged, rater=other)
    scores = [{"number": n, "overall": 3, "aspects": {"honest": 3}} for n in (1, 2)]
    response = _api(other).post(VOTE_API, {"lease": lease, "scores": scores}, format="json")
    assert response.status_code == 404 and "judge" not in response.json()
    assert not RatingVote.objects.filter(source="human").exists()
    # Their own unit, before their vote: blind.
    assert _api(other).post(NEXT_API, {}, format="json").json()["judge"] is None


def test_before_vote_the_judge_is_a_suggestion_on_the_page_and_in_the_api(
    rater_client, rater, judged
):
    _mode(judged, Campaign.JudgeMode.BEFORE_VOTE)
    html = rater_client.get(PAGE).content.decode()
    lease = SetAssignment.objects.get(rater=rater)
    first, second = _judge_by_number(lease)
    assert "AI judge suggests:" in html
    assert f"1: {first} (honest {first}) · 2: {second} (honest {second})" in html
    unit = _api(rater).post(NEXT_API, {}, format="json").json()
    assert [j["overall"] for j in unit["judge"]] == [first, second]
    # No second showing after the vote: the reveal is for after-vote mode only.
    response = rater_client.post(VOTE, _cells(lease), HTTP_HX_REQUEST="true")
    assert 'id="judge-reveal"' not in response.content.decode()


@pytest.mark.parametrize("mode", [Campaign.JudgeMode.OFF, Campaign.JudgeMode.AUTO_LABEL])
def test_in_other_modes_raters_never_see_the_judge(rater_client, rater, judged, mode):
    _mode(judged, mode)
    html = rater_client.get(PAGE).content.decode()
    assert "AI judge" not in html and JUDGE_WORDS not in html
    lease = SetAssignment.objects.get(rater=rater)
    assert _api(rater).post(NEXT_API, {}, format="json").json()["judge"] is None
    html = rater_client.post(VOTE, _cells(lease), HTTP_HX_REQUEST="true").content.decode()
    assert "judge-reveal" not in html and JUDGE_WORDS not in html


def test_the_reveal_waits_for_the_judge(rater, rated):
    """After-vote mode with no judge scores yet: the vote goes through, nothing to reveal."""
    _mode(rated, Campaign.JudgeMode.AFTER_VOTE)
    lease = set_assignment_next(campaign=rated, rater=rater)
    scores = [{"number": n, "overall": 3, "aspects": {"honest": 3}} for n in (1, 2)]
    body = _api(rater).post(VOTE_API, {"lease": lease.pk, "scores": scores}, format="json").json()
    assert body["judge"] is None


# --- starting the judge: the page, the API, and who may ---------------------------------------


def test_the_judge_page_starts_the_rating_judge_in_a_worker(
    admin_client, rater_client, researcher_client, rated, sent, django_capture_on_commit_callbacks
):
    judge_config(rated, provider="demo", model="demo-judge")
    page = admin_client.get(reverse("annotate:judge", args=[rated.slug])).content.decode()
    assert 'name="kind" value="ratings"' in page and "Score every unit" in page
    start = reverse("annotate:judge-start", args=[rated.slug])
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(start, {"kind": "ratings"}, follow=True)
    assert "1 units, every response scored" in response.content.decode()
    # Queued for a worker, not judged in the request.
    row = RatingJudgement.objects.get()
    assert sent == [row.id] and row.status == "pending"
    assert not RatingVote.objects.exists()
    page = admin_client.get(reverse("annotate:judge", args=[rated.slug])).content.decode()
    assert "Units scored by the judge: 0 of 1 (0 failed)." in page
    # Raters cannot start it; researchers read the page but do not start it.
    assert rater_client.post(start, {"kind": "ratings"}).status_code in (403, 404)
    assert researcher_client.post(start, {"kind": "ratings"}).status_code == 403
    assert RatingJudgement.objects.count() == 1


def test_a_failed_judgement_shows_on_the_judge_page(admin_client, rated):
    judge_config(rated, provider="demo", model="demo-judge")
    RatingJudgement.objects.create(
        campaign=rated,
        candidate_set=rated.candidate_sets.get(),
        provider="demo",
        model="demo-judge",
        status="failed",
        error="Malformed answer 3 times: expected 2 scored responses, got 1",
    )
    page = admin_client.get(reverse("annotate:judge", args=[rated.slug])).content.decode()
    assert "(1 failed)" in page and "expected 2 scored responses" in page


def test_the_judge_page_refuses_with_a_message_when_the_judge_cannot_run(
    admin_client, rated, monkeypatch
):
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    judge_config(rated)  # Anthropic, no key
    start = reverse("annotate:judge-start", args=[rated.slug])
    html = admin_client.post(start, {"kind": "ratings"}, follow=True).content.decode()
    assert "ANTHROPIC_API_KEY" in html and not RatingJudgement.objects.exists()


def test_the_api_starts_the_rating_judge_for_admins_only(
    admin_user, rater, researcher, rated, sent, django_capture_on_commit_callbacks
):
    judge_config(rated, provider="demo", model="demo-judge")
    with django_capture_on_commit_callbacks(execute=True):
        response = _api(admin_user).post(UNITS_START_API, {}, format="json")
    assert response.status_code == 202 and response.json() == {"pending": 1}
    assert sent == [RatingJudgement.objects.get().id]
    assert _api(rater).post(UNITS_START_API, {}, format="json").status_code == 403
    assert _api(researcher).post(UNITS_START_API, {}, format="json").status_code == 403
    outsider = factories.UserFactory()
    assert _api(outsider).post(UNITS_START_API, {}, format="json").status_code in (403, 404)
    # Unknown keys are refused before anything runs.
    bad = _api(admin_user).post(UNITS_START_API, {"surprise": 1}, format="json")
    assert bad.status_code == 400
    # The pairs' start refuses a rating campaign and says where to go.
    pairs = _api(admin_user).post(
        "/api/campaigns/helpfulness/judge/start/", {"kind": "pairs"}, format="json"
    )
    assert pairs.status_code == 409 and "judge/units/start/" in pairs.json()["detail"]


def test_the_api_refuses_other_protocols_and_a_judge_that_cannot_run(
    admin_user, campaign, monkeypatch
):
    judge_config(campaign, provider="demo", model="demo-judge")
    response = _api(admin_user).post(UNITS_START_API, {}, format="json")  # pairwise
    assert response.status_code == 409 and "judge/start/" in response.json()["detail"]
    Campaign.objects.filter(pk=campaign.pk).update(protocol="rating")
    response = _api(admin_user).post(UNITS_START_API, {}, format="json")
    assert response.status_code == 409 and "no units" in response.json()["detail"]
    factories.ranking_set(campaign=campaign, k=2)
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    judge_config(campaign)
    response = _api(admin_user).post(UNITS_START_API, {}, format="json")
    assert response.status_code == 409 and "ANTHROPIC_API_KEY" in response.json()["detail"]
    assert not RatingJudgement.objects.exists()


# --- the dashboard: humans against the judge ------------------------------------------------


def test_the_research_page_compares_the_judge_with_the_raters(admin_client, judged):
    from annotate.selectors.ratings import rating_analytics

    got = rating_analytics(campaign=judged)
    assert got["rating_judge_r"] is None and got["rating_judge_sets"] == 1
    # Two raters: the judge's 5 / 2 against their means 4.5 / 1.5 (r = 1), α near 1.
    for plan in ({5: 5, 2: 2}, {5: 4, 2: 1}):
        rater = factories.UserFactory()
        factories.EnrollmentFactory(campaign=judged, rater=rater)
        lease = set_assignment_next(campaign=judged, rater=rater)
        judge = _judge_by_number(lease)
        scores = [
            {"number": n, "overall": plan[j], "aspects": {"honest": plan[j]}}
            for n, j in enumerate(judge, start=1)
        ]
        rating_vote_record(lease=lease, rater=rater, campaign=judged, scores=scores)
    got = rating_analytics(campaign=judged)
    assert got["rating_judge_r"] == pytest.approx(1.0)
    assert got["rating_judge_responses"] == 2
    assert got["rating_judge_alpha"]["overall"]["alpha"] > 0.9
    assert set(got["rating_judge_alpha"]) == {"overall", "honest"}
    # The human-only α is not changed by the judge's vote (it counts raters only).
    assert got["ratings"] == 2
    html = admin_client.get(
        reverse("annotate:research-analytics", args=[judged.slug]), headers={"HX-Request": "true"}
    ).content.decode()
    assert 'id="analytics-rating-judge"' in html and "<strong>1.000</strong>" in html
