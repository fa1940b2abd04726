"""Ranking benchmark: 32 raters over HTTP, rank -> next set, against gunicorn + PostgreSQL.

Not a test; run it by hand (on a quiet machine for figures that compare):

    .venv/bin/python bench/ranking.py                # K = 4 and K = 9, 10 s each
    .venv/bin/python bench/ranking.py --seconds 5

Each rater logs in, opens the ranking page, then loops POST rank -> next set's fragment (one
request per ranking, as the browser does; no think time: a closed loop). Printed from the same run:
the no-op Django view under the same load (the floor), sets ranked per second for K = 4 and K = 9,
comparisons per set (K(K-1)/2 with ranking_pairs=all) and comparisons per second, p50/p95, the
machine's CPU, and double assignments and twice-ranked sets counted from the database.
Reuses bench/rating.py's gunicorn server, sockets client and database set-up helpers.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.rating import (  # noqa: E402
    PASSWORD,
    PG_URL,
    ROOT,
    Rater,
    Server,
    _django,
    child_env,
    cpu_busy,
    cpu_sample,
    percentile,
    reset_postgres,
)

LEASE_RE = re.compile(rb'name="lease" value="(\d+)"')
K_RE = re.compile(rb'data-k="(\d+)"')


def run_child(command: str, *args: str, script: str = __file__) -> dict:
    """``script command args`` in a child (Django set up there, not in this load process)."""
    import subprocess

    data_dir = ROOT / "data" / "bench"
    out = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "python"), script, command, *args],
        env=child_env(PG_URL, data_dir),
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        sys.exit(f"{command} failed:\n{out.stderr[-4000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def cmd_setup(spec_json: str) -> None:
    """Campaigns {slug: {"sets": n, "k": K}}, 'raters' raters enrolled in each, overlap 1."""
    _django()
    from django.core.management import call_command
    from django.db import connection

    from annotate.markdown import render_markdown
    from annotate.models import (
        Campaign,
        Candidate,
        CandidateSet,
        CandidateSetMember,
        Enrollment,
        Generator,
        Prompt,
        User,
    )

    call_command("migrate", verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)
    spec = json.loads(spec_json)
    users = []
    for i in range(spec.pop("_raters")):
        user, _ = User.objects.get_or_create(username=f"bench-r{i}", defaults={"role": "rater"})
        user.set_password(PASSWORD)
        user.save()
        users.append(user)
    for slug, conf in spec.items():
        k = conf["k"]
        campaign = Campaign.objects.create(
            title=slug, slug=slug, status="open", protocol="ranking", ranking_k=max(3, k),
            guidelines_html="<p>Rank them.</p>",
        )  # fmt: skip
        Enrollment.objects.bulk_create([Enrollment(campaign=campaign, rater=u) for u in users])
        gens = [
            Generator.objects.create(campaign=campaign, name=f"g{j}", provider="demo", model="m")
            for j in range(k)
        ]
        texts = [f"Answer {j}: complete the square, then take square roots. " * 6 for j in range(k)]
        htmls = [render_markdown(t) for t in texts]
        prompts = Prompt.objects.bulk_create(
            Prompt(
                campaign=campaign,
                messages=[{"role": "user", "content": f"Solve equation {n}"}],
                rendered=[{"role": "user", "html": f"<p>Solve equation {n}</p>"}],
                content_hash=f"{slug}-{n}",
            )
            for n in range(conf["sets"])
        )
        cands = Candidate.objects.bulk_create(
            Candidate(prompt=p, generator=g, status="done", text=t, html=h)
            for p in prompts
            for g, t, h in zip(gens, texts, htmls, strict=True)
        )
        sets = CandidateSet.objects.bulk_create(
            CandidateSet(campaign=campaign, prompt=p, needed=1, random_key=n / len(prompts))
            for n, p in enumerate(prompts)
        )
        CandidateSetMember.objects.bulk_create(
            CandidateSetMember(candidate_set=s, candidate=cands[n * k + j], slot=j)
            for n, s in enumerate(sets)
            for j in range(k)
        )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    print(json.dumps({"ok": True}))


def cmd_count(slug: str) -> None:
    """Over-k leases and twice-ranked sets, counted from the database."""
    _django()
    from django.db.models import Count

    from annotate.models import RankingVote, SetAssignment

    live = SetAssignment.objects.filter(campaign__slug=slug, status__in=["active", "done"])
    over_k = live.values("candidate_set_id").annotate(n=Count("id")).filter(n__gt=1).count()
    votes = RankingVote.objects.filter(campaign__slug=slug)
    twice = votes.values("candidate_set_id").annotate(n=Count("id")).filter(n__gt=1).count()
    print(json.dumps({"over_k": over_k, "twice": twice, "votes": votes.count()}))


class RankRater(Rater):
    lease: bytes | None = None
    k: int = 0

    def _take_set(self, payload: bytes) -> bool:
        m, k = LEASE_RE.search(payload), K_RE.search(payload)
        self.lease = m.group(1) if m else None
        self.k = int(k.group(1)) if k else 0
        return self.lease is not None

    def open_set(self) -> bool:
        _, page = self._request(
            "GET", f"/campaigns/{self.slug}/rank/", headers={"HX-Request": "true"}
        )
        return self._take_set(page)

    def rank(self) -> None:
        ranking = json.dumps([[n] for n in range(self.k, 0, -1)])
        status, payload = self._request(
            "POST",
            f"/campaigns/{self.slug}/rank/vote/",
            {"lease": self.lease.decode(), "ranking": ranking},
            headers={"HX-Request": "true"},
        )
        if status != 200 or b"flash-error" in payload:
            raise RuntimeError(f"ranking refused: {status} {payload[:300]!r}")
        self._take_set(payload)


def load(
    port: int, slug: str, raters: int, seconds: float, mode: str, rater_class: type = RankRater
) -> dict:
    """``raters`` closed loops for ``seconds``: mode "rank" votes (``rank()``: the rater class's
    vote, then the next unit's fragment), "noop" the no-op view (the floor)."""
    clients = [rater_class(port, f"bench-r{i}", slug) for i in range(raters)]
    for c in clients:
        c.login()
        if mode == "rank":
            c.open_set()
    latencies: list[list[float]] = [[] for _ in clients]
    errors: list[str] = []
    gate = threading.Barrier(raters + 1)
    stop_at = [0.0]

    def loop(i: int, client: RankRater) -> None:
        gate.wait()
        while time.perf_counter() < stop_at[0]:
            if mode == "rank" and client.lease is None:
                return
            t0 = time.perf_counter()
            try:
                client.rank() if mode == "rank" else client.noop()
            except Exception as exc:  # noqa: BLE001 - counted and shown
                errors.append(repr(exc)[:200])
                return
            latencies[i].append(time.perf_counter() - t0)

    threads = [threading.Thread(target=loop, args=(i, c)) for i, c in enumerate(clients)]
    for t in threads:
        t.start()
    cpu0 = cpu_sample()
    start = time.perf_counter()
    stop_at[0] = start + seconds
    gate.wait()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    flat = [x * 1000 for lat in latencies for x in lat]
    return {
        "n": len(flat),
        "per_s": len(flat) / elapsed,
        "p50": percentile(flat, 50),
        "p95": percentile(flat, 95),
        "cpu": cpu_busy(cpu0, cpu_sample()),
        "errors": errors[:3],
        "error_count": len(errors),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--raters", type=int, default=32)
    parser.add_argument("--workers", type=int, default=None)
    args = parser.parse_args()
    (ROOT / "data" / "bench" / "staticfiles").mkdir(parents=True, exist_ok=True)
    c0 = cpu_sample()
    time.sleep(2)
    print(
        f"background CPU before the run: {cpu_busy(c0, cpu_sample()):.0f}% of {os.cpu_count()} cores"
    )
    reset_postgres(PG_URL)
    sets = int(400 * args.seconds) + 1000
    run_child("setup", json.dumps({"_raters": args.raters, "rank-k4": {"sets": sets, "k": 4},
                                   "rank-k9": {"sets": sets, "k": 9}}))  # fmt: skip
    server = Server(PG_URL, ROOT / "data" / "bench", args.workers)
    try:
        floor = load(server.port, "rank-k4", args.raters, args.seconds, "noop")
        print(f"{'no-op floor':<22} {floor['per_s']:>8.1f} req/s   p50 {floor['p50']:6.1f} ms  "
              f"p95 {floor['p95']:6.1f} ms  cpu {floor['cpu']:.0f}%")  # fmt: skip
        for k in (4, 9):
            r = load(server.port, f"rank-k{k}", args.raters, args.seconds, "rank")
            counts = run_child("count", f"rank-k{k}")
            pairs = k * (k - 1) // 2
            print(
                f"{f'ranking K={k} closed':<22} {r['per_s']:>8.1f} sets/s  ({pairs} comparisons "
                f"per set: {r['per_s'] * pairs:,.0f}/s)  p50 {r['p50']:6.1f} ms  p95 "
                f"{r['p95']:6.1f} ms  cpu {r['cpu']:.0f}%  {r['per_s'] / floor['per_s']:.2f} of "
                f"the floor  over-k {counts['over_k']}  twice {counts['twice']}  "
                f"rankings {counts['votes']}"
                + (f"  ERRORS {r['error_count']}: {r['errors']}" if r["error_count"] else "")
            )
    finally:
        server.stop()


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "setup":
        cmd_setup(sys.argv[2])
    elif len(sys.argv) > 1 and sys.argv[1] == "count":
        cmd_count(sys.argv[2])
    else:
        main()
