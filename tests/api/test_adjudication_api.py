"""POST /api/campaigns/<slug>/pairs/<id>/adjudicate/: researchers record a final label; strict input."""

from __future__ import annotations

import pytest

from annotate.models import JudgeRubric, Judgment
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


def _detail_url(campaign, pair_id) -> str:
    return f"/api/campaigns/{campaign.slug}/pairs/{pair_id}/"


def test_a_researcher_reads_a_pair_whole_with_votes_verdicts_and_the_final_label(
    campaign, researcher, rater
):
    pair = factories.PairFactory(campaign=campaign)
    Judgment.objects.create(
        campaign=campaign, pair=pair, rater=rater, choice="a", rationale="Shorter.", left_is_a=False
    )
    factories.judge_verdict(
        pair,
        choice="inconsistent",
        rubric=JudgeRubric.objects.create(campaign=campaign, version=3, text="Be fair."),
        order1={"choice": "a"},
        order2={"choice": "b"},
        rationale="A is terse; B is thorough.",
    )
    api = _api(researcher)
    api.post(_url(campaign, pair.id), {"choice": "b", "reason": "B is right."}, format="json")
    body = api.get(_detail_url(campaign, pair.id)).json()
    assert body["candidate_a"]["generator"] == pair.candidate_a.generator.name
    assert body["candidate_a"]["text"] == pair.candidate_a.text
    assert [(v["source"], v["choice"], v["rationale"]) for v in body["votes"]] == [
        ("human", "a", "Shorter."),
        ("adjudicated", "b", "B is right."),
    ]
    assert body["votes"][0]["rater"] == rater.username and body["votes"][0]["left_is_a"] is False
    verdict = body["verdicts"][0]
    assert (verdict["consistent"], verdict["order1"], verdict["order2"], verdict["rubric_version"]) == (
        False, {"choice": "a"}, {"choice": "b"}, 3,
    )  # fmt: skip
    assert verdict["rationale"] == "A is terse; B is thorough."
    assert body["final"] == body["votes"][1]["id"]


def test_who_may_read_a_pair(campaign, other_campaign, rater, outsider, researcher):
    pair = factories.PairFactory(campaign=campaign)
    assert _api(rater).get(_detail_url(campaign, pair.id)).status_code == 403
    assert _api(outsider).get(_detail_url(campaign, pair.id)).status_code == 404
    assert _api().get(_detail_url(campaign, pair.id)).status_code == 401
    elsewhere = factories.PairFactory(campaign=other_campaign)
    assert _api(researcher).get(_detail_url(campaign, elsewhere.id)).status_code == 404
    assert _api(researcher).get(_detail_url(campaign, 10**22)).status_code == 404
