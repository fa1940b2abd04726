"""One label per pair from its k votes. Pure: plain vote dicts in, a Decision out.

The rules (also written into every dataset card, see ``AGGREGATION_RULES``):

1. **Which votes count.** Per pair, each rater's *latest* vote counts (a revision after the judge was
   revealed replaces that rater's first vote; the raw-vote export keeps both). Human and judge labels
   are separate sources and never mixed: a "judge" export counts the judge's latest verdict only.
   Raters excluded by the gold-accuracy filter do not count.
2. **Signed score.** Each vote is a score for A: ``a`` → +s, ``b`` → −s, ``tie`` → 0, where s is the
   graded strength (1 slightly, 2 clearly, 3 much better) or 1 on the binary scale. ``both_bad`` has no
   score.
3. **majority** (default): the label is the category (a, b, tie, both_bad) with the most votes; when
   two categories share the top count there is no majority and the pair is left out.
   **mean_strength**: if a strict majority of votes is ``both_bad`` the label is both_bad; otherwise the
   mean signed score of the other votes decides: > 0 → a, < 0 → b, = 0 → tie.
4. **Margin** (reward rows; how much better the chosen response is), always above 0 when a
   preference is written and 0 for a tie. *majority*: the mean strength of the votes for the
   winning side times the share of counted votes that chose it (three "a" votes of strength 2 →
   2.0; "a", "a", "b" on the binary scale → 1 × 2/3). It cannot cancel out: the majority side
   decided the label, so the margin measures that side, discounted by disagreement. (A signed
   mean over all votes could be 0 or below for a pair labelled a, e.g. a(1), a(1), b(3).)
   *mean_strength*: the absolute mean signed score, which is what decided the label.
   **Agreement** = share of counted votes that equal the label.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

METHODS = ("majority", "mean_strength")
AGGREGATION_RULES = __doc__.split("The rules", 1)[1].split("\n", 2)[2].strip()


@dataclass(frozen=True)
class Decision:
    label: str | None  # "a", "b", "tie", "both_bad", or None (no majority / no votes)
    margin: float
    agreement: float
    n_votes: int
    counts: dict[str, int]


def signed_score(choice: str, strength: int | None) -> float | None:
    """Score for candidate A of one vote; None for both-bad."""
    step = float(strength) if strength else 1.0
    if choice == "a":
        return step
    if choice == "b":
        return -step
    if choice == "tie":
        return 0.0
    return None


def counted_votes(
    votes: list[dict], *, source: str = "human", excluded_raters: frozenset = frozenset()
) -> list[dict]:
    """The votes that count for a pair: latest per rater, one source, excluded raters removed."""
    if len(votes) == 1:  # the common case at k = 1, kept cheap for million-pair exports
        (vote,) = votes
        if vote["source"] == source and not (
            source == "human" and vote["rater_id"] in excluded_raters
        ):
            return [vote]
        return []
    latest: dict[object, dict] = {}
    for vote in votes:
        if vote["source"] != source:
            continue
        if source == "human" and vote["rater_id"] in excluded_raters:
            continue
        # The judge is one voice per pair, whatever rows it left.
        key = vote["rater_id"] if source == "human" else "judge"
        if key not in latest or vote["judgment_id"] > latest[key]["judgment_id"]:
            latest[key] = vote
    return sorted(latest.values(), key=lambda v: v["judgment_id"])


def aggregate_pair(votes: list[dict], *, method: str = "majority") -> Decision:
    """Aggregate already-counted votes (see counted_votes) into one Decision."""
    if len(votes) == 1 and method in METHODS:  # one vote: it is the label (fast path, same result)
        choice = votes[0]["choice"]
        score = signed_score(choice, votes[0]["strength"])
        margin = abs(score) if choice in ("a", "b") else 0.0
        return Decision(choice, margin, 1.0, 1, {choice: 1})
    counts = Counter(v["choice"] for v in votes)
    n = len(votes)
    if n == 0:
        return Decision(None, 0.0, 0.0, 0, {})
    scores = [s for v in votes if (s := signed_score(v["choice"], v["strength"])) is not None]

    if method == "majority":
        ranked = counts.most_common()
        top_count = ranked[0][1]
        if len(ranked) > 1 and ranked[1][1] == top_count:
            label = None
        else:
            label = ranked[0][0]
    elif method == "mean_strength":
        if counts["both_bad"] * 2 > n:
            label = "both_bad"
        else:
            mean = sum(scores) / len(scores) if scores else 0.0
            label = "a" if mean > 0 else "b" if mean < 0 else "tie"
    else:
        raise ValueError(f"unknown aggregation method {method!r}")

    margin = 0.0
    agreement = counts[label] / n if label else 0.0
    if label in ("a", "b"):
        if method == "majority":
            winning = [
                abs(signed_score(label, v["strength"])) for v in votes if v["choice"] == label
            ]
            margin = sum(winning) / len(winning) * agreement
        else:
            margin = abs(sum(scores) / len(scores))
    return Decision(label, round(margin, 6), round(agreement, 6), n, dict(sorted(counts.items())))
