"""Rating: each response of a unit scored on the campaign's scale, overall and per aspect.

The unit is a candidate set (annotate/models/sets.py), leased as ranking leases it: one or several
(``Campaign.rating_k``) candidates of one prompt, shown in a rotated order recorded on the lease.
The rules, pure (no Django) and shared by the page, the API and the exports:

* **A rating** (``rating_clean``) is a list with one entry per response on the page, keyed by
  its shown number: ``{"number": 1, "overall": 4, "aspects": {"helpful": 5}, "rationale": ""}``.
  Every response once, every campaign aspect scored, every score a whole number on the scale,
  nothing else (unknown keys and aspects are refused). A rationale is optional unless the
  campaign requires one (then each response's needs the minimum length).
* **Aggregated score** of a candidate: the mean of its counted human overall scores.
* **Pairs from ratings** (``rating_pairs``, UltraFeedback-style binarisation per prompt): the
  best-scored candidate against each candidate scoring at least ``min_gap`` lower
  (``best_vs_each``), or against one of them drawn with the export's seed (``best_vs_random``).
  A tie for best goes to the lower candidate id. The pair's strength is the score gap.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import NamedTuple

from django.utils.translation import gettext

from annotate.protocols.base import Protocol, register
from annotate.protocols.sets import set_unit_next, set_units_build, set_units_exist

RATING_PAIRS = ("best_vs_each", "best_vs_random")
_ENTRY_KEYS = frozenset({"number", "overall", "aspects", "rationale"})


class RatingInvalid(ValueError):
    """A rating that breaks the rules above; the message says what is wrong."""


class Scale(NamedTuple):
    low: int
    high: int
    aspects: tuple[str, ...]
    rationale: str = "optional"  # off | optional | required
    rationale_min: int = 0


def _score(value: object, *, scale: Scale, what: str) -> int:
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or not scale.low <= value <= scale.high
    ):
        raise RatingInvalid(
            gettext("%(what)s: a whole number from %(low)s to %(high)s.")
            % {"what": what, "low": scale.low, "high": scale.high}
        )
    return value


def rating_clean(entries: object, *, shown_order: Sequence[int], scale: Scale) -> list[dict]:
    """The rating in candidate ids: [{"candidate_id", "overall", "aspects", "rationale"}] in shown
    order, or RatingInvalid."""
    k = len(shown_order)
    if not isinstance(entries, list) or not entries:
        raise RatingInvalid(gettext("A rating is a list with one entry per response."))
    by_number: dict[int, dict] = {}
    for entry in entries:
        if not isinstance(entry, Mapping):
            raise RatingInvalid(gettext("Each entry rates one response (an object)."))
        unknown = set(entry) - _ENTRY_KEYS
        if unknown:
            raise RatingInvalid(
                gettext("Unknown field: %(names)s.")
                % {"names": ", ".join(sorted(map(str, unknown)))}
            )
        number = entry.get("number")
        if isinstance(number, bool) or not isinstance(number, int) or not 1 <= number <= k:
            raise RatingInvalid(gettext("Responses are numbered 1 to %(k)s.") % {"k": k})
        if number in by_number:
            raise RatingInvalid(gettext("Response %(n)s is rated twice.") % {"n": number})
        by_number[number] = entry
    missing = [n for n in range(1, k + 1) if n not in by_number]
    if missing:
        raise RatingInvalid(
            gettext("Rate every response (%(n)s not rated yet).") % {"n": len(missing)}
        )
    out = []
    for number in range(1, k + 1):
        entry = by_number[number]
        label = gettext("Response %(n)s") % {"n": number}
        if entry.get("overall") is None:
            raise RatingInvalid(gettext("%(label)s: give the overall score.") % {"label": label})
        overall = _score(entry.get("overall"), scale=scale, what=label + " " + gettext("overall"))
        aspects = entry.get("aspects") or {}
        if not isinstance(aspects, Mapping):
            raise RatingInvalid(gettext("Aspects map each aspect to its score."))
        unknown = set(aspects) - set(scale.aspects)
        if unknown:
            raise RatingInvalid(
                gettext("Unknown aspect: %(names)s.")
                % {"names": ", ".join(sorted(map(str, unknown)))}
            )
        lacking = [name for name in scale.aspects if name not in aspects]
        if lacking:
            raise RatingInvalid(
                gettext("Rate every aspect (missing: %(names)s).") % {"names": ", ".join(lacking)}
            )
        scores = {
            name: _score(aspects[name], scale=scale, what=f"{label} {name}")
            for name in scale.aspects
        }
        rationale = entry.get("rationale") or ""
        if not isinstance(rationale, str):
            raise RatingInvalid(gettext("A rationale is text."))
        rationale = rationale.strip()
        if scale.rationale == "off":
            rationale = ""
        elif scale.rationale == "required":
            minimum = max(1, scale.rationale_min)
            if len(rationale) < minimum:
                raise RatingInvalid(
                    gettext(
                        "%(label)s: explain your rating in at least %(minimum)s characters "
                        "(%(length)s so far)."
                    )
                    % {"label": label, "minimum": minimum, "length": len(rationale)}
                )
        out.append(
            {
                "candidate_id": shown_order[number - 1],
                "overall": overall,
                "aspects": scores,
                "rationale": rationale,
            }
        )
    return out


# Gold of a rating set: each response's known overall score. A rater's vote on a gold set counts
# as right when every response's overall score is within GOLD_TOLERANCE of gold's (|score − gold|
# ≤ 1 on the campaign's scale): raters differ by a point on a Likert scale without either being
# careless, while a reversed or random rating misses by more.
GOLD_TOLERANCE = 1


def rating_gold_clean(gold: object, *, members: Sequence[int], scale: Scale) -> dict[str, int]:
    """Gold scores as stored: {"<candidate id>": overall} for exactly the set's members, each a
    whole number on the scale; RatingInvalid otherwise."""
    if not isinstance(gold, Mapping) or not gold:
        raise RatingInvalid(gettext("Gold scores give each response its overall score."))
    out: dict[str, int] = {}
    wanted = {str(m) for m in members}
    for key, value in gold.items():
        if str(key) not in wanted:
            raise RatingInvalid(gettext("Gold scores only score this unit's responses."))
        out[str(key)] = _score(value, scale=scale, what=gettext("A gold score"))
    if set(out) != wanted:
        raise RatingInvalid(
            gettext("Give every response a gold score (%(n)s missing).")
            % {"n": len(wanted - set(out))}
        )
    return {str(m): out[str(m)] for m in members}


def rating_gold_from_shown(numbers: Sequence[object], *, slots: Sequence[int]) -> dict:
    """Gold scores given as one overall score per response numbered in slot order (1 … K), as
    the back office shows the unit: {"<candidate id>": score}. The scores' rules are
    ``rating_gold_clean``'s."""
    if not isinstance(numbers, (list, tuple)) or len(numbers) != len(slots):
        raise RatingInvalid(gettext("Give every response a gold score."))
    return {str(cid): value for cid, value in zip(slots, numbers, strict=True)}


def rating_gold_correct(scores: Mapping[int, int], gold: Mapping[str, int]) -> bool:
    """A rating of a gold set is right when each response's overall score is within
    GOLD_TOLERANCE of its gold score (``scores``: candidate id -> overall)."""
    return all(
        str(cid) in gold and abs(score - gold[str(cid)]) <= GOLD_TOLERANCE
        for cid, score in scores.items()
    )


def rating_gold_ranking(gold: Mapping[str, int]) -> list[list[int]]:
    """The ranking gold scores make, best first, equal scores tied (the set's gold_ranking)."""
    levels = sorted(set(gold.values()), reverse=True)
    return [sorted(int(c) for c, v in gold.items() if v == level) for level in levels]


def aggregated_scores(scores: Mapping[int, Sequence[float]]) -> dict[int, float]:
    """candidate id -> mean of its scores (candidates without scores are left out)."""
    return {c: sum(v) / len(v) for c, v in scores.items() if v}


class RatedPair(NamedTuple):
    chosen: int
    rejected: int
    gap: float


def rating_pairs(
    means: Mapping[int, float],
    *,
    mode: str = "best_vs_each",
    min_gap: float = 1.0,
    rng: random.Random | None = None,
) -> list[RatedPair]:
    """The preference pairs of one prompt's aggregated scores (see the module docstring)."""
    if mode not in RATING_PAIRS:
        raise ValueError(f"rating_pairs is one of {', '.join(RATING_PAIRS)}")
    if len(means) < 2:
        return []
    best = min(means, key=lambda c: (-means[c], c))
    lower = sorted(
        (c for c in means if c != best and means[best] - means[c] >= min_gap - 1e-9),
        key=lambda c: (-means[c], c),
    )
    if not lower:
        return []
    if mode == "best_vs_random":
        lower = [(rng or random.Random(0)).choice(lower)]
    return [RatedPair(best, c, round(means[best] - means[c], 6)) for c in lower]


def normalised(score: float, *, low: int, high: int) -> float:
    """A score on the scale as a share: low -> 0, high -> 1."""
    return (score - low) / (high - low)


# --- the protocol record --------------------------------------------------------------------------


def _vote_record(**vote):
    from annotate.services.sets import rating_vote_record

    return rating_vote_record(**vote)


def _export_rows(*, campaign_id: int, rating_pairs: str = "best_vs_each", **kwargs):
    from annotate.selectors.ratings import rating_export_rows

    return rating_export_rows(campaign_id=campaign_id, mode=rating_pairs, **kwargs)


def _agreement(*, campaign) -> dict:
    from annotate.selectors.ratings import rating_analytics

    return rating_analytics(campaign=campaign)


RATING = register(
    Protocol(
        name="rating",
        unit="unit",
        units_build=set_units_build,
        units_exist=set_units_exist,
        unit_next=set_unit_next,
        vote_record=_vote_record,
        export_rows=_export_rows,
        agreement=_agreement,
        rate_url="annotate:rating",
    )
)
