"""GET /api/campaigns/<slug>/units/: the browse page's list as JSON, read with the page's own form
(same filters, same refusals), keyset pages with next and previous addresses."""

from __future__ import annotations

import pytest

from annotate.models import Pair
from tests import factories
from tests.api.test_campaign_api import _api
from tests.exports.builders import campaign_with_votes

pytestmark = pytest.mark.django_db


@pytest.fixture
def voted(campaign):
    made = campaign_with_votes(campaign)
    Pair.objects.filter(campaign=campaign).update(completed=3, needed=3)
    return made


def _url(campaign) -> str:
    return f"/api/campaigns/{campaign.slug}/units/"


def test_who_may_browse(campaign, voted, admin_user, researcher, rater, outsider):
    assert _api(admin_user).get(_url(campaign)).status_code == 200
    assert _api(researcher).get(_url(campaign)).status_code == 200
    assert _api(rater).get(_url(campaign)).status_code == 403
    assert _api(outsider).get(_url(campaign)).status_code == 404
    assert _api().get(_url(campaign)).status_code == 401


def test_it_lists_what_the_page_lists(campaign, voted, researcher, researcher_client):
    api = _api(researcher)
    body = api.get(_url(campaign), {"q": "answer", "split": "on"}).json()
    split = voted["pairs"][1]
    assert [row["id"] for row in body["results"]] == [split.id]
    row = body["results"][0]
    assert (row["generator_a"], row["generator_b"]) == ("gen-x", "gen-y")
    assert row["votes"] == 3 and sum(row["latest_votes"].values()) == 3
    assert row["search_rank"] > 0
    assert body["next"] is None and body["previous"] is None
    page = researcher_client.get(f"/campaigns/{campaign.slug}/browse/", {"q": "answer"})
    listed = api.get(_url(campaign), {"q": "answer"}).json()["results"]
    assert [r["id"] for r in listed] == [p.id for p in page.context["page"].rows]


def test_next_and_previous_walk_the_pages(campaign, voted, researcher, monkeypatch):
    from annotate.selectors import browse

    monkeypatch.setattr(
        browse.browse_page, "__kwdefaults__", {"after": "", "before": "", "size": 3}
    )
    factories.PairFactory(campaign=campaign)
    api = _api(researcher)
    first = api.get(_url(campaign), {"sort": "-votes"}).json()
    assert first["previous"] is None and "sort=-votes" in first["next"]
    second = api.get(first["next"]).json()
    assert second["next"] is None and "before=" in second["previous"]
    ids = [r["id"] for r in first["results"] + second["results"]]
    assert len(ids) == len(set(ids)) == 5
    back = api.get(second["previous"]).json()
    assert [r["id"] for r in back["results"]] == [r["id"] for r in first["results"]]


@pytest.mark.parametrize(
    ("query", "field", "says"),
    [
        ("colour=red", "non_field_errors", "Unknown filter: colour"),
        ("q=a&q=b", "non_field_errors", "given twice: q"),
        ("sort=rank", "sort", "search"),
        ("min_votes=-1", "min_votes", "greater than or equal to 0"),
        ("after=1:2", "after", "does not belong"),
        ("q=" + "x" * 10_000, "q", "at most 200"),
        ("q=a%07b", "q", "control character"),
        ("generator=nobody", "generator", "valid choice"),
        ("split=AAA", "split", "“on”"),
        ("contested=true", "contested", "“on”"),
    ],
)
def test_a_bad_query_is_a_400_naming_the_key(campaign, voted, researcher, query, field, says):
    response = _api(researcher).get(_url(campaign) + "?" + query)
    assert response.status_code == 400
    assert says in " ".join(response.json()[field])


@pytest.mark.parametrize(
    "q", ["'", '"', "a & b | !c", "(sql", "NEAR(a b)", "-", "a:*", "보안", "😀", "x" * 200]
)
def test_hostile_searches_are_answered(campaign, voted, researcher, q):
    for sort in ("id", "rank"):
        response = _api(researcher).get(_url(campaign), {"q": q, "sort": sort})
        assert response.status_code == 200, (q, sort)
