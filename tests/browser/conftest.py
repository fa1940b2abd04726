"""Browser fixtures: Debian's Chromium driven by Playwright's sync API (never `playwright install`).

Tests using these need ``live_server`` and a transactional database (data must be committed for the
server thread to see it); bin/test sets DJANGO_ALLOW_ASYNC_UNSAFE because Playwright runs an event
loop in the test thread.
"""

from __future__ import annotations

from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "screenshots"


# ``browser`` (the session's one Chromium) is in tests/conftest.py: tests/i18n drives it too, and
# one process can run only one Playwright sync API at a time.


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    # Any JavaScript dialog (alert/confirm/prompt) is a test failure: hostile content must stay inert.
    page.dialogs = []
    page.on("dialog", lambda d: (page.dialogs.append(d.message), d.dismiss()))
    page.js_errors = []
    page.on("pageerror", lambda e: page.js_errors.append(str(e)))
    yield page
    context.close()


@pytest.fixture
def screenshot_dir() -> Path:
    SCREENSHOTS.mkdir(exist_ok=True)
    return SCREENSHOTS


def login(page, live_server, username: str, password: str = "pw") -> None:
    page.goto(f"{live_server.url}/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")
