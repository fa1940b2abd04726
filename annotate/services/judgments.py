"""Recording votes. A vote closes the rater's lease; the same submit replayed stores one vote.

The hot path is one statement on PostgreSQL (four on SQLite; annotate/sql/votes.py) in the
caller's transaction: a guarded UPDATE that closes the lease (it only matches an active, unexpired
lease of this rater, so it doubles as the permission check and serialises a double-click), the
INSERT of the vote, and the pair's and the rater's counters. Everything else (why a vote was
refused, replays, gold accuracy) goes through the ORM on the rare path that needs it; the minimum
read time, checked before the write when the campaign sets one, is plain SQL too.
"""

from __future__ import annotations

from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, F, Q
from django.utils import timezone
from django.utils.translation import gettext

from annotate.exports.texts import same_text
from annotate.models import Assignment, Campaign, Enrollment, Judgment, Pair, PairFlag, User
from annotate.services.campaign_stats import stats_vote_arrived_on_commit
from annotate.sides import to_shown, to_stored
from annotate.sql import votes as votes_sql

ASPECT_VALUES = {"a", "b", "tie"}
SHOWN_CHOICES = {"left", "right", "tie", "both_bad"}


class VoteRefused(ValidationError):
    """A vote that cannot be stored; ``message`` is shown to the rater as is."""

    def __init__(self, message: str, *, code: str = "refused") -> None:
        super().__init__(message, code=code)
        self.code = code


def required_read_ms(*, campaign: Campaign, length: int) -> int:
    """Minimum read time for a pair whose two responses have a reading ``length`` in total: the
    English-equivalent characters of annotate/reading.py, so the campaign's "ms per 1,000
    characters" asks the same time of a Korean answer as of an English one saying the same."""
    return campaign.min_read_ms_per_1k_chars * length // 1000


def judgment_validate(
    *,
    campaign: Campaign,
    choice: str,
    strength: int | None,
    aspects: dict | None,
    rationale: str,
    rewrite: str,
) -> tuple[int | None, dict, str, str]:
    """Check a vote against the campaign's rules. Returns the cleaned (strength, aspects, rationale,
    rewrite) or raises VoteRefused naming what is wrong."""
    if choice not in Judgment.Choice.values:
        raise VoteRefused(gettext("Choose A, B, tie or both bad."), code="choice")
    if choice == Judgment.Choice.BOTH_BAD and not campaign.allow_both_bad:
        raise VoteRefused(gettext("This campaign does not allow “both bad”."), code="choice")
    if campaign.scale == Campaign.Scale.GRADED7:
        if choice in (Judgment.Choice.A, Judgment.Choice.B):
            if strength not in (1, 2, 3):
                raise VoteRefused(
                    gettext("Say how much better: slightly, clearly or much."), code="strength"
                )
        else:
            strength = 0
    else:
        strength = None

    aspects = aspects or {}
    wanted = list(campaign.aspects or [])
    unknown = set(aspects) - set(wanted)
    if unknown:
        raise VoteRefused(
            gettext("Unknown aspect: %(names)s.") % {"names": ", ".join(sorted(unknown))},
            code="aspects",
        )
    missing = [name for name in wanted if not aspects.get(name)]
    if missing:
        raise VoteRefused(
            gettext("Rate every aspect (missing: %(names)s).") % {"names": ", ".join(missing)},
            code="aspects",
        )
    if any(value not in ASPECT_VALUES for value in aspects.values()):
        raise VoteRefused(gettext("Each aspect is A, B or tie."), code="aspects")

    rationale = (rationale or "").strip()
    if campaign.rationale == Campaign.Rationale.OFF:
        rationale = ""
    elif campaign.rationale == Campaign.Rationale.REQUIRED:
        minimum = max(1, campaign.rationale_min_length)
        if len(rationale) < minimum:
            raise VoteRefused(
                gettext(
                    "Explain your choice in at least %(minimum)s characters (%(so_far)s so far)."
                )
                % {"minimum": minimum, "so_far": len(rationale)},
                code="rationale",
            )
    rewrite = (rewrite or "").strip()
    if rewrite and not campaign.allow_rewrite:
        raise VoteRefused(gettext("This campaign does not take rewrites."), code="rewrite")
    return strength, aspects, rationale, rewrite


def _check_rewrite(*, assignment_id: int, rater: User, rewrite: str) -> None:
    """A rewrite must rewrite: one with the text of either response (white space aside) says
    nothing the response does not, and would export as a preference of a text over itself."""
    lease = (
        Assignment.objects.filter(pk=assignment_id, rater=rater)
        .values_list("left_is_a", "pair__candidate_a__text", "pair__candidate_b__text")
        .first()
    )
    if lease is None:
        return  # not the rater's lease: the guard refuses it with the right message
    left_is_a, a_text, b_text = lease
    for stored, text in (("a", a_text), ("b", b_text)):
        if same_text(rewrite, text):
            side = "A" if to_shown(stored, left_is_a=left_is_a) == "left" else "B"
            raise VoteRefused(
                gettext(
                    "Your rewrite is the same text as response %(side)s. Change it to make it "
                    "better, or clear it to vote without a rewrite."
                )
                % {"side": side},
                code="rewrite",
            )


def judgment_record(
    *,
    assignment: Assignment | int,
    rater: User,
    choice: str,
    strength: int | None = None,
    aspects: dict | None = None,
    rationale: str = "",
    rewrite: str = "",
    idempotency_key: str,
    campaign: Campaign | None = None,
    in_shown_terms: bool = False,
    judge_shown: bool = False,
    now: datetime | None = None,
) -> Judgment:
    """Store the rater's vote on their active lease, in canonical terms ("a" = pair.candidate_a).

    Refuses (VoteRefused) a lease that is not the rater's, no longer active, expired, or voted too
    fast for the campaign's minimum read time. The same ``idempotency_key`` again returns the stored
    vote instead of adding one. With ``in_shown_terms`` the choice and aspects say "left"/"right"
    (what the page showed) and are mapped with the lease's ``left_is_a`` once it is read.
    """
    shown_choice, shown_aspects = choice, dict(aspects or {})
    if in_shown_terms:
        if choice not in SHOWN_CHOICES:
            raise VoteRefused(gettext("Choose left, right, tie or both bad."), code="choice")
        # Validate with a provisional mapping; the real one needs the lease row (read below).
        choice = to_stored(choice, left_is_a=True)
        aspects = {k: to_stored(v, left_is_a=True) for k, v in shown_aspects.items()}
    assignment_id = assignment if isinstance(assignment, int) else assignment.pk
    if campaign is None:
        campaign = (
            assignment.campaign
            if isinstance(assignment, Assignment)
            else Campaign.objects.get(assignments__pk=assignment_id)
        )
    if not idempotency_key or len(idempotency_key) > 64:
        raise VoteRefused(
            gettext("This vote has no valid submission key; reload the page."), code="key"
        )
    strength, aspects, rationale, rewrite = judgment_validate(
        campaign=campaign,
        choice=choice,
        strength=strength,
        aspects=aspects,
        rationale=rationale,
        rewrite=rewrite,
    )
    if rewrite:
        _check_rewrite(assignment_id=assignment_id, rater=rater, rewrite=rewrite)
    now = now or timezone.now()
    try:
        return _record(
            assignment_id=assignment_id,
            rater=rater,
            campaign=campaign,
            choice=choice,
            strength=strength,
            aspects=aspects,
            rationale=rationale,
            rewrite=rewrite,
            key=idempotency_key,
            in_shown_terms=in_shown_terms,
            shown=(shown_choice, shown_aspects),
            judge_shown=judge_shown,
            now=now,
        )
    except IntegrityError:
        # The lease guard already rules out a second vote by this rater on this pair, so the only
        # unique key left to collide is the submission key, reused on another lease. The whole
        # transaction is rolled back (the lease stays active).
        raise VoteRefused(gettext("This submission key was already used."), code="key") from None


def _record(
    *,
    assignment_id: int,
    rater: User,
    campaign: Campaign,
    choice: str,
    strength: int | None,
    aspects: dict,
    rationale: str,
    rewrite: str,
    key: str,
    in_shown_terms: bool,
    shown: tuple[str, dict],
    judge_shown: bool,
    now: datetime,
) -> Judgment:
    shown_choice, shown_aspects = shown

    def canonical(left_is_a: bool) -> tuple[str, dict]:
        """The vote in a/b terms for a lease that showed a on the left (or not)."""
        if not in_shown_terms:
            return choice, aspects
        mapped = {k: to_stored(shown_aspects[k], left_is_a=left_is_a) for k in aspects}
        return to_stored(shown_choice, left_is_a=left_is_a), mapped

    if campaign.min_read_ms_per_1k_chars:
        # Checked before anything is written, so a refusal leaves no transaction to roll back.
        _check_read_time(campaign=campaign, assignment_id=assignment_id, rater=rater, now=now)
    vote = votes_sql.Vote(
        assignment_id=assignment_id,
        rater_id=rater.pk,
        campaign_id=campaign.pk,
        by_side={True: canonical(True), False: canonical(False)},
        strength=strength,
        rationale=rationale,
        rewrite=rewrite,
        key=key,
        judge_shown=judge_shown,
        now=now,
    )
    # savepoint=False: inside the vote view's transaction (vote + next claim, one commit) this adds
    # no SAVEPOINT round trips; any failure rolls back the whole request, which is what we want.
    with transaction.atomic(savepoint=False):
        if connection.vendor == "postgresql":
            written = votes_sql.write_one_statement(vote)
        else:
            written = votes_sql.write_step_by_step(vote)
        if written is not None and written.gold_answer:
            judgment_gold_check(campaign=campaign, rater=rater)
    if written is not None:
        stats_vote_arrived_on_commit(campaign_id=campaign.pk)
        return _judgment(vote, written, campaign=campaign, rater=rater)
    # Nothing was written; decide outside the transaction (raising here poisons no caller's block).
    return _refused_or_replayed(
        assignment_id=assignment_id, rater=rater, campaign=campaign, key=key, now=now
    )


def _judgment(
    vote: votes_sql.Vote, written: votes_sql.Written, *, campaign: Campaign, rater: User
) -> Judgment:
    """The stored row as a model instance, without reading it back. ``rater_votes`` is the rater's
    vote count after this vote; ``gold_answer_seen`` whether the pair was gold."""
    choice, aspects = vote.by_side[written.left_is_a]
    judgment = Judgment(
        id=written.judgment_id,
        campaign=campaign,
        pair_id=written.pair_id,
        assignment_id=vote.assignment_id,
        rater=rater,
        source=Judgment.Source.HUMAN,
        choice=choice,
        strength=vote.strength,
        aspects=aspects,
        rationale=vote.rationale,
        rewrite=vote.rewrite,
        left_is_a=written.left_is_a,
        time_on_task_ms=written.time_on_task_ms,
        judge_shown=vote.judge_shown,
        idempotency_key=vote.key,
        created_at=vote.now,
    )
    judgment._state.adding = False
    judgment._state.db = connection.alias
    judgment.rater_votes = written.rater_votes
    judgment.gold_answer_seen = bool(written.gold_answer)
    return judgment


def _check_read_time(*, campaign: Campaign, assignment_id: int, rater: User, now: datetime) -> None:
    facts = votes_sql.read_time_facts(assignment_id=assignment_id, rater_id=rater.pk)
    if facts is None:
        return  # not the rater's lease: the guard refuses it with the right message
    served_at, length = facts
    time_on_task = int((now - served_at).total_seconds() * 1000)
    needed = required_read_ms(campaign=campaign, length=length)
    if time_on_task < needed:
        raise VoteRefused(
            gettext("Please read both responses first (%(seconds)s s left).")
            % {"seconds": f"{(needed - time_on_task) / 1000:.1f}"},
            code="too_fast",
        )


def _refused_or_replayed(
    *, assignment_id: int, rater: User, campaign: Campaign, key: str, now: datetime
) -> Judgment:
    """The lease guard matched nothing: a replay of a stored vote, or a vote we must refuse, with
    what actually happened to the lease."""
    existing = Judgment.objects.filter(idempotency_key=key).first()
    if existing is not None:
        if existing.rater_id == rater.pk and existing.assignment_id == assignment_id:
            return existing  # a double-click or a replayed request: one vote stored
        raise VoteRefused(gettext("This submission key was already used."), code="key")
    lease = Assignment.objects.filter(pk=assignment_id).first()
    not_recorded = gettext("Your vote was not recorded.")
    if lease is None:
        raise VoteRefused(
            gettext("There is no such pair to vote on (it may have been deleted).")
            + " "
            + not_recorded,
            code="missing",
        )
    if lease.rater_id != rater.pk:
        raise VoteRefused(
            gettext("This pair was not assigned to you.") + " " + not_recorded, code="foreign"
        )
    if lease.campaign_id != campaign.pk:
        raise VoteRefused(
            gettext("This pair belongs to another of your campaigns, not this one.")
            + " "
            + not_recorded,
            code="other_campaign",
        )
    if lease.status == Assignment.Status.DONE:
        raise VoteRefused(gettext("You already voted on this pair."), code="done")
    if lease.status == Assignment.Status.SKIPPED:
        raise VoteRefused(gettext("You skipped this pair.") + " " + not_recorded, code="skipped")
    if lease.status == Assignment.Status.RELEASED:
        raise VoteRefused(
            gettext("An admin released this pair from you, so it went back to the pool.")
            + " "
            + not_recorded,
            code="released",
        )
    if lease.status == Assignment.Status.EXPIRED or lease.expires_at <= now:
        raise VoteRefused(
            gettext(
                "Your time on this pair ran out, so it went back to the pool. "
                "Your vote was not recorded; here is the next pair."
            ),
            code="expired",
        )
    raise VoteRefused(  # active and unexpired now: it changed while the vote was written
        gettext("This pair changed while your vote was being saved.")
        + " "
        + not_recorded
        + " "
        + gettext("Please try again."),
        code="retry",
    )


def judgment_gold_check(*, campaign: Campaign, rater: User) -> Enrollment | None:
    """Recompute the rater's accuracy on gold pairs; pause them when it falls below the threshold.

    Runs only after a vote on a gold pair. A graded "A much better" counts as "a".
    """
    if campaign.gold_min_accuracy <= 0:
        return None
    stats = Judgment.objects.filter(
        campaign=campaign,
        rater=rater,
        source=Judgment.Source.HUMAN,
        revises__isnull=True,
        pair__gold_answer__gt="",
    ).aggregate(
        answered=Count("id"),
        correct=Count("id", filter=Q(choice=F("pair__gold_answer"))),
    )
    answered, correct = stats["answered"], stats["correct"]
    if answered < max(1, campaign.gold_min_answered):
        return None
    accuracy = correct / answered
    if accuracy >= campaign.gold_min_accuracy:
        return None
    reason = (
        f"Gold accuracy {accuracy:.0%} ({correct}/{answered}) is below the campaign's "
        f"{campaign.gold_min_accuracy:.0%}."
    )
    Enrollment.objects.filter(campaign=campaign, rater=rater, paused=False).update(
        paused=True, paused_reason=reason
    )
    return Enrollment.objects.filter(campaign=campaign, rater=rater).first()


def pair_flag(*, pair: Pair | int, rater: User, reason: str, note: str = ""):
    """Record a rater's flag on a pair (harmful, broken, identity visible, other)."""
    if reason not in PairFlag.Reason.values:
        raise VoteRefused(gettext("Pick a reason for the flag."), code="flag")
    pair_id = pair if isinstance(pair, int) else pair.pk
    return PairFlag.objects.create(pair_id=pair_id, rater=rater, reason=reason, note=note[:2000])
