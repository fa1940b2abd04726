"""Benchmark: how many votes each pair ordering needs before the leaderboard ranks the generators
right, on a simulated campaign whose true strengths are known.

    .venv/bin/python bench/active_ordering.py [--generators 8] [--pairs 4000] [--seeds 10]
                                              [--target 0.85] [--rescore 25]

Generators get true Bradley–Terry strengths (some close together, some far apart); pairs are drawn
across random generator pairs. A human vote follows the true BT probability. A simulated judge
answers every pair once before the campaign opens: it is "unsure" (inconsistent on swap) more
often the closer the two generators are, and otherwise picks the true winner with the BT
probability. Raters take pairs in the claim's order (annotate/sql/leases.py): "random" by the
fixed random key, "active" by the priority the service writes (annotate/services/priorities.py:
the same scoring functions, annotate/analytics/informativeness.py), rescored every --rescore votes
as the worker does about every 30 s. After every 25 votes the leaderboard is fitted
(annotate/analytics/ranking.bradley_terry_counts) and its order compared with the truth (Kendall's
tau); printed: the votes each ordering needs until tau stays at or above --target, averaged over
--seeds campaigns, and tau at fixed budgets. Pure: no database.
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scipy.stats import kendalltau  # noqa: E402

from annotate.analytics.informativeness import (  # noqa: E402
    comparisons_by_generators,
    generator_overlap,
    interval_overlap,
    pair_priority,
)
from annotate.analytics.ranking import ELO_SCALE, bradley_terry_counts  # noqa: E402

STEP = 25


def campaign(generators: int, pairs: int, rng: random.Random):
    # Strengths in Elo points: two clusters of close generators and a spread between them.
    elo = sorted(rng.uniform(900, 1200) for _ in range(generators))
    theta = {f"g{i}": (e - 1000) / ELO_SCALE for i, e in enumerate(elo)}
    names = list(theta)
    units = []
    for pid in range(pairs):
        a, b = rng.sample(names, 2)
        p_a = 1 / (1 + math.exp(theta[b] - theta[a]))
        closeness = math.exp(-abs(theta[a] - theta[b]) * 3)  # 1 when equal, ~0 far apart
        unsure = rng.random() < 0.6 * closeness
        judge = "inconsistent" if unsure else ("a" if rng.random() < p_a else "b")
        units.append({"id": pid, "a": a, "b": b, "p_a": p_a, "judge": judge, "key": rng.random()})
    return theta, units


def counts_of(votes) -> Counter:
    counts: Counter = Counter()
    for winner, loser in votes:
        counts[(winner, loser, 1.0)] += 1
    return counts


def tau(theta, counts) -> float:
    board = bradley_terry_counts(counts, n_boot=1) if counts else []
    score = {r["name"]: r["score"] for r in board}
    names = sorted(theta)
    est = [score.get(n, 1000.0) for n in names]
    return float(kendalltau([theta[n] for n in names], est).statistic)


def run(theta, units, *, ordering: str, budget: int, rescore: int, rng: random.Random):
    open_units = list(units)
    priority = {u["id"]: 0.0 for u in units}
    votes, curve = [], []
    for n in range(1, budget + 1):
        if ordering == "active" and (n - 1) % rescore == 0:
            counts = counts_of(votes)
            board = bradley_terry_counts(counts, n_boot=50) if counts else []
            overlap = interval_overlap(board)
            compared = comparisons_by_generators(counts)
            for u in open_units:
                priority[u["id"]] = pair_priority(
                    judge_unsure=u["judge"] == "inconsistent",
                    judge_human_disagree=False,  # k = 1: no pair has a first vote while open
                    generators_overlap=generator_overlap(overlap, u["a"], u["b"]),
                    comparisons=compared.get((u["a"], u["b"]), 0),
                )
        if ordering == "active":
            unit = min(open_units, key=lambda u: (-priority[u["id"]], u["key"]))
        else:
            unit = min(open_units, key=lambda u: u["key"])
        open_units.remove(unit)
        a_wins = rng.random() < unit["p_a"]
        votes.append((unit["a"], unit["b"]) if a_wins else (unit["b"], unit["a"]))
        if n % STEP == 0:
            curve.append((n, tau(theta, counts_of(votes))))
    return curve


def needed(curve, target: float) -> int | None:
    """Votes after which tau stays >= target to the end of the budget."""
    for i, (n, _) in enumerate(curve):
        if all(t >= target for _, t in curve[i:]):
            return n
    return None


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--generators", type=int, default=8)
    parser.add_argument("--pairs", type=int, default=4000)
    parser.add_argument("--budget", type=int, default=1000)
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--target", type=float, default=0.85)
    parser.add_argument("--rescore", type=int, default=25)
    args = parser.parse_args()
    print(
        f"{args.seeds} simulated campaigns: {args.generators} generators, {args.pairs:,} pairs, "
        f"{args.budget:,} votes each (k = 1), active rescored every {args.rescore} votes; "
        f"target Kendall tau >= {args.target}"
    )
    results: dict[str, list] = {"random": [], "active": []}
    budgets = sorted({200, 400, 800, args.budget})
    at: dict[str, dict[int, list[float]]] = {o: {b: [] for b in budgets} for o in results}
    started = time.perf_counter()
    for seed in range(args.seeds):
        theta, units = campaign(args.generators, args.pairs, random.Random(seed))
        for ordering in results:
            curve = run(
                theta,
                units,
                ordering=ordering,
                budget=args.budget,
                rescore=args.rescore,
                rng=random.Random(1000 + seed),
            )
            results[ordering].append(needed(curve, args.target))
            by_n = dict(curve)
            for b in budgets:
                at[ordering][b].append(by_n.get(b, curve[-1][1]))
    for ordering, found in results.items():
        reached = [n for n in found if n is not None]
        mean = f"{statistics.mean(reached):7.0f}" if reached else "    n/a"
        taus = "  ".join(f"tau@{b}={statistics.mean(at[ordering][b]):.3f}" for b in budgets)
        print(
            f"  {ordering:<7} votes to reach it: mean {mean} "
            f"(reached in {len(reached)}/{len(found)} campaigns)  {taus}"
        )
    print(f"  ({time.perf_counter() - started:.1f} s)")


if __name__ == "__main__":
    main()
