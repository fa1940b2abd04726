"""POST /api/campaigns/<slug>/pairs/<id>/adjudicate/: researchers record a final label; strict input."""

from __future__ import annotations

import pytest

from annotate.models import Judgment
from tests import factories
from tests.api.test_campaign_api import _api

pytestmark = pytest.mark.django_db


def _url(campaign, pair_id) -> str:
    return f"/api/campaigns/{campaign.slug}/pairs/{pair_id}/adjudicate/"


def test_a_researcher_records_a_final_label(campaign, researcher):
    pair = factories.PairFactory(campaign=campaign)
    response = _api(researcher).post(
        _url(campaign, pair.id), {"choice": "tie", "reason": "Equal."}, format="json"
    )
    assert response.status_code == 201
    body = response.json()
    assert (body["pair"], body["choice"], body["reason"], body["adjudicator"]) == (
        pair.id, "tie", "Equal.", "rita",
    )  # fmt: skip
    assert Judgment.objects.get(source="adjudicated").choice == "tie"


@pytest.mark.parametrize(
    ("body", "status", "says"),
    [
        ({"choice": "a"}, 400, "reason"),
        ({"choice": "a", "reason": "r", "source": "human"}, 400, "source"),  # unknown key
        ({"choice": "a", "reason": "r", "strength": 2}, 400, "scale has none"),
        ({"choice": "nope", "reason": "r"}, 400, "choice"),
    ],
)
def test_what_it_refuses(campaign, researcher, body, status, says):
    pair = factories.PairFactory(campaign=campaign)
    response = _api(researcher).post(_url(campaign, pair.id), body, format="json")
    assert response.status_code == status and says in response.content.decode()
    assert not Judgment.objects.filter(source="adjudicated").exists()


def test_who_may_adjudicate(campaign, other_campaign, rater, outsider, researcher):
    pair = factories.PairFactory(campaign=campaign)
    body = {"choice": "a", "reason": "r"}
    assert _api(rater).post(_url(campaign, pair.id), body, format="json").status_code == 403
    assert _api(outsider).post(_url(campaign, pair.id), body, format="json").status_code == 404
    assert _api().post(_url(campaign, pair.id), body, format="json").status_code == 401
    elsewhere = factories.PairFactory(campaign=other_campaign)
    assert (
        _api(researcher).post(_url(campaign, elsewhere.id), body, format="json").status_code == 404
    )
    too_big = _api(researcher).post(_url(campaign, 10**22), body, format="json")
    assert too_big.status_code == 404
