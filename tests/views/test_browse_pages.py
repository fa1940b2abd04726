"""The researcher's browse page and pair page: who may see them, what bad query strings get, and
what a researcher reads there."""

from __future__ import annotations

import pytest
from django.urls import reverse

from annotate.models import Judgment, Pair
from tests import factories
from tests.exports.builders import campaign_with_votes


@pytest.fixture
def voted(campaign):
    made = campaign_with_votes(campaign)
    Pair.objects.filter(campaign=campaign).update(completed=3, needed=3)
    return made


def _browse(campaign) -> str:
    return reverse("annotate:browse", args=[campaign.slug])


@pytest.mark.parametrize(
    ("persona", "status"),
    [
        ("admin_client", 200),
        ("researcher_client", 200),
        ("rater_client", 403),
        ("outsider_client", 404),
    ],
)
def test_only_researchers_and_admins_get_in(request, campaign, voted, persona, status):
    client = request.getfixturevalue(persona)
    pair = voted["pairs"][0]
    assert client.get(_browse(campaign)).status_code == status
    page = reverse("annotate:browse-pair", args=[campaign.slug, pair.id])
    assert client.get(page).status_code == status


def test_the_list_shows_generators_votes_and_links_to_each_pair(researcher_client, campaign, voted):
    body = researcher_client.get(_browse(campaign)).content.decode()
    for pair in voted["pairs"]:
        assert reverse("annotate:browse-pair", args=[campaign.slug, pair.id]) in body
    assert "gen-x" in body and "gen-y" in body and "3 / 3" in body


def test_filters_and_search_narrow_the_list(researcher_client, campaign, voted):
    split = voted["pairs"][1]
    response = researcher_client.get(_browse(campaign), {"split": "on"})
    assert [p.id for p in response.context["page"].rows] == [split.id]
    response = researcher_client.get(_browse(campaign), {"q": "Rewrite"})
    assert [p.id for p in response.context["page"].rows] == [voted["pairs"][3].id]
    response = researcher_client.get(_browse(campaign), {"q": "nothing-like-this"})
    assert "No pair matches these filters." in response.content.decode()


def test_the_next_page_link_carries_the_filters_and_the_cursor(
    researcher_client, campaign, voted, monkeypatch
):
    from annotate.selectors import browse

    monkeypatch.setattr(browse, "PAGE_SIZE", 2)
    monkeypatch.setattr(browse.browse_page, "__kwdefaults__", {"after": "", "size": 2})
    first = researcher_client.get(_browse(campaign), {"sort": "-id", "generator": "gen-x"})
    assert first.context["next_query"].startswith("sort=-id&generator=gen-x&after=")
    second = researcher_client.get(_browse(campaign) + "?" + first.context["next_query"])
    ids = [p.id for p in first.context["page"].rows + second.context["page"].rows]
    assert ids == sorted((p.id for p in voted["pairs"]), reverse=True)
    assert "First page" in second.content.decode()


@pytest.mark.parametrize(
    ("query", "says"),
    [
        ({"tie_policy": "drop"}, "Unknown filter: tie_policy."),
        ({"min_votes": "many"}, "Enter a whole number."),
        ({"min_votes": "-1"}, "greater than or equal to 0"),
        ({"sort": "rating"}, "Select a valid choice."),
        ({"generator": "nobody"}, "Select a valid choice."),
        ({"after": "12:5"}, "does not belong to this sort order"),
        ({"after": "9" * 30}, "does not belong to this sort order"),
        ({"q": "x" * 201}, "at most 200 characters"),
        ({"q": "a\x07b"}, "control character"),
    ],
)
def test_a_bad_query_string_is_a_400_that_says_why(researcher_client, campaign, voted, query, says):
    response = researcher_client.get(_browse(campaign), query)
    assert response.status_code == 400
    assert says in response.content.decode()


def test_bytes_that_are_not_utf8_are_searched_as_replacement_characters(
    researcher_client, campaign, voted
):
    response = researcher_client.get(_browse(campaign) + "?q=a%ED%A0%80b%FF")
    assert response.status_code == 200 and not response.context["page"].rows


def test_search_text_is_shown_escaped(researcher_client, campaign, voted):
    body = researcher_client.get(_browse(campaign), {"q": "<script>alert(1)</script>"}).content
    assert b"<script>alert(1)" not in body and b"&lt;script&gt;alert(1)" in body


def test_the_pair_page_has_model_names_every_vote_and_the_judges_two_orders(
    researcher_client, campaign, voted
):
    pair = voted["pairs"][3]
    Judgment.objects.filter(pair=pair, rater__username="rater1").update(rationale="Neither helps.")
    from tests.selectors.test_browse import _verdict

    _verdict(pair, "both_bad")
    body = researcher_client.get(
        reverse("annotate:browse-pair", args=[campaign.slug, pair.id])
    ).content.decode()
    assert "model-x" in body and "model-y" in body
    assert "Neither helps." in body and "Rewrite 3 by rater2" in body
    assert "first order says so" in body and "second order too" in body
    assert f"{_browse(campaign)}?rater=rater0" in body


def test_a_pair_of_another_campaign_is_not_found_here(researcher_client, campaign, other_campaign):
    elsewhere = factories.PairFactory(campaign=other_campaign)
    url = reverse("annotate:browse-pair", args=[campaign.slug, elsewhere.id])
    assert researcher_client.get(url).status_code == 404


def _adjudicate_url(campaign, pair) -> str:
    return reverse("annotate:pair-adjudicate", args=[campaign.slug, pair.id])


def test_a_researcher_settles_a_pair_from_its_page(researcher_client, campaign, voted):
    pair = voted["pairs"][1]
    response = researcher_client.post(
        _adjudicate_url(campaign, pair), {"choice": "b", "reason": "B answers the question."}
    )
    assert response.status_code == 302
    body = researcher_client.get(response["Location"]).content.decode()
    assert "settled" in body and "B answers the question." in body and "Adjudicate again" in body
    final = Judgment.objects.get(pair=pair, source="adjudicated")
    assert (final.choice, final.rater.username) == ("b", "rita")


@pytest.mark.parametrize(
    ("data", "says"),
    [
        ({"choice": "b"}, "This field is required."),
        ({"choice": "maybe", "reason": "r"}, "Select a valid choice."),
        ({"choice": "a", "reason": "r\x00"}, "NUL"),
    ],
)
def test_a_bad_adjudication_is_a_400_and_stores_nothing(
    researcher_client, campaign, voted, data, says
):
    response = researcher_client.post(_adjudicate_url(campaign, voted["pairs"][1]), data)
    assert response.status_code == 400 and says in response.content.decode()
    assert not Judgment.objects.filter(source="adjudicated").exists()


@pytest.mark.parametrize(("persona", "status"), [("rater_client", 403), ("outsider_client", 404)])
def test_raters_cannot_adjudicate(request, campaign, voted, persona, status):
    client = request.getfixturevalue(persona)
    response = client.post(
        _adjudicate_url(campaign, voted["pairs"][1]), {"choice": "a", "reason": "r"}
    )
    assert response.status_code == status
    assert not Judgment.objects.filter(source="adjudicated").exists()


def test_previous_and_next_links_carry_the_filters_and_walk_both_ways(
    researcher_client, campaign, voted, monkeypatch
):
    from annotate.selectors import browse

    monkeypatch.setattr(
        browse.browse_page, "__kwdefaults__", {"after": "", "before": "", "size": 1}
    )
    query = {"q": "answer", "sort": "rank"}
    first = researcher_client.get(_browse(campaign), query)
    assert first.context["previous_query"] == "" and 'rel="prev"' not in first.content.decode()
    pages = [first]
    while pages[-1].context["next_query"]:
        pages.append(
            researcher_client.get(_browse(campaign) + "?" + pages[-1].context["next_query"])
        )
    forward = [p.context["page"].rows[0].id for p in pages]
    assert sorted(forward) == sorted(p.id for p in voted["pairs"])
    last = pages[-1]
    assert "q=answer&sort=rank&before=" in last.context["previous_query"]
    assert 'rel="prev"' in last.content.decode()
    back = researcher_client.get(_browse(campaign) + "?" + last.context["previous_query"])
    assert back.context["page"].rows[0].id == forward[-2]


@pytest.mark.parametrize(
    "q",
    ["'", '"', "a & b | !c", "(sql", "sql*", "NEAR(a b)", "-", "<->", "a:*", "보안 취약점",
     "'; DROP TABLE annotate_pair; --", "%_", "😀", "x" * 200],
)  # fmt: skip
def test_hostile_searches_are_answered(researcher_client, campaign, voted, q):
    for sort in ("id", "rank"):
        response = researcher_client.get(_browse(campaign), {"q": q, "sort": sort})
        assert response.status_code == 200, (q, sort)


@pytest.mark.parametrize(
    ("query", "says"),
    [
        ("q=" + "x" * 10_000, "at most 200 characters"),
        ("q=a%00b", "NUL character"),
        ("q=a&q=b", "A filter given twice: q."),
        ("sort=rank", "sorts the results of a search"),
        ("after=3&before=5", "not both"),
        ("sort=votes&before=7", "does not belong to this sort order"),
    ],
)
def test_more_bad_query_strings_are_400s(researcher_client, campaign, voted, query, says):
    response = researcher_client.get(_browse(campaign) + "?" + query)
    assert response.status_code == 400
    assert says in response.content.decode()
