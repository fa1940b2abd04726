"""The back-office gold page for candidate sets (views/gold_sets.py): the unit as raters see it,
gold given per response (a rank, a score) or per step (a label), validated; admins only."""

from __future__ import annotations

import pytest
from django.urls import reverse

from annotate.models import Campaign, CandidateSet, StepTrace
from tests import factories

pytestmark = pytest.mark.django_db


def _set_campaign(campaign, protocol, **fields):
    Campaign.objects.filter(pk=campaign.pk).update(protocol=protocol, **fields)
    campaign.refresh_from_db()
    if protocol == "steps":
        return factories.step_trace(campaign=campaign)
    return factories.ranking_set(campaign=campaign, k=3)


def _url(campaign, unit=None):
    if unit is None:
        return reverse("annotate:gold-sets", args=[campaign.slug])
    return reverse("annotate:gold-set", args=[campaign.slug, unit.pk])


def test_ranking_gold_is_an_order_of_the_numbered_responses(admin_client, campaign):
    unit = _set_campaign(campaign, "ranking")
    page = admin_client.get(_url(campaign, unit))
    assert page.status_code == 200 and 'name="rank_3"' in page.content.decode()
    response = admin_client.post(
        _url(campaign, unit), {"rank_1": "2", "rank_2": "1", "rank_3": "2"}
    )
    assert response.status_code == 302
    a, b, c = unit.member_ids()
    assert CandidateSet.objects.get(pk=unit.pk).gold_ranking == [[b], sorted([a, c])]
    listed = admin_client.get(_url(campaign)).content.decode()
    assert "2 &gt; 1 = 3" in listed
    # The pairs' gold page sends a set campaign here.
    pairs = admin_client.get(reverse("annotate:gold-pairs", args=[campaign.slug]))
    assert pairs.status_code == 302 and pairs.url == _url(campaign)


@pytest.mark.parametrize(
    "data",
    [{"rank_1": "1", "rank_2": "2"}, {"rank_1": "1", "rank_2": "2", "rank_3": "9"},
     {"rank_1": "zzz", "rank_2": "2", "rank_3": "3"}, {"rank_1": "--1", "rank_2": "2", "rank_3": "3"},
     {"rank_1": "1", "rank_2": "2", "rank_3": "3", "gold": "a"}],
)  # fmt: skip
def test_bad_ranking_gold_is_refused_with_a_message(admin_client, campaign, data):
    unit = _set_campaign(campaign, "ranking")
    response = admin_client.post(_url(campaign, unit), data)
    assert response.status_code == 400
    assert 'class="flash flash-error"' in response.content.decode()
    assert CandidateSet.objects.get(pk=unit.pk).gold_ranking == []


def test_rating_gold_is_a_score_per_response_on_the_scale(admin_client, campaign):
    unit = _set_campaign(campaign, "rating", rating_k=3, aspects=[])
    assert 'name="score_1"' in admin_client.get(_url(campaign, unit)).content.decode()
    bad = admin_client.post(_url(campaign, unit), {"score_1": "5", "score_2": "6", "score_3": "1"})
    assert bad.status_code == 400
    ok = admin_client.post(_url(campaign, unit), {"score_1": "5", "score_2": "4", "score_3": "1"})
    assert ok.status_code == 302
    a, b, c = unit.member_ids()
    assert CandidateSet.objects.get(pk=unit.pk).gold_scores == {str(a): 5, str(b): 4, str(c): 1}
    admin_client.post(_url(campaign, unit), {"clear": "1"})
    assert CandidateSet.objects.get(pk=unit.pk).gold_scores == {}


def test_step_gold_is_a_label_per_step(admin_client, campaign):
    unit = _set_campaign(campaign, "steps", step_stop_at_wrong=False)
    ok = admin_client.post(_url(campaign, unit), {"label_1": "1", "label_2": "-1", "label_3": "0"})
    assert ok.status_code == 302
    assert StepTrace.objects.get(candidate_set=unit).gold_labels == [1, -1, 0]


def test_only_admins_mark_gold(rater_client, researcher_client, anon_client, campaign):
    unit = _set_campaign(campaign, "ranking")
    data = {"rank_1": "1", "rank_2": "2", "rank_3": "3"}
    for client in (rater_client, researcher_client):
        assert client.get(_url(campaign, unit)).status_code in (403, 404)
        assert client.post(_url(campaign, unit), data).status_code in (403, 404)
    assert anon_client.post(_url(campaign, unit), data).status_code == 302
    assert CandidateSet.objects.get(pk=unit.pk).gold_ranking == []
