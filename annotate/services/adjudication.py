"""Adjudication: a researcher (or admin) settles a contested pair with a final label and a reason.

The label is a Judgment row of its own with ``source=adjudicated`` (the adjudicator in ``rater``, the
reason in ``rationale``), never an update of anyone's vote. Adjudicating a pair again adds another row;
the latest one is the pair's final label and the earlier ones stay as the audit trail. Exports can
prefer it over the aggregate of the votes (annotate/exports).
"""

from __future__ import annotations

from django.core.exceptions import ValidationError

from annotate.models import Campaign, Judgment, Pair, User
from annotate.validation import MAX_RATIONALE, text_check


class AdjudicationError(Exception):
    """Input the adjudication refuses (400), with a message that says which part."""


def adjudication_choices(campaign: Campaign) -> list[tuple[str, str]]:
    """The labels an adjudicator may give: the campaign's own (both bad only where allowed)."""
    choices = [("a", "A is better"), ("b", "B is better"), ("tie", "Tie")]
    if campaign.allow_both_bad:
        choices.append(("both_bad", "Both bad"))
    return choices


def adjudication_record(
    *,
    campaign: Campaign,
    pair: Pair,
    adjudicator: User,
    choice: str,
    reason: str,
    strength: int | None = None,
) -> Judgment:
    """Store the final label of ``pair`` (in the pair's own terms: a = candidate_a)."""
    if pair.campaign_id != campaign.id:
        raise AdjudicationError("This pair belongs to another campaign.")
    if choice not in dict(adjudication_choices(campaign)):
        allowed = ", ".join(c for c, _ in adjudication_choices(campaign))
        raise AdjudicationError(f"choice: “{choice}” is not one of {allowed}.")
    try:
        reason = text_check(reason, field="reason", max_length=MAX_RATIONALE).strip()
    except ValidationError as exc:
        raise AdjudicationError(" ".join(exc.messages)) from None
    if not reason:
        raise AdjudicationError("reason: say why (the audit trail keeps it).")
    graded = campaign.scale == Campaign.Scale.GRADED7
    if strength is not None and not (graded and choice in ("a", "b") and 1 <= strength <= 3):
        raise AdjudicationError(
            "strength: 1, 2 or 3, and only for a or b on the 7-point scale."
            if graded
            else "strength: this campaign's scale has none."
        )
    if graded and choice in ("a", "b") and strength is None:
        strength = 1
    if graded and choice in ("tie", "both_bad"):
        strength = 0
    return Judgment.objects.create(
        campaign=campaign,
        pair=pair,
        rater=adjudicator,
        source=Judgment.Source.ADJUDICATED,
        choice=choice,
        strength=strength,
        rationale=reason,
    )
