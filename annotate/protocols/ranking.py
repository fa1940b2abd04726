"""Ranking: K candidates of one prompt, ranked best to worst; ties allowed.

The rules, pure (no Django) and shared by the page, the API, the models and the exports:

* **A ranking** is a list of groups, best first; a group holds the candidates tied at that rank:
  ``[[12], [15, 17], [13]]`` says 12 > 15 = 17 > 13. It must rank every member of the set exactly
  once (``ranking_clean``).
* **Shown order.** A lease shows the set's members in slot order rotated by the lease's rotation;
  the rotation a claim gets is the one the set's live and finished leases used least (ties at
  random), so at k >= 2 each candidate visits each position equally often (a cyclic Latin square:
  with k = K every candidate is shown once in every position). Raters number the candidates as
  shown (1 … K); ``ranking_from_shown`` maps those numbers to candidate ids.
* **Pairs from a ranking** (``derived_pairs``): ``all`` gives every one of the K(K-1)/2 pairs;
  ``best_vs_rest`` gives each top-ranked candidate against every lower one. Each pair says a, b or
  tie (a = the lower candidate id, as pairs store them) and its **rank distance** (groups apart;
  0 for a tie), which exports use as the vote's strength, so a reward export's margin grows with it.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from itertools import combinations
from typing import NamedTuple

from django.utils.translation import gettext

from annotate.protocols.base import Protocol, register
from annotate.protocols.sets import set_unit_next, set_units_build, set_units_exist

RANKING_PAIRS = ("all", "best_vs_rest")


class RankingInvalid(ValueError):
    """A ranking that does not rank the set's members once each; the message says what is wrong."""


def ranking_clean(groups: object, *, members: Sequence[int]) -> list[list[int]]:
    """The ranking as lists of ints, or RankingInvalid. ``members``: the set's candidate ids."""
    if not isinstance(groups, list) or not groups:
        raise RankingInvalid(gettext("A ranking is a non-empty list of groups, best first."))
    cleaned: list[list[int]] = []
    for group in groups:
        if not isinstance(group, list) or not group:
            raise RankingInvalid(gettext("Each rank is a non-empty list (ties share a rank)."))
        if any(isinstance(x, bool) or not isinstance(x, int) for x in group):
            raise RankingInvalid(gettext("A ranking names candidates by number."))
        cleaned.append(list(group))
    flat = [x for group in cleaned for x in group]
    if len(flat) != len(set(flat)):
        raise RankingInvalid(gettext("A candidate is ranked twice."))
    unknown = set(flat) - set(members)
    if unknown:
        raise RankingInvalid(
            gettext("Not in this set: %(numbers)s.")
            % {"numbers": ", ".join(map(str, sorted(unknown)))}
        )
    missing = [m for m in members if m not in set(flat)]
    if missing:
        raise RankingInvalid(
            gettext("Rank every response (%(n)s not ranked yet).") % {"n": len(missing)}
        )
    return cleaned


def ranking_from_shown(groups: object, *, shown_order: Sequence[int]) -> list[list[int]]:
    """Shown numbers (1 … K, as the rater saw them) to candidate ids; RankingInvalid if any
    number is not a position on the page."""
    if not isinstance(groups, list):
        raise RankingInvalid(gettext("A ranking is a non-empty list of groups, best first."))
    out = []
    for group in groups:
        if not isinstance(group, list):
            raise RankingInvalid(gettext("Each rank is a non-empty list (ties share a rank)."))
        ids = []
        for n in group:
            if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= len(shown_order):
                raise RankingInvalid(
                    gettext("Responses are numbered 1 to %(k)s.") % {"k": len(shown_order)}
                )
            ids.append(shown_order[n - 1])
        out.append(ids)
    return out


def ranking_to_shown(groups: Sequence[Sequence[int]], *, shown_order: Sequence[int]) -> list:
    position = {cid: i + 1 for i, cid in enumerate(shown_order)}
    return [[position[c] for c in group] for group in groups]


def ranks(groups: Sequence[Sequence[int]]) -> dict[int, int]:
    """Candidate id -> its rank (0 = best); tied candidates share one."""
    return {c: i for i, group in enumerate(groups) for c in group}


def top(groups: Sequence[Sequence[int]]) -> set[int]:
    return set(groups[0]) if groups else set()


class DerivedPair(NamedTuple):
    a: int  # the lower candidate id (as Pair.candidate_a)
    b: int
    choice: str  # "a", "b" or "tie"
    distance: int  # ranks apart (0 for a tie)


def derived_pairs(groups: Sequence[Sequence[int]], *, mode: str = "all") -> list[DerivedPair]:
    """The pairwise comparisons one ranking makes (see the module docstring), sorted by (a, b)."""
    if mode not in RANKING_PAIRS:
        raise ValueError(f"ranking_pairs is one of {', '.join(RANKING_PAIRS)}")
    rank = ranks(groups)
    best = top(groups)
    out = []
    for a, b in combinations(sorted(rank), 2):
        if mode == "best_vs_rest" and (a in best) == (b in best):
            continue  # neither is a best one, or both are (tied at the top)
        distance = abs(rank[a] - rank[b])
        choice = "tie" if distance == 0 else ("a" if rank[a] < rank[b] else "b")
        out.append(DerivedPair(a, b, choice, distance))
    return out


def shown_order_for(slots: Sequence[int], rotation: int) -> list[int]:
    """The members in slot order, rotated: position p shows slot (p + rotation) mod K."""
    k = len(slots)
    if k == 0:
        return []
    r = rotation % k
    return list(slots[r:]) + list(slots[:r])


def rotation_choose(used: Iterable[int], *, k: int, rng: random.Random | None = None) -> int:
    """The rotation the set's leases so far used least (ties at random)."""
    counts = [0] * k
    for r in used:
        counts[r % k] += 1
    least = min(counts)
    return (rng or random).choice([r for r in range(k) if counts[r] == least])


# --- the protocol record --------------------------------------------------------------------------


def _vote_record(**vote):
    from annotate.services.sets import ranking_vote_record

    return ranking_vote_record(**vote)


def _export_rows(*, campaign_id: int, ranking_pairs: str = "all", **kwargs):
    from annotate.selectors.sets import ranking_export_rows

    return ranking_export_rows(campaign_id=campaign_id, mode=ranking_pairs, **kwargs)


def _agreement(*, campaign) -> dict:
    from annotate.selectors.sets import ranking_analytics

    return ranking_analytics(campaign=campaign)


RANKING = register(
    Protocol(
        name="ranking",
        unit="set",
        units_build=set_units_build,
        units_exist=set_units_exist,
        unit_next=set_unit_next,
        vote_record=_vote_record,
        export_rows=_export_rows,
        agreement=_agreement,
        rate_url="annotate:rank",
    )
)
