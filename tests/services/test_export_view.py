"""An export limited to a browse view ("export exactly what this view shows"): the view's query
string is checked against the campaign like the Pairs page checks it, and only its pairs are read;
through the service, the API, the page and the command."""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from annotate.exports.options import ExportOptionsError, parse_options
from annotate.models import Export, Pair
from annotate.selectors.browse import view_filters
from annotate.services.exports import export_build, export_create
from tests.exports.builders import campaign_with_votes

pytestmark = pytest.mark.django_db


@pytest.fixture
def voted(campaign):
    """Pairs 0..3: 0 unanimous, 1 split two to one, 2 tie, 3 both bad (prompts "Prompt i: …")."""
    made = campaign_with_votes(campaign)
    Pair.objects.filter(campaign=campaign).update(completed=3, needed=3)
    return made


def _prompts(out) -> list[str]:
    rows = [json.loads(line) for line in (out / "data/train.jsonl").read_text().splitlines()]
    return sorted({r["prompt_id"] for r in rows})


@pytest.mark.parametrize(
    ("query", "says"),
    [
        ("colour=red", "Unknown filter: colour"),
        ("judge=sometimes", "judge:"),
        ("generator=nobody", "generator:"),
        ("q=a&q=b", "given twice: q"),
        ("min_votes=many", "min_votes:"),
        ("q", "not a query string"),
    ],
)
def test_a_view_that_does_not_fit_the_campaign_is_refused(campaign, voted, query, says):
    with pytest.raises(ValueError, match=says):
        view_filters(campaign, query)
    with pytest.raises(ExportOptionsError) as exc:
        export_create(campaign=campaign, actor=None, format="raw-jsonl", filters={"view": query})
    assert says.split(":")[0] in exc.value.errors["view"]
    assert not Export.objects.exists()


def test_a_view_is_all_its_pages_and_may_start_with_a_question_mark(campaign, voted):
    filters = view_filters(campaign, "?split=on&sort=-id&after=12")
    assert (filters.split, filters.sort) == (True, "-id")


def test_only_the_views_pairs_are_exported(campaign, voted, tmp_path):
    pairs = list(campaign.pairs.order_by("id"))
    out = tmp_path / "split"
    summary = export_build(
        campaign=campaign, options=parse_options("raw-jsonl", {"view": "split=on"}), out_dir=out
    )
    assert _prompts(out) == [pairs[1].prompt_id]
    assert summary.pairs_seen == 1
    assert "`?split=on`" in (out / "README.md").read_text()
    out = tmp_path / "search"
    export_build(
        campaign=campaign,
        options=parse_options("raw-jsonl", {"view": "q=" + "Prompt 2"}),
        out_dir=out,
    )
    assert _prompts(out) == [pairs[2].prompt_id]


def test_the_api_takes_a_view_and_refuses_a_bad_one(campaign, voted, researcher):
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=researcher).key}")
    url = reverse("api:export-create", args=[campaign.slug])
    bad = api.post(url, {"format": "raw-jsonl", "filters": {"view": "colour=red"}}, format="json")
    assert bad.status_code == 400, bad.content
    assert "view" in json.dumps(bad.json())
    good = api.post(url, {"format": "raw-jsonl", "filters": {"view": "split=on"}}, format="json")
    assert good.status_code == 201, good.content
    assert Export.objects.get().filters["view"] == "split=on"


def test_the_browse_page_links_its_view_to_the_export_form(campaign, voted, researcher, client):
    client.force_login(researcher)
    browse = client.get(reverse("annotate:browse", args=[campaign.slug]), {"split": "on"})
    assert b"?view=split%3Don#exports" in browse.content
    research = client.get(reverse("annotate:research", args=[campaign.slug]), {"view": "split=on"})
    assert b'name="view" maxlength="2000" value="split=on"' in research.content


def test_the_command_takes_a_view(campaign, voted, tmp_path):
    out = tmp_path / "cmd"
    call_command(
        "export_dataset", campaign.slug, "--format", "raw-jsonl", "--view", "split=on",
        "--out", str(out), "--no-progress",
    )  # fmt: skip
    pairs = list(campaign.pairs.order_by("id"))
    assert _prompts(out) == [pairs[1].prompt_id]


def test_best_of_n_and_ranking_formats_take_no_view():
    for fmt in ("bon-sft", "ranking"):
        with pytest.raises(ExportOptionsError) as exc:
            parse_options(fmt, {"view": "split=on"})
        assert "view" in exc.value.errors


@pytest.mark.parametrize(
    "view",
    ["q=answer", "q=answer -Rewrite&status=complete", 'q="X answer 1" or Rewrite', "q=é -Rewrite"],
)
def test_the_export_of_a_searched_view_holds_exactly_the_pages_pairs(
    campaign, voted, researcher_client, tmp_path, view
):
    page = researcher_client.get(f"/campaigns/{campaign.slug}/browse/?{view}")
    assert page.status_code == 200
    shown = sorted(p.prompt_id for p in page.context["page"].rows)
    out = tmp_path / "view"
    export_build(campaign=campaign, options=parse_options("raw-jsonl", {"view": view}), out_dir=out)
    exported = _prompts(out) if (out / "data/train.jsonl").exists() else []
    assert exported == shown
