"""The rating page fits a laptop: at 1366 × 768 (and 1920 × 1080) a vote never needs a scroll past the
vote bar. In every state of the page the first lines of both answers and every vote control are
inside the window and on top (nothing covers them), the answers keep a readable height, and the page
itself does not scroll. Each state leaves a screenshot in screenshots/ (layout-<state>-<size>.png).
"""

from __future__ import annotations

import pytest

from annotate.markdown import render_markdown
from annotate.models import Campaign, JudgeVerdict
from tests import factories
from tests.browser.conftest import login
from tests.fakes.judge_fixtures import verdict

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SIZES = [(1366, 768), (1920, 1080)]
# Lines of each answer that must stay readable (the bug: about two at 1366 × 768).
MIN_LINES = {768: 6, 1080: 12}

ANSWER = (
    """Start with the structure of the problem before writing any code.

1. Read the **input** and check the edge cases: empty lists, one item, repeated values.
2. Handle the general case with a loop, and keep the invariant written down.

```python
def area(r: float) -> float:
    return 3.14159 * r * r
```

> Units matter: say whether r is in metres or centimetres.

"""
    + "A further paragraph explains the reasoning in more detail, step by step. " * 30
)

SYSTEM = "You are a careful tutor. Answer in plain words, cite no sources you cannot name, keep it short."
PROMPT = "How do I compute the area of a circle, and what should I watch out for?\n\n" + (
    "Some context about my project follows. " * 6
)

# Everything that must be visible and on top for a vote: the answers' first lines are checked
# separately (they may be long; only their first line must show).
CONTROLS = [
    "#vote-form [data-verdict]",
    "#vote-submit",
    "#vote-form .aspect",
    "#rationale",
    "#rewrite",
    "[data-toggle-diff]",
    "[data-toggle=skip-panel]",
    "#judge-reveal [data-judge=keep]",
    "#judge-reveal [data-revise]",
    "#undo-button",
]

MEASURE = """({ controls, firstLines, minLines }) => {
  const problems = [];
  const vw = innerWidth, vh = innerHeight;
  const onTop = (el, x, y) => {
    const hit = document.elementFromPoint(x, y);
    return hit && (hit === el || el.contains(hit) || hit.contains(el));
  };
  const inView = (r) => r.top >= 0 && r.left >= 0 && r.bottom <= vh + 0.5 && r.right <= vw + 0.5;
  for (const sel of controls) {
    for (const el of document.querySelectorAll(sel)) {
      if (!el.getClientRects().length) continue;  // not shown in this state
      const r = el.getBoundingClientRect();
      if (!inView(r)) problems.push(`${sel} out of view: ${JSON.stringify(r)}`);
      else if (!onTop(el, r.left + r.width / 2, r.top + r.height / 2)) problems.push(`${sel} covered`);
    }
  }
  for (const sel of firstLines) {
    const body = document.querySelector(sel);
    if (!body || !body.getClientRects().length) { problems.push(`${sel} not shown`); continue; }
    const first = body.firstElementChild || body;
    const r = first.getBoundingClientRect();
    const line = parseFloat(getComputedStyle(first).lineHeight) || 24;
    const box = { top: r.top, left: r.left, bottom: r.top + line, right: r.right };
    if (!inView(box)) problems.push(`${sel} first line out of view: ${JSON.stringify(box)}`);
    else if (!onTop(first, r.left + 8, r.top + line / 2)) problems.push(`${sel} first line covered`);
    const lines = body.clientHeight / (parseFloat(getComputedStyle(body).lineHeight) || 24);
    if (lines < minLines) problems.push(`${sel} shows ${lines.toFixed(1)} lines, wants ${minLines}`);
  }
  const page = document.scrollingElement;
  if (page.scrollHeight > vh + 1) problems.push(`the page scrolls: ${page.scrollHeight} > ${vh}`);
  return problems;
}"""


def _pairs(campaign, n=3):
    out = []
    for i in range(n):
        text = f"{PROMPT}({i})"
        prompt = factories.PromptFactory(
            campaign=campaign,
            messages=[{"role": "user", "content": text}],
            rendered=[{"role": "user", "html": render_markdown(text)}],
            system=SYSTEM,
        )
        a_text, b_text = f"({i}) " + ANSWER, f"({i}) " + ANSWER.replace("loop", "recursion")
        a = factories.CandidateFactory(prompt=prompt, text=a_text, html=render_markdown(a_text))
        b = factories.CandidateFactory(prompt=prompt, text=b_text, html=render_markdown(b_text))
        pair = factories.PairFactory(
            campaign=campaign, prompt=prompt, candidate_a=a, candidate_b=b, random_key=1 - i / 10
        )
        out.append(pair)
    return out


def _full_campaign(campaign, **extra):
    Campaign.objects.filter(pk=campaign.pk).update(
        scale=Campaign.Scale.GRADED7,
        aspects=["helpful", "honest", "harmless"],
        rationale=Campaign.Rationale.REQUIRED,
        rationale_min_length=5,
        allow_rewrite=True,
        allow_both_bad=True,
        **extra,
    )


def _judge_every_pair(campaign, pairs):
    for pair in pairs:
        v = verdict(pair, "a")
        rationale = "Response 1 states the formula and warns about units; Response 2 " * 4
        JudgeVerdict.objects.filter(pk=v.pk).update(
            order1={"choice": "a", "rationale": rationale},
            order2={"choice": "a", "rationale": rationale.replace("Response 1", "Response 2")},
        )


def _open(page, live_server, campaign, size):
    page.set_viewport_size({"width": size[0], "height": size[1]})
    login(page, live_server, "bob")
    page.goto(f"{live_server.url}/campaigns/{campaign.slug}/rate/")
    if page.is_visible("#guidelines"):
        page.keyboard.press("Enter")


def _vote(page):
    before = page.get_attribute("#workbench", "data-assignment")
    page.keyboard.press("2")
    for key in ("h", "1", "o", "t", "m", "2"):
        page.keyboard.press(key)
    if page.locator("#rationale").count():
        page.fill("#rationale", "Clear and right.")
    page.keyboard.press("Escape")
    page.keyboard.press("Enter")
    page.wait_for_function(
        "b => document.querySelector('#workbench')?.dataset.assignment !== b", arg=before
    )


def _check(page, state, size, screenshot_dir, *, first_lines=None):
    page.wait_for_timeout(50)
    shot = screenshot_dir / f"layout-{state}-{size[0]}x{size[1]}.png"
    page.screenshot(path=str(shot))
    first_lines = first_lines or ["#response-left .response-body", "#response-right .response-body"]
    problems = page.evaluate(
        MEASURE,
        {"controls": CONTROLS, "firstLines": first_lines, "minLines": MIN_LINES[size[1]]},
    )
    assert problems == [], f"{state} at {size}: {problems} (see {shot.name})"
    assert not page.js_errors


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_a_plain_binary_pair_fits(live_server, page, campaign, rater, screenshot_dir, size):
    _pairs(campaign, n=1)
    _open(page, live_server, campaign, size)
    assert page.is_visible(".system-text")  # the system prompt is shown, not folded away
    _check(page, "binary", size, screenshot_dir)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_every_extra_of_the_vote_fits(live_server, page, campaign, rater, screenshot_dir, size):
    """Graded scale, three aspects (one armed), a required rationale, then the rewrite open, the
    differences, and the skip panel: each state still fits."""
    _full_campaign(campaign)
    _pairs(campaign, n=1)
    _open(page, live_server, campaign, size)
    page.keyboard.press("3")
    page.keyboard.press("h")  # armed: outlined, waiting for a side
    _check(page, "graded-aspects-rationale", size, screenshot_dir)
    page.keyboard.press("1")
    page.keyboard.press("w")
    page.keyboard.type("A better answer, written by the rater.")
    page.keyboard.press("Escape")
    _check(page, "rewrite-open", size, screenshot_dir)
    page.keyboard.press("d")
    page.wait_for_selector("#diff .diff-grid")
    _check(page, "diff", size, screenshot_dir, first_lines=["#diff"])
    page.keyboard.press("d")
    page.keyboard.press("s")
    page.keyboard.press("Escape")
    _check(page, "skip-panel", size, screenshot_dir)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_the_judge_revealed_after_the_vote_fits(
    live_server, page, campaign, rater, screenshot_dir, size
):
    _full_campaign(campaign, judge_mode=Campaign.JudgeMode.AFTER_VOTE)
    _judge_every_pair(campaign, _pairs(campaign, n=3))
    _open(page, live_server, campaign, size)
    _vote(page)
    page.wait_for_selector("#judge-reveal .judge-actions")
    # While keep / revise is open its buttons and the next pair's first lines are in view; the bar
    # waits dimmed but covers nothing.
    _check(page, "judge-awaiting", size, screenshot_dir)
    page.keyboard.press("Enter")
    page.wait_for_selector("text=Kept your vote")
    assert page.locator("#judge-reveal").bounding_box()["height"] < 60  # one line once answered
    _check(page, "judge-kept", size, screenshot_dir)
    page.click("#judge-reveal", position={"x": 5, "y": 5})
    _vote(page)
    page.wait_for_selector("#judge-reveal .judge-actions")
    page.click("summary:has-text('Show the pair again')")
    # The rated pair takes the screen; the next pair steps aside until keep / revise is answered.
    assert page.is_hidden("#vote-form")
    _check(
        page,
        "judge-pair-again",
        size,
        screenshot_dir,
        first_lines=[f"#judge-reveal .response:nth-child({n}) .response-body" for n in (1, 2)],
    )
    page.keyboard.press("Enter")
    page.wait_for_selector("text=Kept your vote")
    assert page.is_visible("#vote-form")


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_undoing_the_last_vote_fits(live_server, page, campaign, rater, screenshot_dir, size):
    _full_campaign(campaign)
    _pairs(campaign, n=2)
    _open(page, live_server, campaign, size)
    _vote(page)
    _check(page, "after-vote-undo-offered", size, screenshot_dir)
    page.keyboard.press("u")
    page.wait_for_selector("#workbench[data-correcting]")
    _check(page, "correcting", size, screenshot_dir)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_the_judge_suggested_before_the_vote_fits(
    live_server, page, campaign, rater, screenshot_dir, size
):
    _full_campaign(campaign, judge_mode=Campaign.JudgeMode.BEFORE_VOTE)
    _judge_every_pair(campaign, _pairs(campaign, n=1))
    _open(page, live_server, campaign, size)
    assert page.is_visible(".judge-suggestion")
    _check(page, "judge-before", size, screenshot_dir)
