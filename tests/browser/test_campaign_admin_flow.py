"""The admin's campaign page in Chromium: htmx upload reports bad lines in place, a good file reloads."""

from __future__ import annotations

import json

import pytest

from annotate.models import Prompt, User
from tests import factories
from tests.browser.conftest import login

pytestmark = pytest.mark.browser


def test_it_imports_prompts_and_reports_bad_lines_without_a_reload(
    transactional_db, live_server, page, tmp_path, screenshot_dir
):
    factories.UserFactory(username="ada", role=User.Role.ADMIN)
    campaign = factories.CampaignFactory(title="Browser campaign", slug="browser", status="draft")
    login(page, live_server, "ada")
    page.goto(f"{live_server.url}/campaigns/browser/")

    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "fine"}\n{broken\n{"prompt": ""}\n')
    page.evaluate("window.__marker = 'same page'")
    page.set_input_files("#prompts input[type=file]", str(bad))
    page.click("#prompts button.primary")
    page.wait_for_selector("#prompt-import-result .line-errors")
    errors = page.locator("#prompt-import-result li").all_inner_texts()
    assert errors[0].startswith("line 2") and errors[1].startswith("line 3")
    assert page.evaluate("window.__marker") == "same page"  # swapped in, no reload
    assert not Prompt.objects.filter(campaign=campaign).exists()
    page.locator("#prompts").screenshot(path=str(screenshot_dir / "campaign_import_errors.png"))

    good = tmp_path / "good.jsonl"
    good.write_text("\n".join(json.dumps({"prompt": f"Question {i}"}) for i in range(3)))
    page.set_input_files("#prompts input[type=file]", str(good))
    page.click("#prompts button.primary")
    page.wait_for_selector("text=Imported 3 prompts.")
    assert "3 prompts in this campaign." in page.locator("#prompts").inner_text()
    assert Prompt.objects.filter(campaign=campaign).count() == 3
    assert page.js_errors == []
