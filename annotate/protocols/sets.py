"""What every protocol built on candidate sets (ranking, rating, step labels) shares: its units are
CandidateSets (annotate/models/sets.py), leased by annotate/services/sets.py. Imported when called,
like the rest of the seam."""

from __future__ import annotations


def set_units_build(*, campaign):
    from annotate.services.sets import sets_build_report

    return sets_build_report(campaign=campaign)


def set_units_exist(*, campaign) -> bool:
    from annotate.models import CandidateSet

    return CandidateSet.objects.filter(campaign=campaign).exists()


def set_unit_next(*, campaign, rater, **kwargs):
    from annotate.services.sets import set_assignment_next

    return set_assignment_next(campaign=campaign, rater=rater, **kwargs)
