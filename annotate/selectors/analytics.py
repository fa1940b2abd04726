"""Reads behind the researcher dashboard, over every vote.

* ``dashboard_parts`` — the statistics' inputs as counts (GROUP BY in the database: votes per pair ×
  score for α, per rater × side for position bias, per rater for length bias from the stored
  reading lengths, per generator pair × choice for the leaderboard, per (rater, choice, the pair's
  tally) for majority agreement, the few ranked times per rater the time summary reads); memory
  grows with pairs and raters, not with votes.
* ``research_analytics`` — the page's figures computed now (annotate/analytics/dashboard.py); the
  page itself shows the cached ones (annotate/services/campaign_stats.py).
* ``analytics_vote_rows`` — every vote as a dict: the reference path the tests compare against, and
  Dawid–Skene's input on campaigns small enough to fit it in a worker run.

``upto`` (a vote id) limits every read to the votes up to it: one run's figures are a consistent
snapshot while votes keep arriving.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import asdict, dataclass

from django.db import connection
from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet, Window
from django.db.models.functions import RowNumber

from annotate.analytics import counted
from annotate.exports.aggregate import signed_score
from annotate.models import Campaign, CampaignStats, Candidate, JudgeVerdict, Judgment, Pair
from annotate.reading import reading_length
from annotate.selectors.campaigns import campaign_voters, votes_per_day
from annotate.selectors.exports import generator_names

STREAM_CHUNK = 20_000  # rows per fetch of the streamed passes


def analytics_vote_rows(*, campaign_id: int, upto: int | None = None) -> list[dict]:
    """Human votes with what the statistics need; ``a_len`` and ``b_len`` are the two responses'
    reading lengths (annotate/reading.py: fair across scripts, where a character count makes a
    Korean answer look shorter to read than an English one of the same content)."""
    names = generator_names(campaign_id=campaign_id)
    rows = list(
        human_votes(campaign_id=campaign_id, upto=upto)
        .order_by("pair_id", "id")
        .values(
            "id",
            "pair_id",
            "rater_id",
            "choice",
            "strength",
            "left_is_a",
            "time_on_task_ms",
            "revises_id",
            "pair__gold_answer",
            "pair__candidate_a__generator_id",
            "pair__candidate_b__generator_id",
        )
    )
    lengths = pair_reading_lengths(campaign_id=campaign_id)
    for row in rows:
        row["a_len"], row["b_len"] = lengths.get(row["pair_id"], (None, None))
        row["judgment_id"] = row.pop("id")
        row["gold_answer"] = row.pop("pair__gold_answer")
        row["a_generator"] = names.get(row.pop("pair__candidate_a__generator_id"), "")
        row["b_generator"] = names.get(row.pop("pair__candidate_b__generator_id"), "")
        row["source"] = "human"
    return rows


def pair_reading_lengths(*, campaign_id: int) -> dict[int, tuple[int, int]]:
    """Pair id → (reading length of a, of b), each candidate's text measured once (streamed): the
    reference rows measure the texts themselves, so they check the stored lengths the dashboard's
    counts read (Candidate.read_length)."""
    pairs = list(
        Pair.objects.filter(campaign_id=campaign_id).values_list(
            "id", "candidate_a_id", "candidate_b_id"
        )
    )
    if not pairs:
        return {}
    wanted = {c for _, a, b in pairs for c in (a, b)}
    texts = Candidate.objects.filter(prompt__campaign_id=campaign_id).values_list("id", "text")
    length = {
        cid: reading_length(text)
        for cid, text in texts.iterator(chunk_size=STREAM_CHUNK)
        if cid in wanted
    }
    return {pid: (length.get(a), length.get(b)) for pid, a, b in pairs}


# --- counts -------------------------------------------------------------------------------------


def human_votes(*, campaign_id: int, upto: int | None = None) -> QuerySet[Judgment]:
    # A pair left out (Pair.excluded: a live reply named its model) counts nowhere.
    votes = Judgment.objects.filter(
        campaign_id=campaign_id, source=Judgment.Source.HUMAN, pair__excluded=False
    )
    return votes if upto is None else votes.filter(id__lte=upto)


def last_vote_id(*, campaign_id: int) -> int | None:
    """The newest human vote's id (the snapshot a run computes over)."""
    return human_votes(campaign_id=campaign_id).order_by("-id").values_list("id", flat=True).first()


def votes_since(*, campaign_id: int, after: int | None) -> int:
    """Human votes newer than ``after`` (a range scan of the newest ids)."""
    votes = human_votes(campaign_id=campaign_id)
    return (votes if after is None else votes.filter(id__gt=after)).count()


def counted_votes(*, campaign_id: int, upto: int | None = None) -> QuerySet[Judgment]:
    """The votes that count (as exports.aggregate.counted_votes): each rater's latest on a pair.

    A rater's votes on a pair are a first vote and at most one revision pointing at it
    (services/judging_labels.judgment_revise), so the latest is every vote no other vote revises:
    an anti-join on the few revisions, not on (pair, rater) over every vote."""
    revised = human_votes(campaign_id=campaign_id, upto=upto).filter(revises_id=OuterRef("id"))
    return human_votes(campaign_id=campaign_id, upto=upto).filter(~Exists(revised))


def first_votes(*, campaign_id: int, upto: int | None = None) -> QuerySet[Judgment]:
    """First (blind) votes: no revisions."""
    return human_votes(campaign_id=campaign_id, upto=upto).filter(revises__isnull=True)


def alpha_unit_counts(*, campaign_id: int, upto: int | None = None):
    """(pair id, signed score, votes) of the counted votes, by pair: α's counts per unit × value."""
    rows = (
        counted_votes(campaign_id=campaign_id, upto=upto)
        .exclude(choice=Judgment.Choice.BOTH_BAD)
        .values("pair_id", "choice", "strength")
        .annotate(n=Count("id"))
        .order_by("pair_id")
        .values_list("pair_id", "choice", "strength", "n")
    )
    for pair_id, choice, strength, n in rows.iterator(chunk_size=STREAM_CHUNK):
        yield pair_id, signed_score(choice, strength), n


def alpha_unit_tallies(*, campaign_id: int, upto: int | None = None):
    """Each pair's {signed score: counted votes}, pairs in id order: what alpha_unit_counts gives,
    grouped a second time in the database into one short text per pair (``a:2:3,b:1:1``, choice,
    strength and votes), so a million votes send one row per pair, and the pairs that voted the
    same way share one text, read once here."""
    inner = (
        counted_votes(campaign_id=campaign_id, upto=upto)
        .exclude(choice=Judgment.Choice.BOTH_BAD)
        .values("pair_id", "choice", "strength")
        .annotate(n=Count("id"))
        .order_by()
    )
    sql, params = inner.query.sql_with_params()
    q = connection.ops.quote_name
    piece = (
        f"{q('choice')} || ':' || COALESCE(CAST({q('strength')} AS TEXT), '') || ':' "
        f"|| CAST({q('n')} AS TEXT)"
    )
    if connection.vendor == "postgresql":
        joined = f"string_agg({piece}, ',' ORDER BY {piece})"
    else:
        joined = f"group_concat({piece}, ',')"
    parsed: dict[str, dict] = {}
    with connection.chunked_cursor() as cursor:
        cursor.execute(
            f"SELECT {q('pair_id')}, {joined} FROM ({sql}) AS counts "
            f"GROUP BY {q('pair_id')} ORDER BY {q('pair_id')}",
            params,
        )
        while rows := cursor.fetchmany(STREAM_CHUNK):
            for _, text in rows:
                counts = parsed.get(text)
                if counts is None:
                    counts = {}
                    for part in text.split(","):
                        choice, strength, n = part.split(":")
                        value = signed_score(choice, int(strength) if strength else None)
                        counts[value] = counts.get(value, 0) + int(n)
                    parsed[text] = counts
                yield counts


def campaign_alpha(*, campaign_id: int, n_boot: int = 0) -> dict:
    """α (and its CI when ``n_boot``) over every counted vote, from the counts."""
    return counted.alpha_from_tallies(alpha_unit_tallies(campaign_id=campaign_id), n_boot=n_boot)


def _per_rater(first: QuerySet[Judgment], campaign_id: int) -> dict:
    """The first votes' per-rater counts in one pass over them: votes, left picks (position bias),
    longer picks (length bias, on the stored reading lengths), gold answers. Each as its own
    function gives it (_position, _length, _gold): a rater is in a statistic only with a vote
    that counts in it."""
    a_read, b_read = F("pair__candidate_a__read_length"), F("pair__candidate_b__read_length")
    decisive = Q(choice__in=("a", "b"))
    unequal = (
        decisive
        & Q(pair__candidate_a__read_length__isnull=False)
        & Q(pair__candidate_b__read_length__isnull=False)
        & ~Q(pair__candidate_a__read_length=b_read)
    )
    gold = ~Q(pair__gold_answer="")
    rows = (
        first.values("rater_id")
        .annotate(
            votes=Count("id"),
            left_n=Count("id", filter=decisive & Q(left_is_a__isnull=False)),
            left_k=Count(
                "id", filter=Q(choice="a", left_is_a=True) | Q(choice="b", left_is_a=False)
            ),
            longer_n=Count("id", filter=unequal),
            longer_k=Count(
                "id",
                filter=unequal
                & (
                    Q(choice="a", pair__candidate_a__read_length__gt=b_read)
                    | Q(choice="b", pair__candidate_b__read_length__gt=a_read)
                ),
            ),
            gold_answered=Count("id", filter=gold),
            gold_correct=Count("id", filter=gold & Q(choice=F("pair__gold_answer"))),
        )
        .values_list(
            "rater_id",
            "votes",
            "left_k",
            "left_n",
            "longer_k",
            "longer_n",
            "gold_correct",
            "gold_answered",
        )  # fmt: skip
        .order_by()
    )
    votes, left, gold_by_rater = {}, {}, {}
    longer: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for rater, n, left_k, left_n, longer_k, longer_n, correct, answered in rows:
        votes[rater] = n
        if left_n:
            left[rater] = (left_k, left_n)
        if longer_n:
            longer[rater][0] += longer_k
            longer[rater][1] += longer_n
        if answered:
            gold_by_rater[rater] = {
                "correct": correct,
                "answered": answered,
                "share": correct / answered,
            }
    for rater, (k, n) in _length_unmeasured(first, campaign_id).items():
        longer[rater][0] += k
        longer[rater][1] += n
    return {
        "votes": votes,
        "position": left,
        "length": {r: (k, n) for r, (k, n) in longer.items()},
        "gold": gold_by_rater,
    }


def unmeasured_lengths(*, campaign_id: int) -> dict[int, int]:
    """Candidate id → reading length of the campaign's candidates whose length is not stored
    (Candidate.read_length null: normally none), measured from their texts."""
    texts = Candidate.objects.filter(
        prompt__campaign_id=campaign_id, read_length__isnull=True
    ).values_list("id", "text")
    return {cid: reading_length(text) for cid, text in texts.iterator(chunk_size=STREAM_CHUNK)}


def _length_unmeasured(first: QuerySet[Judgment], campaign_id: int) -> dict[int, tuple[int, int]]:
    """_length's count of the votes on pairs with a reading length not stored (normally none:
    one indexed look-up), each such text measured once."""
    per_rater: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    unmeasured = (
        first.filter(choice__in=("a", "b"))
        .filter(
            Q(pair__candidate_a__read_length__isnull=True)
            | Q(pair__candidate_b__read_length__isnull=True)
        )
        .values_list(
            "rater_id",
            "choice",
            "pair__candidate_a_id",
            "pair__candidate_a__read_length",
            "pair__candidate_b_id",
            "pair__candidate_b__read_length",
        )
    )
    lengths: dict[int, int] | None = None
    for rater, choice, a, a_stored, b, b_stored in unmeasured.iterator(chunk_size=STREAM_CHUNK):
        if lengths is None:
            lengths = unmeasured_lengths(campaign_id=campaign_id)
        a_len = a_stored if a_stored is not None else lengths[a]
        b_len = b_stored if b_stored is not None else lengths[b]
        if a_len == b_len:
            continue
        per_rater[rater][0] += (choice == "a") == (a_len > b_len)
        per_rater[rater][1] += 1
    return {r: (k, n) for r, (k, n) in per_rater.items()}


def _times(first: QuerySet[Judgment]) -> tuple[dict, dict[int, int]]:
    """(time on task as counted.time_summary gives it, {milliseconds: votes} over every rater).

    Per rater the database ranks the rater's times and sends only the few values the summary
    reads (counted.summary_ranks, in its integer form): about 4 rows a rater, where a histogram
    of (rater, milliseconds) is nearly one row a vote."""
    timed = first.filter(time_on_task_ms__isnull=False)
    everyone = dict(
        timed.values("time_on_task_ms")
        .annotate(n=Count("id"))
        .values_list("time_on_task_ms", "n")
        .order_by()
    )
    ranked = (
        timed.annotate(
            rank=Window(
                RowNumber(), partition_by=[F("rater_id")], order_by=F("time_on_task_ms").asc()
            )
            - 1,
            votes=Window(Count("id"), partition_by=[F("rater_id")]),
        )
        .filter(
            Q(rank=(F("votes") - 1) / 2)
            | Q(rank=F("votes") / 2)
            | Q(rank=(F("votes") + 4) / 10)
            | Q(rank=(9 * F("votes") - 4) / 10)
        )
        .values_list("rater_id", "votes", "rank", "time_on_task_ms")
        .order_by()
    )
    per_rater: dict[int, tuple[int, dict[int, int]]] = {}
    for rater, votes, rank, ms in ranked:
        per_rater.setdefault(rater, (votes, {}))[1][rank] = ms
    return counted.time_summary_ranked(everyone, per_rater), everyone


def _outcomes(votes: QuerySet[Judgment], campaign_id: int) -> Counter:
    names = generator_names(campaign_id=campaign_id)
    rows = (
        votes.values("pair__candidate_a__generator_id", "pair__candidate_b__generator_id", "choice")
        .annotate(n=Count("id"))
        .values_list(
            "pair__candidate_a__generator_id", "pair__candidate_b__generator_id", "choice", "n"
        )
    )
    return counted.outcome_counts(
        (names.get(a, ""), names.get(b, ""), choice, n) for a, b, choice, n in rows
    )


def leaderboard_outcomes(*, campaign_id: int, upto: int | None = None) -> Counter:
    """(winner, loser, weight) counts over the votes that count, from one GROUP BY: what the
    leaderboard is fitted from (the dashboard's, and the active ordering's overlaps)."""
    return _outcomes(counted_votes(campaign_id=campaign_id, upto=upto), campaign_id)


def _majority(votes: QuerySet[Judgment]) -> dict[int, dict]:
    """Each rater's agreement with the majority of the other votes on a pair
    (counted.majority_agreement_tallies): each vote gets its pair's tally by choice (window
    counts over the pair), and the database counts the votes per (rater, choice, tally), some
    tens of thousands of rows for a million votes."""
    choices = list(Judgment.Choice.values)
    tallies = {
        f"n_{i}": Window(Count("id", filter=Q(choice=c)), partition_by=[F("pair_id")])
        for i, c in enumerate(choices)
    }
    columns = ["rater_id", "choice", *tallies]
    inner = votes.annotate(**tallies).values_list(*columns).order_by()
    sql, params = inner.query.sql_with_params()
    names = ", ".join(connection.ops.quote_name(c) for c in columns)
    with connection.cursor() as cursor:
        # Window values cannot be grouped on in the same SELECT: one level up.
        cursor.execute(f"SELECT {names}, COUNT(*) FROM ({sql}) AS votes GROUP BY {names}", params)
        rows = cursor.fetchall()
    return counted.majority_agreement_tallies(
        (rater, choice, dict(zip(choices, counts, strict=True)), n)
        for rater, choice, *counts, n in rows
    )


def dashboard_parts(*, campaign_id: int, upto: int | None = None, n_boot: int = 200) -> dict:
    """What annotate.analytics.dashboard.parts_from_rows gives, from counts over every vote up to
    ``upto`` (all of them when None)."""
    from annotate.analytics.dashboard import RELIABILITY_MAX_VOTES, rater_reliability

    every = human_votes(campaign_id=campaign_id, upto=upto)
    first = first_votes(campaign_id=campaign_id, upto=upto)
    latest = counted_votes(campaign_id=campaign_id, upto=upto)
    total = every.count()
    reliability = {}
    if total <= RELIABILITY_MAX_VOTES:
        reliability = rater_reliability(analytics_vote_rows(campaign_id=campaign_id, upto=upto))
    times, seconds = _times(first)
    per_rater = _per_rater(first, campaign_id)
    return {
        "vote_rows": total,
        "votes": per_rater["votes"],
        "majority": _majority(latest),
        "reliability": reliability,
        "reliability_computed": total <= RELIABILITY_MAX_VOTES,
        "gold": per_rater["gold"],
        "position": counted.shares(per_rater["position"]),
        "length": counted.shares(per_rater["length"]),
        "time": times,
        "outcomes": _outcomes(latest, campaign_id),
        "alpha": counted.alpha_from_tallies(
            alpha_unit_tallies(campaign_id=campaign_id, upto=upto), n_boot=n_boot
        ),
        "seconds": dict(seconds),
    }


def judge_figures(*, campaign_id: int, upto: int | None = None) -> dict | None:
    """Cohen's κ between the judge and the humans' blind majority, and the judge's swap
    consistency (annotate/analytics/judge.py), from counts; None without a finished verdict."""
    from annotate.analytics import judge as stats

    done = JudgeVerdict.objects.filter(campaign_id=campaign_id, status=JudgeVerdict.Status.DONE)
    if not done.exists():
        return None
    by_pair: dict[int, Counter] = defaultdict(Counter)
    # Only the pairs the judge labelled count in κ: the humans' majority of those alone.
    blind = (
        first_votes(campaign_id=campaign_id, upto=upto)
        .filter(judge_shown=False, pair_id__in=done.filter(pair__isnull=False).values("pair_id"))
        .values("pair_id", "choice")
        .annotate(n=Count("id"))
        .values_list("pair_id", "choice", "n")
    )
    for pair_id, choice, n in blind.iterator(chunk_size=STREAM_CHUNK):
        by_pair[pair_id][choice] += n
    human = stats._majorities(by_pair)
    judge = dict(
        done.filter(pair__isnull=False)
        .order_by("finished_at", "id")
        .values_list("pair_id", "choice")
        .iterator(chunk_size=STREAM_CHUNK)
    )
    swap = (
        done.values("order1__choice", "order2__choice")
        .annotate(n=Count("id"))
        .values_list("order1__choice", "order2__choice", "n")
    )
    same = compared = 0
    for one, two, n in swap:
        if one and two:
            compared += n
            same += n if one == two else 0
    return {
        "kappa": asdict(stats.kappa(judge, human)),
        "swap": {**asdict(swap_rate := stats.rate(same, compared)), "rate": swap_rate.rate},
        "judged_pairs": len(judge),
    }


def research_analytics(*, campaign: Campaign, upto: int | None = None) -> dict:
    """Every statistic and figure of the researcher dashboard, computed now over every vote."""
    from annotate.analytics.dashboard import dashboard_from_parts

    usernames = {
        v["rater_id"]: v["rater__username"] for v in campaign_voters(campaign_id=campaign.id)
    }
    days = votes_per_day(campaign_id=campaign.id)
    return {
        **dashboard_from_parts(
            dashboard_parts(campaign_id=campaign.id, upto=upto), days=days, usernames=usernames
        ),
        "judge": judge_figures(campaign_id=campaign.id, upto=upto),
    }


@dataclass(frozen=True)
class Freshness:
    """The cached figures of a campaign and what the page says about them."""

    stats: CampaignStats | None
    new_votes: int

    @property
    def computed(self) -> bool:
        return self.stats is not None and self.stats.computed_at is not None

    @property
    def computing(self) -> bool:
        return self.stats is not None and self.stats.computing_since is not None


def campaign_stats(*, campaign: Campaign) -> Freshness:
    """The campaign's cached figures (or none yet) and the human votes cast since they were made."""
    stats = CampaignStats.objects.filter(campaign=campaign).first()
    if stats is None or stats.computed_at is None:
        return Freshness(stats, votes_since(campaign_id=campaign.id, after=None))
    return Freshness(stats, votes_since(campaign_id=campaign.id, after=stats.last_vote_id))


def campaign_alphas(*, campaign_ids: list[int]) -> dict[int, float | None]:
    """Campaign id → the α of its cached figures (absent: not computed yet)."""
    return dict(
        CampaignStats.objects.filter(
            campaign_id__in=campaign_ids, computed_at__isnull=False
        ).values_list("campaign_id", "figures__headline_alpha")
    )
