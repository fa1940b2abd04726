"""axe-core (WCAG 2 A and AA rules, contrast included) finds nothing on the app's pages, in the light
and in the dark colour scheme (the pages follow prefers-color-scheme). axe runs in Chromium from
the axe.min.js that the axe-playwright-python wheel ships; a failure lists each rule, its impact
and the first elements that break it. Screenshots: screenshots/a11y-<page>-<scheme>.png."""

from __future__ import annotations

import pytest

from annotate.markdown import render_markdown
from annotate.models import Campaign, JudgeVerdict, Judgment, User
from tests import factories
from tests.browser.conftest import login
from tests.fakes.judge_fixtures import judge_config, verdict

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCHEMES = ["light", "dark"]
AXE_OPTIONS = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21aa"]}}

TEXT = """A careful answer with **bold**, `code`, a [link](https://example.org/x) and a list:

1. First item.
2. Second item.

```python
def area(r: float) -> float:
    # the area of a circle
    return 3.14159 * r * r  # "pi r squared"
```

> A quoted note.
"""


@pytest.fixture
def scheme_page(browser, request):
    scheme = request.param
    context = browser.new_context(viewport={"width": 1366, "height": 768}, color_scheme=scheme)
    page = context.new_page()
    page.js_errors = []
    page.on("pageerror", lambda e: page.js_errors.append(str(e)))
    page.scheme = scheme
    yield page
    context.close()


def _axe(page, name: str, screenshot_dir) -> None:
    from axe_playwright_python.sync_playwright import Axe

    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(screenshot_dir / f"a11y-{name}-{page.scheme}.png"))
    assert page.evaluate("matchMedia('(prefers-color-scheme: dark)').matches") == (
        page.scheme == "dark"
    )
    results = Axe().run(page, options=AXE_OPTIONS)
    problems = [
        f"{v['id']} ({v['impact']}): "
        + "; ".join(
            f"{n['target']} {n.get('failureSummary', '').splitlines()[-1:]}" for n in v["nodes"][:4]
        )
        for v in results.response["violations"]
    ]
    assert problems == [], f"{name} in {page.scheme}: {problems}"
    assert not page.js_errors


@pytest.fixture
def rich_campaign(db):
    campaign = factories.CampaignFactory(
        slug="a11y",
        status=Campaign.Status.OPEN,
        scale=Campaign.Scale.GRADED7,
        aspects=["helpful", "honest"],
        rationale=Campaign.Rationale.OPTIONAL,
        allow_rewrite=True,
        allow_both_bad=True,
        judge_mode=Campaign.JudgeMode.AFTER_VOTE,
        guidelines="Pick the **better** answer.",
    )
    judge_config(campaign, provider="demo", model="demo-judge")
    rater = factories.UserFactory(username="bob", role=User.Role.RATER)
    factories.EnrollmentFactory(campaign=campaign, rater=rater)
    factories.UserFactory(username="alice", role=User.Role.ADMIN)
    pairs = []
    for i in range(3):
        content = f"How do I compute the area of circle {i}?"
        prompt = factories.PromptFactory(
            campaign=campaign,
            messages=[{"role": "user", "content": content}],
            rendered=[{"role": "user", "html": render_markdown(content)}],
            system="You are a careful tutor.",
        )
        a_text, b_text = f"({i}) " + TEXT, f"({i}) " + TEXT.replace("First", "Only")
        a = factories.CandidateFactory(prompt=prompt, text=a_text, html=render_markdown(a_text))
        b = factories.CandidateFactory(prompt=prompt, text=b_text, html=render_markdown(b_text))
        pair = factories.PairFactory(campaign=campaign, prompt=prompt, candidate_a=a, candidate_b=b)
        v = verdict(pair, "b")
        JudgeVerdict.objects.filter(pk=v.pk).update(
            order1={"choice": "b", "rationale": "Response 2 is clearer."},
            order2={"choice": "a", "rationale": "Response 1 is clearer."},
        )
        pairs.append(pair)
    return campaign


@pytest.mark.parametrize("scheme_page", SCHEMES, indirect=True)
def test_the_rating_page_in_every_state(live_server, scheme_page, rich_campaign, screenshot_dir):
    page = scheme_page
    _axe_login = f"{live_server.url}/login/"
    page.goto(_axe_login)
    _axe(page, "login", screenshot_dir)
    login(page, live_server, "bob")
    _axe(page, "home", screenshot_dir)
    page.goto(f"{live_server.url}/campaigns/{rich_campaign.slug}/rate/")
    _axe(page, "rate-guidelines", screenshot_dir)
    page.keyboard.press("Enter")
    page.keyboard.press("3")
    page.keyboard.press("h")  # an armed aspect
    _axe(page, "rate", screenshot_dir)
    for key in ("1", "o", "2"):
        page.keyboard.press(key)
    page.keyboard.press("w")
    page.keyboard.type("Better.")
    page.keyboard.press("Escape")
    page.keyboard.press("d")
    page.wait_for_selector("#diff .diff-grid")
    _axe(page, "rate-diff", screenshot_dir)
    page.keyboard.press("d")
    page.keyboard.press("?")
    _axe(page, "rate-help", screenshot_dir)
    page.keyboard.press("Escape")
    page.wait_for_selector("#help", state="hidden")  # the keys go to the page again
    page.keyboard.press("x")  # both bad, pressed
    page.keyboard.press("Enter")
    page.wait_for_selector("#judge-reveal .judge-actions")
    _axe(page, "rate-reveal", screenshot_dir)
    page.keyboard.press("Enter")
    page.wait_for_selector("text=Kept your vote")
    page.keyboard.press("u")
    page.wait_for_selector("#workbench[data-correcting]")
    _axe(page, "rate-correcting", screenshot_dir)
    page.goto(f"{live_server.url}/campaigns/{rich_campaign.slug}/rate/history/")
    _axe(page, "history", screenshot_dir)


@pytest.mark.parametrize("scheme_page", SCHEMES, indirect=True)
def test_the_admin_pages(live_server, scheme_page, rich_campaign, screenshot_dir):
    page = scheme_page
    login(page, live_server, "alice")
    base = f"{live_server.url}/campaigns/{rich_campaign.slug}"
    pair = rich_campaign.pairs.order_by("id").first()
    Judgment.objects.create(
        campaign=rich_campaign, pair=pair, rater=User.objects.get(username="bob"), choice="a",
        strength=2, aspects={"helpful": "a"}, rationale="Clearer steps.", left_is_a=False,
        time_on_task_ms=4200,
    )  # fmt: skip
    for name, url in (
        ("campaign", f"{base}/"),
        ("research", f"{base}/research/"),
        ("judge", f"{base}/judge/"),
        ("leases", f"{base}/leases/"),
        ("gold-pairs", f"{base}/gold/"),
        ("gold-pair", f"{base}/gold/{pair.pk}/"),
        ("browse", f"{base}/browse/?sort=-votes"),
        ("browse-search", f"{base}/browse/?q=circle+area&sort=rank"),
        ("browse-search-deep", f"{base}/browse/?q=circle&after={pair.pk}"),
        ("browse-pair", f"{base}/browse/{pair.pk}/"),
    ):
        page.goto(url)
        _axe(page, name, screenshot_dir)


@pytest.mark.parametrize("scheme_page", SCHEMES, indirect=True)
def test_the_invitation_pages(live_server, scheme_page, campaign, screenshot_dir):
    """The admin's invitations page (empty, with bad lines, with new links), the invited rater's
    link page, its used-link page and the first-password page."""
    from annotate.models import Invitation
    from annotate.services.invitations import invitation_token

    page = scheme_page
    factories.UserFactory(username="alice", role=User.Role.ADMIN)
    login(page, live_server, "alice")
    base = f"{live_server.url}/campaigns/{campaign.slug}/invitations/"
    page.goto(base)
    _axe(page, "invitations", screenshot_dir)
    page.fill("textarea[name=text]", "name,email\nKim,not-an-email\n")
    page.click("#invite-csv button[type=submit]")
    page.wait_for_selector("#invite-problems")
    _axe(page, "invitations-problems", screenshot_dir)
    page.fill("textarea[name=text]", "name,email\nKim Minji,minji@example.org\n")
    page.click("#invite-csv button[type=submit]")
    page.wait_for_selector("#invite-links")
    _axe(page, "invitations-links", screenshot_dir)
    link = f"{live_server.url}/invite/{invitation_token(Invitation.objects.get())}/"
    page.context.clear_cookies()
    page.goto(link)
    _axe(page, "invite", screenshot_dir)
    page.click("#invite-accept")
    page.wait_for_url("**/invite/password/**")
    _axe(page, "invite-password", screenshot_dir)
    page.context.clear_cookies()
    page.goto(link)
    _axe(page, "invite-used", screenshot_dir)
