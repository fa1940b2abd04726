"""The rater's pages in Korean: chosen by the browser's Accept-Language or by the header's switcher
(remembered in a cookie), with the html lang attribute following; the API stays English."""

from __future__ import annotations

import json
import re

import pytest
from django.urls import reverse

from annotate.models import Campaign
from tests import factories

pytestmark = pytest.mark.django_db

KO = {"HTTP_ACCEPT_LANGUAGE": "ko-KR,ko;q=0.9,en;q=0.5"}


@pytest.fixture
def pairs(campaign):
    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.OPEN)
    for n in range(2):
        prompt = factories.PromptFactory(campaign=campaign)
        a = factories.CandidateFactory(prompt=prompt, text=f"첫째 답 {n}")
        b = factories.CandidateFactory(prompt=prompt, text=f"둘째 답 {n}")
        factories.PairFactory(campaign=campaign, prompt=prompt, candidate_a=a, candidate_b=b)


def _rate(campaign):
    return reverse("annotate:rate", args=[campaign.slug])


def test_the_rating_page_follows_the_browsers_language(rater_client, campaign, pairs):
    page = rater_client.get(_rate(campaign), **KO).content.decode()
    assert '<html lang="ko">' in page
    for korean in ("제출", "건너뛰기", "동점", "키보드 단축키", "응답 A", "내 기록"):
        assert korean in page, korean
    assert "Submit" not in page
    # rate.js's own words arrive in the page, translated.
    strings = re.search(r'<script id="rate-strings" type="application/json">(.*?)</script>', page)
    assert json.loads(strings.group(1))["keepReading"] == "계속 읽어 주십시오… {s}초"
    english = rater_client.get(_rate(campaign), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert '<html lang="en">' in english and "Submit" in english and "제출" not in english


def test_history_and_login_are_in_korean(rater_client, anon_client, campaign, pairs):
    history = rater_client.get(reverse("annotate:rate-history", args=[campaign.slug]), **KO)
    assert "내 투표" in history.content.decode()
    login = anon_client.get(reverse("login"), **KO).content.decode()
    assert "사용자 이름" in login and "비밀번호" in login and '<html lang="ko">' in login


def test_the_switcher_remembers_the_choice(rater_client, campaign, pairs):
    url = _rate(campaign)
    response = rater_client.post(reverse("set_language"), {"language": "ko", "next": url})
    assert response.status_code == 302 and response["Location"] == url
    assert response.cookies["django_language"].value == "ko"
    # No Accept-Language now: the cookie decides, over the browser's English too.
    page = rater_client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert '<html lang="ko">' in page and "제출" in page
    rater_client.post(reverse("set_language"), {"language": "en", "next": url})
    assert "Submit" in rater_client.get(url).content.decode()


def test_the_switcher_is_a_plain_form_on_every_page(anon_client):
    page = anon_client.get(reverse("login")).content.decode()
    assert f'action="{reverse("set_language")}"' in page
    assert '<option value="ko" lang="ko">한국어</option>' in page
    assert "onchange" not in page  # the CSP allows no inline handler: static/annotate/language.js


def test_a_refusal_the_rater_sees_is_in_korean(rater_client, campaign, pairs):
    rater_client.get(_rate(campaign), **KO)
    response = rater_client.post(
        reverse("annotate:rate-skip", args=[campaign.slug]),
        {"assignment": "0", "reason": ""},
        headers={"HX-Request": "true"},
        **KO,
    )
    assert "이 쌍을 건너뛰는 이유를 적어 주십시오." in response.content.decode() or (
        "건너뛸 수 없습니다" in response.content.decode()
    )


def test_the_api_stays_english(client):
    response = client.get("/api/campaigns/", **KO)
    assert response.status_code in (401, 403)
    assert "Authentication credentials were not provided." in response.content.decode()
    assert "Content-Language" not in response
