"""Candidate sets (the units of ranking and rating): build them, lease them, record votes.

**Build** (``sets_build_report``, idempotent): ranking makes one set per prompt, of
``campaign.ranking_k`` candidates (fewer, down to 2, when a prompt has fewer distinct eligible
responses); rating splits each prompt's distinct candidates into sets of ``rating_k`` (numbered
by ``part``, the last one may be smaller). Candidates are picked from
the prompt's DONE candidates as pairing picks them (services/pairing.py: self-identifying ones
hidden under the "hide" policy, twins of an earlier text left out), round-robin over generators
so a cap keeps every model before a second sample of any; the seed's best-of-N samples of one
model count as candidates. The members get a shuffled slot order (seeded per prompt).

**Lease** (``set_assignment_next``), with the pairwise engine's guarantees
(services/assignment.py):

    active --vote--> done
       |---skip----> skipped    (slot given back: assigned - 1)
       |---sweep---> expired    (slot given back)
       +---admin---> released   (slot given back)

The claim picks an open set (``assigned < needed``, never one this rater had, gold or regular
pool as ``gold_rate`` says) and counts the claim with a conditional UPDATE on the set's own row
(``assigned < needed`` in its WHERE, the database CHECK ``assigned <= needed`` behind it). On
PostgreSQL the pick is ``SELECT … FOR UPDATE SKIP LOCKED``; on SQLite the IMMEDIATE transaction
serialises claimers. The statements are annotate/sql/set_leases.py's, as pairwise's are
annotate/sql/leases.py's: the pick inside the UPDATE (with the enrollment guard), the slots and
the rotations in use, then the lease inserted and read back with what the rater is shown. The
rotation (shown order) is chosen while the UPDATE holds the set's row lock, so two claimers of
one set cannot pick the same rotation off the same counts.

**Vote** (``ranking_vote_record``, ``rating_vote_record``, one path: ``_set_vote_record``): the
lease is read, the ranking (in shown numbers) mapped to candidate ids and checked (a rating: each
response's scores, protocols/rating.py), then the lease's guarded close, both counters
(``set_lease_close``: one statement on PostgreSQL) and the vote are written in one transaction. A second submit on the same lease returns the stored vote (the
one-to-one lease key backs it up).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext

from annotate.models import (
    Campaign,
    Candidate,
    CandidateSet,
    CandidateSetMember,
    Enrollment,
    RankingVote,
    RatingScore,
    RatingVote,
    SetAssignment,
    User,
)
from annotate.models.sets import counted_votes
from annotate.protocols.ranking import (
    RankingInvalid,
    ranking_clean,
    ranking_from_shown,
    rotation_choose,
    shown_order_for,
    top,
)
from annotate.protocols.rating import (
    RatingInvalid,
    rating_clean,
    rating_gold_clean,
    rating_gold_correct,
    rating_gold_from_shown,
    rating_gold_ranking,
)
from annotate.protocols.rating import Scale as RatingScale
from annotate.services.campaign_stats import stats_vote_arrived_on_commit
from annotate.services.judgments import VoteRefused
from annotate.services.pairing import BuildReport, candidates_scan, normalised_text
from annotate.sql import set_leases

SWEEP_INTERVAL_SECONDS = 2.0
_last_sweep: dict[int, float] = {}
_CLAIM_RETRIES = 4
Status = SetAssignment.Status
MIN_SET_SIZE = 2


# --- build -----------------------------------------------------------------------------------------


def _pick(candidates: list[Candidate], k: int, rng: random.Random) -> list[Candidate]:
    """Up to k distinct texts, round-robin over generators (sample 0 of each, then sample 1…)."""
    by_generator: dict[int, list[Candidate]] = {}
    for c in sorted(candidates, key=lambda c: (c.generator_id, c.sample_index, c.id)):
        by_generator.setdefault(c.generator_id, []).append(c)
    order = []
    depth = max((len(v) for v in by_generator.values()), default=0)
    for i in range(depth):
        for g in sorted(by_generator):
            if i < len(by_generator[g]):
                order.append(by_generator[g][i])
    picked, texts = [], set()
    for c in order:
        text = normalised_text(c.text)
        if text in texts:
            continue
        texts.add(text)
        picked.append(c)
        if len(picked) == k:
            break
    return picked


def sets_build_report(*, campaign: Campaign) -> BuildReport:
    """Create the missing sets of each prompt. Builds of a campaign run one at a time.

    Ranking: one set per prompt of up to K candidates (at least 2). Rating: the prompt's distinct
    candidates (picked in the same order) split into sets of ``rating_k``, numbered by part."""
    size = campaign.set_size
    with transaction.atomic():
        Campaign.objects.select_for_update().filter(pk=campaign.pk).values_list("pk").first()
        report = BuildReport(strategy=campaign.protocol)
        report.flagged, report.duplicates = candidates_scan(campaign=campaign)
        eligible = Candidate.objects.filter(
            prompt__campaign=campaign, status=Candidate.Status.DONE
        ).order_by("id")
        if campaign.self_id_policy == Campaign.SelfIdPolicy.HIDE:
            eligible = eligible.exclude(self_identifies=True)
        by_prompt: dict[int, list[Candidate]] = {}
        for candidate in eligible:
            by_prompt.setdefault(candidate.prompt_id, []).append(candidate)
        report.eligible = sum(len(v) for v in by_prompt.values())
        have = set(
            CandidateSet.objects.filter(campaign=campaign).values_list("prompt_id", flat=True)
        )
        short = 0
        for prompt_id, candidates in by_prompt.items():
            if prompt_id in have:
                continue
            rng = random.Random(f"{campaign.pk}:{prompt_id}:set")
            if campaign.is_rating:
                picked = _pick(candidates, len(candidates), rng)
                parts = [picked[i : i + size] for i in range(0, len(picked), size)]
            else:
                members = _pick(candidates, size, rng)
                if len(members) < MIN_SET_SIZE:
                    continue
                short += len(members) < size
                parts = [members]
            for part, members in enumerate(parts):
                rng.shuffle(members)
                unit = CandidateSet.objects.create(
                    campaign=campaign,
                    prompt_id=prompt_id,
                    part=part,
                    needed=campaign.overlap,
                    random_key=random.random(),
                )
                CandidateSetMember.objects.bulk_create(
                    CandidateSetMember(candidate_set=unit, candidate=c, slot=i)
                    for i, c in enumerate(members)
                )
                report.created += 1
        if short:
            report.notes.append(
                f"{short} prompts have fewer than {size} distinct responses: "
                "their sets rank what there is."
            )
    return report


# --- lease ----------------------------------------------------------------------------------------


def set_assignment_live(*, campaign: Campaign, rater: User) -> SetAssignment | None:
    """The rater's active lease (expired or not) with what the rater is shown (annotate/sql/
    set_leases.py: ``candidate_set.prompt``, ``responses``, ``trace``)."""
    return set_leases.live(campaign_id=campaign.pk, rater_id=rater.pk)


def set_assignment_next(
    *, campaign: Campaign, rater: User, after_vote: bool = False, now: datetime | None = None
) -> SetAssignment | None:
    """The rater's live lease (a reload returns the same set), else a newly claimed set; None when
    there is no work (campaign not open, rater not enrolled or paused, every set has its k)."""
    now = now or timezone.now()
    if not after_vote:
        live = set_assignment_live(campaign=campaign, rater=rater)
        if live is not None:
            if live.expires_at > now:
                return live
            set_assignment_expire_stale(campaign=campaign, now=now)
    if not campaign.is_open:
        return None
    # The claim's pick checks the enrollment (enrolled, not paused) in the same statement.
    if time.monotonic() - _last_sweep.get(campaign.pk, 0.0) > SWEEP_INTERVAL_SECONDS:
        set_assignment_expire_stale(campaign=campaign, now=now)
    lease = _claim(campaign=campaign, rater=rater, now=now)
    if lease is None and set_assignment_expire_stale(campaign=campaign, now=now):
        lease = _claim(campaign=campaign, rater=rater, now=now)
    return lease


def _claim(*, campaign: Campaign, rater: User, now: datetime) -> SetAssignment | None:
    want_gold = campaign.gold_rate > 0 and random.random() < campaign.gold_rate
    pools = (want_gold, not want_gold) if campaign.gold_rate > 0 else (None,)
    for gold in pools:
        for attempt in range(_CLAIM_RETRIES):
            lease, outcome = _claim_once(campaign=campaign, rater=rater, now=now, gold=gold)
            if outcome == "claimed":
                return lease
            if outcome == "twin":
                return set_assignment_live(campaign=campaign, rater=rater)
            if outcome == "empty":
                break
            time.sleep(0.001 * (attempt + 1))
    return None


def _claim_once(*, campaign: Campaign, rater: User, now: datetime, gold: bool | None):
    # savepoint=False: inside the vote's transaction this adds no SAVEPOINT round trips (as the
    # pairwise claim); a twin's insert conflicts without raising (ON CONFLICT DO NOTHING).
    with transaction.atomic(savepoint=False):
        claimed = set_leases.claim_set(campaign=campaign, rater_id=rater.pk, gold=gold)
        if claimed is None:
            return None, "empty"
        if claimed == "raced":
            return None, "raced"
        set_id, slots, used = claimed
        # The UPDATE holds the set's row lock until commit: the rotation counts cannot move.
        rotation = rotation_choose(used, k=len(slots))
        lease = set_leases.insert(
            campaign_id=campaign.pk,
            set_id=set_id,
            rater_id=rater.pk,
            rotation=rotation,
            shown_order=shown_order_for(slots, rotation),
            now=now,
            expires_at=now + timedelta(seconds=campaign.lease_seconds),
        )
        if lease is None:
            # The same rater asking twice at once (two tabs): give the slot back.
            set_leases.give_back(set_id=set_id)
            return None, "twin"
    return lease, "claimed"


def set_assignment_expire_stale(*, campaign: Campaign, now: datetime | None = None) -> int:
    """Expire leases past their deadline (each exactly once: the status guard) and give their
    sets' slots back."""
    now = now or timezone.now()
    _last_sweep[campaign.pk] = time.monotonic()
    stale = list(
        SetAssignment.objects.filter(
            campaign=campaign, status=Status.ACTIVE, expires_at__lte=now
        ).values_list("pk", "candidate_set_id")
    )
    expired = 0
    for lease_id, set_id in stale:
        with transaction.atomic():
            if SetAssignment.objects.filter(pk=lease_id, status=Status.ACTIVE).update(
                status=Status.EXPIRED
            ):
                CandidateSet.objects.filter(pk=set_id).update(assigned=F("assigned") - 1)
                expired += 1
    return expired


def _end_lease(*, lease_id: int, status: str, where: dict, reason: str = "") -> bool:
    with transaction.atomic():
        updated = SetAssignment.objects.filter(pk=lease_id, status=Status.ACTIVE, **where).update(
            status=status, skip_reason=reason[:300], completed_at=timezone.now()
        )
        if not updated:
            return False
        set_id = SetAssignment.objects.values_list("candidate_set_id", flat=True).get(pk=lease_id)
        CandidateSet.objects.filter(pk=set_id).update(assigned=F("assigned") - 1)
    return True


def set_assignment_skip(*, lease_id: int, rater: User, reason: str) -> None:
    from annotate.services.assignment import AssignmentError

    reason = (reason or "").strip()
    if not reason:
        raise AssignmentError(gettext("Please say why you are skipping this set."))
    if not _end_lease(
        lease_id=lease_id,
        status=Status.SKIPPED,
        where={"rater": rater, "expires_at__gt": timezone.now()},
        reason=reason,
    ):
        raise AssignmentError(gettext("This set is no longer yours to skip (its lease ended)."))


def set_assignment_release(*, campaign: Campaign, lease_id: int) -> bool:
    return _end_lease(
        lease_id=lease_id,
        status=Status.RELEASED,
        where={"campaign": campaign},
        reason="released by an admin",
    )


def set_assignment_renew(*, lease_id: int, rater: User, now: datetime | None = None) -> bool:
    now = now or timezone.now()
    lease = (
        SetAssignment.objects.filter(
            pk=lease_id, rater=rater, status=Status.ACTIVE, expires_at__gt=now
        )
        .select_related("campaign")
        .first()
    )
    if lease is None:
        return False
    return bool(
        SetAssignment.objects.filter(pk=lease_id, status=Status.ACTIVE, expires_at__gt=now).update(
            expires_at=now + timedelta(seconds=lease.campaign.lease_seconds)
        )
    )


# --- vote -----------------------------------------------------------------------------------------


def ranking_vote_validate(
    *, campaign: Campaign, all_bad: bool, aspects: dict | None, rationale: str, rewrite: str
) -> tuple[dict, str, str]:
    """The campaign's rules on everything but the ranking itself (shown numbers in ``aspects``)."""
    if all_bad and not campaign.allow_both_bad:
        raise VoteRefused(gettext("This campaign does not allow “all bad”."), code="all_bad")
    aspects = aspects or {}
    if not isinstance(aspects, dict):
        raise VoteRefused(
            gettext("Aspects name the best response for each aspect."), code="aspects"
        )
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
    rationale = (rationale or "").strip()
    if campaign.rationale == Campaign.Rationale.OFF:
        rationale = ""
    elif campaign.rationale == Campaign.Rationale.REQUIRED:
        minimum = max(1, campaign.rationale_min_length)
        if len(rationale) < minimum:
            raise VoteRefused(
                gettext(
                    "Explain your ranking in at least %(minimum)s characters (%(length)s so far)."
                )
                % {"minimum": minimum, "length": len(rationale)},
                code="rationale",
            )
    rewrite = (rewrite or "").strip()
    if rewrite and not campaign.allow_rewrite:
        raise VoteRefused(gettext("This campaign does not take rewrites."), code="rewrite")
    return aspects, rationale, rewrite


def _refusal(lease: SetAssignment | None, *, rater: User, campaign: Campaign, now: datetime):
    rating = campaign.is_rating
    not_recorded = (
        gettext("Your rating was not recorded.")
        if rating
        else gettext("Your ranking was not recorded.")
    )
    if lease is None:
        missing = (
            gettext("There is no such unit to rate.")
            if rating
            else gettext("There is no such set to rank.")
        )
        return VoteRefused(missing + " " + not_recorded, code="missing")
    if lease.rater_id != rater.pk:
        return VoteRefused(
            gettext("This set was not assigned to you.") + " " + not_recorded, code="foreign"
        )
    if lease.campaign_id != campaign.pk:
        return VoteRefused(
            gettext("This set belongs to another of your campaigns.") + " " + not_recorded,
            code="other_campaign",
        )
    if lease.status == Status.SKIPPED:
        return VoteRefused(gettext("You skipped this set.") + " " + not_recorded, code="skipped")
    if lease.status == Status.RELEASED:
        return VoteRefused(
            gettext("An admin released this set from you.") + " " + not_recorded, code="released"
        )
    if lease.status == Status.EXPIRED or lease.expires_at <= now:
        if rating:
            return VoteRefused(
                gettext(
                    "Your time on this unit ran out, so it went back to the pool. "
                    "Your rating was not recorded; here is the next unit."
                ),
                code="expired",
            )
        return VoteRefused(
            gettext(
                "Your time on this set ran out, so it went back to the pool. "
                "Your ranking was not recorded; here is the next set."
            ),
            code="expired",
        )
    return None


def ranking_vote_record(
    *,
    lease: SetAssignment | int,
    rater: User,
    ranking: object,
    campaign: Campaign,
    all_bad: bool = False,
    aspects: dict | None = None,
    rationale: str = "",
    rewrite: str = "",
    now: datetime | None = None,
    revises: RankingVote | None = None,
) -> RankingVote:
    """Store the rater's ranking of their leased set. ``ranking``: groups of shown numbers (1 … K),
    best first; ``aspects``: {aspect: shown number of the best response on it}.

    Refuses (VoteRefused) a lease that is not the rater's, not active, or expired, and a ranking
    that is not a ranking of the set. A second submit on a lease already voted returns that vote
    (``replayed`` set on it). With ``revises`` (the rater's first vote on a set, checked by
    services/set_corrections.py), the ranking is a correction of it: the same rules, a new row.
    """
    now = now or timezone.now()
    aspects, rationale, rewrite = ranking_vote_validate(
        campaign=campaign, all_bad=bool(all_bad), aspects=aspects, rationale=rationale,
        rewrite=rewrite,
    )  # fmt: skip

    def clean(row: SetAssignment) -> tuple[list, dict]:
        shown = list(row.shown_order)
        try:
            groups = ranking_clean(ranking_from_shown(ranking, shown_order=shown), members=shown)
        except RankingInvalid as exc:
            raise VoteRefused(str(exc), code="ranking") from None
        by_aspect = {}
        for name, number in aspects.items():
            if (
                isinstance(number, bool)
                or not isinstance(number, int)
                or not 1 <= number <= len(shown)
            ):
                raise VoteRefused(
                    gettext("For %(name)s, give the number (1 to %(k)s) of the best response.")
                    % {"name": name, "k": len(shown)},
                    code="aspects",
                )
            by_aspect[name] = shown[number - 1]
        return groups, by_aspect

    def write(row: SetAssignment, cleaned: tuple[list, dict], revises) -> RankingVote:
        groups, by_aspect = cleaned
        return RankingVote.objects.create(
            campaign=campaign,
            candidate_set_id=row.candidate_set_id,
            lease_id=None if revises else row.pk,
            revises=revises,
            rater=rater,
            ranking=groups,
            shown_order=list(row.shown_order),
            all_bad=bool(all_bad),
            aspects=by_aspect,
            rationale=rationale,
            rewrite=rewrite,
            time_on_task_ms=_time_on_task(row, now, revises),
            created_at=now,
        )

    return _set_vote_record(
        lease=lease,
        rater=rater,
        campaign=campaign,
        now=now,
        model=RankingVote,
        clean=clean,
        write=write,
        done=gettext("You already ranked this set."),
        revises=revises,
    )


def rating_scale(campaign: Campaign) -> RatingScale:
    return RatingScale(
        low=campaign.rating_min,
        high=campaign.rating_max,
        aspects=tuple(campaign.aspects or ()),
        rationale=campaign.rationale,
        rationale_min=campaign.rationale_min_length,
    )


def rating_vote_record(
    *,
    lease: SetAssignment | int,
    rater: User,
    campaign: Campaign,
    scores: object,
    now: datetime | None = None,
    revises: RatingVote | None = None,
) -> RatingVote:
    """Store the rater's rating of their leased set (annotate/protocols/rating.py: ``scores`` is
    one entry per shown response). The same refusals and replay as ``ranking_vote_record``."""
    now = now or timezone.now()
    scale = rating_scale(campaign)

    def clean(row: SetAssignment) -> list[dict]:
        try:
            return rating_clean(scores, shown_order=list(row.shown_order), scale=scale)
        except RatingInvalid as exc:
            raise VoteRefused(str(exc), code="scores") from None

    def write(row: SetAssignment, cleaned: list[dict], revises) -> RatingVote:
        vote = RatingVote.objects.create(
            campaign=campaign,
            candidate_set_id=row.candidate_set_id,
            lease_id=None if revises else row.pk,
            revises=revises,
            rater=rater,
            shown_order=list(row.shown_order),
            time_on_task_ms=_time_on_task(row, now, revises),
            created_at=now,
        )
        RatingScore.objects.bulk_create(RatingScore(vote=vote, **entry) for entry in cleaned)
        return vote

    return _set_vote_record(
        lease=lease,
        rater=rater,
        campaign=campaign,
        now=now,
        model=RatingVote,
        clean=clean,
        write=write,
        done=gettext("You already rated this set."),
        revises=revises,
    )


def _set_vote_record(
    *,
    lease: SetAssignment | int,
    rater: User,
    campaign: Campaign,
    now: datetime,
    model: type[RankingVote] | type[RatingVote],
    clean: Callable[[SetAssignment], Any],
    write: Callable[[SetAssignment, Any, Any], RankingVote | RatingVote],
    done: str,
    revises: RankingVote | RatingVote | None = None,
):
    """The one vote path of set leases: check the lease, ``clean`` the vote against it, then
    close the lease and ``write`` the vote in one transaction (see the module docstring). With
    ``revises``, the vote corrects that first vote instead (``set_vote_revise``)."""
    if revises is not None:
        return set_vote_revise(
            revises=revises,
            rater=rater,
            campaign=campaign,
            clean=clean,
            write=lambda row, cleaned: write(row, cleaned, revises),
        )
    lease_id = lease if isinstance(lease, int) else lease.pk
    # Read and check outside the write: a refusal raises before any transaction is touched.
    row = set_leases.for_vote(lease_id=lease_id)
    if row is not None and row.status == Status.DONE and row.rater_id == rater.pk:
        replayed = _replayed(model, lease_id, rater)
        if replayed is not None:
            return replayed
    refused = _refusal(row, rater=rater, campaign=campaign, now=now)
    if refused is None and row.status != Status.ACTIVE:
        refused = VoteRefused(done, code="done")
    if refused is not None:
        raise refused
    cleaned = clean(row)
    # The guarded UPDATE is the lock and the check: it closes only this rater's active, unexpired
    # lease, so of two submits at once one writes and the other finds nothing to close.
    # savepoint=False: inside the page's transaction (vote + next claim, one commit) this adds
    # no SAVEPOINT round trips; nothing in the block raises on a refusal.
    with transaction.atomic(savepoint=False):
        closed = set_lease_close(lease_id=lease_id, rater=rater, campaign=campaign, now=now)
        if closed:
            vote = write(row, cleaned, None)
            stats_vote_arrived_on_commit(campaign_id=campaign.pk)
            if row.candidate_set.gold_ranking:
                set_gold_check(campaign=campaign, rater=rater)
    if not closed:  # changed since it was read: a twin submit won, or the lease ended
        replayed = _replayed(model, lease_id, rater)
        if replayed is not None:
            return replayed
        fresh = SetAssignment.objects.filter(pk=lease_id).first()
        raise _refusal(fresh, rater=rater, campaign=campaign, now=now) or VoteRefused(
            gettext("This set changed while your vote was being saved; please try again."),
            code="retry",
        )
    vote.replayed = False
    return vote


def _time_on_task(row: SetAssignment, now: datetime, revises) -> int | None:
    """Milliseconds from the lease to the vote; a correction has none of its own."""
    if revises is not None:
        return None
    return max(0, int((now - row.created_at).total_seconds() * 1000))


def set_vote_revise(
    *,
    revises,
    rater: User,
    campaign: Campaign,
    clean: Callable[[SetAssignment], Any],
    write: Callable[[SetAssignment, Any], Any],
):
    """Write a correction of ``revises`` (the rater's first vote on a set): the lease it was given
    on, ``clean`` against that lease (its shown order), a new row; the lease and the counters
    stay as the first vote left them (a correction is not one more vote). The undo window and
    "only the last vote" are services/set_corrections.py's to check, before this."""
    row = (
        SetAssignment.objects.select_related("candidate_set")
        .filter(pk=revises.lease_id or 0)
        .first()
    )
    if row is None or row.rater_id != rater.pk or row.campaign_id != campaign.pk:
        raise VoteRefused(gettext("This unit is no longer there to correct."), code="gone")
    cleaned = clean(row)
    with transaction.atomic(savepoint=False):
        vote = write(row, cleaned)
        if row.candidate_set.gold_ranking:
            set_gold_check(campaign=campaign, rater=rater)
    vote.replayed = False
    return vote


def set_lease_close(*, lease_id: int, rater: User, campaign: Campaign, now: datetime) -> bool:
    """Close the rater's active, unexpired lease as done and count the vote on the set and on the
    rater's enrollment; False (nothing written) when it is not that (any more). The guarded
    UPDATE is the lock and the check: of two submits at once one closes the lease and writes its
    vote (in the caller's transaction), the other finds nothing to close. Every set protocol's
    vote goes through here (annotate/sql/set_leases.py: one statement on PostgreSQL)."""
    return set_leases.close_and_count(
        lease_id=lease_id, rater_id=rater.pk, campaign_id=campaign.pk, now=now
    )


def _replayed(model, lease_id: int, rater: User):
    vote = model.objects.filter(lease_id=lease_id, rater=rater).first()
    if vote is not None:
        vote.replayed = True
    return vote


def ranking_gold_correct(vote_ranking, gold_ranking) -> bool:
    """A vote on a gold set is right when its best response is one of gold's best."""
    return bool(top(vote_ranking) & top(gold_ranking))


def ranking_gold_accuracy(
    *, campaign: Campaign, rater_id: int | None = None
) -> dict[int, tuple[int, int]]:
    """{rater id: (correct, answered)} over the campaign's gold sets (one rater's, with
    ``rater_id``)."""
    out: dict[int, list[int]] = {}
    votes = counted_votes(
        RankingVote.objects.filter(campaign=campaign, source=RankingVote.Source.HUMAN)
    ).exclude(candidate_set__gold_ranking=[])
    if rater_id is not None:
        votes = votes.filter(rater_id=rater_id)
    for rater_id, ranking, gold in votes.values_list(
        "rater_id", "ranking", "candidate_set__gold_ranking"
    ):
        tally = out.setdefault(rater_id, [0, 0])
        tally[0] += ranking_gold_correct(ranking, gold)
        tally[1] += 1
    return {r: (c, n) for r, (c, n) in out.items()}


def ranking_gold_check(*, campaign: Campaign, rater: User) -> None:
    """Pause the rater when their gold accuracy falls below the campaign's threshold."""
    if campaign.gold_min_accuracy <= 0:
        return
    correct, answered = ranking_gold_accuracy(campaign=campaign, rater_id=rater.pk).get(
        rater.pk, (0, 0)
    )
    set_gold_pause(campaign=campaign, rater=rater, correct=correct, answered=answered)


def set_gold_check(*, campaign: Campaign, rater: User) -> None:
    """The gold check of the campaign's protocol, after a vote (or a correction) on a gold set."""
    if campaign.is_rating:
        rating_gold_check(campaign=campaign, rater=rater)
    elif campaign.is_steps:
        from annotate.services.steps import step_gold_check

        step_gold_check(campaign=campaign, rater=rater)
    else:
        ranking_gold_check(campaign=campaign, rater=rater)


def rating_gold_accuracy(
    *, campaign: Campaign, rater_id: int | None = None
) -> dict[int, tuple[int, int]]:
    """{rater id: (correct, answered)} over the campaign's gold rating sets: a rating is right
    when every response's overall score is within GOLD_TOLERANCE of its gold score
    (annotate/protocols/rating.py). Each rater's latest vote per set counts."""
    votes = counted_votes(
        RatingVote.objects.filter(campaign=campaign, source=RatingVote.Source.HUMAN)
    ).exclude(candidate_set__gold_scores={})
    if rater_id is not None:
        votes = votes.filter(rater_id=rater_id)
    scores: dict[int, dict[int, int]] = {}
    meta: dict[int, tuple[int, dict]] = {}
    for vote_id, rater, gold in votes.values_list("pk", "rater_id", "candidate_set__gold_scores"):
        meta[vote_id] = (rater, gold)
    for vote_id, candidate_id, overall in RatingScore.objects.filter(
        vote_id__in=list(meta)
    ).values_list("vote_id", "candidate_id", "overall"):
        scores.setdefault(vote_id, {})[candidate_id] = overall
    out: dict[int, list[int]] = {}
    for vote_id, (rater, gold) in meta.items():
        tally = out.setdefault(rater, [0, 0])
        tally[0] += rating_gold_correct(scores.get(vote_id, {}), gold)
        tally[1] += 1
    return {r: (c, n) for r, (c, n) in out.items()}


def rating_gold_check(*, campaign: Campaign, rater: User) -> None:
    """Pause the rater when their rating gold accuracy falls below the campaign's threshold."""
    if campaign.gold_min_accuracy <= 0:
        return
    correct, answered = rating_gold_accuracy(campaign=campaign, rater_id=rater.pk).get(
        rater.pk, (0, 0)
    )
    set_gold_pause(campaign=campaign, rater=rater, correct=correct, answered=answered)


def rating_gold_mark(*, candidate_set: CandidateSet, scores: object) -> CandidateSet:
    """Mark a rating set gold with one overall score per response, numbered in slot order (as
    the back office shows the unit); None or [] unmarks. The set's gold_ranking follows."""
    if scores in (None, [], {}):
        candidate_set.gold_scores, candidate_set.gold_ranking = {}, []
    else:
        try:
            gold = rating_gold_clean(
                rating_gold_from_shown(scores, slots=candidate_set.member_ids()),
                members=candidate_set.member_ids(),
                scale=rating_scale(candidate_set.campaign),
            )
        except RatingInvalid as exc:
            raise VoteRefused(str(exc), code="scores") from None
        candidate_set.gold_scores = gold
        candidate_set.gold_ranking = rating_gold_ranking(gold)
    candidate_set.full_clean()
    candidate_set.save(update_fields=["gold_scores", "gold_ranking"])
    return candidate_set


def set_gold_pause(*, campaign: Campaign, rater: User, correct: int, answered: int) -> None:
    """Pause the rater when ``correct`` of ``answered`` gold units is below the threshold."""
    if campaign.gold_min_accuracy <= 0:
        return
    if (
        answered < max(1, campaign.gold_min_answered)
        or correct / answered >= campaign.gold_min_accuracy
    ):
        return
    Enrollment.objects.filter(campaign=campaign, rater=rater, paused=False).update(
        paused=True,
        paused_reason=(
            f"Gold accuracy {correct / answered:.0%} ({correct}/{answered}) is below the "
            f"campaign's {campaign.gold_min_accuracy:.0%}."
        ),
    )


def set_gold_mark(*, candidate_set: CandidateSet, ranking: object) -> CandidateSet:
    """Mark a set gold with a ranking in shown-as-slot numbers (1 … K in slot order); [] unmarks."""
    if ranking in (None, []):
        candidate_set.gold_ranking = []
    else:
        slots = candidate_set.member_ids()
        try:
            candidate_set.gold_ranking = ranking_clean(
                ranking_from_shown(ranking, shown_order=slots), members=slots
            )
        except RankingInvalid as exc:
            raise VoteRefused(str(exc), code="ranking") from None
    candidate_set.full_clean()
    candidate_set.save(update_fields=["gold_ranking"])
    return candidate_set


def set_progress(*, campaign: Campaign) -> dict:
    """Sets, rankings wanted and rankings given (capped at k per set)."""
    rows = list(CandidateSet.objects.filter(campaign=campaign).values_list("needed", "completed"))
    return {
        "sets": len(rows),
        "needed": sum(n for n, _ in rows),
        "completed": sum(min(n, c) for n, c in rows),
    }


# --- the AI judge's ranking of a set -----------------------------------------------------------


def judge_set_ranking(*, candidate_set: CandidateSet) -> list[list[int]] | None:
    """The judge's ranking of the set's members from its pairwise verdicts over them (both orders,
    as the judge's best-of-N "Rank" makes them): a member's score is its wins plus half its ties,
    members with equal scores share a rank. None until every two members have a verdict."""
    from annotate.selectors.judging import prompt_verdicts

    members = candidate_set.member_ids()
    inside = set(members)
    verdicts = [
        (a, b, choice)
        for a, b, choice in prompt_verdicts(
            campaign=candidate_set.campaign, prompt_id=candidate_set.prompt_id
        )
        if a in inside and b in inside
    ]
    judged = {frozenset((a, b)) for a, b, _ in verdicts}
    if len(judged) < len(members) * (len(members) - 1) // 2:
        return None
    score = dict.fromkeys(members, 0.0)
    for a, b, choice in verdicts:
        if choice == "a":
            score[a] += 1
        elif choice == "b":
            score[b] += 1
        elif choice:  # tie, both bad, inconsistent across orders: half each
            score[a] += 0.5
            score[b] += 0.5
    levels = sorted(set(score.values()), reverse=True)
    return [sorted(m for m in members if score[m] == level) for level in levels]


def judge_set_rankings_record(*, campaign: Campaign) -> int:
    """Store the judge's ranking of each set that has none yet and is fully judged, as a ranking
    vote of source "judge" (exports with source=judge read them). Returns how many were stored."""
    have = set(
        RankingVote.objects.filter(campaign=campaign, source=RankingVote.Source.JUDGE).values_list(
            "candidate_set_id", flat=True
        )
    )
    stored = 0
    for unit in CandidateSet.objects.filter(campaign=campaign).select_related("campaign"):
        if unit.pk in have:
            continue
        groups = judge_set_ranking(candidate_set=unit)
        if groups is None:
            continue
        RankingVote.objects.create(
            campaign=campaign,
            candidate_set=unit,
            source=RankingVote.Source.JUDGE,
            ranking=groups,
            shown_order=unit.member_ids(),
        )
        stored += 1
    return stored
