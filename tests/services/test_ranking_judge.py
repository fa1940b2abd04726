"""The AI judge ranks a set (from its verdicts over every two members), stored as a judge
ranking for exports, and revealed to the rater only after their own ranking."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from annotate.exports.options import parse_options
from annotate.models import Campaign, RankingVote
from annotate.services.exports import export_build
from annotate.services.sets import judge_set_ranking, judge_set_rankings_record
from tests import factories
from tests.fakes.judge_fixtures import verdict

pytestmark = pytest.mark.django_db


def _judged(campaign, *, complete=True):
    Campaign.objects.filter(pk=campaign.pk).update(protocol="ranking")
    campaign.refresh_from_db()
    unit = factories.ranking_set(campaign=campaign, k=3)
    a, b, c = (m.candidate for m in unit.members.select_related("candidate").order_by("slot"))
    verdict(None, "a", candidates=(a, b))
    verdict(None, "a", candidates=(a, c))
    if complete:
        verdict(None, "tie", candidates=(b, c))
    return unit, (a.pk, b.pk, c.pk)


def test_the_judge_ranks_a_fully_judged_set_with_ties(campaign):
    unit, (a, b, c) = _judged(campaign)
    assert judge_set_ranking(candidate_set=unit) == [[a], sorted([b, c])]


def test_no_judge_ranking_until_every_two_members_are_judged(campaign):
    unit, _ = _judged(campaign, complete=False)
    assert judge_set_ranking(candidate_set=unit) is None
    assert judge_set_rankings_record(campaign=campaign) == 0


def test_judge_rankings_are_stored_once_and_exported_as_the_judge_source(campaign, tmp_path):
    unit, (a, b, c) = _judged(campaign)
    assert judge_set_rankings_record(campaign=campaign) == 1
    assert judge_set_rankings_record(campaign=campaign) == 0
    vote = RankingVote.objects.get(source="judge")
    assert vote.rater is None and vote.candidate_set_id == unit.pk
    out = tmp_path / "judge"
    export_build(
        campaign=campaign,
        options=parse_options("trl-dpo-standard", {"source": "judge"}),
        out_dir=out,
    )
    rows = [json.loads(x) for x in (out / "data" / "train.jsonl").read_text().splitlines()]
    assert len(rows) == 2  # a > b and a > c; b = c is a tie (dropped)


def test_the_page_reveals_the_judges_ranking_after_the_vote(campaign, rater, rater_client):
    unit, _ = _judged(campaign)
    Campaign.objects.filter(pk=campaign.pk).update(judge_mode="after_vote")
    page = rater_client.get(reverse("annotate:rank", args=[campaign.slug]))
    assert "AI judge" not in page.content.decode()  # blind before the vote
    lease = unit.assignments.get(rater=rater)
    response = rater_client.post(
        reverse("annotate:rank-vote", args=[campaign.slug]),
        {"lease": lease.pk, "ranking": "[[1], [2], [3]]"},
        headers={"HX-Request": "true"},
    )
    html = response.content.decode()
    assert "The AI judge ranked the last set" in html
    first = lease.shown_order.index(unit.member_ids()[0]) + 1
    assert f"ranked the last set {first} &gt;" in html
