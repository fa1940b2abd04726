"""Keep / revise after the reveal: only the rater's own vote, in the rater's own labels, with the
scale's own verdicts and keys (a key means the same thing when voting and when revising)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from annotate.models import Campaign, Judgment
from tests import factories
from tests.fakes.judge_fixtures import make_pair, verdict

RATIONALE = "Response 1 explains the steps; Response 2 skips them."


def _voted(campaign, rater, *, scale="binary", choice="b", strength=None, judge="a"):
    """The rater voted blind on a pair shown with b on the LEFT (so their "A" is b); the judge
    prefers ``judge``."""
    campaign.judge_mode = Campaign.JudgeMode.AFTER_VOTE
    campaign.scale = scale
    campaign.save()
    pair = make_pair(campaign, "a thorough answer", "a thin one")
    v = verdict(pair, judge)
    v.order1 = {"choice": judge, "rationale": RATIONALE}
    v.order2 = {
        "choice": judge,
        "rationale": "Response 2 explains the steps; Response 1 skips them.",
    }
    v.save()
    return Judgment.objects.create(
        campaign=campaign, pair=pair, rater=rater, choice=choice, strength=strength, left_is_a=False
    )


@pytest.fixture
def voted(campaign, rater):
    return _voted(campaign, rater)


def _url(campaign, judgment):
    return reverse("annotate:judge-revise", args=[campaign.slug, judgment.pk])


def _revise(client, campaign, judgment, verdict_value):
    return client.post(
        _url(campaign, judgment),
        {"action": "revise", "verdict": verdict_value},
        headers={"HX-Request": "true"},
    )


# (posted verdict, stored choice, stored strength, label on the page). b is on the left.
BINARY = [
    ("right", "a", None, "B is better"),
    ("tie", "tie", None, "Tie"),
    ("both_bad", "both_bad", None, "Both bad"),
]
GRADED = [
    ("g1", "b", 3, "A much better"),
    ("g3", "b", 1, "A slightly better"),
    ("g4", "tie", 0, "About the same"),
    ("g5", "a", 1, "B slightly better"),
    ("g6", "a", 2, "B better"),
    ("g7", "a", 3, "B much better"),
    ("both_bad", "both_bad", 0, "Both bad"),
]


@pytest.mark.parametrize(("value", "choice", "strength", "label"), BINARY)
def test_revising_on_the_binary_scale_stores_the_side_shown(
    rater_client, campaign, rater, value, choice, strength, label
):
    first = _voted(campaign, rater)  # "A is better" as seen: b
    response = _revise(rater_client, campaign, first, value)
    assert response.status_code == 200
    assert f"Revised to <strong>{label}</strong>" in response.content.decode()
    revision = Judgment.objects.get(revises=first)
    assert (revision.choice, revision.strength, revision.judge_shown) == (choice, strength, True)
    first.refresh_from_db()
    assert (first.choice, first.strength) == ("b", None)


@pytest.mark.parametrize(("value", "choice", "strength", "label"), GRADED)
def test_revising_on_the_graded_scale_stores_the_side_and_strength_shown(
    rater_client, campaign, rater, value, choice, strength, label
):
    # The rater pressed 2 ("A better") blind; b was on the left, so the vote is b, strength 2.
    first = _voted(campaign, rater, scale="graded7", choice="b", strength=2)
    response = _revise(rater_client, campaign, first, value)
    assert response.status_code == 200
    html = response.content.decode()
    assert f"Revised to <strong>{label}</strong>" in html
    revision = Judgment.objects.get(revises=first)
    assert (revision.choice, revision.strength) == (choice, strength)


@pytest.mark.parametrize(
    ("scale", "choice", "strength", "value"),
    [("binary", "b", None, "left"), ("graded7", "b", 2, "g2")],
)
def test_revising_to_the_vote_itself_keeps_it(
    rater_client, campaign, rater, scale, choice, strength, value
):
    first = _voted(campaign, rater, scale=scale, choice=choice, strength=strength)
    response = _revise(rater_client, campaign, first, value)
    assert response.status_code == 200
    assert "Kept your vote" in response.content.decode()
    assert Judgment.objects.count() == 1


def test_the_reveal_offers_the_scales_own_verdicts_and_keys(rater_client, campaign, rater):
    first = _voted(campaign, rater, scale="graded7", choice="b", strength=2, judge="both_bad")
    html = rater_client.post(_url(campaign, first), {"action": "nothing"}).content.decode()
    # The vote bar's keys: 2 is "A better" here too, 6 is "B better"; no "B 2" hint.
    assert 'data-revise="g2">A better <kbd>2</kbd>' in html
    assert 'data-revise="g6">B better <kbd>6</kbd>' in html
    assert 'data-revise="both_bad">Both bad <kbd>x</kbd>' in html
    assert "Your vote: <strong>A better</strong>" in html
    # Human labels, never the stored code.
    assert "The judge's verdict: <strong>Both bad</strong>" in html
    assert "both_bad<" not in html and ">both_bad" not in html


def test_keeping_stores_nothing_and_the_reveal_speaks_the_raters_labels(
    rater_client, campaign, voted
):
    response = rater_client.post(_url(campaign, voted), {"action": "keep"})
    html = response.content.decode()
    assert "Kept your vote" in html
    assert "The judge's verdict: <strong>B is better</strong>" in html  # a is on the right
    assert 'data-revise="right">B is better <kbd>2</kbd>' not in html  # answered: no buttons
    assert "Response B explains the steps; Response A skips them." in html
    assert Judgment.objects.count() == 1


def test_others_cannot_revise_my_vote(campaign, voted, outsider_client):
    other = factories.UserFactory(username="eve")
    factories.EnrollmentFactory(campaign=campaign, rater=other)
    from django.test import Client

    client = Client()
    client.force_login(other)
    assert _revise(client, campaign, voted, "left").status_code == 404
    assert _revise(outsider_client, campaign, voted, "left").status_code == 404
    assert Judgment.objects.count() == 1


def test_a_bad_revision_is_refused_with_a_message(rater_client, campaign, voted):
    campaign.allow_both_bad = False
    campaign.save()
    response = _revise(rater_client, campaign, voted, "both_bad")
    assert response.status_code == 400 and "both bad" in response.content.decode()
    response = _revise(rater_client, campaign, voted, "g6")  # not a verdict of the binary scale
    assert response.status_code == 400 and "Choose the verdict" in response.content.decode()
    assert Judgment.objects.count() == 1


def test_the_reveal_words_the_judges_codes_as_the_rater_sees_them(rater_client, campaign, rater):
    first = _voted(campaign, rater, judge="both_bad")
    from annotate.models import JudgeVerdict

    JudgeVerdict.objects.filter(pair=first.pair).update(
        order2={
            "choice": "both_bad",
            "rationale": 'Neither helps, so "both_bad": Response 1 is wrong.',
        }
    )
    html = rater_client.post(_url(campaign, first), {"action": "keep"}).content.decode()
    assert "The judge's verdict: <strong>Both bad</strong>" in html
    assert "Neither helps, so “Both bad”: Response A is wrong." in html
    assert "both_bad" not in html.replace('value="both_bad"', "").replace(
        'data-revise="both_bad"', ""
    )
