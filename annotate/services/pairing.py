"""Pairing: which two candidates of a prompt a human compares.

``pairs_build`` is idempotent: it creates only missing pairs (a second run adds nothing) and never
exceeds ``campaign.max_pairs_per_prompt`` pairs per prompt (0 means no cap), counting the pairs a
prompt already has. Before pairing it refreshes two per-candidate marks:

* ``self_identifies`` — the response names its model or vendor (annotate.selfid). With the campaign's
  "hide" policy such candidates are never paired; with "show_flagged" they are, and admins see it.
* ``duplicate_of`` — the same normalised text as an earlier candidate of the same prompt. Twins are
  never paired with each other (a comparison of identical texts teaches nothing).

Only DONE candidates take part. Every new pair wants ``campaign.overlap`` votes.
"""

from __future__ import annotations

import itertools
import logging
import random
import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Exists, OuterRef, Q

from annotate.models import Campaign, Candidate, Pair, PairSearch
from annotate.selfid import self_identifies

log = logging.getLogger(__name__)

Strategy = Campaign.Pairing
CandidatePair = tuple[Candidate, Candidate]


@dataclass
class BuildReport:
    created: int = 0
    removed: int = 0  # unassigned pairs dropped because a candidate is now hidden
    flagged: int = 0  # DONE candidates that name a model or vendor
    duplicates: int = 0  # DONE candidates whose text repeats an earlier one of the same prompt
    eligible: int = 0  # DONE candidates that may be paired
    strategy: str = ""  # the strategy actually used (judge_ranked may fall back)
    notes: list[str] = field(default_factory=list)


def normalised_text(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().casefold()


def conversation_text(candidate: Candidate) -> str:
    """What the response answers: system prompts and turns (names used there are not give-aways)."""
    prompt = candidate.prompt
    turns = " ".join(m.get("content", "") for m in prompt.messages)
    return f"{prompt.system} {turns} {candidate.generator.system_prompt}"


def candidates_scan(*, campaign: Campaign) -> tuple[int, int]:
    """Refresh self_identifies and duplicate_of on the campaign's DONE candidates.

    Returns (flagged, duplicates). Writes only the rows whose marks changed.
    """
    candidates = list(
        Candidate.objects.filter(prompt__campaign=campaign, status=Candidate.Status.DONE)
        .select_related("prompt", "generator")
        .order_by("prompt_id", "id")
    )
    changed: list[Candidate] = []
    first_by_text: dict[tuple[int, str], Candidate] = {}
    flagged = duplicates = 0
    for candidate in candidates:
        flag = self_identifies(candidate.text, context=conversation_text(candidate))
        key = (candidate.prompt_id, normalised_text(candidate.text))
        original = first_by_text.setdefault(key, candidate)
        duplicate_of_id = None if original is candidate else original.id
        flagged += flag
        duplicates += duplicate_of_id is not None
        if flag != candidate.self_identifies or duplicate_of_id != candidate.duplicate_of_id:
            candidate.self_identifies = flag
            candidate.duplicate_of_id = duplicate_of_id
            changed.append(candidate)
    Candidate.objects.bulk_update(changed, ["self_identifies", "duplicate_of"], batch_size=500)
    return flagged, duplicates


# --- strategies: candidates of ONE prompt in, candidate pairs out (best first) -------------------


def _by_generator(candidates: list[Candidate]) -> dict[int, list[Candidate]]:
    groups: dict[int, list[Candidate]] = defaultdict(list)
    for c in sorted(candidates, key=lambda c: (c.generator_id, c.sample_index, c.id)):
        groups[c.generator_id].append(c)
    return groups


def cross_generator_pairs(candidates: list[Candidate], rng: random.Random) -> list[CandidatePair]:
    """Model vs model: the n-th sample of each generator against the n-th of every other one.

    Sample-0 pairs come first, so a cap keeps one comparison per generator pair before any second.
    """
    groups = _by_generator(candidates)
    pairs = []
    for rank in range(max((len(g) for g in groups.values()), default=0)):
        for g1, g2 in itertools.combinations(sorted(groups), 2):
            if rank < len(groups[g1]) and rank < len(groups[g2]):
                pairs.append((groups[g1][rank], groups[g2][rank]))
    return pairs


def within_generator_pairs(candidates: list[Candidate], rng: random.Random) -> list[CandidatePair]:
    """Best-of-N: samples of one generator against each other, never across generators."""
    groups = _by_generator(candidates)
    per_generator = [list(itertools.combinations(groups[g], 2)) for g in sorted(groups)]
    # Interleave generators so a cap shares pairs among them instead of spending it on the first.
    return [p for batch in itertools.zip_longest(*per_generator) for p in batch if p]


def all_pairs(candidates: list[Candidate], rng: random.Random) -> list[CandidatePair]:
    return list(itertools.combinations(sorted(candidates, key=lambda c: c.id), 2))


def random_pairs(candidates: list[Candidate], rng: random.Random) -> list[CandidatePair]:
    pairs = all_pairs(candidates, rng)
    rng.shuffle(pairs)
    return pairs


def judge_ranked_pairs(ranking: list[int], candidates: list[Candidate]) -> list[CandidatePair]:
    """Judge best vs judge worst (then second best vs second worst, …) from a ranking of ids."""
    by_id = {c.id: c for c in candidates}
    ranked = [by_id[i] for i in ranking if i in by_id]
    return [(ranked[i], ranked[-1 - i]) for i in range(len(ranked) // 2)]


def judge_rankings(*, campaign: Campaign) -> dict[int, list[int]]:
    """The AI judge's rankings: {prompt id: candidate ids, best first}; {} when there are none.

    The judge area owns the ranking (annotate/selectors/judging.py); imported here, late, so
    pairing does not depend on the judge at import time.
    """
    from annotate.selectors.judging import judge_rankings as rankings_from_verdicts

    return rankings_from_verdicts(campaign=campaign)


_STRATEGIES: dict[str, Callable[[list[Candidate], random.Random], list[CandidatePair]]] = {
    Strategy.CROSS_GENERATOR: cross_generator_pairs,
    Strategy.WITHIN_GENERATOR: within_generator_pairs,
    Strategy.ALL_PAIRS: all_pairs,
    Strategy.RANDOM: random_pairs,
}


# --- the build -----------------------------------------------------------------------------------


def pairs_build_report(*, campaign: Campaign) -> BuildReport:
    """Scan, then create the missing pairs of the campaign's strategy. See the module docstring.

    Builds of one campaign run one at a time (a lock on the campaign row): two workers finishing
    generation jobs at once would otherwise both fill the same per-prompt room past the cap.
    """
    with transaction.atomic():
        Campaign.objects.select_for_update().filter(pk=campaign.pk).values_list("pk").first()
        return _build(campaign=campaign)


def _build(*, campaign: Campaign) -> BuildReport:
    report = BuildReport(strategy=campaign.pairing)
    report.flagged, report.duplicates = candidates_scan(campaign=campaign)

    eligible = Candidate.objects.filter(
        prompt__campaign=campaign, status=Candidate.Status.DONE
    ).order_by("id")
    if campaign.self_id_policy == Campaign.SelfIdPolicy.HIDE:
        eligible = eligible.exclude(self_identifies=True)
    by_prompt: dict[int, list[Candidate]] = defaultdict(list)
    for candidate in eligible:
        by_prompt[candidate.prompt_id].append(candidate)
    report.eligible = sum(len(v) for v in by_prompt.values())

    rankings: dict[int, list[int]] = {}
    strategy = campaign.pairing
    if strategy == Strategy.JUDGE_RANKED:
        rankings = judge_rankings(campaign=campaign)
        if not rankings:
            strategy = report.strategy = Strategy.ALL_PAIRS
            report.notes.append(
                "No judge rankings yet: paired all candidates (capped per prompt) instead of "
                "judge best vs worst."
            )

    existing: dict[int, set[tuple[int, int]]] = defaultdict(set)
    for prompt_id, a, b in Pair.objects.filter(campaign=campaign).values_list(
        "prompt_id", "candidate_a_id", "candidate_b_id"
    ):
        existing[prompt_id].add((a, b))

    cap = campaign.max_pairs_per_prompt or None
    new_pairs: list[Pair] = []
    unranked = 0  # judge_ranked: prompts the judge has not ranked yet
    for prompt_id, candidates in by_prompt.items():
        # Seeded per prompt, so "random" picks the same subset on every run (idempotent).
        rng = random.Random(f"{campaign.pk}:{prompt_id}")
        used = strategy
        if strategy == Strategy.JUDGE_RANKED and prompt_id in rankings:
            proposed = judge_ranked_pairs(rankings[prompt_id], candidates)
        elif strategy == Strategy.JUDGE_RANKED:
            used, unranked = Strategy.ALL_PAIRS, unranked + 1
            proposed = all_pairs(candidates, rng)
        else:
            proposed = _STRATEGIES[strategy](candidates, rng)
        have = existing[prompt_id]
        room = None if cap is None else max(cap - len(have), 0)
        for first, second in proposed:
            if room == 0:
                break
            a, b = sorted((first, second), key=lambda c: c.id)
            if (a.id, b.id) in have or normalised_text(a.text) == normalised_text(b.text):
                continue  # already paired, or twins
            have.add((a.id, b.id))
            room = None if room is None else room - 1
            new_pairs.append(
                Pair(
                    campaign=campaign,
                    prompt_id=prompt_id,
                    candidate_a=a,
                    candidate_b=b,
                    strategy=used,
                    needed=campaign.overlap,
                    random_key=random.random(),
                )
            )

    if unranked and rankings:
        report.notes.append(
            f"{unranked} prompts have no judge ranking yet: paired all their candidates instead."
        )
    if campaign.self_id_policy == Campaign.SelfIdPolicy.HIDE:
        report.removed = _hidden_pairs_remove(campaign=campaign)
    before = Pair.objects.filter(campaign=campaign).count()
    # Builds are serialised, but the unique key stays the last word on twins.
    Pair.objects.bulk_create(new_pairs, batch_size=500, ignore_conflicts=True)
    report.created = Pair.objects.filter(campaign=campaign).count() - before
    log.info("campaign %s: %d pairs created (%s)", campaign.slug, report.created, strategy)
    return report


def _hidden_pairs_remove(*, campaign: Campaign) -> int:
    """Under "hide", drop pairs with a flagged candidate that nothing refers to yet.

    (They exist when the policy was "show_flagged" before.) A pair with any row pointing at it (a
    lease, a vote, a flag, a judge verdict) stays: that row is data someone paid for.
    """
    flagged = Q(candidate_a__self_identifies=True) | Q(candidate_b__self_identifies=True)
    untouched = Q(assigned=0, completed=0)
    for relation in Pair._meta.related_objects:
        if relation.related_model is PairSearch:  # derived by the database, not someone's data
            continue
        referrers = relation.related_model._base_manager.filter(
            **{relation.field.name: OuterRef("pk")}
        )
        untouched &= ~Exists(referrers)
    _, per_model = Pair.objects.filter(flagged, untouched, campaign=campaign).delete()
    return per_model.get(Pair._meta.label, 0)


def pairs_build(*, campaign: Campaign) -> int:
    """Create the campaign's missing pairs; returns how many were created."""
    return pairs_build_report(campaign=campaign).created
