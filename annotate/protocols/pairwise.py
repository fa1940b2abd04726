"""Pairwise: two candidates of one prompt, A / B / tie / both bad. Delegates to today's code."""

from __future__ import annotations

from annotate.protocols.base import Protocol, register


def _units_build(*, campaign):
    from annotate.services.pairing import pairs_build_report

    return pairs_build_report(campaign=campaign)


def _units_exist(*, campaign) -> bool:
    from annotate.models import Pair

    return Pair.objects.filter(campaign=campaign).exists()


def _unit_next(*, campaign, rater, **kwargs):
    from annotate.services.assignment import assignment_next

    return assignment_next(campaign=campaign, rater=rater, **kwargs)


def _vote_record(**vote):
    from annotate.services.judgments import judgment_record

    return judgment_record(**vote)


def _export_rows(*, campaign_id: int, **kwargs):
    from annotate.selectors.exports import export_vote_rows

    kwargs.pop("ranking_pairs", None)
    return export_vote_rows(campaign_id=campaign_id, **kwargs)


def _agreement(*, campaign) -> dict:
    from annotate.selectors.analytics import campaign_alpha

    # Over every vote, from the counts per pair × score (annotate/analytics/counted.py).
    return {"alpha": campaign_alpha(campaign_id=campaign.id)["alpha"]}


PAIRWISE = register(
    Protocol(
        name="pairwise",
        unit="pair",
        units_build=_units_build,
        units_exist=_units_exist,
        unit_next=_unit_next,
        vote_record=_vote_record,
        export_rows=_export_rows,
        agreement=_agreement,
        rate_url="annotate:rate",
    )
)
