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


# --- the ranking page and the crowd pages in Korean ---------------------------------------------

CODE_ANSWER = (
    "반지름으로 원의 넓이를 구하는 함수입니다.\n\n"
    "```python\ndef area(r: float) -> float:\n    # 원의 넓이\n    return 3.14159 * r * r\n```\n\n"
    "`area(3)`을 부르면 약 28.27이 나옵니다. 단위를 꼭 확인하십시오."
)
# The code font and leading of code in a Korean page, next to the body text's.
FONTS = """() => {
  const out = {};
  const sels = ['.rank-card .md pre', '.rank-card .md pre code', '.rank-card .md p code',
                '.rank-card .md p', 'kbd'];
  for (const sel of sels) {
    const cs = getComputedStyle(document.querySelector(sel));
    out[sel] = {family: cs.fontFamily, leading: parseFloat(cs.lineHeight) / parseFloat(cs.fontSize),
                wordBreak: cs.wordBreak};
  }
  return out;
}"""
RANK_BOXES = [".topbar", ".rate-status", ".prompt", ".rank-card .response-body", "#rank-form"]


@pytest.fixture
def capture():
    from tests.fakes.crowd import CaptureServer

    server = CaptureServer().start()
    yield server
    server.stop()


def _korean_ranking_study(capture):
    from tests.fakes.crowd import crowd_ranking_campaign

    campaign, sets, _ = crowd_ranking_campaign(
        quota=2,
        sets=3,
        k=3,
        completion_url=f"{capture.url}/submissions/complete?cc=",
        consent="답변은 연구에 **보관**됩니다. 동의하십니까?",
    )
    Campaign.objects.filter(pk=campaign.pk).update(
        title="한국어 응답 순위", guidelines="가장 **좋은** 응답부터 순서대로 고르십시오."
    )
    for unit in sets:
        prompt = unit.prompt
        prompt.messages = [{"role": "user", "content": PROMPT}]
        prompt.rendered = [{"role": "user", "html": render_markdown(PROMPT)}]
        prompt.save()
        for i, member in enumerate(unit.members.select_related("candidate")):
            text = CODE_ANSWER + f" ({i})"
            member.candidate.text = text
            member.candidate.html = render_markdown(text)
            member.candidate.save()
    return campaign


def test_a_korean_participant_ranks_with_code_kept_monospace(
    live_server, korean_page, capture, tmp_path
):
    from tests.browser.conftest import SCREENSHOTS
    from tests.fakes.crowd import prolific_id

    SCREENSHOTS.mkdir(exist_ok=True)
    _korean_ranking_study(capture)
    page = korean_page
    page.goto(
        f"{live_server.url}/p/study/prolific/?PROLIFIC_PID={prolific_id()}"
        f"&STUDY_ID={'a' * 24}&SESSION_ID={prolific_id()}"
    )
    page.wait_for_selector("button[value=yes]")
    assert page.get_attribute("html", "lang") == "ko"
    page.screenshot(path=str(SCREENSHOTS / "korean-crowd-consent.png"))
    assert _axe(page) == []
    page.click("button[value=yes]")
    page.wait_for_url(f"{live_server.url}/campaigns/study/rank/")
    page.screenshot(path=str(SCREENSHOTS / "korean-rank-guidelines.png"))
    page.keyboard.press("Enter")
    page.wait_for_timeout(50)
    shot = SCREENSHOTS / "korean-rank-1366x768.png"
    page.screenshot(path=str(shot))
    assert "2" in page.inner_text(".rate-status") and page.inner_text("#my-quota") == "2"
    fonts = page.evaluate(FONTS)
    for sel in (".rank-card .md pre", ".rank-card .md pre code", ".rank-card .md p code", "kbd"):
        assert fonts[sel]["family"].startswith("ui-monospace"), (sel, fonts[sel])
        assert fonts[sel]["wordBreak"] == "normal", (sel, fonts[sel])
    for sel in (".rank-card .md pre", ".rank-card .md pre code"):
        assert fonts[sel]["leading"] < 1.55, (sel, fonts[sel])  # not the Hangul leading
    body = fonts[".rank-card .md p"]
    assert "Noto Sans CJK KR" in body["family"]  # the text around the code stays Korean
    assert body["wordBreak"] == "keep-all"
    assert page.evaluate(OVERFLOW, RANK_BOXES) == [], shot
    assert _axe(page) == []
    page.keyboard.press("?")
    page.screenshot(path=str(SCREENSHOTS / "korean-rank-help.png"))
    assert _axe(page) == []
    page.keyboard.press("Escape")
    for _ in range(2):
        before = page.get_attribute("#workbench", "data-lease")
        page.keyboard.press("1")
        page.keyboard.press("2")
        page.keyboard.press("Enter")
        page.wait_for_function(
            "b => !document.querySelector('#workbench') ||"
            " document.querySelector('#workbench').dataset.lease !== b",
            arg=before,
        )
    page.wait_for_url(f"{capture.url}/submissions/complete?cc=C0MPLETE")
    assert not page.js_errors


def test_the_korean_admin_crowd_and_invitation_pages(live_server, korean_page, capture):
    from annotate.models import User
    from tests.browser.conftest import SCREENSHOTS

    SCREENSHOTS.mkdir(exist_ok=True)
    _korean_ranking_study(capture)
    factories.UserFactory(username="minji", role=User.Role.ADMIN)
    page = korean_page
    _login(page, live_server)
    page.goto(f"{live_server.url}/campaigns/study/crowd/")
    page.screenshot(path=str(SCREENSHOTS / "korean-crowd-admin.png"), full_page=True)
    assert _axe(page) == []
    page.goto(f"{live_server.url}/campaigns/study/invitations/")
    assert page.inner_text("h1").startswith("평가자 초대")
    page.fill("textarea[name=text]", "name,email\n김민지,minji@example.org\n이서연,틀린주소\n")
    page.click("#invite-csv button[type=submit]")
    page.wait_for_selector("#invite-problems")
    assert "3번째 줄" in page.inner_text("#invite-problems")
    page.screenshot(path=str(SCREENSHOTS / "korean-invitations-problems.png"), full_page=True)
    page.fill("textarea[name=text]", "name,email\n김민지,minji@example.org\n")
    page.click("#invite-csv button[type=submit]")
    page.wait_for_selector("#invite-links")
    page.screenshot(path=str(SCREENSHOTS / "korean-invitations-links.png"), full_page=True)
    assert page.evaluate(OVERFLOW, [".topbar", ".card"]) == []
    assert _axe(page) == []
    link = page.input_value("#invite-links input")
    page.context.clear_cookies()
    page.goto(link)
    page.screenshot(path=str(SCREENSHOTS / "korean-invite.png"))
    assert _axe(page) == []
    page.click("#invite-accept")
    page.wait_for_url("**/invite/password/**")
    page.screenshot(path=str(SCREENSHOTS / "korean-invite-password.png"))
    assert _axe(page) == []
    page.context.clear_cookies()
    page.goto(link)
    assert "이미 사용" in page.inner_text("main")
    page.screenshot(path=str(SCREENSHOTS / "korean-invite-used.png"))
    assert not page.js_errors
