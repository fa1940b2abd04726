"""services/adjudication.py: a final label is its own row with a reason; a later one replaces it and
the earlier stays; the campaign's choices and scale decide what is accepted."""

from __future__ import annotations

import pytest

from annotate.models import Campaign, Judgment
from annotate.selectors.browse import pair_detail
from annotate.services.adjudication import AdjudicationError, adjudication_record
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def pair(campaign):
    return factories.PairFactory(campaign=campaign)


def test_each_adjudication_is_a_new_row_and_the_latest_is_final(campaign, pair, researcher):
    human = Judgment.objects.create(campaign=campaign, pair=pair, rater=researcher, choice="b")
    first = adjudication_record(
        campaign=campaign, pair=pair, adjudicator=researcher, choice="a", reason=" A is right. "
    )
    second = adjudication_record(
        campaign=campaign, pair=pair, adjudicator=researcher, choice="tie", reason="Both fine."
    )
    assert (first.source, first.rationale, first.rater) == (
        "adjudicated",
        "A is right.",
        researcher,
    )
    human.refresh_from_db()
    assert human.choice == "b"  # nobody's vote is touched
    assert pair_detail(campaign, pair.id).final == second
    assert Judgment.objects.filter(pair=pair, source="adjudicated").count() == 2


@pytest.mark.parametrize(
    ("changes", "kwargs", "says"),
    [
        ({}, {"choice": "maybe"}, "not one of a, b, tie"),
        ({"allow_both_bad": False}, {"choice": "both_bad"}, "not one of a, b, tie"),
        ({}, {"reason": "   "}, "say why"),
        ({}, {"reason": "a\x00b"}, "NUL"),
        ({}, {"strength": 2}, "scale has none"),
        ({"scale": Campaign.Scale.GRADED7}, {"strength": 4}, "1, 2 or 3"),
        ({"scale": Campaign.Scale.GRADED7}, {"choice": "tie", "strength": 1}, "only for a or b"),
    ],
)
def test_what_it_refuses(campaign, pair, researcher, changes, kwargs, says):
    for name, value in changes.items():
        setattr(campaign, name, value)
    campaign.save()
    args = {"choice": "a", "reason": "because", **kwargs}
    with pytest.raises(AdjudicationError, match=says):
        adjudication_record(campaign=campaign, pair=pair, adjudicator=researcher, **args)
    assert not Judgment.objects.filter(source="adjudicated").exists()


def test_on_the_graded_scale_a_side_gets_a_strength_and_a_tie_none(campaign, pair, researcher):
    campaign.scale = Campaign.Scale.GRADED7
    campaign.save()
    a = adjudication_record(
        campaign=campaign, pair=pair, adjudicator=researcher, choice="a", reason="r"
    )
    tie = adjudication_record(
        campaign=campaign, pair=pair, adjudicator=researcher, choice="tie", reason="r"
    )
    assert (a.strength, tie.strength) == (1, 0)


def test_a_pair_of_another_campaign_is_refused(campaign, other_campaign, researcher):
    elsewhere = factories.PairFactory(campaign=other_campaign)
    with pytest.raises(AdjudicationError, match="another campaign"):
        adjudication_record(
            campaign=campaign, pair=elsewhere, adjudicator=researcher, choice="a", reason="r"
        )


def test_an_export_takes_the_adjudicated_label_over_the_votes(campaign, pair, researcher, tmp_path):
    import json

    from annotate.exports.options import parse_options
    from annotate.services.exports import export_build

    raters = factories.UserFactory.create_batch(3)
    for rater, choice in zip(raters, ["a", "a", "b"], strict=True):
        Judgment.objects.create(campaign=campaign, pair=pair, rater=rater, choice=choice)
    adjudication_record(
        campaign=campaign, pair=pair, adjudicator=researcher, choice="b", reason="A is wrong."
    )
    a, b = pair.candidate_a.text, pair.candidate_b.text
    for adjudicated, chosen in (("prefer", b), ("ignore", a)):
        out = tmp_path / adjudicated
        summary = export_build(
            campaign=campaign,
            options=parse_options("trl-dpo-standard", {"adjudicated": adjudicated}),
            out_dir=out,
        )
        (row,) = [json.loads(x) for x in (out / "data/train.jsonl").read_text().splitlines()]
        assert row["chosen"] == chosen
        assert summary.adjudicated_pairs == (adjudicated == "prefer")
