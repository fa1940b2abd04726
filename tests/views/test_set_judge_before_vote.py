"""judge_mode before_vote on the ranking and step pages: the judge's ranking / step labels are on
the page before the rater votes; in after-vote mode they never are (blind first, then reveal)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from annotate.models import Campaign, SetAssignment, StepVote
from tests import factories
from tests.fakes.judge_fixtures import verdict

pytestmark = pytest.mark.django_db


def _judged_set(campaign, mode):
    Campaign.objects.filter(pk=campaign.pk).update(protocol="ranking", judge_mode=mode)
    campaign.refresh_from_db()
    unit = factories.ranking_set(campaign=campaign, k=3)
    a, b, c = (m.candidate for m in unit.members.select_related("candidate").order_by("slot"))
    verdict(None, "a", candidates=(a, b))
    verdict(None, "a", candidates=(a, c))
    verdict(None, "b", candidates=(b, c))
    return unit, (a.pk, b.pk, c.pk)


def test_before_vote_the_rank_page_shows_the_judges_ranking_in_shown_numbers(
    rater_client, rater, campaign
):
    unit, (a, b, c) = _judged_set(campaign, Campaign.JudgeMode.BEFORE_VOTE)
    html = rater_client.get(reverse("annotate:rank", args=[campaign.slug])).content.decode()
    lease = SetAssignment.objects.get(rater=rater, status="active")
    number = {cid: i + 1 for i, cid in enumerate(lease.shown_order)}
    assert "AI judge suggests:" in html
    assert f"{number[a]} &gt; {number[c]} &gt; {number[b]}" in html


def test_after_vote_the_rank_page_never_shows_the_judge_before_the_vote(rater_client, campaign):
    _judged_set(campaign, Campaign.JudgeMode.AFTER_VOTE)
    html = rater_client.get(reverse("annotate:rank", args=[campaign.slug])).content.decode()
    assert "AI judge" not in html


@pytest.mark.parametrize("mode, shown", [("before_vote", True), ("after_vote", False)])
def test_the_steps_page_shows_the_judges_labels_before_the_vote_only_in_before_mode(
    rater_client, campaign, mode, shown
):
    Campaign.objects.filter(pk=campaign.pk).update(protocol="steps", judge_mode=mode)
    campaign.refresh_from_db()
    unit = factories.step_trace(campaign=campaign)
    StepVote.objects.create(
        campaign=campaign, candidate_set=unit, source="judge", labels=[1, -1, 0], notes=["", "", ""]
    )
    html = rater_client.get(reverse("annotate:steps", args=[campaign.slug])).content.decode()
    assert ("AI judge suggests:" in html) is shown
    assert ("1: +1 · 2: −1 · 3: 0" in html) is shown
