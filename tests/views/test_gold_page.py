"""Gold answers marked on the pair as raters see it, validated by the model: the page, the back
office and the database refuse what is not one of the campaign's choices."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from annotate.models import Campaign, Pair
from annotate.services.gold import pair_gold_set
from tests import factories
from tests.fakes.judge_fixtures import make_pair


def _url(campaign, pair=None):
    if pair is None:
        return reverse("annotate:gold-pairs", args=[campaign.slug])
    return reverse("annotate:gold-pair", args=[campaign.slug, pair.pk])


@pytest.fixture
def pairs(campaign):
    return [make_pair(campaign, f"Alpha {n}.", f"Beta {n}.") for n in range(3)]


def test_the_admin_sees_the_pair_as_raters_do_with_the_campaigns_choices(
    admin_client, campaign, pairs
):
    Campaign.objects.filter(pk=campaign.pk).update(scale="graded7", allow_both_bad=False)
    html = admin_client.get(_url(campaign, pairs[0])).content.decode()
    # A is candidate_a, on the left; the choices in words, the tie in the scale's own.
    assert html.index("Alpha 0.") < html.index("Beta 0.")
    for value, label in (("a", "A is better"), ("tie", "About the same"), ("b", "B is better")):
        assert f'name="gold" value="{value}" aria-pressed="false">{label}</button>' in html
    assert 'value="both_bad"' not in html
    assert "not gold" in html


def test_marking_gold_stores_the_pairs_own_terms_and_opens_the_next_pair(
    admin_client, campaign, pairs
):
    response = admin_client.post(_url(campaign, pairs[0]), {"gold": "b"})
    assert response.status_code == 302 and response.url == _url(campaign, pairs[1])
    assert Pair.objects.get(pk=pairs[0].pk).gold_answer == "b"
    listing = admin_client.get(_url(campaign) + "?show=gold").content.decode()
    assert "B is better" in listing and f"<td>{pairs[1].pk}</td>" not in listing
    # "Not gold" clears it; the last pair goes back to the list.
    assert admin_client.post(_url(campaign, pairs[0]), {"gold": ""}).status_code == 302
    assert Pair.objects.get(pk=pairs[0].pk).gold_answer == ""
    assert admin_client.post(_url(campaign, pairs[2]), {"gold": "tie"}).url == _url(campaign)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ({"gold": "zzz"}, "is not a valid choice"),
        ({"gold": "A"}, "is not a valid choice"),
        ({"gold": "both_bad"}, "does not allow “both bad”"),
        ({}, "Choose the gold answer"),
        ({"gold": "a", "answer": "a"}, "Unknown field: answer"),
    ],
)
def test_the_page_refuses_what_the_campaign_cannot_answer(
    admin_client, campaign, pairs, data, reason
):
    Campaign.objects.filter(pk=campaign.pk).update(allow_both_bad=False)
    response = admin_client.post(_url(campaign, pairs[0]), data)
    assert response.status_code == 400
    assert reason in response.content.decode()
    assert Pair.objects.get(pk=pairs[0].pk).gold_answer == ""


def test_both_bad_is_gold_where_the_campaign_allows_it(admin_client, campaign, pairs):
    Campaign.objects.filter(pk=campaign.pk).update(allow_both_bad=True)
    assert 'value="both_bad"' in admin_client.get(_url(campaign, pairs[0])).content.decode()
    assert admin_client.post(_url(campaign, pairs[0]), {"gold": "both_bad"}).status_code == 302
    assert Pair.objects.get(pk=pairs[0].pk).gold_answer == "both_bad"


def test_the_model_refuses_bad_answers_everywhere(campaign, pairs, admin_user):
    Campaign.objects.filter(pk=campaign.pk).update(allow_both_bad=False)
    pair = Pair.objects.get(pk=pairs[0].pk)
    for bad in ("zzz", "both_bad"):
        pair.gold_answer = bad
        with pytest.raises(ValidationError):
            pair.full_clean()
        with pytest.raises(ValidationError):
            pair_gold_set(pair=Pair.objects.get(pk=pair.pk), gold=bad, actor=admin_user)


def test_the_back_office_refuses_free_text_gold(db, client, campaign, pairs):
    root = factories.UserFactory(username="root", role="admin", is_staff=True, is_superuser=True)
    client.force_login(root)
    Campaign.objects.filter(pk=campaign.pk).update(allow_both_bad=False)
    pair = pairs[0]
    url = reverse("admin:annotate_pair_change", args=[pair.pk])
    form = {
        "campaign": campaign.pk,
        "prompt": pair.prompt_id,
        "candidate_a": pair.candidate_a_id,
        "candidate_b": pair.candidate_b_id,
        "strategy": pair.strategy,
        "needed": pair.needed,
        "assigned": 0,
        "completed": 0,
        "left_a_count": 0,
        "random_key": 0,
        "created_at_0": "2026-01-01",
        "created_at_1": "00:00:00",
    }
    for bad in ("zzz", "both_bad"):
        response = client.post(url, {**form, "gold_answer": bad})
        assert response.status_code == 200 and "errorlist" in response.content.decode()
        assert Pair.objects.get(pk=pair.pk).gold_answer == ""
    assert client.post(url, {**form, "gold_answer": "a"}).status_code == 302
    assert Pair.objects.get(pk=pair.pk).gold_answer == "a"


def test_only_admins(
    campaign, pairs, researcher_client, rater_client, outsider_client, anon_client
):
    for url in (_url(campaign), _url(campaign, pairs[0])):
        assert researcher_client.get(url).status_code == 403
        assert rater_client.get(url).status_code == 403
        assert outsider_client.get(url).status_code == 404
        assert anon_client.get(url).status_code == 302
    url = _url(campaign, pairs[0])
    for client in (researcher_client, rater_client):
        assert client.post(url, {"gold": "a"}).status_code == 403
    assert outsider_client.post(url, {"gold": "a"}).status_code == 404
    assert Pair.objects.get(pk=pairs[0].pk).gold_answer == ""


def test_a_pair_of_another_campaign_or_no_pair_is_404(
    admin_client, campaign, other_campaign, pairs
):
    foreign = make_pair(other_campaign, "x", "y")
    bad = reverse("annotate:gold-pair", args=[campaign.slug, foreign.pk])
    assert admin_client.get(bad).status_code == 404
    huge = reverse("annotate:gold-pair", args=[campaign.slug, 2**70])
    assert admin_client.get(huge).status_code == 404
    assert admin_client.get(_url(campaign) + "?page=zzz&show=nope").status_code == 200


def test_the_api_sets_gold_by_the_same_rules(campaign, pairs, admin_user, researcher):
    from rest_framework.test import APIClient

    Campaign.objects.filter(pk=campaign.pk).update(allow_both_bad=False)
    url = f"/api/campaigns/{campaign.slug}/pairs/{pairs[0].pk}/gold/"
    api = APIClient()
    api.force_authenticate(admin_user)
    assert api.post(url, {"gold": "b"}, format="json").json() == {"pair": pairs[0].pk, "gold": "b"}
    assert Pair.objects.get(pk=pairs[0].pk).gold_answer == "b"
    for body in ({"gold": "zzz"}, {"gold": "both_bad"}, {}, {"gold": "a", "extra": 1}):
        response = api.post(url, body, format="json")
        assert response.status_code == 400, body
    assert "does not allow" in api.post(url, {"gold": "both_bad"}, format="json").json()["gold"][0]
    assert Pair.objects.get(pk=pairs[0].pk).gold_answer == "b"
    assert api.post(url, {"gold": ""}, format="json").json()["gold"] == ""
    huge = f"/api/campaigns/{campaign.slug}/pairs/{2**70}/gold/"
    assert api.post(huge, {"gold": "a"}, format="json").status_code == 404
    api.force_authenticate(researcher)
    assert api.post(url, {"gold": "a"}, format="json").status_code == 403
