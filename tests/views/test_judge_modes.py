"""The judge on the rating page, per mode. After-vote: the verdict is nowhere (page, fragments, diff,
history) before the blind vote, and is in the vote's response; before-vote: shown up front and the
vote is marked; off: never shown."""

from __future__ import annotations

import uuid

import pytest
from django.urls import reverse

from annotate.models import Assignment, Campaign, JudgeVerdict, Judgment
from tests.fakes.judge_fixtures import make_pair, verdict

SECRET = "Zebra-rationale: Response 1 cites the source, Response 2 invents one."
HX = {"HX-Request": "true"}


@pytest.fixture
def judged(campaign):
    pair = make_pair(campaign, "the first answer, with a source", "the second answer, invented")
    v = verdict(pair, "a")
    JudgeVerdict.objects.filter(pk=v.pk).update(
        order1={"choice": "a", "rationale": SECRET},
        order2={
            "choice": "a",
            "rationale": SECRET.replace("1", "X").replace("2", "1").replace("X", "2"),
        },
        rationale=SECRET,
    )
    return pair


def _mode(campaign, mode):
    campaign.judge_mode = mode
    campaign.save(update_fields=["judge_mode"])


def _vote(client, campaign, choice="right"):
    lease = Assignment.objects.get(rater__username="bob", status="active")
    return lease, client.post(
        reverse("annotate:rate-vote", args=[campaign.slug]),
        {"assignment": lease.pk, "key": uuid.uuid4().hex, "verdict": choice},
        headers=HX,
    )


def test_after_vote_the_verdict_is_absent_before_and_revealed_after(rater_client, campaign, judged):
    _mode(campaign, Campaign.JudgeMode.AFTER_VOTE)
    rate = reverse("annotate:rate", args=[campaign.slug])
    before = [rater_client.get(rate), rater_client.get(rate, headers=HX)]
    lease = Assignment.objects.get(rater__username="bob", status="active")
    before.append(rater_client.get(reverse("annotate:rate-diff", args=[campaign.slug, lease.pk])))
    before.append(rater_client.get(reverse("annotate:rate-history", args=[campaign.slug])))
    for response in before:
        html = response.content.decode()
        assert response.status_code == 200
        assert "Zebra" not in html and "judge-reveal" not in html and "AI judge" not in html

    lease, response = _vote(rater_client, campaign)
    html = response.content.decode()
    assert response.status_code == 200
    assert "Zebra-rationale" in html and 'id="judge-reveal"' in html
    # In the rater's labels: with a on the left "Response 1" is A; with b on the left it is B.
    assert ("Response A cites" if lease.left_is_a else "Response B cites") in html
    assert reverse("annotate:judge-revise", args=[campaign.slug, Judgment.objects.get().pk]) in html
    assert not Judgment.objects.get().judge_shown


def test_after_vote_an_inconsistent_verdict_is_shown_as_uncertain(rater_client, campaign, judged):
    _mode(campaign, Campaign.JudgeMode.AFTER_VOTE)
    JudgeVerdict.objects.update(consistent=False, choice="inconsistent")
    rater_client.get(reverse("annotate:rate", args=[campaign.slug]))
    _, response = _vote(rater_client, campaign)
    html = response.content.decode()
    assert "uncertain" in html and "Zebra" not in html


def test_before_vote_the_suggestion_is_up_front_and_the_vote_is_marked(
    rater_client, campaign, judged
):
    _mode(campaign, Campaign.JudgeMode.BEFORE_VOTE)
    page = rater_client.get(reverse("annotate:rate", args=[campaign.slug])).content.decode()
    assert "AI judge suggests" in page and "Zebra-rationale" in page
    _, response = _vote(rater_client, campaign)
    assert "judge-reveal" not in response.content.decode()
    assert Judgment.objects.get().judge_shown is True


@pytest.mark.parametrize("mode", [Campaign.JudgeMode.OFF, Campaign.JudgeMode.AUTO_LABEL])
def test_other_modes_never_show_the_judge_to_raters(rater_client, campaign, judged, mode):
    _mode(campaign, mode)
    page = rater_client.get(reverse("annotate:rate", args=[campaign.slug])).content.decode()
    _, response = _vote(rater_client, campaign)
    for html in (page, response.content.decode()):
        assert "Zebra" not in html and "judge-reveal" not in html and "AI judge" not in html
    assert Judgment.objects.get().judge_shown is False
