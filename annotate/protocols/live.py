"""Live: the rater chats with two anonymous models and picks the better reply each turn.

Every turn is a pair (annotate/services/live.py makes its rows as the rater writes), so the
votes, their exports and their statistics are the pairwise protocol's; what is live's own is that
units are never built ahead, never claimed from a pool (a turn's pair belongs to the rater who
wrote its message), and a campaign can open once it has two generators to draw.
"""

from __future__ import annotations

from annotate.protocols.base import Protocol, register


def _units_build(*, campaign):
    from annotate.services.live import live_generators
    from annotate.services.pairing import BuildReport

    report = BuildReport(strategy="live")
    if len(live_generators(campaign=campaign)) < 2:
        report.notes.append(
            "A live campaign needs two generators that can reply (not imported ones)."
        )
    return report


def _units_exist(*, campaign) -> bool:
    from annotate.services.live import live_generators

    return len(live_generators(campaign=campaign)) >= 2


def _unit_next(*, campaign, rater, **_):
    """The rater's lease on the open turn of their conversation, if any; never a pool claim."""
    from annotate.models import Assignment

    return (
        Assignment.objects.filter(
            campaign=campaign,
            rater=rater,
            status=Assignment.Status.ACTIVE,
            pair__live_turn__conversation__status="active",
        )
        .select_related("pair")
        .first()
    )


def _vote_record(**vote):
    from annotate.services.live import turn_vote

    return turn_vote(**vote)


def _export_rows(*, campaign_id: int, **kwargs):
    """Pairwise vote rows of every turn but those left out (``Pair.excluded``: a reply named its
    model under the "exclude" policy)."""
    from annotate.models import Pair
    from annotate.selectors.exports import export_vote_rows

    kwargs.pop("ranking_pairs", None)
    kept = Pair.objects.filter(campaign_id=campaign_id, excluded=False)
    if kwargs.get("pairs_in") is not None:
        kept = kept.filter(id__in=kwargs.pop("pairs_in").values("id"))
    return export_vote_rows(campaign_id=campaign_id, pairs_in=kept, **kwargs)


def _agreement(*, campaign) -> dict:
    from annotate.protocols.pairwise import PAIRWISE

    return PAIRWISE.agreement(campaign=campaign)


LIVE = register(
    Protocol(
        name="live",
        unit="turn",
        units_build=_units_build,
        units_exist=_units_exist,
        unit_next=_unit_next,
        vote_record=_vote_record,
        export_rows=_export_rows,
        agreement=_agreement,
        rate_url="annotate:live",
    )
)
