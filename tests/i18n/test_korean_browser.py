"""The Korean rating page in Chromium at 1366 x 768: a Korean prompt and Korean answers (with a
long unbroken run) wrap inside their boxes, nothing overflows, the laptop layout still fits
(tests/browser/test_rate_layout.py's measure), the html lang is "ko", and axe finds nothing.
Screenshots go to the test's tmp dir (printed with -s): korean-rate-*.png."""

from __future__ import annotations

import pytest

from annotate.markdown import render_markdown
from annotate.models import Campaign
from tests import factories
from tests.browser.test_accessibility import AXE_OPTIONS
from tests.browser.test_rate_layout import CONTROLS, MEASURE

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SIZE = (1366, 768)
PROMPT = "원의 넓이는 어떻게 구합니까? 그리고 계산할 때 무엇을 조심해야 합니까?"
ANSWER = (
    "원의 넓이는 반지름을 제곱한 값에 원주율을 곱해서 구합니다. 예를 들어 반지름이 3센티미터이면 "
    "넓이는 약 28.27제곱센티미터입니다. 단위를 꼭 확인하십시오. 지름을 반지름으로 착각하면 답이 "
    "네 배가 됩니다.\n\n"
    + "계산 과정을 한 단계씩 더 자세히 설명하면 다음과 같습니다. " * 12
    + "\n\n띄어쓰기없이아주길게이어지는한국어문장도상자밖으로넘치지않고줄이바뀌어야합니다"
    + "그렇지않으면화면이가로로스크롤됩니다그래서이문장은일부러길게썼습니다" * 3
)

OVERFLOW = """(selectors) => {
  const problems = [];
  for (const sel of selectors) {
    for (const el of document.querySelectorAll(sel)) {
      if (!el.getClientRects().length) continue;
      if (el.scrollWidth > el.clientWidth + 1)
        problems.push(`${sel} overflows: ${el.scrollWidth} > ${el.clientWidth}`);
    }
  }
  const page = document.scrollingElement;
  if (page.scrollWidth > innerWidth + 1) problems.push(`the page scrolls sideways`);
  return problems;
}"""
BOXES = [".topbar", ".topnav", ".rate-status", ".prompt", ".response-body", "#vote-form", ".scale"]


@pytest.fixture
def korean_campaign(db):
    campaign = factories.CampaignFactory(
        slug="korean",
        title="한국어 응답 평가",
        status=Campaign.Status.OPEN,
        scale=Campaign.Scale.GRADED7,
        aspects=["helpful", "honest"],
        rationale=Campaign.Rationale.OPTIONAL,
        allow_both_bad=True,
        guidelines="더 **나은** 응답을 고르십시오.",
    )
    rater = factories.UserFactory(username="minji")
    factories.EnrollmentFactory(campaign=campaign, rater=rater)
    for i in range(2):
        prompt = factories.PromptFactory(
            campaign=campaign,
            messages=[{"role": "user", "content": f"{PROMPT} ({i})"}],
            rendered=[{"role": "user", "html": render_markdown(f"{PROMPT} ({i})")}],
        )
        texts = (ANSWER, ANSWER.replace("조심", "주의"))
        a, b = (
            factories.CandidateFactory(prompt=prompt, text=t, html=render_markdown(t))
            for t in texts
        )
        factories.PairFactory(campaign=campaign, prompt=prompt, candidate_a=a, candidate_b=b)
    return campaign


@pytest.fixture
def korean_page(browser):
    context = browser.new_context(viewport={"width": SIZE[0], "height": SIZE[1]}, locale="ko-KR")
    page = context.new_page()
    page.js_errors = []
    page.on("pageerror", lambda e: page.js_errors.append(str(e)))
    yield page
    context.close()


def _login(page, live_server):
    page.goto(f"{live_server.url}/login/")
    assert page.get_attribute("html", "lang") == "ko"  # Chromium's Accept-Language: ko-KR
    page.fill("input[name=username]", "minji")
    page.fill("input[name=password]", "pw")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")


def _axe(page):
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page, options=AXE_OPTIONS)
    return [
        f"{v['id']} ({v['impact']}): " + "; ".join(str(n["target"]) for n in v["nodes"][:4])
        for v in results.response["violations"]
    ]


def test_the_korean_rating_page_wraps_fits_and_passes_axe(
    live_server, korean_page, korean_campaign, tmp_path
):
    page = korean_page
    _login(page, live_server)
    page.goto(f"{live_server.url}/campaigns/{korean_campaign.slug}/rate/")
    page.wait_for_load_state("networkidle")
    assert page.get_attribute("html", "lang") == "ko"
    page.screenshot(path=str(tmp_path / "korean-rate-guidelines.png"))
    assert page.inner_text("#guidelines [data-close]").startswith("평가 시작")
    page.keyboard.press("Enter")
    page.keyboard.press("3")
    page.wait_for_timeout(50)
    shot = tmp_path / "korean-rate-1366x768.png"
    page.screenshot(path=str(shot))
    print(f"\nscreenshots: {tmp_path}")
    assert page.inner_text("#vote-submit").startswith("제출")
    assert page.inner_text('#vote-form [data-verdict="g3"]').endswith("A가 약간 나음")
    assert page.evaluate(OVERFLOW, BOXES) == [], shot
    first_lines = ["#response-left .response-body", "#response-right .response-body"]
    problems = page.evaluate(
        MEASURE, {"controls": CONTROLS, "firstLines": first_lines, "minLines": 6}
    )
    assert problems == [], shot
    assert _axe(page) == []
    page.keyboard.press("?")
    page.screenshot(path=str(tmp_path / "korean-rate-help.png"))
    assert page.inner_text("#help h2") == "키보드"
    assert _axe(page) == []
    assert not page.js_errors


def test_the_switcher_changes_the_language_without_a_button(live_server, korean_page, db):
    factories.UserFactory(username="minji")
    page = korean_page
    _login(page, live_server)
    page.select_option(".lang-switch select", "en")
    page.wait_for_function("document.documentElement.lang === 'en'")
    assert page.is_visible("text=Log out")
    assert not page.is_visible(".lang-switch [type=submit]")  # language.js sends the form on change
    assert _axe(page) == []
