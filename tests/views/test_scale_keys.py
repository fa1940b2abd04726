"""One table of verdicts and keys per scale: the page, rate.js and the revise all use it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from annotate.models import Campaign
from annotate.views.scale_keys import (
    ACTION_KEYS,
    aspect_keys,
    key_map,
    scale_verdicts,
    side_hint,
    verdict_for,
    vote_label,
)
from tests import factories

RATE_JS = Path(__file__).resolve().parents[2] / "static/annotate/rate.js"


@pytest.mark.parametrize("scale", ["binary", "graded7"])
def test_every_key_means_one_verdict_and_no_action(scale):
    campaign = factories.CampaignFactory.build(scale=scale, allow_both_bad=True)
    keys = [k for v in scale_verdicts(campaign) for k in v.keys]
    assert len(keys) == len(set(keys))
    assert not set(keys) & ACTION_KEYS
    assert set(key_map(campaign)["verdicts"].values()) == {
        v.value for v in scale_verdicts(campaign)
    }
    # Every action the page has, with a key that no verdict uses.
    assert set(key_map(campaign)["actions"].values()) == {
        "help", "guidelines", "diff", "reasoning", "rationale", "rewrite", "skip", "flag", "undo", "keep"
    }  # fmt: skip


@pytest.mark.parametrize("scale", ["binary", "graded7"])
def test_each_aspect_gets_a_key_of_its_own(scale):
    names = ["helpful", "honest", "harmless", "concise", "correct", "safe", "h1", "h2"]
    campaign = factories.CampaignFactory.build(scale=scale, allow_both_bad=True, aspects=names)
    keys = key_map(campaign)
    aspect = [a.key for a in aspect_keys(campaign)]
    assert aspect[:4] == ["h", "o", "m", "c"]  # a letter of the name when one is free
    assert len(set(aspect)) == len(names) and all(aspect)
    taken = set(ACTION_KEYS) | set(keys["verdicts"]) | {"a", "b", "1", "2", "t", "x"}
    assert not set(aspect) & taken  # never a verdict (of any scale) or an action
    assert keys["aspects"] == dict(zip(aspect, names, strict=True))
    # The same keys on either scale: switching the scale moves no aspect.
    other = factories.CampaignFactory.build(
        scale="graded7" if scale == "binary" else "binary", aspects=names
    )
    assert [a.key for a in aspect_keys(other)] == aspect


def test_an_armed_aspect_takes_the_side_of_any_verdict_key():
    binary = factories.CampaignFactory.build(scale="binary", allow_both_bad=True, aspects=["x"])
    assert key_map(binary)["sides"] == {
        "1": "left", "a": "left", "ArrowLeft": "left", "t": "tie",
        "2": "right", "b": "right", "ArrowRight": "right",
    }  # fmt: skip
    assert side_hint(binary) == "1 / a / ← A · t Same · 2 / b / → B"
    graded = factories.CampaignFactory.build(scale="graded7", allow_both_bad=True, aspects=["x"])
    sides = key_map(graded)["sides"]
    assert [sides[str(n)] for n in range(1, 8)] == ["left"] * 3 + ["tie"] + ["right"] * 3
    assert "x" not in sides  # both bad is no side


def test_the_graded_keys_run_from_a_much_better_to_b_much_better():
    campaign = factories.CampaignFactory.build(scale="graded7", allow_both_bad=False)
    keys = key_map(campaign)["verdicts"]
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
    # Nor of actions: a key is read from the map, never compared by name in the script.
    assert not re.search(r"""e\.key === ["'][a-z?]["']""", source)


@pytest.mark.django_db
def test_the_page_hands_the_map_to_rate_js(rater_client, campaign):
    import json

    Campaign.objects.filter(pk=campaign.pk).update(scale="graded7")
    html = rater_client.get(f"/campaigns/{campaign.slug}/rate/").content.decode()
    found = re.search(r'<script id="scale-keys" type="application/json">(.*?)</script>', html)
    assert json.loads(found.group(1)) == key_map(Campaign.objects.get(pk=campaign.pk))


@pytest.mark.django_db
def test_the_help_overlay_and_the_bar_list_the_aspect_keys(rater_client, campaign):
    Campaign.objects.filter(pk=campaign.pk).update(aspects=["helpful", "honest"])
    from tests.fakes.judge_fixtures import make_pair

    make_pair(campaign, "Left.", "Right.")
    html = rater_client.get(f"/campaigns/{campaign.slug}/rate/").content.decode()
    help_table = html.split('id="help"', 1)[1].split("</table>", 1)[0]
    assert (
        "<kbd>h</kbd> then a side</td><td>Helpful: 1 / a / ← A · t Same · 2 / b / → B" in help_table
    )
    assert "<kbd>o</kbd> then a side</td><td>Honest:" in help_table
    for key in ("u", "d", "s", "f", "g"):
        assert f"<kbd>{key}</kbd>" in help_table
    assert 'data-aspect="helpful"><legend>Helpful <kbd' in html


def test_free_text_speaks_in_labels_not_codes():
    from annotate.views.scale_keys import choice_words

    assert choice_words('I pick "both_bad" here; both_bad again.') == (
        "I pick “Both bad” here; “Both bad” again."
    )
    assert choice_words("both badly written") == "both badly written"
