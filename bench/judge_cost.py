"""Benchmark: what judging 1,000 pairs in both orders costs, Batches + prompt caching vs naive.

    .venv/bin/python bench/judge_cost.py [--pairs 1000] [--model claude-sonnet-4-6]

Every request goes through the real ``anthropic`` SDK (the same request builder the judge uses,
annotate/providers/anthropic_api.py ``_judge_params``) to the fake server of tests/fakes/judge_server.py
on 127.0.0.1, which reports usage the way the API does: the tools + system prefix (the rubric) is
written to the prompt cache once and read afterwards when it is marked ``cache_control`` and at least
1,024 tokens long (Sonnet's minimum); tokens are counted as characters / 4. Costs come from the
project's price table (annotate/services/pricing.py: list prices, cache write 1.25×, read 0.1×,
batches 50 %). Four ways are measured, each on the same 2 × N requests:

  naive          one Messages call per order, no cache_control, list price   (the baseline)
  fast+cache     one Messages call per order, rubric cached
  batch          one Message Batch, no cache_control, batch price
  batch+cache    one Message Batch, rubric cached, batch price                  (what "cheap" mode does)

Target: batch+cache ≤ 40 % of naive. Prompts and responses are synthetic but realistic in size
(prompts ~40-160 words, responses ~120-380 words), generated from a fixed seed.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

WORDS = (
    "the a model answer data train value error check result step first then because however "
    "return function list table user request clear example method test case input output time "
    "memory cost python query index cache batch rate limit token reason fact source detail"
).split()


def _django() -> None:
    os.environ.setdefault("SECRET_KEY", "bench-only-not-secret")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def _text(rng: random.Random, low: int, high: int, *, structured: bool = False) -> str:
    words = [rng.choice(WORDS) for _ in range(rng.randint(low, high))]
    if not structured:
        return " ".join(words).capitalize() + "."
    lines, i = [], 0
    while i < len(words):
        n = rng.randint(8, 20)
        lines.append("- " + " ".join(words[i : i + n]))
        i += n
    return "\n".join(lines)


def build_calls(n_pairs: int, model: str) -> list:
    from annotate.judge.calls import JudgeCall, VerdictSpec, user_text
    from annotate.judge.rubric import rubric_build
    from annotate.management.commands.seed_demo import GUIDELINES

    rng = random.Random(0)
    spec = VerdictSpec(graded=False, allow_both_bad=True, aspects=("helpful", "honest", "harmless"))
    rubric = rubric_build(
        guidelines=GUIDELINES, aspects=list(spec.aspects), scale="binary", allow_both_bad=True
    )
    calls = []
    for i in range(n_pairs):
        prompt = [{"role": "user", "content": _text(rng, 40, 160)}]
        a = _text(rng, 120, 380, structured=rng.random() < 0.5)
        b = _text(rng, 120, 380, structured=rng.random() < 0.5)
        for order, (first, second) in ((1, (a, b)), (2, (b, a))):
            calls.append(
                JudgeCall(
                    custom_id=f"v{i}-o{order}",
                    rubric=rubric,
                    user_text=user_text(messages=prompt, system="", first=first, second=second),
                    model=model,
                    spec=spec,
                    max_tokens=1024,
                )
            )
    return calls


def _uncached(params: dict) -> dict:
    params = dict(params)
    params["system"] = [
        {k: v for k, v in b.items() if k != "cache_control"} for b in params["system"]
    ]
    return params


def run(n_pairs: int, model: str) -> dict[str, dict]:
    import anthropic

    from annotate.providers.anthropic_api import _judge_params
    from annotate.services import pricing
    from tests.fakes.judge_server import JudgeFakeServer

    price = max(
        (
            p
            for (prov, prefix), p in pricing.DEFAULT_PRICES.items()
            if prov == "anthropic" and model.startswith(prefix)
        ),
        key=lambda p: p.input,
    )
    calls = build_calls(n_pairs, model)
    results: dict[str, dict] = {}
    for name, cached, batch in (
        ("naive", False, False),
        ("fast+cache", True, False),
        ("batch", False, True),
        ("batch+cache", True, True),
    ):
        server = JudgeFakeServer(min_cache_tokens=1024).start()
        client = anthropic.Anthropic(
            api_key="bench", base_url=server.url, max_retries=0, timeout=30
        )
        usages = []
        started = time.monotonic()
        try:
            if batch:
                requests = [
                    {
                        "custom_id": c.custom_id,
                        "params": _judge_params(c) if cached else _uncached(_judge_params(c)),
                    }
                    for c in calls
                ]
                batch_id = client.messages.batches.create(requests=requests).id
                while client.messages.batches.retrieve(batch_id).processing_status != "ended":
                    time.sleep(0.05)
                usages = [
                    line.result.message.usage for line in client.messages.batches.results(batch_id)
                ]
            else:
                for c in calls:
                    params = _judge_params(c) if cached else _uncached(_judge_params(c))
                    usages.append(client.messages.create(**params).usage)
        finally:
            server.stop()
        tokens = {
            "input": sum(u.input_tokens for u in usages),
            "output": sum(u.output_tokens for u in usages),
            "cache_write": sum(u.cache_creation_input_tokens or 0 for u in usages),
            "cache_read": sum(u.cache_read_input_tokens or 0 for u in usages),
        }
        cost = pricing.cost_usd(
            price=price,
            input_tokens=tokens["input"],
            output_tokens=tokens["output"],
            cache_read_tokens=tokens["cache_read"],
            cache_write_tokens=tokens["cache_write"],
            batch=batch,
        )
        results[name] = {
            "requests": len(usages),
            "tokens": tokens,
            "cost": cost,
            "seconds": time.monotonic() - started,
        }
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pairs", type=int, default=1000)
    parser.add_argument("--model", default="claude-sonnet-4-6")
    args = parser.parse_args()
    _django()
    import logging

    logging.getLogger("httpx2").setLevel(logging.WARNING)  # one line per request otherwise
    results = run(args.pairs, args.model)
    naive = results["naive"]["cost"]
    print(
        f"Judging {args.pairs} pairs in both orders ({2 * args.pairs} requests), model {args.model}"
    )
    print(
        f"{'way':<12} {'requests':>8} {'input':>10} {'cache wr':>9} {'cache rd':>10} {'output':>9} {'cost USD':>10} {'vs naive':>9}"
    )
    for name, r in results.items():
        t = r["tokens"]
        share = (r["cost"] / naive * 100) if naive else Decimal(0)
        print(
            f"{name:<12} {r['requests']:>8} {t['input']:>10} {t['cache_write']:>9} {t['cache_read']:>10} "
            f"{t['output']:>9} {r['cost']:>10.4f} {share:>8.1f}%"
        )
    share = results["batch+cache"]["cost"] / naive * 100
    verdict = "PASS" if share <= 40 else "FAIL"
    print(f"\nbatch+cache = {share:.1f} % of naive (target ≤ 40 %): {verdict}")


if __name__ == "__main__":
    main()
