"""The set protocols (ranking, rating, step labels) for bench/rating.py: their campaigns, their
API clients, and the database counts. Not run by itself: ``bench/rating.py --protocol ranking``.

Each rater is a browser-like session (bench/rating.py's ``Rater``: login cookie, CSRF header) that
drives the rater API as a client would: ``POST …/<protocol>/next/`` once, then per unit one
``POST …/vote/`` with ``next: true``, which stores the vote and returns the next unit (as the pages
do: one request per unit). The counts come from the database afterwards: sets leased beyond their k, a rater
given one set twice, and votes per lease.
"""

from __future__ import annotations

import json
import sys
import time

from bench.rating import PASSWORD, Rater, _django

ASPECTS = ["helpfulness", "correctness", "coherence"]
# The API paths of each protocol (annotate/api/urls.py).
PATHS = {"ranking": "rank", "rating": "rating", "steps": "steps"}


def pairs_per_unit(protocol: str, k: int) -> int:
    """Comparisons (preference pairs) one unit yields: a ranking all K(K-1)/2 (ranking_pairs=all),
    a rating of K responses the pairs of its overall scores; a step trace labels k steps (the count
    printed is its labels)."""
    return k if protocol == "steps" else k * (k - 1) // 2


def answer_text(j: int, words: int) -> str:
    sentence = f"Answer {j}: complete the square, then take square roots on both sides of it. "
    out, n = [], 0
    paragraph = 0
    while n < words:
        out.append(sentence * 4)
        n += 4 * len(sentence.split())
        paragraph += 1
        if paragraph % 3 == 0:
            out.append(f"\n\n## Part {paragraph // 3}\n\n- a point\n- another point\n\n")
    return "".join(out)


def cmd_setup(spec_json: str) -> None:
    """Campaigns {slug: {"protocol", "units", "k", "words"}} with ``_raters`` raters, overlap 1."""
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
    for i in range(spec.pop("_raters")):
        user, _ = User.objects.get_or_create(username=f"bench-r{i}", defaults={"role": "rater"})
        user.set_password(PASSWORD)
        user.save()
        users.append(user)
    for slug, conf in spec.items():
        protocol, k, n = conf["protocol"], conf["k"], conf["units"]
        Campaign.objects.filter(slug=slug).delete()
        extra = {
            "ranking": {"ranking_k": max(3, k)},
            "rating": {"rating_k": k, "aspects": ASPECTS},
            "steps": {"step_stop_at_wrong": True},
        }[protocol]
        campaign = Campaign.objects.create(
            title=slug, slug=slug, status="open", protocol=protocol,
            guidelines_html="<p>Go.</p>", **extra,
        )  # fmt: skip
        Enrollment.objects.bulk_create([Enrollment(campaign=campaign, rater=u) for u in users])
        members = 1 if protocol == "steps" else k
        gens = [
            Generator.objects.create(campaign=campaign, name=f"g{j}", provider="demo", model="m")
            for j in range(members)
        ]
        if protocol == "steps":
            steps = [f"Step {j + 1}: carry the tens, then add the units." for j in range(k)]
            texts = ["\n\n".join(steps)]
        else:
            texts = [answer_text(j, conf.get("words", 60)) for j in range(members)]
        htmls = [render_markdown(t) for t in texts]
        prompts = Prompt.objects.bulk_create(
            (
                Prompt(
                    campaign=campaign,
                    messages=[{"role": "user", "content": f"Solve equation {i}"}],
                    rendered=[{"role": "user", "html": f"<p>Solve equation {i}</p>"}],
                    content_hash=f"{slug}-{i}",
                )
                for i in range(n)
            ),
            batch_size=2000,
        )
        cands = Candidate.objects.bulk_create(
            (
                Candidate(prompt=p, generator=g, status="done", text=t, html=h)
                for p in prompts
                for g, t, h in zip(gens, texts, htmls, strict=True)
            ),
            batch_size=2000,
        )
        units = CandidateSet.objects.bulk_create(
            (
                CandidateSet(
                    campaign=campaign,
                    prompt=p,
                    needed=1,
                    random_key=i / n,
                    candidate=cands[i] if protocol == "steps" else None,
                )  # fmt: skip
                for i, p in enumerate(prompts)
            ),
            batch_size=2000,
        )
        CandidateSetMember.objects.bulk_create(
            (
                CandidateSetMember(candidate_set=u, candidate=cands[i * members + j], slot=j)
                for i, u in enumerate(units)
                for j in range(members)
            ),
            batch_size=5000,
        )
        if protocol == "steps":
            steps_html = [render_markdown(s) for s in steps]
            StepTrace.objects.bulk_create(
                (
                    StepTrace(
                        candidate_set=u,
                        candidate=cands[i],
                        source="answer",
                        split="paragraph",
                        steps=steps,
                        steps_html=steps_html,
                    )  # fmt: skip
                    for i, u in enumerate(units)
                ),
                batch_size=2000,
            )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    print(json.dumps({"ok": True}))


def cmd_count(slug: str) -> None:
    """Over-k sets, sets leased twice to one rater, and leases with more than one vote, counted
    from the database (never from the load generator)."""
    _django()
    from django.db.models import Count

    from annotate.models import Campaign, RankingVote, RatingVote, SetAssignment, StepVote

    campaign = Campaign.objects.get(slug=slug)
    model = {"ranking": RankingVote, "rating": RatingVote, "steps": StepVote}[campaign.protocol]
    live = SetAssignment.objects.filter(campaign=campaign, status__in=["active", "done"])
    over_k = (
        live.values("candidate_set_id", "candidate_set__needed")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
        .count()
    )
    rater_twice = (
        SetAssignment.objects.filter(campaign=campaign)
        .values("candidate_set_id", "rater_id")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
        .count()
    )
    votes = model.objects.filter(campaign=campaign)
    twice = votes.values("lease_id").annotate(n=Count("id")).filter(n__gt=1).count()
    print(
        json.dumps(
            {
                "over_k": over_k,
                "rater_twice": rater_twice,
                "vote_twice": twice,
                "votes": votes.count(),
                "done": live.filter(status="done").count(),
            }
        )
    )


def cmd_queries(slug: str, units: str = "5", profile: str = "") -> None:
    """Statements per unit (one vote with ``next: true``; Django's test client, one rater), and
    this process's CPU per unit over ``units`` units; ``profile``: print cProfile's top functions
    too (to stderr)."""
    _django()
    from django.conf import settings
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from annotate.models import Campaign, User

    settings.ALLOWED_HOSTS = ["testserver"]
    campaign = Campaign.objects.get(slug=slug)
    path = PATHS[campaign.protocol]
    client = Client(enforce_csrf_checks=False)
    client.force_login(User.objects.get(username="bench-r31"))
    base = f"/api/campaigns/{slug}/{path}"
    out = {"vote": [], "sql": {}}
    with CaptureQueriesContext(connection) as q:
        body = client.post(f"{base}/next/", content_type="application/json", data={}).json()
    out["next_first"] = len(q.captured_queries)
    profiler = None
    if profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    cpu0 = time.process_time()
    for i in range(int(units)):
        vote = {**vote_body(campaign.protocol, body), "next": True}
        with CaptureQueriesContext(connection) as q:
            r = client.post(f"{base}/vote/", content_type="application/json", data=vote)
        assert r.status_code == 201, r.content[:300]
        body = r.json()["next"]
        out["vote"].append(len(q.captured_queries))
        if i == 0:
            out["sql"]["vote"] = [x["sql"][:160] for x in q.captured_queries]
    out["cpu_ms_per_unit"] = 1000 * (time.process_time() - cpu0) / int(units)
    if profiler is not None:
        import pstats

        profiler.disable()
        pstats.Stats(profiler, stream=sys.stderr).sort_stats(profile).print_stats(45)
    print(json.dumps(out))


def vote_body(protocol: str, unit: dict) -> dict:
    """A valid vote on ``unit`` (the next endpoint's body), as a keyboard rater would send it."""
    if protocol == "ranking":
        k = len(unit["responses"])
        return {"lease": unit["lease"], "ranking": [[n] for n in range(k, 0, -1)]}
    if protocol == "rating":
        return {
            "lease": unit["lease"],
            "scores": [
                {"number": r["number"], "overall": 1 + r["number"] % 5,
                 "aspects": {a: 1 + (r["number"] + j) % 5 for j, a in enumerate(unit["aspects"])}}
                for r in unit["responses"]
            ],
        }  # fmt: skip
    labels = [0 if i == 1 else 1 for i in range(len(unit["steps"]))]
    return {"lease": unit["lease"], "labels": labels}


class ApiRater(Rater):
    """A rater on the set protocols' API: ``vote()`` = POST vote, then POST next (one unit).
    ``assignment`` holds the current lease id (None: no work left), as ``Rater`` does."""

    def __init__(self, port: int, username: str, slug: str, protocol: str):
        super().__init__(port, username, slug)
        self.protocol = protocol
        self.base = f"/api/campaigns/{slug}/{PATHS[protocol]}"
        self.unit: dict | None = None

    def _post_json(self, path: str, body: dict) -> tuple[int, bytes]:
        return self._request("POST", path, json_body=body)

    def open_page(self) -> bool:
        return self._next()

    def _next(self) -> bool:
        status, payload = self._post_json(f"{self.base}/next/", {})
        if status == 204:
            self.unit = self.assignment = None
            return False
        if status != 200:
            raise RuntimeError(f"next refused: {status} {payload[:300]!r}")
        self.unit = json.loads(payload)
        self.assignment = self.unit["lease"]
        return True

    def vote(self) -> bool:
        body = {**vote_body(self.protocol, self.unit), "next": True}
        status, payload = self._post_json(f"{self.base}/vote/", body)
        if status != 201:
            raise RuntimeError(f"vote refused: {status} {payload[:300]!r}")
        self.unit = json.loads(payload)["next"]
        self.assignment = None if self.unit is None else self.unit["lease"]
        return self.unit is not None


# The page's own clock, installed before any of its scripts: the submitting keypress (Enter, in
# the capture phase, before rank.js sees it) to the first frame painted after the workbench shows
# a new lease. A MutationObserver sees the swap; requestAnimationFrame runs just before that frame
# is painted, and a task queued from it runs after the paint.
PAINT_PROBE = """
(() => {
  window.__paint = [];
  let pressed = 0, lease = null;
  const current = () => (document.getElementById("workbench") || {}).dataset?.lease || null;
  document.addEventListener("keydown", (e) => {
    if (e.key === "Enter") { pressed = performance.now(); lease = current(); }
  }, true);
  new MutationObserver(() => {
    if (!pressed || current() === lease) return;
    const t0 = pressed;
    pressed = 0;
    const swapped = performance.now();
    requestAnimationFrame(() => setTimeout(() => {
      // The vote's request (vote + next set's fragment): when its response had arrived.
      const sent = performance.getEntriesByType("resource").filter(
        (r) => r.name.includes("/rank/vote/") && r.startTime >= t0).pop();
      window.__paint.push([performance.now() - t0, sent ? sent.responseEnd - t0 : -1,
                           swapped - t0]);
    }, 0));
  }).observe(document, { childList: true, subtree: true });
})();
"""


def ranking_keypress_to_paint(port: int, slug: str, units: int, k: int) -> dict:
    """Debian's Chromium ranks ``units`` sets from the keyboard (the numbers k … 1, then Enter)
    on the ranking page; the page's clock (PAINT_PROBE) records Enter → next set painted."""
    from playwright.sync_api import sync_playwright

    args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=args)
        page = browser.new_page(viewport={"width": 1366, "height": 768})
        page.add_init_script(PAINT_PROBE)
        page.goto(f"{base}/login/")
        page.fill("input[name=username]", "bench-r0")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.goto(f"{base}/campaigns/{slug}/rank/")
        page.keyboard.press("Escape")  # the guidelines shown before the first set
        dom = page.evaluate(
            "({nodes: document.getElementsByTagName('*').length,"
            " bytes: document.documentElement.outerHTML.length})"
        )

        def recorded() -> int:
            return page.evaluate("window.__paint.length")

        for i in range(units):
            while recorded() < i:
                page.wait_for_timeout(2)
            for n in range(k, 0, -1):
                page.keyboard.press(str(n))
            page.keyboard.press("Enter")
        while recorded() < units:
            page.wait_for_timeout(2)
        found = page.evaluate("window.__paint")
        browser.close()
    return {
        "timings": [float(t[0]) for t in found],
        "response": [float(t[1]) for t in found],
        "swapped": [float(t[2]) for t in found],
        **dom,
    }
