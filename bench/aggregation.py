"""Benchmark: model-based aggregation (Dawid–Skene, MACE by crowd-kit) against majority vote, on a
simulated campaign whose true labels are known.

    .venv/bin/python bench/aggregation.py [--pairs 20000] [--raters 100] [--k 3] [--careless 0.2]

Each pair's truth is a or b. Every pair gets k raters drawn from the pool; a careful rater answers
the truth with probability --accuracy (else the other side), a careless one answers a, b or tie at
random. Prints, per method, the share of pairs labelled with their truth, the fit time (the time a
model export adds before its first row), and how well the estimated reliabilities separate the
careful raters from the careless ones (the lowest careful minus the highest careless). Pure: no
database, no Django.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from annotate.analytics.crowd_models import MODEL_METHODS, fit_labels  # noqa: E402


def simulate(pairs: int, raters: int, k: int, careless: float, accuracy: float, seed: int):
    rng = random.Random(seed)
    bad = set(rng.sample(range(raters), int(raters * careless)))
    truth, votes = {}, []
    for p in range(pairs):
        truth[p] = rng.choice("ab")
        other = "b" if truth[p] == "a" else "a"
        for r in rng.sample(range(raters), k):
            if r in bad:
                choice = rng.choice(["a", "b", "tie"])
            else:
                choice = truth[p] if rng.random() < accuracy else other
            votes.append({"pair_id": p, "rater_id": r, "choice": choice})
    return truth, votes, bad


def majority(votes) -> dict[int, str | None]:
    by_pair: dict[int, Counter] = {}
    for v in votes:
        by_pair.setdefault(v["pair_id"], Counter())[v["choice"]] += 1
    out = {}
    for p, counts in by_pair.items():
        top = counts.most_common()
        out[p] = top[0][0] if len(top) == 1 or top[1][1] < top[0][1] else None
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pairs", type=int, default=20_000)
    parser.add_argument("--raters", type=int, default=100)
    parser.add_argument("--k", type=int, default=3)
    parser.add_argument("--careless", type=float, default=0.2)
    parser.add_argument("--accuracy", type=float, default=0.85)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    truth, votes, bad = simulate(
        args.pairs, args.raters, args.k, args.careless, args.accuracy, args.seed
    )
    print(
        f"{args.pairs:,} pairs × k={args.k} = {len(votes):,} votes, {args.raters} raters "
        f"({len(bad)} careless), careful raters right {args.accuracy:.0%} of the time"
    )
    started = time.perf_counter()
    labels = majority(votes)
    took = time.perf_counter() - started
    right = sum(labels[p] == t for p, t in truth.items()) / len(truth)
    print(f"  majority      accuracy {right:.3f}  in {took:6.2f} s")
    import crowdkit.aggregation  # noqa: F401  (imported once, outside the timings)

    for method in MODEL_METHODS:
        started = time.perf_counter()
        fitted = fit_labels(votes, method=method)
        took = time.perf_counter() - started
        right = sum(fitted.labels[p][0] == t for p, t in truth.items()) / len(truth)
        careful = [v for r, v in fitted.reliability.items() if r not in bad]
        careless = [v for r, v in fitted.reliability.items() if r in bad]
        gap = min(careful) - max(careless) if careful and careless else float("nan")
        print(
            f"  {method:<12}  accuracy {right:.3f}  in {took:6.2f} s  "
            f"reliability: careful ≥ {min(careful):.2f}, careless ≤ {max(careless):.2f} "
            f"(gap {gap:+.2f})"
        )


if __name__ == "__main__":
    main()
