"""The verdicts of each rating scale as the rater sees them, and their keys: the one table behind the
vote buttons and their key hints, the help overlay, the keyboard (rate.js reads ``key_map`` from
the page, it has no table of its own), the after-vote revise, and the labels of stored votes (the
reveal, My history). A key therefore means the same verdict in every state of a scale: on the
7-point scale "2" is "A better" whether it votes or revises.

Verdicts speak the rater's terms (left = A, right = B); annotate/sides.py maps them to the stored
a/b with the lease's ``left_is_a``.
"""

from __future__ import annotations

from dataclasses import dataclass

from annotate.models import Campaign
from annotate.sides import to_shown


@dataclass(frozen=True)
class Verdict:
    value: str  # what the form posts
    choice: str  # shown terms: left / right / tie / both_bad
    strength: int | None  # graded: 1-3 for a side, 0 for a tie; None on the binary scale
    label: str
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
    Verdict("left", "left", None, "A is better", ("1", "a", "ArrowLeft")),
    Verdict("tie", "tie", None, "Tie", ("t",)),
    Verdict("right", "right", None, "B is better", ("2", "b", "ArrowRight")),
)
GRADED7 = (
    Verdict("g1", "left", 3, "A much better", ("1",)),
    Verdict("g2", "left", 2, "A better", ("2",)),
    Verdict("g3", "left", 1, "A slightly better", ("3",)),
    Verdict("g4", "tie", 0, "About the same", ("4", "t")),
    Verdict("g5", "right", 1, "B slightly better", ("5",)),
    Verdict("g6", "right", 2, "B better", ("6",)),
    Verdict("g7", "right", 3, "B much better", ("7",)),
)
BOTH_BAD = Verdict("both_bad", "both_bad", None, "Both bad", ("x",))


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


def key_map(campaign: Campaign) -> dict[str, str]:
    """Keyboard key → verdict value, for rate.js (handed to the page with ``json_script``)."""
    return {key: v.value for v in scale_verdicts(campaign) for key in v.keys}


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
        return "A is better" if shown == "left" else "B is better"
    return {"tie": "Tie", "inconsistent": "Uncertain"}.get(shown, shown)
