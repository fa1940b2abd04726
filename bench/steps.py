"""Step-labels benchmark: 32 raters over HTTP, label a trace's steps -> next trace, against
gunicorn + PostgreSQL (issue #17: the step protocol's vote -> next, >= 200 votes/s).

Not a test; run it by hand (on a quiet machine for figures that compare):

    .venv/bin/python bench/steps.py                  # 10 s of 4-step traces
    .venv/bin/python bench/steps.py --seconds 5 --steps 8

Each rater logs in, opens the step page, then loops POST labels -> next trace's fragment (one
request per vote, as the browser does; no think time: a closed loop). Printed from the same run:
the no-op Django view under the same load (the floor), votes per second, p50/p95, the machine's
CPU, the ratio to the floor, and double leases and twice-labelled traces counted from the database.
Reuses bench/rating.py's server, client and database helpers and bench/ranking.py's load loop.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.ranking import RankRater, load, run_child  # noqa: E402
from bench.rating import (  # noqa: E402
    PASSWORD,
    PG_URL,
    ROOT,
    Server,
    _django,
    cpu_busy,
    cpu_sample,
    reset_postgres,
)

N_RE = re.compile(rb'data-n="(\d+)"')


def cmd_setup(spec_json: str) -> None:
    """A step campaign of ``traces`` traces of ``steps`` steps, ``_raters`` raters, overlap 1."""
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
        StepTrace,
        User,
    )

    call_command("migrate", verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)
    spec = json.loads(spec_json)
    users = []
    for i in range(spec["_raters"]):
        user, _ = User.objects.get_or_create(username=f"bench-r{i}", defaults={"role": "rater"})
        user.set_password(PASSWORD)
        user.save()
        users.append(user)
    slug, n_steps, n = spec["slug"], spec["steps"], spec["traces"]
    campaign = Campaign.objects.create(
        title=slug, slug=slug, status="open", protocol="steps", step_stop_at_wrong=True,
        guidelines_html="<p>Label the steps.</p>",
    )  # fmt: skip
    Enrollment.objects.bulk_create([Enrollment(campaign=campaign, rater=u) for u in users])
    generator = Generator.objects.create(campaign=campaign, name="g", provider="demo", model="m")
    steps = [f"Step {j + 1}: carry the tens, then add the units once more." for j in range(n_steps)]
    htmls = [render_markdown(s) for s in steps]
    text = "\n\n".join(steps)
    prompts = Prompt.objects.bulk_create(
        Prompt(
            campaign=campaign,
            messages=[{"role": "user", "content": f"What is {k} + {k}?"}],
            rendered=[{"role": "user", "html": f"<p>What is {k} + {k}?</p>"}],
            content_hash=f"{slug}-{k}",
        )
        for k in range(n)
    )
    cands = Candidate.objects.bulk_create(
        Candidate(prompt=p, generator=generator, status="done", text=text, html=text)
        for p in prompts
    )
    units = CandidateSet.objects.bulk_create(
        CandidateSet(campaign=campaign, prompt=p, candidate=c, needed=1, random_key=k / n)
        for k, (p, c) in enumerate(zip(prompts, cands, strict=True))
    )
    CandidateSetMember.objects.bulk_create(
        CandidateSetMember(candidate_set=u, candidate=c, slot=0)
        for u, c in zip(units, cands, strict=True)
    )
    StepTrace.objects.bulk_create(
        StepTrace(
            candidate_set=u, candidate=c, source="answer", split="paragraph", steps=steps,
            steps_html=htmls,
        )
        for u, c in zip(units, cands, strict=True)
    )  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    print(json.dumps({"ok": True}))


def cmd_count(slug: str) -> None:
    """Over-k leases and twice-labelled traces, counted from the database."""
    _django()
    from django.db.models import Count

    from annotate.models import SetAssignment, StepVote

    live = SetAssignment.objects.filter(campaign__slug=slug, status__in=["active", "done"])
    over_k = live.values("candidate_set_id").annotate(n=Count("id")).filter(n__gt=1).count()
    votes = StepVote.objects.filter(campaign__slug=slug)
    twice = votes.values("candidate_set_id").annotate(n=Count("id")).filter(n__gt=1).count()
    print(json.dumps({"over_k": over_k, "twice": twice, "votes": votes.count()}))


class StepRater(RankRater):
    """The ranking client with the step page's URLs and form: ``rank()`` is this loop's vote
    (every step correct but one neutral, the shape of most human labels)."""

    def _take_set(self, payload: bytes) -> bool:
        found = super()._take_set(payload)
        m = N_RE.search(payload)
        self.k = int(m.group(1)) if m else 0
        return found

    def open_set(self) -> bool:
        _, page = self._request(
            "GET", f"/campaigns/{self.slug}/steps/", headers={"HX-Request": "true"}
        )
        return self._take_set(page)

    def rank(self) -> None:
        body = {"lease": self.lease.decode()}
        for i in range(1, self.k + 1):
            body[f"label_{i}"] = "0" if i == 2 else "1"
            body[f"note_{i}"] = ""
        status, payload = self._request(
            "POST", f"/campaigns/{self.slug}/steps/vote/", body, headers={"HX-Request": "true"}
        )
        if status != 200 or b"flash-error" in payload:
            raise RuntimeError(f"labels refused: {status} {payload[:300]!r}")
        self._take_set(payload)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--raters", type=int, default=32)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--workers", type=int, default=None)
    args = parser.parse_args()
    (ROOT / "data" / "bench" / "staticfiles").mkdir(parents=True, exist_ok=True)
    c0 = cpu_sample()
    time.sleep(2)
    print(
        f"background CPU before the run: {cpu_busy(c0, cpu_sample()):.0f}% of {os.cpu_count()} cores"
    )
    reset_postgres(PG_URL)
    slug = "steps-bench"
    spec = {"_raters": args.raters, "slug": slug, "steps": args.steps}
    run_child(
        "setup", json.dumps({**spec, "traces": int(600 * args.seconds) + 1000}), script=__file__
    )
    server = Server(PG_URL, ROOT / "data" / "bench", args.workers)
    try:
        floor = load(server.port, slug, args.raters, args.seconds, "noop", StepRater)
        print(f"{'no-op floor':<22} {floor['per_s']:>8.1f} req/s   p50 {floor['p50']:6.1f} ms  "
              f"p95 {floor['p95']:6.1f} ms  cpu {floor['cpu']:.0f}%")  # fmt: skip
        r = load(server.port, slug, args.raters, args.seconds, "rank", StepRater)
        counts = run_child("count", slug, script=__file__)
        print(
            f"{f'steps ({args.steps}) closed':<22} {r['per_s']:>8.1f} votes/s  p50 {r['p50']:6.1f} "
            f"ms  p95 {r['p95']:6.1f} ms  cpu {r['cpu']:.0f}%  {r['per_s'] / floor['per_s']:.2f} "
            f"of the floor  over-k {counts['over_k']}  twice {counts['twice']}  "
            f"votes {counts['votes']}"
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
