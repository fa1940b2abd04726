"""One table of verdicts and keys per scale: the page, rate.js and the revise all use it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from annotate.models import Campaign
from annotate.views.scale_keys import key_map, scale_verdicts, verdict_for, vote_label
from tests import factories

RATE_JS = Path(__file__).resolve().parents[2] / "static/annotate/rate.js"
# Keys rate.js gives other meanings (help, guidelines, diff, rationale, rewrite, skip, flag, keep).
ACTION_KEYS = {"?", "g", "d", "r", "w", "s", "f", "k", "Enter", "Escape"}


@pytest.mark.parametrize("scale", ["binary", "graded7"])
def test_every_key_means_one_verdict_and_no_action(scale):
    campaign = factories.CampaignFactory.build(scale=scale, allow_both_bad=True)
    keys = [k for v in scale_verdicts(campaign) for k in v.keys]
    assert len(keys) == len(set(keys))
    assert not set(keys) & ACTION_KEYS
    assert set(key_map(campaign).values()) == {v.value for v in scale_verdicts(campaign)}


def test_the_graded_keys_run_from_a_much_better_to_b_much_better():
    campaign = factories.CampaignFactory.build(scale="graded7", allow_both_bad=False)
    keys = key_map(campaign)
    assert [verdict_for(keys[str(n)], campaign=campaign).label for n in range(1, 8)] == [
        "A much better",
        "A better",
        "A slightly better",
        "About the same",
        "B slightly better",
        "B better",
        "B much better",
    ]
    assert keys["t"] == keys["4"] and "x" not in keys
    assert (
        verdict_for("g2", campaign=campaign).choice,
        verdict_for("g2", campaign=campaign).strength,
    ) == ("left", 2)
    assert verdict_for("left", campaign=campaign) is None  # not a verdict of this scale


@pytest.mark.parametrize(
    ("scale", "choice", "strength", "left_is_a", "label"),
    [
        ("binary", "a", None, True, "A is better"),
        ("binary", "a", None, False, "B is better"),
        ("binary", "both_bad", None, True, "Both bad"),
        ("binary", "tie", None, True, "Tie"),
        ("graded7", "b", 3, True, "B much better"),
        ("graded7", "b", 3, False, "A much better"),
        ("graded7", "tie", 0, False, "About the same"),
        ("graded7", "both_bad", 0, True, "Both bad"),
        ("graded7", "a", None, True, "A is better"),  # a judge verdict without a strength
        ("graded7", "inconsistent", None, True, "Uncertain"),
    ],
)
def test_a_stored_vote_is_labelled_as_the_rater_saw_it(scale, choice, strength, left_is_a, label):
    assert vote_label(choice=choice, strength=strength, left_is_a=left_is_a, scale=scale) == label


def test_rate_js_has_no_key_table_of_its_own():
    """The page hands rate.js the map (json_script "scale-keys"); a second copy would drift."""
    source = RATE_JS.read_text()
    assert "scale-keys" in source
    assert not re.search(r"\bg[1-7]\b", source)
    assert "ArrowLeft" not in source and "both_bad" not in source


@pytest.mark.django_db
def test_the_page_hands_the_map_to_rate_js(rater_client, campaign):
    import json

    Campaign.objects.filter(pk=campaign.pk).update(scale="graded7")
    html = rater_client.get(f"/campaigns/{campaign.slug}/rate/").content.decode()
    found = re.search(r'<script id="scale-keys" type="application/json">(.*?)</script>', html)
    assert json.loads(found.group(1)) == key_map(Campaign.objects.get(pk=campaign.pk))
