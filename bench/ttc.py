"""Benchmark: every best-of-N method's accuracy-versus-N curve with bootstrap CIs, 1,000 prompts × 16.

    .venv/bin/python bench/ttc.py [--prompts 1000] [--samples 16] [--boot 1000] [--subsets 64]

The samples come from the offline fake provider (annotate/providers/demo.py: arithmetic answered
right or wrong by a hashed difficulty, with a reasoning trace and an "Answer:" line), the pairwise
verdicts from its demo judge on every pair of a prompt's samples (both orders), the verifier scores
from its demo verifier, and human preferences from a sparse set of simulated votes (two pairs per
prompt). Preparing those is not timed; what is timed is what the campaign page computes: answer
extraction and matching, then ``accuracy_curves`` for majority, judge, verifier, human and pass@N
at N = 1, 2, 4, 8, 16, each point averaged over up to ``--subsets`` subsets per prompt, with
``--boot`` bootstrap resamples over prompts. Target: ≤ 10 s on this machine (2 cores).
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from annotate.analytics import ttc  # noqa: E402
from annotate.answers import answer_key, answers_match, extract_answer  # noqa: E402
from annotate.judge import samples as judge_samples  # noqa: E402
from annotate.judge.calls import JudgeCall, VerdictSpec, user_text  # noqa: E402
from annotate.judge.verdict import combine, parse_verdict, to_canonical  # noqa: E402
from annotate.providers.demo import DemoProvider  # noqa: E402


def _prompts(n: int, seed: int) -> list[tuple[str, int]]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        a, b = rng.randint(12, 99), rng.randint(12, 99)
        out.append((f"What is {a} × {b}? Give the result on a line 'Answer: <number>'.", a * b))
    return out


def _prepare(prompts, samples: int, seed: int):
    """Texts, verdict outcomes, scores and votes for every prompt (the fake provider's work)."""
    provider = DemoProvider()
    spec = VerdictSpec()
    rng = random.Random(seed)
    data = []
    for question, reference in prompts:
        messages = [{"role": "user", "content": question}]
        texts = [
            provider.complete(
                messages=messages, system="", model="demo-reasoner", params={}, sample_index=i
            ).text
            for i in range(samples)
        ]
        outcomes = []
        for i in range(samples):
            for j in range(i + 1, samples):
                orders = []
                for order, (first, second) in enumerate(
                    ((texts[i], texts[j]), (texts[j], texts[i]))
                ):
                    call = JudgeCall(
                        custom_id=f"{i}-{j}-{order}",
                        rubric="",
                        user_text=user_text(
                            messages=messages, system="", first=first, second=second
                        ),
                        model="demo-judge",
                        spec=spec,
                        first_text=first,
                        second_text=second,
                    )
                    parsed = parse_verdict(provider.judge(call).tool_input, spec=spec)
                    orders.append(to_canonical(parsed, a_first=order == 0))
                outcomes.append((i, j, combine(orders[0], orders[1]).choice))
        scores = []
        for text in texts:
            call = JudgeCall(
                custom_id="s",
                rubric="",
                user_text=judge_samples.sample_text(
                    messages=messages, system="", response=text, task="score"
                ),
                model="demo-judge",
                spec=spec,
                first_text=text,
                tool=judge_samples.score_tool(),
            )
            scores.append(provider.judge(call).tool_input["score"])
        votes = []
        for _ in range(2):  # two human-voted pairs per prompt, 80% for the correct side
            i, j = rng.sample(range(samples), 2)
            votes.append((min(i, j), max(i, j), texts[min(i, j)], texts[max(i, j)]))
        data.append((reference, texts, outcomes, scores, votes))
    return data


def _groups(data) -> list[ttc.Group]:
    """What the page does per prompt: extract, match, and shape the evidence (timed)."""
    groups = []
    rng = random.Random(1)
    for reference, texts, outcomes, scores, votes in data:
        answers = [extract_answer(t, rule="convention") for t in texts]
        correct = np.array([answers_match(a, str(reference)) for a in answers])
        human = []
        for i, j, _, _ in votes:
            better = "a" if correct[i] >= correct[j] else "b"
            human.append((i, j, better if rng.random() < 0.8 else ("b" if better == "a" else "a")))
        groups.append(
            ttc.Group(
                correct=correct,
                answers=[answer_key(a) for a in answers],
                cost=np.full(len(texts), 0.0004),
                verifier=np.array(scores, dtype=float),
                judge=ttc.Tournament.from_outcomes(len(texts), outcomes),
                human=ttc.Tournament.from_outcomes(len(texts), human),
                verdict_cost=0.0012,
                score_cost=0.0006,
            )
        )
    return groups


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=1000)
    parser.add_argument("--samples", type=int, default=16)
    parser.add_argument("--boot", type=int, default=1000)
    parser.add_argument("--subsets", type=int, default=64)
    args = parser.parse_args()

    started = time.perf_counter()
    data = _prepare(_prompts(args.prompts, seed=7), args.samples, seed=7)
    verdicts = sum(len(d[2]) for d in data)
    print(
        f"prepared {args.prompts:,} prompts × {args.samples} samples from the fake provider, "
        f"{verdicts:,} verdicts, {args.prompts * args.samples:,} verifier scores "
        f"in {time.perf_counter() - started:.1f} s (not timed below)"
    )

    started = time.perf_counter()
    groups = _groups(data)
    shaped = time.perf_counter() - started
    started = time.perf_counter()
    curves = ttc.accuracy_curves(groups, subsets=args.subsets, n_boot=args.boot)
    computed = time.perf_counter() - started
    total = shaped + computed

    print(f"\n{'N':>4}  " + "  ".join(f"{m:>22}" for m in curves))
    sizes = sorted({p.n for points in curves.values() for p in points})
    for n in sizes:
        cells = []
        for points in curves.values():
            p = next((p for p in points if p.n == n), None)
            cells.append(f"{p.accuracy:6.1%} [{p.low:5.1%},{p.high:5.1%}]" if p else " " * 22)
        print(f"{n:>4}  " + "  ".join(f"{c:>22}" for c in cells))
    cost = {m: points[-1].cost_per_prompt for m, points in curves.items()}
    print(
        "\ncost per prompt at the largest N: " + ", ".join(f"{m} ${c:.4f}" for m, c in cost.items())
    )
    print(
        f"\nextract + match + shape: {shaped:.2f} s; curves of {len(curves)} methods × "
        f"{len(sizes)} sizes with {args.boot} bootstrap resamples: {computed:.2f} s"
    )
    verdict = "OK" if total <= 10 else "OVER"
    print(f"total {total:.2f} s (target ≤ 10 s): {verdict}")


if __name__ == "__main__":
    main()
