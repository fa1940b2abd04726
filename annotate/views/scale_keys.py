"""The verdicts of each rating scale as the rater sees them, and every key of the rating page: the one
table behind the vote buttons and their key hints, the help overlay, the keyboard (rate.js reads
``key_map`` from the page, it has no table of its own), the after-vote revise, the aspects' keys,
and the labels of stored votes (the reveal, My history, gold). A key therefore means the same verdict
in every state of a scale: on the 7-point scale "2" is "A better" whether it votes or revises.

Aspects: each aspect of the campaign gets one key (a free letter of its name when there is one);
pressing it arms the aspect, and the next key that points to a side (any verdict key of A, of the
tie, or of B) sets it. So "h" then "1" is "helpful: A", on either scale.

Verdicts speak the rater's terms (left = A, right = B); annotate/sides.py maps them to the stored
a/b with the lease's ``left_is_a``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.utils.translation import gettext, gettext_lazy, pgettext_lazy

from annotate.models import Campaign
from annotate.sides import to_shown


@dataclass(frozen=True)
class Verdict:
    value: str  # what the form posts
    choice: str  # shown terms: left / right / tie / both_bad
    strength: int | None  # graded: 1-3 for a side, 0 for a tie; None on the binary scale
    label: str  # lazy: said in the page's language when rendered
    keys: tuple[str, ...]  # keyboard keys; the first is the hint on the button

    @property
    def key(self) -> str:
        return self.keys[0]

    @property
    def hints(self) -> list[str]:
        """The keys as the help overlay shows them."""
        return [{"ArrowLeft": "←", "ArrowRight": "→"}.get(k, k) for k in self.keys]

    @property
    def css(self) -> str:
        if self.choice == "both_bad":
            return "both-bad"
        return f"grade grade-{self.choice}" if self.strength is not None else ""


BINARY = (
    Verdict("left", "left", None, gettext_lazy("A is better"), ("1", "a", "ArrowLeft")),
    Verdict("tie", "tie", None, gettext_lazy("Tie"), ("t",)),
    Verdict("right", "right", None, gettext_lazy("B is better"), ("2", "b", "ArrowRight")),
)
GRADED7 = (
    Verdict("g1", "left", 3, gettext_lazy("A much better"), ("1",)),
    Verdict("g2", "left", 2, gettext_lazy("A better"), ("2",)),
    Verdict("g3", "left", 1, gettext_lazy("A slightly better"), ("3",)),
    Verdict("g4", "tie", 0, gettext_lazy("About the same"), ("4", "t")),
    Verdict("g5", "right", 1, gettext_lazy("B slightly better"), ("5",)),
    Verdict("g6", "right", 2, gettext_lazy("B better"), ("6",)),
    Verdict("g7", "right", 3, gettext_lazy("B much better"), ("7",)),
)
BOTH_BAD = Verdict("both_bad", "both_bad", None, gettext_lazy("Both bad"), ("x",))


def _scale(scale: str) -> tuple[Verdict, ...]:
    return GRADED7 if scale == Campaign.Scale.GRADED7 else BINARY


def scale_verdicts(campaign: Campaign) -> tuple[Verdict, ...]:
    """The verdicts a rater of this campaign can give, in button order."""
    verdicts = _scale(campaign.scale)
    return (*verdicts, BOTH_BAD) if campaign.allow_both_bad else verdicts


def verdict_for(value: str, *, campaign: Campaign) -> Verdict | None:
    """The verdict a form posted (``verdict=g5``), or None if the scale has no such verdict.
    "Both bad" is always read, so that a campaign without it refuses it by name (the service)."""
    return next((v for v in (*_scale(campaign.scale), BOTH_BAD) if v.value == value), None)


# The page's other keys: action name (what rate.js does) → key, with the help overlay's words.
ACTIONS = (
    ("help", "?", gettext_lazy("this help")),
    ("guidelines", "g", gettext_lazy("guidelines")),
    ("diff", "d", gettext_lazy("show the differences side by side")),
    ("reasoning", "e", gettext_lazy("open / close the reasoning of both responses")),
    ("rationale", "r", gettext_lazy("write the rationale")),
    ("rewrite", "w", gettext_lazy("write a better response")),
    ("skip", "s", gettext_lazy("skip this pair")),
    ("flag", "f", gettext_lazy("flag this pair")),
    ("undo", "u", gettext_lazy("undo your last vote (for a short while after it)")),
    ("keep", "k", gettext_lazy("keep your vote when the judge is shown after it")),
)
ACTION_KEYS = frozenset(key for _, key, _ in ACTIONS) | {"Enter", "Escape"}
# Keys an aspect may get when no free letter of its name is left (never a verdict or action key).
_ASPECT_POOL = "hjlmnopqvyzci0"
SIDE_LABELS = {"left": "A", "tie": pgettext_lazy("aspect side", "Same"), "right": "B"}


@dataclass(frozen=True)
class AspectKey:
    name: str
    key: str
    value: str = ""  # the side already chosen ("left", "tie", "right"), when the form comes back


def aspect_keys(campaign: Campaign) -> tuple[AspectKey, ...]:
    """One key per aspect, stable for the campaign: the first letter of the name that no verdict
    (of any scale), action or earlier aspect uses, else the first free key of a fixed pool."""
    # Every scale's keys, not only this one's: an aspect keeps its key if the scale changes.
    taken = set(ACTION_KEYS) | {k for v in (*BINARY, *GRADED7, BOTH_BAD) for k in v.keys}
    out = []
    for name in campaign.aspects or []:
        letters = [c for c in name.lower() if c.isascii() and c.isalnum()]
        key = next((c for c in [*letters, *_ASPECT_POOL] if c not in taken), "")
        taken.add(key)
        out.append(AspectKey(name=name, key=key))
    return tuple(out)


def side_keys(campaign: Campaign) -> dict[str, str]:
    """Key → side ("left", "tie", "right") for an armed aspect: every verdict key of the scale
    that points to a side (both bad is no side)."""
    return {
        key: v.choice for v in _scale(campaign.scale) if v.choice in SIDE_LABELS for key in v.keys
    }


def side_hint(campaign: Campaign) -> str:
    """The side keys as one line for the page: "1 / a / ← A · t Same · 2 / b / → B"."""
    arrows = {"ArrowLeft": "←", "ArrowRight": "→"}
    by_side: dict[str, list[str]] = {side: [] for side in SIDE_LABELS}
    for key, side in side_keys(campaign).items():
        by_side[side].append(arrows.get(key, key))
    return " · ".join(f"{' / '.join(keys)} {SIDE_LABELS[side]}" for side, keys in by_side.items())


def key_map(campaign: Campaign) -> dict[str, dict[str, str]]:
    """Every key of the rating page, for rate.js (handed to the page with ``json_script``):
    ``verdicts`` key → verdict value, ``aspects`` key → aspect name, ``sides`` key → side for an
    armed aspect, ``actions`` key → action name."""
    return {
        "verdicts": {key: v.value for v in scale_verdicts(campaign) for key in v.keys},
        "aspects": {a.key: a.name for a in aspect_keys(campaign)},
        "sides": side_keys(campaign),
        "actions": {key: name for name, key, _ in ACTIONS},
    }


def vote_label(*, choice: str, strength: int | None, left_is_a: bool | None, scale: str) -> str:
    """A stored vote or verdict (a/b terms) in the label the rater saw: "A much better", "Tie",
    "Both bad" (and "Uncertain" for a judge verdict whose two orders disagreed). A vote shown to
    no one (``left_is_a`` None) is labelled with a as A."""
    shown = to_shown(choice, left_is_a=left_is_a is not False)
    verdicts = _scale(scale)
    for v in (*verdicts, BOTH_BAD):
        if v.choice == shown and (
            v.strength is None or shown == "both_bad" or v.strength == strength
        ):
            return v.label
    if shown in ("left", "right"):  # a graded side without a strength (e.g. a judge verdict)
        return gettext("A is better") if shown == "left" else gettext("B is better")
    return {"tie": gettext("Tie"), "inconsistent": gettext("Uncertain")}.get(shown, shown)


def shown_verdict(*, choice: str, strength: int | None, left_is_a: bool | None, campaign: Campaign):
    """The verdict of the campaign's scale a stored vote (a/b terms) was given as, or None: to fill
    the vote bar in again when the rater undoes a vote."""
    shown = to_shown(choice, left_is_a=left_is_a is not False)
    for v in scale_verdicts(campaign):
        if v.choice == shown and (
            v.strength is None or shown == "both_bad" or v.strength == strength
        ):
            return v
    return None


def gold_choices(campaign: Campaign) -> list[tuple[str, str, str]]:
    """The gold answers an admin may mark on a pair of this campaign, as (stored value, label, key),
    in button order: the sides and the tie in the scale's own words, "Both bad" where allowed.
    Stored in the pair's own terms (a = candidate_a, shown on the left of the gold page)."""
    tie = next(v for v in _scale(campaign.scale) if v.choice == "tie")
    out = [
        ("a", gettext("A is better"), "a"),
        ("tie", tie.label, "t"),
        ("b", gettext("B is better"), "b"),
    ]
    if campaign.allow_both_bad:
        out.append(("both_bad", BOTH_BAD.label, BOTH_BAD.key))
    return out


def gold_label(answer: str, campaign: Campaign) -> str:
    """A stored gold answer in words ("" for a pair that is not gold)."""
    return next((label for value, label, _ in gold_choices(campaign) if value == answer), answer)


_CODE_WORDS = re.compile(r"[\"'“]?\bboth_bad\b[\"'”]?")


def choice_words(text: str) -> str:
    """Free text written about votes (the judge's rationale, asked to choose "both_bad") with the
    stored codes in the words the rater sees: "both_bad" → “Both bad”."""
    return _CODE_WORDS.sub("“" + gettext("Both bad") + "”", text)
