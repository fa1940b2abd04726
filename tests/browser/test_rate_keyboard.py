from __future__ import annotations

import pytest

from annotate.markdown import render_markdown
from annotate.models import Judgment
from tests import factories
from tests.browser.conftest import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LONG = (
    """Here is a careful answer.

1. First, check the **input** for edge cases.
2. Then handle the general case:

```python
def area(r: float) -> float:
    return 3.14159 * r * r
```

> Note: units matter.

"""
    + "More detail follows in a second paragraph that goes on for a while. " * 6
)


def _pairs(campaign, n=4):
    out = []
    for i in range(n):
        prompt = factories.PromptFactory(
            campaign=campaign,
            messages=[{"role": "user", "content": f"How do I compute the area of circle {i}?"}],
            system="You are a helpful assistant." if i == 0 else "",
        )
        a_text = LONG if i == 0 else f"Use pi r squared ({i})."
        b_text = f"The area is **pi times r squared**; for r=2 that is 12.57 ({i})."
        a = factories.CandidateFactory(prompt=prompt, text=a_text, html=render_markdown(a_text))
        b = factories.CandidateFactory(prompt=prompt, text=b_text, html=render_markdown(b_text))
        out.append(
            factories.PairFactory(
                campaign=campaign,
                prompt=prompt,
                candidate_a=a,
                candidate_b=b,
                random_key=1.0 - i / 10,  # the long, code-bearing pair comes first
            )
        )
    return out


def _assignment_id(page) -> str:
    return page.get_attribute("#workbench", "data-assignment")


def test_it_rates_three_pairs_from_the_keyboard_without_reloading(
    live_server, page, campaign, rater, screenshot_dir
):
    _pairs(campaign)
    login(page, live_server, "bob")
    page.goto(f"{live_server.url}/campaigns/{campaign.slug}/rate/")
    assert page.is_visible("#guidelines")  # guidelines come first
    page.screenshot(path=str(screenshot_dir / "rate-guidelines.png"))
    page.keyboard.press("Enter")
    assert page.is_hidden("#guidelines")
    page.evaluate("window.__marker = 1")
    page.screenshot(path=str(screenshot_dir / "rate-page.png"), full_page=False)

    seen = []
    for key in ("1", "2", "t"):
        before = _assignment_id(page)
        seen.append(before)
        page.keyboard.press(key)
        page.keyboard.press("Enter")
        page.wait_for_function(
            "before => document.querySelector('#workbench')?.dataset.assignment !== before",
            arg=before,
        )
        assert page.evaluate("window.__marker") == 1  # same document: no reload
    page.screenshot(path=str(screenshot_dir / "rate-after-votes.png"))
    assert Judgment.objects.filter(rater=rater).count() == 3
    assert len(set(seen)) == 3
    assert not page.dialogs and not page.js_errors


def test_it_shows_the_all_done_state_after_the_last_pair(live_server, page, campaign, rater):
    _pairs(campaign, n=1)
    factories.EnrollmentFactory  # noqa: B018 - the rater fixture is already enrolled
    login(page, live_server, "bob")
    page.goto(f"{live_server.url}/campaigns/{campaign.slug}/rate/")
    page.keyboard.press("Enter")  # close the guidelines
    page.keyboard.press("a")
    page.keyboard.press("Enter")
    page.wait_for_selector("text=All done")
    assert "1</strong> pair" in page.inner_html("#workbench")
