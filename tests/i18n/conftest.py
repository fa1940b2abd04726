from tests.browser.conftest import browser  # noqa: F401  (the session's Chromium, for the Korean page)
