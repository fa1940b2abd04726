"""Reads for test-time compute: each prompt's samples per generator with their final answers,
references, costs and the evidence every best-of-N method needs (verifier scores, judge verdicts,
human votes), shaped as annotate.analytics.ttc groups."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
from django.db.models import Count, Q, Sum

from annotate.analytics import ttc
from annotate.analytics.judge import VoteRow, human_labels
from annotate.answers import answer_key, answers_match
from annotate.models import (
    BestOfNChoice,
    Campaign,
    Candidate,
    CandidateReview,
    Generator,
    JudgeVerdict,
    Judgment,
    Pair,
    Prompt,
    TTCConfig,
)
from annotate.models.ttc import DEFAULT_REFERENCE_KEY


def candidate_reasoning(*, candidate_ids: list[int]) -> dict[int, str]:
    """candidate id -> its reasoning trace as sanitised HTML (those with a trace only)."""
    return dict(
        Candidate.objects.filter(id__in=candidate_ids)
        .exclude(reasoning_html="")
        .values_list("id", "reasoning_html")
    )


def ttc_config(*, campaign: Campaign) -> TTCConfig:
    """The campaign's settings, or the defaults (unsaved) when it has none yet."""
    config = TTCConfig.objects.filter(campaign=campaign).first()
    return config or TTCConfig(campaign=campaign)


def reference_of(metadata: object, key: str) -> str | None:
    """The reference answer a prompt's metadata holds under ``key`` (a number is kept as text)."""
    if not isinstance(metadata, dict):
        return None
    value = metadata.get(key)
    if value is None or isinstance(value, dict | list) or str(value).strip() == "":
        return None
    return str(value)


@dataclass
class GroupRow:
    """One prompt's samples from one generator, with their ids, and the analytics group."""

    prompt_id: int
    generator_id: int
    candidate_ids: list[int]
    answers: list[str]  # as extracted ("" for none)
    reference: str | None
    group: ttc.Group
    extra: dict = field(default_factory=dict)


def _references(campaign: Campaign, key: str) -> dict[int, str | None]:
    return {
        pid: reference_of(metadata, key)
        for pid, metadata in Prompt.objects.filter(campaign=campaign).values_list("id", "metadata")
    }


def _scores(campaign: Campaign) -> dict[int, tuple[float, float]]:
    """candidate id -> (verifier score, its cost), the latest done score per candidate."""
    out: dict[int, tuple[float, float]] = {}
    for cid, score, cost in (
        CandidateReview.objects.filter(
            campaign=campaign, task=CandidateReview.Task.SCORE, status=CandidateReview.Status.DONE
        )
        .order_by("id")
        .values_list("candidate_id", "score", "cost_usd")
    ):
        if score is not None:
            out[cid] = (float(score), float(cost))
    return out


def _verdicts(campaign: Campaign) -> dict[tuple[int, int], tuple[str, float]]:
    """(candidate a, candidate b) -> (the latest finished verdict's choice, its cost)."""
    out: dict[tuple[int, int], tuple[str, float]] = {}
    for a, b, choice, cost in (
        JudgeVerdict.objects.filter(campaign=campaign, status=JudgeVerdict.Status.DONE)
        .order_by("finished_at", "id")
        .values_list("candidate_a_id", "candidate_b_id", "choice", "cost_usd")
    ):
        out[(a, b)] = (choice, float(cost))
    return out


def _human(campaign: Campaign) -> dict[tuple[int, int], str]:
    """(candidate a, candidate b) -> the majority of the first, blind human votes on the pair."""
    votes = [
        VoteRow(id=i, pair_id=p, rater_id=r, choice=c, judge_shown=s, revises_id=rv)
        for i, p, r, c, s, rv in Judgment.objects.filter(
            campaign=campaign, source=Judgment.Source.HUMAN
        ).values_list("id", "pair_id", "rater_id", "choice", "judge_shown", "revises_id")
    ]
    labels = human_labels(votes)
    if not labels:
        return {}
    pairs = Pair.objects.filter(id__in=list(labels)).values_list(
        "id", "candidate_a_id", "candidate_b_id"
    )
    return {(a, b): labels[pid] for pid, a, b in pairs}


def _tournament(index: dict[int, int], outcomes) -> ttc.Tournament | None:
    found = [
        (index[a], index[b], choice) for (a, b), choice in outcomes if a in index and b in index
    ]
    return ttc.Tournament.from_outcomes(len(index), found) if found else None


def ttc_groups(*, campaign: Campaign, config: TTCConfig | None = None) -> list[GroupRow]:
    """Every (prompt, generator) with finished samples, in prompt then generator order; samples
    in sample order. Groups without a reference are included (best-of-N needs none)."""
    config = config or ttc_config(campaign=campaign)
    references = _references(campaign, config.reference_key or DEFAULT_REFERENCE_KEY)
    rows = (
        Candidate.objects.filter(prompt__campaign=campaign, status=Candidate.Status.DONE)
        .order_by("prompt_id", "generator_id", "sample_index", "id")
        .values_list("id", "prompt_id", "generator_id", "final_answer", "cost_usd")
    )
    by_group: dict[tuple[int, int], list[tuple[int, str, float]]] = defaultdict(list)
    for cid, prompt_id, generator_id, answer, cost in rows:
        by_group[(prompt_id, generator_id)].append((cid, answer, float(cost)))
    group_of = {cid: key for key, samples in by_group.items() for cid, _, _ in samples}
    judged_in: dict[tuple[int, int], list] = defaultdict(list)
    for (a, b), verdict in _verdicts(campaign).items():
        if (key := group_of.get(a)) is not None and key == group_of.get(b):
            judged_in[key].append(((a, b), verdict))
    voted_in: dict[tuple[int, int], list] = defaultdict(list)
    for (a, b), choice in _human(campaign).items():
        if (key := group_of.get(a)) is not None and key == group_of.get(b):
            voted_in[key].append(((a, b), choice))
    scores = _scores(campaign)
    out = []
    for (prompt_id, generator_id), samples in by_group.items():
        ids = [cid for cid, _, _ in samples]
        answers = [answer for _, answer, _ in samples]
        reference = references.get(prompt_id)
        index = {cid: i for i, cid in enumerate(ids)}
        judged = judged_in.get((prompt_id, generator_id), [])
        verdict_costs = [cost for _, (_, cost) in judged]
        score_costs = [scores[c][1] for c in ids if c in scores]
        group = ttc.Group(
            correct=np.array([answers_match(a or None, reference) for a in answers], dtype=bool),
            answers=[answer_key(a or None) for a in answers],
            cost=np.array([cost for _, _, cost in samples]),
            verifier=np.array([scores[c][0] if c in scores else np.nan for c in ids])
            if score_costs
            else None,
            judge=_tournament(index, [(k, choice) for k, (choice, _) in judged]),
            human=_tournament(index, voted_in.get((prompt_id, generator_id), [])),
            verdict_cost=float(np.mean(verdict_costs)) if verdict_costs else 0.0,
            score_cost=float(np.mean(score_costs)) if score_costs else 0.0,
        )
        out.append(
            GroupRow(
                prompt_id=prompt_id,
                generator_id=generator_id,
                candidate_ids=ids,
                answers=answers,
                reference=reference,
                group=group,
            )
        )
    return out


def ttc_curves(
    *, campaign: Campaign, groups: list[GroupRow] | None = None, n_boot: int = 1000
) -> list[dict]:
    """Per generator with referenced prompts: its name, how many prompts, and the curves."""
    groups = groups if groups is not None else ttc_groups(campaign=campaign)
    names = dict(Generator.objects.filter(campaign=campaign).values_list("id", "name"))
    by_generator: dict[int, list[ttc.Group]] = defaultdict(list)
    for row in groups:
        if row.reference is not None:
            by_generator[row.generator_id].append(row.group)
    out = []
    for generator_id, members in sorted(by_generator.items(), key=lambda kv: names.get(kv[0], "")):
        curves = ttc.accuracy_curves(members, n_boot=n_boot)
        out.append(
            {
                "generator": names.get(generator_id, str(generator_id)),
                "prompts": len(members),
                "largest": max(g.n for g in members),
                "curves": curves,
            }
        )
    return out


def ttc_summary(*, campaign: Campaign, config: TTCConfig) -> dict:
    """What the admin sees of the extraction: how many samples, extracted under the current rule,
    with an answer; how many prompts carry a reference; the reviews by status; the choices."""
    candidates = Candidate.objects.filter(prompt__campaign=campaign, status=Candidate.Status.DONE)
    counts = candidates.aggregate(
        done=Count("id"),
        extracted=Count("id", filter=Q(answer_rule=config.rule_key)),
        answered=Count("id", filter=Q(answer_rule=config.rule_key) & ~Q(final_answer="")),
        with_reasoning=Count("id", filter=~Q(reasoning="")),
        reasoning_tokens=Sum("reasoning_tokens"),
        reasoning_cost=Sum("reasoning_cost_usd"),
    )
    key = config.reference_key or DEFAULT_REFERENCE_KEY
    referenced = sum(
        1
        for metadata in Prompt.objects.filter(campaign=campaign).values_list("metadata", flat=True)
        if reference_of(metadata, key) is not None
    )
    reviews = {
        (row["task"], row["status"]): row["n"]
        for row in CandidateReview.objects.filter(campaign=campaign)
        .values("task", "status")
        .annotate(n=Count("id"))
    }
    choices = {
        row["method"]: row
        for row in BestOfNChoice.objects.filter(campaign=campaign)
        .values("method")
        .annotate(
            n=Count("id"),
            picked=Count("id", filter=Q(candidate__isnull=False)),
            right=Count("id", filter=Q(correct=True)),
            judged=Count("id", filter=Q(correct__isnull=False)),
        )
    }
    return {
        **counts,
        "referenced_prompts": referenced,
        "reviews": reviews,
        "scores_done": reviews.get(("score", "done"), 0),
        "choices": choices,
    }


def ttc_samples(*, campaign: Campaign, config: TTCConfig, limit: int = 16) -> list[dict]:
    """The first samples with their extracted answers and the reference, for the admin to check
    that the rule finds what it should."""
    key = config.reference_key or DEFAULT_REFERENCE_KEY
    rows = (
        Candidate.objects.filter(prompt__campaign=campaign, status=Candidate.Status.DONE)
        .select_related("prompt", "generator")
        .order_by("prompt_id", "generator_id", "sample_index")[:limit]
    )
    out = []
    for c in rows:
        reference = reference_of(c.prompt.metadata, key)
        extracted = c.answer_rule == config.rule_key
        out.append(
            {
                "id": c.id,
                "prompt": str(c.prompt),
                "generator": c.generator.name,
                "sample": c.sample_index,
                "tail": " ".join(c.text.split())[-120:],
                "answer": c.final_answer if extracted else None,
                "extracted": extracted,
                "reference": reference,
                "correct": answers_match(c.final_answer or None, reference)
                if extracted and reference is not None
                else None,
                "reasoning_tokens": c.reasoning_tokens,
            }
        )
    return out


def bon_choice_rows(*, campaign: Campaign, method: str) -> list[dict]:
    """The stored choices of one method with the texts an export writes, in prompt order."""
    rows = (
        BestOfNChoice.objects.filter(campaign=campaign, method=method, candidate__isnull=False)
        .order_by("prompt_id", "generator_id")
        .values(
            "prompt_id",
            "generator_id",
            "correct",
            "prompt__content_hash",
            "prompt__messages",
            "prompt__system",
            "candidate__text",
            "candidate__reasoning",
            "worst__text",
            "worst__reasoning",
        )
    )
    return [
        {
            "prompt_id": r["prompt_id"],
            "generator_id": r["generator_id"],
            "prompt_hash": r["prompt__content_hash"],
            "messages": r["prompt__messages"],
            "system": r["prompt__system"],
            "correct": r["correct"],
            "best_text": r["candidate__text"],
            "best_reasoning": r["candidate__reasoning"] or "",
            "worst_text": r["worst__text"],
            "worst_reasoning": r["worst__reasoning"] or "",
        }
        for r in rows
    ]
