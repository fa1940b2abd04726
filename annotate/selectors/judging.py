"""Reads about the AI judge: verdicts shown to raters, agreement, rankings, analytics, progress.

* ``verdict_for_pair`` — the verdict a rater may see (after their vote, or before in before-vote mode).
* ``judge_shown_for_vote`` — before-vote mode: was the suggestion on the page for this lease?
* ``judge_agreement`` — Cohen's κ between the judge and the humans (the auto-label threshold).
* ``judge_rankings`` — {prompt id: candidate ids best → worst} for the "judge best vs worst" pairing.
* ``judge_analytics`` — rows for annotate/analytics/judge.py, and its results.
* ``judge_progress`` / ``judge_job_progress`` / ``judge_totals`` / ``judge_picks`` — the judge page.

The writes (revise, auto-label, best pairs) are in services/judging_labels.py.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import Length
from django.utils import timezone

from annotate.analytics import judge as stats
from annotate.judge.ranking import rank_candidates
from annotate.models import Campaign, Candidate, JudgeConfig, JudgeJob, JudgeVerdict, Judgment
from annotate.services.judging import VERDICTS
from annotate.work.progress import lost_work, rate_per_minute

VERDICT_PAGE = 500  # the API lists this many verdicts per page


def _latest_done(campaign: Campaign) -> QuerySet[JudgeVerdict]:
    return JudgeVerdict.objects.filter(campaign=campaign, status=JudgeVerdict.Status.DONE).order_by(
        "finished_at", "id"
    )


def prompt_verdicts(*, campaign: Campaign, prompt_id: int) -> list[tuple[int, int, str]]:
    """(candidate_a_id, candidate_b_id, choice) of the latest finished verdict per candidate pair
    of one prompt (what a ranking set's judge ranking is made from)."""
    latest: dict[tuple[int, int], str] = {}
    for a, b, choice in (
        _latest_done(campaign)
        .filter(prompt_id=prompt_id)
        .values_list("candidate_a_id", "candidate_b_id", "choice")
    ):
        latest[(a, b)] = choice
    return [(a, b, choice) for (a, b), choice in latest.items()]


def verdict_for_pair(*, pair_id: int) -> JudgeVerdict | None:
    """The most recent finished verdict on this pair (consistent or not), or None."""
    return (
        JudgeVerdict.objects.filter(pair_id=pair_id, status=JudgeVerdict.Status.DONE)
        .order_by("-finished_at", "-id")
        .first()
    )


def current_verdicts(*, campaign: Campaign) -> dict[int, JudgeVerdict]:
    """pair id -> its latest finished verdict."""
    out: dict[int, JudgeVerdict] = {}
    for v in _latest_done(campaign).filter(pair__isnull=False):
        out[v.pair_id] = v
    return out


def judge_shown_for_vote(*, campaign: Campaign, assignment_id: int) -> bool:
    """Before-vote mode: was the judge's suggestion on the page for this lease? (It is shown whenever
    a finished verdict on the pair exists, so: does one exist now.) False in every other mode,
    without a query."""
    if campaign.judge_mode != Campaign.JudgeMode.BEFORE_VOTE:
        return False
    return JudgeVerdict.objects.filter(
        pair__assignments__id=assignment_id, status=JudgeVerdict.Status.DONE
    ).exists()


def judge_agreement(*, campaign: Campaign) -> stats.KappaResult:
    """Cohen's κ between the judge and the humans' blind majority on the campaign's pairs."""
    votes = _vote_rows(campaign)
    human = stats.human_labels(votes)
    judge = {pid: v.choice for pid, v in current_verdicts(campaign=campaign).items()}
    return stats.kappa(judge, human, n_boot=500)


# --- best-of-N --------------------------------------------------------------------------------


def judge_rankings(*, campaign: Campaign) -> dict[int, list[int]]:
    """{prompt id: candidate ids best → worst} from the campaign's finished verdicts (the latest per
    candidate pair). Prompts with no verdict are absent."""
    latest: dict[tuple[int, int], tuple[int, str]] = {}
    for prompt_id, a, b, choice in _latest_done(campaign).values_list(
        "prompt_id", "candidate_a_id", "candidate_b_id", "choice"
    ):
        latest[(a, b)] = (prompt_id, choice)
    by_prompt: dict[int, list[tuple[int, int, str]]] = {}
    for (a, b), (prompt_id, choice) in latest.items():
        by_prompt.setdefault(prompt_id, []).append((a, b, choice))
    rankings = {}
    for prompt_id, verdicts in by_prompt.items():
        ids = sorted({c for a, b, _ in verdicts for c in (a, b)})
        rankings[prompt_id] = rank_candidates(ids, verdicts)
    return rankings


def judge_picks(*, campaign: Campaign, limit: int = 50) -> list[dict]:
    """Best-of-N: the judge's best and worst candidate per prompt (seed recipe)."""
    rankings = judge_rankings(campaign=campaign)
    if not rankings:
        return []
    ids = {c for ranking in rankings.values() for c in (ranking[0], ranking[-1])}
    candidates = Candidate.objects.select_related("prompt", "generator").in_bulk(ids)
    picks = []
    for ranking in list(rankings.values())[:limit]:
        best, worst = candidates[ranking[0]], candidates[ranking[-1]]
        picks.append({"prompt": best.prompt, "best": best, "worst": worst, "n": len(ranking)})
    return picks


# --- analytics --------------------------------------------------------------------------------


def _vote_rows(campaign: Campaign) -> list[stats.VoteRow]:
    return [
        stats.VoteRow(
            id=i, pair_id=p, rater_id=r, choice=c, aspects=a or {}, judge_shown=s, revises_id=rv
        )
        for i, p, r, c, a, s, rv in Judgment.objects.filter(
            campaign=campaign, source=Judgment.Source.HUMAN
        ).values_list("id", "pair_id", "rater_id", "choice", "aspects", "judge_shown", "revises_id")
    ]


def _verdict_rows(campaign: Campaign) -> list[stats.VerdictRow]:
    """The latest finished verdict per pair, with response lengths computed in the database."""
    rows: dict[int, stats.VerdictRow] = {}
    for pair_id, choice, o1, o2, aspects, model, len_a, len_b, model_a, model_b in (
        _latest_done(campaign)
        .filter(pair__isnull=False)
        .annotate(len_a=Length("candidate_a__text"), len_b=Length("candidate_b__text"))
        .values_list(
            "pair_id",
            "choice",
            "order1",
            "order2",
            "aspects",
            "model",
            "len_a",
            "len_b",
            "candidate_a__generator__model",
            "candidate_b__generator__model",
        )
    ):
        rows[pair_id] = stats.VerdictRow(
            pair_id=pair_id,
            choice=choice,
            order1_choice=(o1 or {}).get("choice", ""),
            order2_choice=(o2 or {}).get("choice", ""),
            aspects=aspects or {},
            judge_model=model,
            len_a=len_a or 0,
            len_b=len_b or 0,
            model_a=model_a,
            model_b=model_b,
        )
    return list(rows.values())


def judge_analytics(*, campaign: Campaign) -> dict:
    votes = _vote_rows(campaign)
    verdicts = _verdict_rows(campaign)
    human = stats.human_labels(votes)
    judge = {v.pair_id: v.choice for v in verdicts}
    all_done = JudgeVerdict.objects.filter(campaign=campaign, status=JudgeVerdict.Status.DONE)
    swap_rows = [
        stats.VerdictRow(
            pair_id=0,
            choice=c,
            order1_choice=(o1 or {}).get("choice", ""),
            order2_choice=(o2 or {}).get("choice", ""),
        )
        for c, o1, o2 in all_done.values_list("choice", "order1", "order2")
    ]
    return {
        "kappa": stats.kappa(judge, human),
        "aspects": stats.aspect_kappas(verdicts, votes),
        "swap": stats.swap_consistency(swap_rows),
        "length": stats.length_bias(verdicts, human),
        "self_preference": stats.self_preference(verdicts, human),
        "anchoring": stats.anchoring(votes, judge),
        "judged_pairs": len(verdicts),
        "human_pairs": len(human),
        "failed": JudgeVerdict.objects.filter(
            Q(campaign=campaign) & Q(status=JudgeVerdict.Status.FAILED)
        ).count(),
    }


# --- the judge page and the API ---------------------------------------------------------------


def judge_progress(*, job: JudgeJob) -> dict[str, Any]:
    """The job's counts per status and total; while it runs, the rate from recent verdicts and the
    ETA; and whether a worker was lost (annotate/work/progress.py)."""
    counts: dict[str, Any] = {s: 0 for s in JudgeVerdict.Status.values}
    for row in JudgeVerdict.objects.filter(job=job).values("status").annotate(n=Count("id")):
        counts[row["status"]] = row["n"]
    counts["total"] = job.total
    active = job.status in VERDICTS.job_active
    now = timezone.now()
    rate = rate_per_minute(job.verdicts.all(), done=VERDICTS.done, now=now) if active else 0.0
    left = counts["pending"] + counts["running"]
    counts["per_minute"] = rate
    counts["eta_seconds"] = 60.0 * left / rate if rate else None
    counts["lost_work"] = lost_work(VERDICTS, job.id, active=active, now=now)
    return counts


def judge_job_progress(*, campaign: Campaign) -> dict | None:
    """The campaign's newest judge job with its progress (the polling fragment), or None."""
    job = JudgeJob.objects.filter(campaign=campaign).order_by("-created_at").first()
    if job is None:
        return None
    counts = judge_progress(job=job)
    finished = counts["done"] + counts["failed"]
    return {
        "job": job,
        "counts": counts,
        "finished": finished,
        "percent": int(100 * finished / job.total) if job.total else 100,
        "active": job.status in (JudgeJob.Status.QUEUED, JudgeJob.Status.RUNNING),
    }


def judge_totals(*, campaign: Campaign) -> dict:
    """Every verdict of the campaign, counted: done, inconsistent, failed; cost and tokens."""
    return JudgeVerdict.objects.filter(campaign=campaign).aggregate(
        done=Count("id", filter=Q(status=JudgeVerdict.Status.DONE)),
        inconsistent=Count("id", filter=Q(consistent=False)),
        failed=Count("id", filter=Q(status=JudgeVerdict.Status.FAILED)),
        cost=Sum("cost_usd"),
        input_tokens=Sum("input_tokens"),
        output_tokens=Sum("output_tokens"),
        cache_read=Sum("cache_read_tokens"),
        cache_write=Sum("cache_write_tokens"),
    )


def judge_label_count(*, campaign: Campaign) -> int:
    """How many pairs the judge labelled (RLAIF auto-labels, Judgment.source="judge")."""
    return Judgment.objects.filter(campaign=campaign, source=Judgment.Source.JUDGE).count()


def judge_configured(*, campaign: Campaign) -> bool:
    """Has an admin saved the judge's settings for this campaign yet?"""
    return JudgeConfig.objects.filter(campaign=campaign).exists()


def judge_verdicts_after(
    *, campaign: Campaign, after: int, limit: int = VERDICT_PAGE
) -> QuerySet[JudgeVerdict]:
    """One page of the campaign's verdicts, by id, after ``after`` (0 for the first page)."""
    return (
        JudgeVerdict.objects.filter(campaign=campaign, id__gt=after)
        .select_related("rubric")
        .order_by("id")[:limit]
    )
