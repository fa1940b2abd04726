"""Rating benchmark: many raters over HTTP, vote -> next, against gunicorn + PostgreSQL (and SQLite).

Not a test; run it by hand on an otherwise quiet machine:

    .venv/bin/python bench/rating.py                 # everything, ~2 minutes
    .venv/bin/python bench/rating.py --seconds 5     # shorter runs
    .venv/bin/python bench/rating.py --protocol sets --seconds 5 --paint 50
                                    # ranking K=4 and 9, rating 4 x 3 aspects, step labels
    .venv/bin/python bench/rating.py --protocol ranking --k 9 --show-sql
    .venv/bin/python bench/rating.py --protocol ranking --paint-only   # Chromium only

With ``--protocol`` ranking, rating, steps or sets (all three), bench/sets.py's clients drive the
rater API (POST next, then per unit one POST vote with ``next: true``, which returns the next
unit) with 32 raters in a closed loop, in the same run as the no-op floor and pairwise's closed
loop on the same gunicorn. It prints units/s, comparisons per unit, p50/p95 of a unit, the ratio to
the floor, statements per unit (Django's test client, in-process, before the load) and, from the database,
sets over k, a set given twice to one rater and leases with two votes. ``--paint N`` ranks N sets
of K = 9 answers of 2,000 words in Chromium and prints keypress (Enter) -> next set painted.

Each rater logs in through the login page (session cookie + CSRF), opens the rating page, then loops
POST vote -> next pair fragment (one request per vote, as the browser does). It prints, from the same
run: votes/s, p50/p95/p99, a no-op Django view under the same load as the floor, a single rater's p50,
the SQLite figures, the machine's background CPU, and double assignments counted from the database,
plus a deliberately naive claim (SKIP LOCKED guarded only by NOT EXISTS) as a control that the count
can fail.

The server is gunicorn with the repository's gunicorn.conf.py (``--workers`` overrides the count),
sync workers on project.wsgi, or with ``--asgi`` uvicorn workers on project.asgi (the production
set-up when live campaigns run: sync views in a thread, PostgreSQL through psycopg's pool).
Paced raters think 220 ms ± 50 % (uniform) and start staggered, as independent people do;
``--think-jitter 0`` puts all 32 in lockstep (the same fixed pause after a common start), which
turns the paced run into a burst of 32 requests every cycle.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # bench.sets, when run as a script
PY = str(ROOT / ".venv" / "bin" / "python")
PG_URL = os.environ.get(
    "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/annotate_rate_bench"
)
PASSWORD = "bench-password"
ASSIGNMENT_RE = re.compile(rb'name="assignment" value="(\d+)"')
KEY_RE = re.compile(rb'name="key" value="([0-9a-f]+)"')
CSRF_RE = re.compile(rb'name="csrfmiddlewaretoken" value="([^"]+)"')


# --- machine ------------------------------------------------------------------------------------
def cpu_sample() -> tuple[int, int]:
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


def cpu_busy(before: tuple[int, int], after: tuple[int, int]) -> float:
    busy, total = after[0] - before[0], after[1] - before[1]
    return 100.0 * busy / total if total else 0.0


def workers_cpu(pid: int) -> float:
    """CPU seconds (user + system) used so far by the gunicorn master ``pid``'s workers: what the
    server's Python costs, apart from whatever else runs on the machine."""
    total = 0.0
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return 0.0
    for child in children:
        try:
            fields = Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


# --- database set-up (runs in a child process with Django configured for that database) ---------
def child_env(db_url: str, data_dir: Path) -> dict:
    return {
        **os.environ,
        "DATABASE_URL": db_url,
        "DATA_DIR": str(data_dir),
        "SECRET_KEY": "bench-only-not-secret",
        "DEBUG": "0",
        "DB_CONN_MAX_AGE": "600",
        "LOG_LEVEL": "WARNING",
        # BENCH_HOOKS (/bench/noop/, the page's keypress timings) and the MD5 hasher for the
        # logins (32 per phase; per-request session auth never hashes a password).
        "DJANGO_SETTINGS_MODULE": "bench.settings",
    }


def run_child(command: str, db_url: str, data_dir: Path, *args: str) -> dict:
    out = subprocess.run(
        [PY, __file__, command, *args],
        env=child_env(db_url, data_dir),
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        sys.exit(f"{command} failed:\n{out.stderr[-4000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _django():
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def cmd_setup(spec_json: str) -> None:
    """Migrate and create campaigns: spec = {slug: {"pairs": n, "overlap": k}}, raters r0..rN."""
    _django()
    import random

    from django.core.management import call_command

    from annotate.markdown import render_markdown
    from annotate.models import Campaign, Candidate, Enrollment, Generator, Pair, Prompt, User

    call_command("migrate", verbosity=0)
    # DEBUG is off under gunicorn: whitenoise serves the collected files (the browser phase needs them).
    call_command("collectstatic", interactive=False, verbosity=0)
    spec = json.loads(spec_json)
    users = []
    for i in range(spec.pop("_raters")):
        user, _ = User.objects.get_or_create(username=f"bench-r{i}", defaults={"role": "rater"})
        user.set_password(PASSWORD)
        user.save()
        users.append(user)
    text_a = "Use the quadratic formula: x = (-b ± √(b² - 4ac)) / 2a. " * 6
    text_b = "Complete the square, then take square roots on both sides. " * 6
    html_a, html_b = render_markdown(text_a), render_markdown(text_b)
    for slug, conf in spec.items():
        Campaign.objects.filter(slug=slug).delete()
        campaign = Campaign.objects.create(
            title=slug,
            slug=slug,
            status="open",
            overlap=conf["overlap"],
            guidelines_html="<p>Pick one.</p>",
        )
        Enrollment.objects.bulk_create([Enrollment(campaign=campaign, rater=u) for u in users])
        gen_a = Generator.objects.create(campaign=campaign, name="a", provider="demo", model="a")
        gen_b = Generator.objects.create(campaign=campaign, name="b", provider="demo", model="b")
        prompts = Prompt.objects.bulk_create(
            [
                Prompt(
                    campaign=campaign,
                    messages=[{"role": "user", "content": f"Solve equation {n}"}],
                    rendered=[{"role": "user", "html": f"<p>Solve equation {n}</p>"}],
                    content_hash=f"{slug}-{n}",
                )
                for n in range(conf["pairs"])
            ]
        )
        cands = Candidate.objects.bulk_create(
            [
                Candidate(prompt=p, generator=g, status="done", text=t, html=h)
                for p in prompts
                for g, t, h in ((gen_a, text_a, html_a), (gen_b, text_b, html_b))
            ]
        )
        Pair.objects.bulk_create(
            [
                Pair(
                    campaign=campaign,
                    prompt=prompts[n],
                    candidate_a=cands[2 * n],
                    candidate_b=cands[2 * n + 1],
                    strategy="cross_generator",
                    needed=conf["overlap"],
                    random_key=random.random(),
                )
                for n in range(conf["pairs"])
            ]
        )
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")  # fresh planner statistics after a bulk load (autovacuum lags)
    print(json.dumps({"ok": True}))


def cmd_count(slug: str) -> None:
    """Double assignments, counted from the database (never from the load generator)."""
    _django()
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT
              (SELECT COUNT(*) FROM (
                 SELECT a.pair_id FROM annotate_assignment a JOIN annotate_pair p ON p.id = a.pair_id
                 JOIN annotate_campaign c ON c.id = a.campaign_id
                 WHERE c.slug = %s AND a.status IN ('active', 'done')
                 GROUP BY a.pair_id, p.needed HAVING COUNT(*) > p.needed) t),
              (SELECT COUNT(*) FROM (
                 SELECT j.pair_id FROM annotate_judgment j JOIN annotate_campaign c ON c.id = j.campaign_id
                 WHERE c.slug = %s GROUP BY j.pair_id, j.rater_id HAVING COUNT(*) > 1) t),
              (SELECT COUNT(*) FROM annotate_judgment j JOIN annotate_campaign c ON c.id = j.campaign_id
                 WHERE c.slug = %s)
            """,
            [slug, slug, slug],
        )
        over_k, twice, votes = cursor.fetchone()
    print(json.dumps({"over_k": over_k, "rater_twice": twice, "votes": votes}))


def cmd_naive(slug: str, threads: str) -> None:
    """The control: claim with SKIP LOCKED guarded only by NOT EXISTS (no counter on the pair row)."""
    _django()
    from django.db import connection, transaction
    from django.utils import timezone

    from annotate.models import Campaign, User

    campaign = Campaign.objects.get(slug=slug)
    raters = list(
        User.objects.filter(username__startswith="bench-r").order_by("id")[: int(threads)]
    )
    barrier = threading.Barrier(len(raters))
    claims = [0]

    def naive(rater):
        try:
            barrier.wait()
            while True:
                with transaction.atomic(), connection.cursor() as cursor:
                    cursor.execute(
                        """SELECT p.id FROM annotate_pair p WHERE p.campaign_id = %s
                           AND NOT EXISTS (SELECT 1 FROM annotate_assignment a WHERE a.pair_id = p.id
                                           AND a.status IN ('active', 'done'))
                           AND NOT EXISTS (SELECT 1 FROM annotate_assignment a
                                           WHERE a.pair_id = p.id AND a.rater_id = %s)
                           ORDER BY p.random_key LIMIT 1 FOR UPDATE SKIP LOCKED""",
                        [campaign.pk, rater.pk],
                    )
                    row = cursor.fetchone()
                    if row is None:
                        return
                    now = timezone.now()
                    cursor.execute(
                        "INSERT INTO annotate_assignment (campaign_id, pair_id, rater_id, status, "
                        "left_is_a, skip_reason, created_at, expires_at) "
                        "VALUES (%s, %s, %s, 'done', true, '', %s, %s)",
                        [campaign.pk, row[0], rater.pk, now, now],
                    )
                    claims[0] += 1
        finally:
            connection.close()

    workers = [threading.Thread(target=naive, args=(r,)) for r in raters]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT COUNT(*) FROM (SELECT a.pair_id FROM annotate_assignment a
               JOIN annotate_pair p ON p.id = a.pair_id WHERE a.campaign_id = %s
               AND a.status IN ('active', 'done') GROUP BY a.pair_id, p.needed
               HAVING COUNT(*) > p.needed) t""",
            [campaign.pk],
        )
        (doubles,) = cursor.fetchone()
    print(json.dumps({"claims": claims[0], "doubles": doubles}))


# --- the server ---------------------------------------------------------------------------------
class Server:
    """gunicorn as deployed: the repository's gunicorn.conf.py (read from the working directory),
    with ``workers`` overriding its count when given."""

    def __init__(self, db_url: str, data_dir: Path, workers: int | None, asgi: bool = False):
        self.port = free_port()
        env = child_env(db_url, data_dir)
        env["ALLOWED_HOSTS"] = "127.0.0.1,localhost"
        count = ["--workers", str(workers)] if workers else []
        # --asgi: production's set-up for live campaigns (uvicorn workers, project/asgi.py).
        app = ["project.asgi:application", "-k", "uvicorn_worker.UvicornWorker"]
        self.proc = subprocess.Popen(
            [
                str(ROOT / ".venv" / "bin" / "gunicorn"),
                *(app if asgi else ["project.wsgi:application"]),
                *count,
                "--bind",
                f"127.0.0.1:{self.port}",
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env=env,
        )
        deadline = time.time() + 90
        while time.time() < deadline:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                conn.request("GET", "/login/")
                if conn.getresponse().status == 200:
                    return
            except OSError:
                time.sleep(0.2)
        self.stop()
        sys.exit("gunicorn did not start")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


# --- one rater: a browser-like session (cookies, CSRF header) over plain sockets ---------------------
SET_COOKIE_RE = re.compile(rb"^set-cookie:\s*([^=\s]+)=([^;\r\n]*)", re.IGNORECASE | re.MULTILINE)


class Rater:
    """One rater's session. Each request is written as bytes on a fresh socket and read to EOF (the
    sync gunicorn workers close every connection), which keeps this load generator light: it shares
    the 2 cores with the server under test, and its own CPU per request is printed."""

    def __init__(self, port: int, username: str, slug: str):
        self.port, self.username, self.slug = port, username, slug
        self.cookies: dict[str, str] = {}
        self.assignment: bytes | None = None
        self.key: bytes | None = None

    def _request(
        self,
        method: str,
        path: str,
        body: dict | None = None,
        headers: dict | None = None,
        json_body: dict | None = None,
    ):
        hdrs = {"Host": f"127.0.0.1:{self.port}", "Connection": "close", **(headers or {})}
        if self.cookies:
            hdrs["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        data = b""
        if body is not None:
            data = urlencode(body).encode()
            hdrs["Content-Type"] = "application/x-www-form-urlencoded"
        elif json_body is not None:
            data = json.dumps(json_body).encode()
            hdrs["Content-Type"] = "application/json"
        if method == "POST":
            hdrs["X-CSRFToken"] = self.cookies.get("csrftoken", "")
            hdrs["Referer"] = f"http://127.0.0.1:{self.port}/"
            hdrs["Content-Length"] = str(len(data))
        head = f"{method} {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in hdrs.items())
        request = head.encode() + b"\r\n" + data
        for attempt in range(3):
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=30) as sock:
                    sock.sendall(request)
                    chunks = []
                    while chunk := sock.recv(262144):
                        chunks.append(chunk)
                break
            except (ConnectionResetError, BrokenPipeError):
                if attempt == 2:
                    raise
        raw = b"".join(chunks)
        head_bytes, _, payload = raw.partition(b"\r\n\r\n")
        for name, value in SET_COOKIE_RE.findall(head_bytes):
            self.cookies[name.decode()] = value.decode()
        return int(head_bytes[9:12]), payload

    def login(self) -> None:
        _, page = self._request("GET", "/login/")
        token = CSRF_RE.search(page).group(1).decode()
        status, _ = self._request(
            "POST",
            "/login/",
            {"username": self.username, "password": PASSWORD, "csrfmiddlewaretoken": token},
        )
        if status != 302:
            raise RuntimeError(f"login failed for {self.username}: {status}")

    def _take(self, payload: bytes) -> bool:
        a, k = ASSIGNMENT_RE.search(payload), KEY_RE.search(payload)
        self.assignment, self.key = (a.group(1), k.group(1)) if a and k else (None, None)
        return a is not None

    def open_page(self) -> bool:
        _, page = self._request(
            "GET", f"/campaigns/{self.slug}/rate/", headers={"HX-Request": "true"}
        )
        return self._take(page)

    def vote(self) -> bool:
        status, payload = self._request(
            "POST",
            f"/campaigns/{self.slug}/rate/vote/",
            {"assignment": self.assignment.decode(), "verdict": "left", "key": self.key.decode()},
            headers={"HX-Request": "true"},
        )
        if status != 200 or b"flash-error" in payload:
            raise RuntimeError(f"vote refused: {status} {payload[:300]!r}")
        return self._take(payload)

    def noop(self) -> bool:
        status, _ = self._request("GET", "/bench/noop/")
        return status == 200


def run_load(
    port: int,
    slug: str,
    raters: int,
    seconds: float,
    think: float,
    mode: str,
    jitter: float = 0.0,
    make_client=None,
    server_pid: int | None = None,
) -> dict:
    """`raters` threads, each looping vote->next (or the no-op) for `seconds`, thinking `think` s.
    ``make_client(i)`` makes rater i's client (default: the pairwise page's ``Rater``); its
    ``vote()`` is one unit, vote and next, and ``assignment`` None means no work left.

    With ``jitter`` each pause is drawn uniformly from think × (1 ± jitter) and each rater starts
    after a random fraction of one pause, so raters are independent instead of arriving in a burst
    of 32 every cycle (the same start gate and fixed pause keep them in lockstep).
    """
    rng = random.Random(7)
    pauses = [
        [think * (1 + jitter * (2 * rng.random() - 1)) for _ in range(4096)] for _ in range(raters)
    ]
    offsets = [think * rng.random() if jitter else 0.0 for _ in range(raters)]
    make_client = make_client or (lambda i: Rater(port, f"bench-r{i}", slug))
    clients = [make_client(i) for i in range(raters)]
    for c in clients:
        c.login()
        if mode == "vote":
            c.open_page()
    latencies: list[list[float]] = [[] for _ in clients]
    errors: list[str] = []
    start_gate = threading.Barrier(raters + 1)
    stop_at = [0.0]

    def loop(i: int, client: Rater):
        start_gate.wait()
        lat = latencies[i]
        if think and offsets[i]:
            time.sleep(offsets[i])
        n = 0
        while time.perf_counter() < stop_at[0]:
            if mode == "vote" and client.assignment is None:
                return  # no work left for this rater
            t0 = time.perf_counter()
            try:
                client.vote() if mode == "vote" else client.noop()
            except Exception as exc:  # noqa: BLE001 - counted and shown
                errors.append(repr(exc)[:200])
                return
            lat.append(time.perf_counter() - t0)
            if think:
                time.sleep(pauses[i][n % len(pauses[i])])
                n += 1

    threads = [threading.Thread(target=loop, args=(i, c)) for i, c in enumerate(clients)]
    for t in threads:
        t.start()
    cpu0 = cpu_sample()
    own0 = time.process_time()
    server0 = workers_cpu(server_pid) if server_pid else 0.0
    t_start = time.perf_counter()
    stop_at[0] = t_start + seconds
    start_gate.wait()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t_start
    cpu = cpu_busy(cpu0, cpu_sample())
    own = time.process_time() - own0
    server = workers_cpu(server_pid) - server0 if server_pid else float("nan")
    flat = [x * 1000 for lat in latencies for x in lat]
    return {
        "requests": len(flat),
        "per_s": len(flat) / elapsed,
        "p50": percentile(flat, 50),
        "p95": percentile(flat, 95),
        "p99": percentile(flat, 99),
        "cpu": cpu,
        # This load generator's own CPU per request (it shares the 2 cores with the server).
        "client_cpu_ms": 1000 * own / max(1, sum(len(lat) for lat in latencies)),
        # The gunicorn workers' CPU per request (a unit, for the set protocols' vote with next).
        "server_cpu_ms": 1000 * server / max(1, len(flat)),
        "errors": errors[:3],
        "error_count": len(errors),
    }


def browser_keypress_to_paint(port: int, slug: str, votes: int) -> list[float]:
    """Debian's Chromium votes from the keyboard; the page itself records keypress → next pair
    painted (window.__rateTimings, the same measure the browser test checks is recorded)."""
    from playwright.sync_api import sync_playwright

    args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=args)
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        page.goto(f"{base}/login/")
        page.fill("input[name=username]", "bench-r0")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.goto(f"{base}/campaigns/{slug}/rate/")
        page.keyboard.press("Enter")  # close the guidelines shown before the first pair

        def recorded() -> (
            int
        ):  # polled from Python: the page's CSP forbids wait_for_function's eval
            return page.evaluate("(window.__rateTimings || []).length")

        for i in range(votes):
            while recorded() < i:
                page.wait_for_timeout(2)
            page.keyboard.press("1" if i % 2 else "2")
            page.keyboard.press("Enter")
        while recorded() < votes:
            page.wait_for_timeout(2)
        timings = page.evaluate("window.__rateTimings")
        browser.close()
    return [float(t) for t in timings]


def fmt(name: str, r: dict) -> str:
    return (
        f"{name:<34} {r['per_s']:>8.1f}/s  p50 {r['p50']:>6.1f} ms  p95 {r['p95']:>6.1f} ms  "
        f"p99 {r['p99']:>6.1f} ms  n={r['requests']:<6} cpu {r['cpu']:>4.0f}%  "
        f"client {r['client_cpu_ms']:.2f} ms/req"
        + (f"  ERRORS {r['error_count']}: {r['errors']}" if r["error_count"] else "")
    )


def reset_postgres(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    admin = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def main_sets(args) -> None:
    """The set protocols through the rater API, beside the no-op floor and pairwise's closed loop,
    all against one gunicorn (bench/sets.py: campaigns, clients, counts)."""
    from bench import sets

    protocols = ["ranking", "rating", "steps"] if args.protocol == "sets" else [args.protocol]
    runs = []  # (slug, protocol, k)
    for protocol in protocols:
        ks = [args.k] if args.k else ([4, 9] if protocol == "ranking" else [4])
        runs += [(f"{protocol}-k{k}", protocol, k) for k in ks]
    if args.paint_only:
        runs, args.skip_pairwise, args.paint = [], True, args.paint or 50
    data_dir = ROOT / "data" / "bench"
    (data_dir / "staticfiles").mkdir(parents=True, exist_ok=True)
    n = args.raters
    c0 = cpu_sample()
    time.sleep(2)
    print(
        f"background CPU before the run: {cpu_busy(c0, cpu_sample()):.0f}% of {os.cpu_count()} "
        f"cores; load average {os.getloadavg()[0]:.2f}; gunicorn: "
        f"{args.workers or 'gunicorn.conf.py'} {'uvicorn (ASGI)' if args.asgi else 'sync'} workers; {n} raters, closed loop"
    )
    reset_postgres(PG_URL)
    units = int(400 * args.seconds) + 1000
    if not args.skip_pairwise:
        pairs = {"_raters": n, "closed": {"pairs": units, "overlap": 1}}
        run_child("_setup", PG_URL, data_dir, json.dumps(pairs))
    spec = {slug: {"protocol": p, "k": k, "units": units} for slug, p, k in runs}
    if args.paint:  # K = 9 answers of 2,000 words, one set per measured keypress and a spare
        spec["paint-k9"] = {"protocol": "ranking", "k": 9, "units": args.paint + 5, "words": 2000}
    run_child("_setup_sets", PG_URL, data_dir, json.dumps({"_raters": n, **spec}))
    queries = {slug: run_child("_queries", PG_URL, data_dir, slug, "40") for slug, _, _ in runs}
    results = {}
    server = Server(PG_URL, data_dir, args.workers, args.asgi)
    try:
        run_load(server.port, "", 4, 2, 0, "noop")  # warm the workers
        if not args.paint_only:
            results["floor"] = run_load(
                server.port, "", n, args.seconds, 0, "noop", server_pid=server.proc.pid
            )
        if not args.skip_pairwise:
            results["pairwise"] = run_load(
                server.port, "closed", n, args.seconds, 0, "vote", server_pid=server.proc.pid
            )
        for slug, protocol, _ in runs:

            def client(i, slug=slug, protocol=protocol):
                return sets.ApiRater(server.port, f"bench-r{i}", slug, protocol)

            results[slug] = run_load(
                server.port, slug, n, args.seconds, 0, "vote", make_client=client,
                server_pid=server.proc.pid,
            )  # fmt: skip
        if args.paint:
            paint = sets.ranking_keypress_to_paint(server.port, "paint-k9", args.paint, k=9)
    finally:
        server.stop()
    counts = {slug: run_child("_count_sets", PG_URL, data_dir, slug) for slug, _, _ in runs}
    if not args.skip_pairwise:
        counts["closed"] = run_child("_count", PG_URL, data_dir, "closed")
    print()
    if "floor" in results:
        floor = results["floor"]["per_s"]
        print(
            fmt("no-op floor (req/s)", results["floor"])
            + f"  server {results['floor']['server_cpu_ms']:.2f} ms CPU/req"
        )
    if "pairwise" in results:
        r, d = results["pairwise"], counts["closed"]
        print(
            f"{'pairwise page, 1 req/vote':<26} {r['per_s']:>7.1f} votes/s  1 comparison/unit  "
            f"p50 {r['p50']:6.1f} ms  p95 {r['p95']:6.1f} ms  floor ratio {r['per_s'] / floor:.3f}  "
            f"server {r['server_cpu_ms']:.2f} ms CPU/vote  over k {d['over_k']}  rater twice {d['rater_twice']}  votes {d['votes']}"
            + (f"  ERRORS {r['error_count']}: {r['errors']}" if r["error_count"] else "")
        )
    for slug, protocol, k in runs:
        r, d, q = results[slug], counts[slug], queries[slug]
        label = {"ranking": f"ranking K={k}", "rating": f"rating {k}x{len(sets.ASPECTS)} aspects",
                 "steps": f"steps ({k} steps)"}[protocol]  # fmt: skip
        per = sets.pairs_per_unit(protocol, k)
        what = "labels" if protocol == "steps" else "comparisons"
        print(
            f"{label + ', API 1 req/unit':<26} {r['per_s']:>7.1f} units/s  {per} {what}/unit "
            f"({r['per_s'] * per:,.0f}/s)  p50 {r['p50']:6.1f} ms  p95 {r['p95']:6.1f} ms  "
            f"floor ratio {r['per_s'] / floor:.3f}  server {r['server_cpu_ms']:.2f} ms CPU/unit  "
            f"cpu {r['cpu']:.0f}%  queries/unit "
            f"{statistics.mode(q['vote'])} (in-process {q['cpu_ms_per_unit']:.1f} ms "
            f"CPU/unit)  over k {d['over_k']}  rater twice "
            f"{d['rater_twice']}  votes/lease>1 {d['vote_twice']}  votes {d['votes']}"
            + (f"  ERRORS {r['error_count']}: {r['errors']}" if r["error_count"] else "")
        )
    if args.paint:
        t = paint["timings"]
        print(
            f"{'ranking K=9 page, Chromium':<26} keypress (Enter) -> next set painted, n={len(t)}: "
            f"p50 {percentile(t, 50):.1f} ms  p95 {percentile(t, 95):.1f} ms  max {max(t):.1f} ms"
            f"  (page: {paint['nodes']} elements, {paint['bytes'] / 1000:.0f} kB of HTML; "
            "answers of 2,000 words)"
        )
        r, w = paint["response"], paint["swapped"]
        print(
            f"{'':<26} of which the response had arrived: p50 {percentile(r, 50):.1f} ms  p95 "
            f"{percentile(r, 95):.1f} ms; the swap was done: p50 {percentile(w, 50):.1f} ms  p95 "
            f"{percentile(w, 95):.1f} ms"
        )
    print(f"load average after the run: {os.getloadavg()[0]:.2f}")
    if args.show_sql:
        for slug, q in queries.items():
            print(f"\n{slug}:")
            for what, sql in q["sql"].items():
                print(f"  {what} ({len(sql)} statements):")
                for line in sql:
                    print(f"    {line}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--protocol",
        choices=["pairwise", "ranking", "rating", "steps", "sets"],
        default="pairwise",
        help="pairwise: the full pairwise suite; ranking / rating / steps: that protocol through "
        "the rater API beside the floor and pairwise's closed loop; sets: all three",
    )
    parser.add_argument(
        "--k", type=int, default=None, help="responses (steps) per unit; ranking default 4 and 9"
    )
    parser.add_argument("--skip-pairwise", action="store_true", help="sets: no pairwise run")
    parser.add_argument(
        "--paint-only", action="store_true", help="sets: only the Chromium phase (--paint N or 50)"
    )
    parser.add_argument("--show-sql", action="store_true", help="sets: print each request's SQL")
    parser.add_argument(
        "--paint",
        type=int,
        default=0,
        metavar="N",
        help="sets: also rank N sets of K = 9 answers of 2,000 words in Chromium (keypress -> paint)",
    )
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--raters", type=int, default=32)
    parser.add_argument(
        "--workers", type=int, default=None, help="gunicorn workers (default: gunicorn.conf.py)"
    )
    parser.add_argument(
        "--asgi",
        action="store_true",
        help="uvicorn workers on project.asgi (production with live campaigns), not sync WSGI",
    )
    parser.add_argument("--think-ms", type=float, default=220)
    parser.add_argument(
        "--think-jitter",
        type=float,
        default=0.5,
        help="paced pauses drawn from think × (1 ± jitter), staggered starts; 0 = lockstep",
    )
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument("--skip-browser", action="store_true", help="no Chromium keypress phase")
    args = parser.parse_args()
    if args.protocol != "pairwise":
        return main_sets(args)
    data_dir = ROOT / "data" / "bench"
    (data_dir / "staticfiles").mkdir(parents=True, exist_ok=True)
    n = args.raters
    big = int(600 * args.seconds) + 2000

    c0 = cpu_sample()
    time.sleep(2)
    print(
        f"background CPU before the run: {cpu_busy(c0, cpu_sample()):.0f}% of {os.cpu_count()} cores; "
        f"gunicorn: {args.workers or 'gunicorn.conf.py'} workers, paced think "
        f"{args.think_ms:.0f} ms ± {args.think_jitter:.0%}"
    )

    results = {}
    reset_postgres(PG_URL)
    spec = {
        "_raters": n,
        "closed": {"pairs": big, "overlap": 1},
        "closed-k3": {"pairs": big // 2, "overlap": 3},
        "paced": {"pairs": int(200 * args.seconds) + 500, "overlap": 1},
        "single": {"pairs": 2000, "overlap": 1},
        "naive": {"pairs": 3000, "overlap": 1},
        "browser": {"pairs": 200, "overlap": 1},
    }
    run_child("_setup", PG_URL, data_dir, json.dumps(spec))
    server = Server(PG_URL, data_dir, args.workers, args.asgi)
    try:
        run_load(server.port, "single", 4, 2, 0, "vote")  # warm the workers
        results["pg noop closed"] = run_load(server.port, "", n, args.seconds, 0, "noop")
        results["pg vote closed (k=1)"] = run_load(
            server.port, "closed", n, args.seconds, 0, "vote"
        )
        results["pg vote closed (k=3)"] = run_load(
            server.port, "closed-k3", n, args.seconds, 0, "vote"
        )
        think = args.think_ms / 1000
        jitter = args.think_jitter
        results["pg noop paced"] = run_load(server.port, "", n, args.seconds, think, "noop", jitter)
        results["pg vote paced"] = run_load(
            server.port, "paced", n, args.seconds, think, "vote", jitter
        )
        results["pg single rater"] = run_load(
            server.port, "single", 1, min(args.seconds, 5), 0, "vote"
        )
        if not args.skip_browser:
            paint = browser_keypress_to_paint(server.port, "browser", votes=40)
    finally:
        server.stop()
    doubles = {
        slug: run_child("_count", PG_URL, data_dir, slug)
        for slug in ("closed", "closed-k3", "paced", "single")
    }
    naive = run_child("_naive", PG_URL, data_dir, "naive", str(n))

    if not args.skip_sqlite:
        sqlite_file = data_dir / "bench.sqlite3"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{sqlite_file}{suffix}").unlink(missing_ok=True)
        sqlite_url = f"sqlite:///{sqlite_file}"
        run_child(
            "_setup", sqlite_url, data_dir, json.dumps({"_raters": n, "closed": spec["closed"]})
        )
        server = Server(sqlite_url, data_dir, args.workers, args.asgi)
        try:
            run_load(server.port, "closed", 4, 1, 0, "vote")
            results["sqlite vote closed (k=1)"] = run_load(
                server.port, "closed", n, args.seconds, 0, "vote"
            )
        finally:
            server.stop()
        doubles["sqlite closed"] = run_child("_count", sqlite_url, data_dir, "closed")

    print()
    for name, r in results.items():
        print(fmt(name, r))
    print()
    for slug, d in doubles.items():
        print(
            f"double assignments [{slug}]: over k {d['over_k']}, rater twice {d['rater_twice']} (votes {d['votes']})"
        )
    print(
        f"control, naive claim ({n} threads, k=1): {naive['doubles']} pairs over k in {naive['claims']} claims"
    )
    closed, paced = results["pg vote closed (k=1)"], results["pg vote paced"]
    print()
    print("targets:")
    print(
        f"  closed loop >= 250 votes/s: {closed['per_s']:.0f}; p99 <= 2x p50: {closed['p99']:.1f} vs {2 * closed['p50']:.1f}"
    )
    print(
        f"  paced p99 <= 30 ms: {paced['p99']:.1f}; <= 6x no-op p99: {6 * results['pg noop paced']['p99']:.1f}"
    )
    print(f"  single rater p50 <= 10 ms: {results['pg single rater']['p50']:.1f}")
    # The absolute targets were met on a machine whose no-op floor was 656-1,024 req/s closed loop
    # (238-266 votes/s: 0.26-0.36 of the floor), with the paced run at ~50 % of the vote path's
    # capacity. On a slower machine compare these, from the same run:
    noop = results["pg noop closed"]["per_s"]
    print(
        f"  relative to this run's floor: closed vote / no-op {closed['per_s'] / noop:.3f} "
        f"(0.26-0.36 where 250 votes/s was met); paced load / closed capacity "
        f"{paced['per_s'] / closed['per_s']:.0%} (about 50 % where p99 <= 30 ms was set; "
        "--think-ms scales it)"
    )
    if not args.skip_browser:
        print(
            f"  keypress -> next pair painted (Chromium, n={len(paint)}) p95 < 100 ms: "
            f"p50 {percentile(paint, 50):.1f} ms, p95 {percentile(paint, 95):.1f} ms"
        )
    if "sqlite vote closed (k=1)" in results:
        print(
            f"  sqlite closed loop >= 200 votes/s: {results['sqlite vote closed (k=1)']['per_s']:.0f}"
        )


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1].startswith("_"):
        from bench import sets

        {
            "_setup": cmd_setup,
            "_count": cmd_count,
            "_naive": cmd_naive,
            "_setup_sets": sets.cmd_setup,
            "_count_sets": sets.cmd_count,
            "_queries": sets.cmd_queries,
        }[sys.argv[1]](*sys.argv[2:])
    else:
        main()
