"""Gold answers: an admin marks the known answer of a pair (or makes it not gold)."""

from __future__ import annotations

from annotate.models import Pair, User
from annotate.services.judgments import VoteRefused


def pair_gold_set(*, pair: Pair, gold: str, actor: User) -> Pair:
    """Set (or, with "", clear) the pair's gold answer, in the pair's own terms (a = candidate_a).
    The model's rules decide what is accepted (Pair.Gold, and "both bad" only where the campaign
    allows it), so the page, the back office and any other way in refuse the same values."""
    if not actor.is_campaign_admin:
        raise VoteRefused("Only admins mark gold answers.", code="forbidden")
    pair.gold_answer = gold
    pair.full_clean(exclude=["candidate_a", "candidate_b", "prompt"], validate_unique=False)
    pair.save(update_fields=["gold_answer"])
    return pair
