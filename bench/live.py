"""Live benchmark: N concurrent live battles (two streaming replies each) through the production
set-up, and the delay the tool adds to each token.

Not a test; run it by hand on an otherwise quiet machine:

    .venv/bin/python bench/live.py                      # N = 10, 25, 50, 100, 200 (stops past the mark)
    .venv/bin/python bench/live.py --battles 10 50      # chosen steps
    .venv/bin/python bench/live.py --source direct      # the relay and web alone (no provider SDK)
    .venv/bin/python bench/live.py --source real --battles 5 10 20   # the live page's own path

The path measured, each piece its own process as deployed:

    fake provider (tests/fakes/provider_server.py, tokens_per_second, each delta stamped
    "<i>@<unix time>" as it is written)
      -> publishers: a thread per reply, as a live worker's tasks on --pool threads, each reading
         its reply through live/streamer.py (the process's one event loop: the real
         AnthropicProvider.astream() and relay.apublish_delta() of each delta, which also reads
         the stop flag)
      -> Redis Streams (the relay, LIVE_RELAY_URL)
      -> web: gunicorn -k uvicorn_worker.UvicornWorker, project.asgi, PostgreSQL through the pool;
         /bench/live/<channel>/ makes one query, then relay.sse_response() (bench/live_urls.py)
      -> clients: 2 N EventSource-like readers (asyncio sockets) in their own process

Added delay = the time a client reads an event - the stamp the fake server put on that delta
when it wrote it (one clock: one machine); "wrk" columns are the part up to the publisher's
publish() (the provider SDK reading the stream), the rest is the relay and the web process. Lost, repeated or reordered tokens are counted from
the stamps' numbers. CPU per event (web processes, publishers) is machine-load-independent:
what 2 N streams at the rate cost in cores is events/s x that. Memory per open stream = the web processes' RSS with every stream open minus
their RSS before the clients connect, over 2 N. Time to first token: the fake server's own
(request in -> first delta out; --model-ttft sets it) beside the tool's (publisher's call ->
first event at the client). A step passes when the added p99 is at most 100 ms; the run stops
after the first step that does not.

``--source real`` measures what a rater's page goes through, nothing of it stood in for:

    fake provider (as above) -> Celery workers (`celery -A project worker -Q live --pool threads`,
    subprocesses) running the task live_reply_stream: the claim, the real AnthropicProvider, a
    relay.publish() per delta, the text so far saved to the row every 2 s, the end written
    under the claim -> Redis Streams -> gunicorn + uvicorn workers serving the live page's own
    event view (annotate/views/live.py live_events: the session's login, the access check, then
    relay.sse_response) -> clients with the raters' session cookies

on a fresh database of its own (annotate_live_bench_real on BENCH_DATABASE_URL's server,
migrated, dropped at the end; BENCH_REDIS_URL is flushed). Each step makes N raters' turns in a
campaign of two generators on the fake, opens the 2 N event streams while the replies are still
pending (as the page does), then queues the 2 N tasks over --spread seconds. Columns: the added
delay (client read - the fake's stamp), "rly" the part up to the relay (the Redis id's XADD
millisecond - the stamp: worker, SDK and publish; a millisecond clock, so it can read -0.x),
lost / reordered / repeated tokens from the stamps, "reset" events (none without a failure),
"whole" the replies done in the database with all their tokens, KiB per open stream in the web
processes and in the workers, and the times to first token (the fake's; queueing the task ->
first event at the client). No pass mark: it prints what this machine gives.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
PY = str(ROOT / ".venv" / "bin" / "python")
PG_URL = os.environ.get(
    "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/annotate_live_bench"
)
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/3")
DATA_DIR = ROOT / "data" / "bench" / "live"


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def env_for(prefix: str) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "bench.live_settings",
        "DATABASE_URL": PG_URL,
        "DATA_DIR": str(DATA_DIR),
        "SECRET_KEY": "bench-only-not-secret",
        "DEBUG": "0",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "LOG_LEVEL": "WARNING",
        "LIVE_RELAY_URL": REDIS_URL,
        "LIVE_RELAY_PREFIX": prefix,
        "PYTHONUNBUFFERED": "1",
    }


def child(role: str, *args: str, env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [PY, __file__, "--role", role, *args],
        cwd=ROOT,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


def read_json_line(proc: subprocess.Popen) -> dict:
    line = proc.stdout.readline()
    if not line:
        raise SystemExit(f"a {proc.args[3]} process ended early")
    return json.loads(line)


# --- the fake provider, in a process of its own -------------------------------------------------
def role_fake(rate: float, tokens: int, ttft: float) -> None:
    from tests.fakes import provider_server

    # Hundreds of replies start within a second: a listen backlog of 5 would drop their SYNs.
    provider_server._QuietServer.request_queue_size = 1024
    server = provider_server.FakeProviderServer(
        tokens_per_second=rate, stamp_tokens=tokens, latency=ttft
    )
    server.start()
    print(json.dumps({"url": server.url}), flush=True)
    for _line in sys.stdin:  # "report": its own times to first token since the last report
        with server._lock:
            seen, server.first_token_seconds = server.first_token_seconds, []
        print(json.dumps({"first_token_seconds": seen}), flush=True)
    server.stop()


# --- publishers: what a live worker does per reply ----------------------------------------------
def role_publisher(url: str, source: str, rate: float, tokens: int) -> None:
    import django

    django.setup()
    from annotate.live import relay, streamer
    from annotate.providers.anthropic_api import AnthropicProvider

    lags: list[float] = []  # publish time - the fake's stamp: the provider -> worker part

    def direct(channel: str, started: dict[str, float]) -> None:
        """The relay and web alone: the publisher stamps and paces the deltas itself."""
        started[channel] = first = time.time()
        for i in range(tokens):
            pause = first + i / rate - time.time()
            if pause > 0:
                time.sleep(pause)
            lags.append(0.0)
            if relay.publish_delta(channel, f"{i}@{time.time():.6f} "):
                break
        relay.publish(channel, "end", {"stop_reason": "end_turn"})

    publish = relay.apublish_delta

    async def timed(channel: str, text: str) -> bool:  # the streaming loop's publish, timed
        lags.append(time.time() - float(text.strip().partition("@")[2] or "nan"))
        return await publish(channel, text)

    relay.apublish_delta = timed

    def stream(channel: str, started: dict[str, float]) -> None:
        if source == "direct":
            return direct(channel, started)
        provider = AnthropicProvider(api_key="bench", base_url=url, timeout=120)
        request = {
            "messages": [{"role": "user", "content": channel}],
            "system": "",
            "model": "bench-model",
            "params": {"max_tokens": 4096},
        }
        started[channel] = time.time()
        # As a live worker's task does (services/live.py reply_stream): read on the process's
        # streaming loop, which publishes each delta; this thread waits for the end.
        for event in streamer.events(provider, request, channel, save_every=3600, clock=time.time):
            if event.kind == "end":
                reason = "stopped" if event.stopped else event.completion.stop_reason
                relay.publish(channel, "end", {"stop_reason": reason})

    def later(at: float, channel: str, started: dict[str, float]) -> None:
        time.sleep(max(0.0, at - time.monotonic()))
        stream(channel, started)

    # Warm up: the SDK's first stream builds its models; a live worker has done that long before.
    warm = f"warm-{uuid.uuid4().hex}"
    stream(warm, {})
    lags.clear()
    import gc

    gc.freeze()  # as a live worker does once it is ready (project/celery.py)
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        job = json.loads(line)  # {"channels": [...], "spread": seconds}
        started: dict[str, float] = {}
        threads = []
        t0 = time.monotonic()
        for channel in job["channels"]:
            at = t0 + random.uniform(0, job["spread"])
            threads.append(threading.Thread(target=later, args=(at, channel, started), daemon=True))
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        print(json.dumps({"started": started, "lags": lags}), flush=True)
        lags.clear()


# --- clients: EventSource readers ---------------------------------------------------------------
async def read_stream(
    port: int,
    channel: str,
    out: dict,
    connected: asyncio.Event,
    path: str | None = None,
    cookie: str = "",
) -> None:
    """One EventSource-like reader of ``path`` (the bare endpoint of ``channel`` by default)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 20)
    path = path or f"/bench/live/{channel}/"
    cookies = f"Cookie: {cookie}\r\n" if cookie else ""
    writer.write(
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{cookies}"
        "Accept: text/event-stream\r\nCache-Control: no-cache\r\n\r\n".encode()
    )
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    chunked = b"transfer-encoding: chunked" in head.lower()
    # events: (number, now - stamp, the event id's Redis time - stamp or None)
    rec = out[channel] = {"status": status, "events": [], "first": None, "resets": 0}
    connected.set()
    if status != 200:
        writer.close()
        return
    buffer = b""
    while True:
        if chunked:
            size = int((await reader.readline()).strip() or b"0", 16)
            if size == 0:
                break
            data = await reader.readexactly(size + 2)
            data = data[:-2]
        else:
            data = await reader.read(65536)
            if not data:
                break
        now = time.time()
        buffer += data
        *frames, buffer = buffer.split(b"\n\n")
        done = False
        for frame in frames:
            kind, payload, event_id = "", None, ""
            for line in frame.split(b"\n"):
                if line.startswith(b"event: "):
                    kind = line[7:].decode()
                elif line.startswith(b"data: "):
                    payload = json.loads(line[6:])
                elif line.startswith(b"id: "):
                    event_id = line[4:].decode()
            if kind == "delta":
                i, _, stamp = payload["text"].strip().partition("@")
                # A Redis Streams id is "<ms>-<seq>", the ms of its XADD (the same clock).
                added = int(event_id.split("-")[0]) / 1000 if "-" in event_id else None
                at_relay = added - float(stamp) if added is not None else None
                rec["events"].append((int(i), now - float(stamp), at_relay))
                if rec["first"] is None:
                    rec["first"] = now
            elif kind == "reset":
                rec["resets"] += 1
            elif kind in ("end", "error"):
                rec["end"] = kind
                done = True
        if done:
            break
    writer.close()


def role_client(port: int) -> None:
    async def main():
        for line in sys.stdin:
            # {"channels": [...]} for the bare endpoint, or {"streams": [{"key", "path",
            # "cookie"}]} for the live page's own event view (--source real)
            job = json.loads(line)
            wanted = job.get("streams") or [{"key": c} for c in job["channels"]]
            out: dict = {}
            events = []
            tasks = []
            for want in wanted:
                connected = asyncio.Event()
                events.append(connected)
                reader = read_stream(
                    port, want["key"], out, connected, want.get("path"), want.get("cookie", "")
                )
                tasks.append(asyncio.create_task(reader))
                await asyncio.sleep(0.002)  # raters do not all open their page in one instant
            await asyncio.wait_for(asyncio.gather(*(e.wait() for e in events)), 120)
            print(json.dumps({"connected": True}), flush=True)
            await asyncio.gather(*tasks, return_exceptions=True)
            print(json.dumps({"streams": out}), flush=True)

    asyncio.run(main())


# --- the web processes --------------------------------------------------------------------------
def web_pids(master: int) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == master:
                pids.append(int(entry))
    return pids


def rss_kib(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return total


def start_web(env: dict[str, str], workers: int | None) -> tuple[subprocess.Popen, int]:
    import http.client

    port = free_port()
    count = ["--workers", str(workers)] if workers else []
    proc = subprocess.Popen(
        [
            str(ROOT / ".venv" / "bin" / "gunicorn"),
            "project.asgi:application",
            "-k",
            "uvicorn_worker.UvicornWorker",
            *count,
            "--bind",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    deadline = time.time() + 90
    while time.time() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            conn.request("GET", "/login/")
            if conn.getresponse().status == 200:
                return proc, port
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise SystemExit("the web server did not start")


def ensure_database() -> None:
    import psycopg

    base, _, name = PG_URL.rpartition("/")
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of these processes so far."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / os.sysconf("SC_CLK_TCK")


def cpu_sample() -> tuple[int, int]:
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


# --- one step -----------------------------------------------------------------------------------
def run_step(n: int, *, fake, publishers, client, web, args, prefix) -> dict:
    step = uuid.uuid4().hex[:6]  # channels of their own: a step never replays another's
    channels = [f"{step}-{i}-{side}" for i in range(n) for side in "ab"]
    pids = web_pids(web.pid)
    rss_before = rss_kib(pids)
    fake.stdin.write("report\n")
    fake.stdin.flush()
    read_json_line(fake)  # forget the warm-up's
    client.stdin.write(json.dumps({"channels": channels}) + "\n")
    client.stdin.flush()
    read_json_line(client)  # every stream open (waiting on the relay)
    cpu0 = cpu_sample()
    web_cpu0 = cpu_seconds(pids)
    pub_cpu0 = cpu_seconds([p.pid for p in publishers])
    shares = [channels[i :: len(publishers)] for i in range(len(publishers))]
    for proc, share in zip(publishers, shares, strict=True):
        proc.stdin.write(json.dumps({"channels": share, "spread": args.spread}) + "\n")
        proc.stdin.flush()
    time.sleep(args.spread + min(2.0, args.tokens / args.rate / 2))
    rss_open = rss_kib(pids)
    started: dict[str, float] = {}
    worker_lags: list[float] = []
    for proc in publishers:
        done = read_json_line(proc)
        started.update(done["started"])
        worker_lags += done["lags"]
    streams = read_json_line(client)["streams"]
    cpu1 = cpu_sample()
    web_cpu = cpu_seconds(pids) - web_cpu0
    pub_cpu = cpu_seconds([p.pid for p in publishers]) - pub_cpu0
    fake.stdin.write("report\n")
    fake.stdin.flush()
    server_ttft = read_json_line(fake)["first_token_seconds"]

    delays, lost, reordered, repeated, unended, bad_status = [], 0, 0, 0, 0, 0
    tool_ttft = []
    for channel in channels:
        rec = streams.get(channel)
        if not rec or rec["status"] != 200:
            bad_status += 1
            lost += args.tokens
            continue
        numbers = [i for i, _, _ in rec["events"]]
        delays.extend(d for _, d, _ in rec["events"])
        seen = set(numbers)
        lost += args.tokens - len(seen & set(range(args.tokens)))
        repeated += len(numbers) - len(seen)
        reordered += sum(1 for a, b in zip(numbers, numbers[1:], strict=False) if b <= a)
        if rec.get("end") != "end":
            unended += 1
        if rec["first"] and channel in started:
            tool_ttft.append(rec["first"] - started[channel])
    busy, total = cpu1[0] - cpu0[0], cpu1[1] - cpu0[1]
    return {
        "battles": n,
        "streams": len(channels),
        "tokens": len(delays),
        "p50_ms": percentile(delays, 50) * 1000,
        "p99_ms": percentile(delays, 99) * 1000,
        "worker_p50_ms": percentile(worker_lags, 50) * 1000,
        "worker_p99_ms": percentile(worker_lags, 99) * 1000,
        "max_ms": max(delays, default=float("nan")) * 1000,
        "lost": lost,
        "reordered": reordered,
        "repeated": repeated,
        "unended": unended,
        "bad_status": bad_status,
        "rss_per_stream_kib": (rss_open - rss_before) / len(channels),
        "rss_open_mib": rss_open / 1024,
        "server_ttft_ms": percentile(server_ttft, 50) * 1000,
        "tool_ttft_ms": percentile(tool_ttft, 50) * 1000,
        "tool_ttft_p99_ms": percentile(tool_ttft, 99) * 1000,
        "cpu_busy_pct": 100.0 * busy / total if total else 0.0,
        "web_us_per_event": web_cpu / max(1, len(delays)) * 1e6,
        "pub_us_per_event": pub_cpu / max(1, len(delays)) * 1e6,
    }


# --- --source real: the live page's own path ---------------------------------------------------
REAL_DATABASE = "annotate_live_bench_real"


def real_setup(args, prefix: str) -> dict:
    """A fresh database (migrated) with the raters the steps need, Django set up in this process
    on it, the relay and the broker on BENCH_REDIS_URL (flushed)."""
    os.environ.update(
        LIVE_RELAY_URL=REDIS_URL,
        LIVE_RELAY_PREFIX=prefix,
        BENCH_REDIS_URL=REDIS_URL,
        DATA_DIR=str(DATA_DIR),
    )
    sys.path.insert(0, str(ROOT / "bench"))
    import worker_setup

    # Its server is PG_URL's (BENCH_DATABASE_URL here names a database, there a server).
    worker_setup.SERVER = PG_URL.rpartition("/")[0]
    db_url = worker_setup.fresh_database(REAL_DATABASE)
    from django.test import Client

    from annotate.models import User
    from tests import factories

    raters = []
    for i in range(max(args.battles)):
        user = factories.UserFactory(username=f"rater{i}", role=User.Role.RATER)
        client = Client()
        client.force_login(user)
        raters.append((user, f"sessionid={client.cookies['sessionid'].value}"))
    return {"db_url": db_url, "raters": raters}


def real_workers(args, *, db_url: str, fake_url: str, prefix: str) -> list[subprocess.Popen]:
    """Celery workers on the queue "live" (threads pool), as deployed: the real task, the real
    AnthropicProvider against the fake, the relay on Redis."""
    import redis

    from project.celery import app as celery_app
    from tests.fakes.worker import start_worker_process, wait_ready

    redis.Redis.from_url(REDIS_URL).flushdb()
    env = {
        "LIVE_RELAY_URL": REDIS_URL,
        "LIVE_RELAY_PREFIX": prefix,
        "ANTHROPIC_API_KEY": "bench",
        "ANTHROPIC_BASE_URL": fake_url,
        "DATA_DIR": str(DATA_DIR),
        # As deployed (README): the threads share a pool, each stream hands its connection back
        # between writes.
        "DB_POOL": "1",
        "DB_POOL_MAX_SIZE": "16",
    }
    log = DATA_DIR / "workers.log"
    workers = [
        start_worker_process(
            database_url=db_url,
            broker_url=REDIS_URL,
            env=env,
            concurrency=args.worker_threads,
            name=f"livebench-{i}",
            log_path=log,
            queues="live",
        )
        for i in range(args.live_workers)
    ]
    for i in range(args.live_workers):
        wait_ready(celery_app, f"livebench-{i}")
    return workers


def run_real_step(n: int, *, fake, client, web, workers, setup, args, step: int) -> dict:
    """N battles: N raters each send a message in a campaign of two generators on the fake; the
    clients open the replies' event views (the live page's EventSources) first, then the replies'
    tasks are queued, spread over --spread seconds."""
    from django.db import connections

    from annotate import tasks
    from annotate.models import Campaign, Candidate, Generator
    from annotate.services import live
    from tests import factories

    campaign = factories.CampaignFactory(
        slug=f"bench-{step}-{n}", protocol=Campaign.Protocol.LIVE, status=Campaign.Status.OPEN
    )
    for name in ("alpha", "beta"):
        factories.GeneratorFactory(
            campaign=campaign,
            name=name,
            provider=Generator.Provider.ANTHROPIC,
            model="bench-model",
            params={"max_tokens": 4096},
        )
    queued: list[int] = []
    # The replies' messages are held until every reader is connected (the real _send queues
    # them on commit; here they go out below, over the spread).
    real_send, live._send = live._send, lambda _job, ids: queued.extend(ids)
    streams = []
    try:
        for user, cookie in setup["raters"][:n]:
            factories.EnrollmentFactory(campaign=campaign, rater=user)
            conversation, _ = live.conversation_start(campaign=campaign, rater=user)
            turn = live.message_send(conversation=conversation, rater=user, text="Go.")
            for reply_id in (turn.reply_a_id, turn.reply_b_id):
                path = f"/campaigns/{campaign.slug}/live/replies/{reply_id}/events/"
                streams.append({"key": str(reply_id), "path": path, "cookie": cookie})
    finally:
        live._send = real_send
    connections.close_all()
    pids = web_pids(web.pid)
    worker_pids = [w.pid for w in workers]
    rss_before, worker_rss_before = rss_kib(pids), rss_kib(worker_pids)
    fake.stdin.write("report\n")
    fake.stdin.flush()
    read_json_line(fake)
    client.stdin.write(json.dumps({"streams": streams}) + "\n")
    client.stdin.flush()
    read_json_line(client)  # every stream open (the replies still pending)
    sent: dict[str, float] = {}
    random.shuffle(queued)
    t0 = time.monotonic()
    for k, reply_id in enumerate(queued):
        pause = t0 + args.spread * k / max(1, len(queued)) - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        sent[str(reply_id)] = time.time()
        tasks.live_reply_stream.delay(candidate_id=reply_id)
    time.sleep(min(2.0, args.tokens / args.rate / 2))
    rss_open, worker_rss_open = rss_kib(pids), rss_kib(worker_pids)
    got = read_json_line(client)["streams"]
    fake.stdin.write("report\n")
    fake.stdin.flush()
    server_ttft = read_json_line(fake)["first_token_seconds"]

    delays, at_relay, lost, reordered, repeated, unended, bad_status, resets = (
        [], [], 0, 0, 0, 0, 0, 0
    )  # fmt: skip
    tool_ttft = []
    for want in streams:
        rec = got.get(want["key"])
        if not rec or rec["status"] != 200:
            bad_status += 1
            lost += args.tokens
            continue
        numbers = [i for i, _, _ in rec["events"]]
        delays.extend(d for _, d, _ in rec["events"])
        at_relay.extend(r for _, _, r in rec["events"] if r is not None)
        seen = set(numbers)
        lost += args.tokens - len(seen & set(range(args.tokens)))
        repeated += len(numbers) - len(seen)
        reordered += sum(1 for a, b in zip(numbers, numbers[1:], strict=False) if b <= a)
        resets += rec["resets"]
        if rec.get("end") != "end":
            unended += 1
        if rec["first"]:
            tool_ttft.append(rec["first"] - sent[want["key"]])
    ids = [int(w["key"]) for w in streams]
    done = Candidate.objects.filter(id__in=ids, status=Candidate.Status.DONE)
    whole = sum(
        1 for text in done.values_list("text", flat=True) if len(text.split()) == args.tokens
    )
    connections.close_all()
    return {
        "battles": n,
        "streams": len(streams),
        "tokens": len(delays),
        "p50_ms": percentile(delays, 50) * 1000,
        "p99_ms": percentile(delays, 99) * 1000,
        "max_ms": max(delays, default=float("nan")) * 1000,
        "relay_p50_ms": percentile(at_relay, 50) * 1000,
        "relay_p99_ms": percentile(at_relay, 99) * 1000,
        "lost": lost,
        "reordered": reordered,
        "repeated": repeated,
        "resets": resets,
        "unended": unended,
        "bad_status": bad_status,
        "done_whole": whole,
        "rss_per_stream_kib": (rss_open - rss_before) / len(streams),
        "worker_rss_per_stream_kib": (worker_rss_open - worker_rss_before) / len(streams),
        "server_ttft_ms": percentile(server_ttft, 50) * 1000,
        "tool_ttft_ms": percentile(tool_ttft, 50) * 1000,
        "tool_ttft_p99_ms": percentile(tool_ttft, 99) * 1000,
    }


def main_real(args) -> None:
    """--source real: fake provider -> Celery workers running live_reply_stream (the real
    AnthropicProvider, claims, row saves) -> Redis relay -> gunicorn + uvicorn workers serving
    annotate/views/live.py's live_events (login, access check, sse_response) -> clients."""
    (DATA_DIR / "staticfiles").mkdir(parents=True, exist_ok=True)
    prefix = f"bench-{uuid.uuid4().hex[:8]}"
    setup = real_setup(args, prefix)
    env = {**env_for(prefix), "DATABASE_URL": setup["db_url"], "CELERY_BROKER_URL": REDIS_URL}
    procs: list[subprocess.Popen] = []
    try:
        fake = child(
            "fake", "--rate", str(args.rate), "--tokens", str(args.tokens),
            "--model-ttft", str(args.model_ttft), env=env,
        )  # fmt: skip
        procs.append(fake)
        url = read_json_line(fake)["url"]
        workers = real_workers(args, db_url=setup["db_url"], fake_url=url, prefix=prefix)
        procs += workers
        web, port = start_web(env, args.workers)
        procs.append(web)
        client = child("client", "--port", str(port), env=env)
        procs.append(client)
        print(
            f"live bench (real path): fake provider at {args.rate:g} deltas/s, {args.tokens} per "
            f"reply, its time to first token {args.model_ttft * 1000:.0f} ms; "
            f"{args.live_workers} Celery workers (-Q live, threads x {args.worker_threads}) "
            f"running live_reply_stream; Redis relay; web: gunicorn + uvicorn workers "
            f"({args.workers or 'gunicorn.conf.py'}) serving the live page's event view; "
            f"{os.cpu_count()} cores; load average {os.getloadavg()[0]:.1f}"
        )
        common = {"fake": fake, "client": client, "web": web, "workers": workers}
        run_real_step(min(5, max(args.battles)), **common, setup=setup, args=args, step=0)
        print(
            f"{'battles':>7} {'streams':>7} {'tokens':>7} {'p50 ms':>7} {'p99 ms':>7} "
            f"{'max ms':>7} {'rly p50':>7} {'rly p99':>7} {'lost':>5} {'reord':>5} {'dup':>4} "
            f"{'reset':>5} {'whole':>5} {'KiB/str':>8} {'wrkKiB/s':>8} {'TTFT fake':>9} "
            f"{'TTFT tool':>9} {'(p99)':>7}"
        )
        for step, n in enumerate(args.battles, start=1):
            r = run_real_step(n, **common, setup=setup, args=args, step=step)
            print(
                f"{r['battles']:>7} {r['streams']:>7} {r['tokens']:>7} {r['p50_ms']:>7.1f} "
                f"{r['p99_ms']:>7.1f} {r['max_ms']:>7.1f} {r['relay_p50_ms']:>7.1f} "
                f"{r['relay_p99_ms']:>7.1f} {r['lost']:>5} {r['reordered']:>5} "
                f"{r['repeated']:>4} {r['resets']:>5} {r['done_whole']:>5} "
                f"{r['rss_per_stream_kib']:>8.1f} {r['worker_rss_per_stream_kib']:>8.1f} "
                f"{r['server_ttft_ms']:>9.0f} {r['tool_ttft_ms']:>9.0f} "
                f"{r['tool_ttft_p99_ms']:>7.0f}",
                flush=True,
            )
            if r["unended"] or r["bad_status"]:
                print(f"  {r['unended']} streams without their end, {r['bad_status']} not 200")
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
        from worker_setup import drop_database

        drop_database(REAL_DATABASE)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--role", choices=["fake", "publisher", "client"], help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--battles", type=int, nargs="+", default=[10, 25, 50, 100, 200])
    parser.add_argument("--rate", type=float, default=20.0, help="deltas a second per reply (20)")
    parser.add_argument("--tokens", type=int, default=150, help="deltas per reply (150)")
    parser.add_argument(
        "--model-ttft", type=float, default=0.3, help="the fake's time to first token (0.3 s)"
    )
    parser.add_argument(
        "--spread", type=float, default=1.0, help="battles start over this many seconds"
    )
    parser.add_argument("--publishers", type=int, default=2, help="publisher processes (2)")
    parser.add_argument(
        "--workers", type=int, default=None, help="web processes (gunicorn.conf.py)"
    )
    parser.add_argument(
        "--source",
        choices=["provider", "direct", "real"],
        default="provider",
        help="provider: publishers stream from the fake with the real SDK (default); direct: they "
        "stamp and pace deltas themselves, measuring the relay and web alone; real: the real "
        "live_reply_stream task in Celery workers and the live page's own event view",
    )
    parser.add_argument(
        "--live-workers", type=int, default=2, help="--source real: Celery worker processes (2)"
    )
    parser.add_argument(
        "--worker-threads",
        type=int,
        default=32,
        help="--source real: threads per worker, one per reply streaming at once, each with a "
        "database connection of its own while it streams (mind max_connections) (32)",
    )
    parser.add_argument("--keep-going", action="store_true", help="run every step")
    args = parser.parse_args()
    if args.role == "fake":
        return role_fake(args.rate, args.tokens, args.model_ttft)
    if args.role == "publisher":
        return role_publisher(args.url, args.source, args.rate, args.tokens)
    if args.role == "client":
        return role_client(args.port)
    if args.source == "real":
        return main_real(args)

    (DATA_DIR / "staticfiles").mkdir(parents=True, exist_ok=True)  # whitenoise looks there
    ensure_database()
    prefix = f"bench-{uuid.uuid4().hex[:8]}"
    env = env_for(prefix)
    procs: list[subprocess.Popen] = []
    try:
        fake = child(
            "fake", "--rate", str(args.rate), "--tokens", str(args.tokens),
            "--model-ttft", str(args.model_ttft), env=env,
        )  # fmt: skip
        procs.append(fake)
        url = read_json_line(fake)["url"]
        web, port = start_web(env, args.workers)
        procs.append(web)
        publishers = [
            child(
                "publisher",
                "--url",
                url,
                "--source",
                args.source,
                "--rate",
                str(args.rate),
                "--tokens",
                str(args.tokens),
                env=env,
            )  # fmt: skip
            for _ in range(args.publishers)
        ]
        procs += publishers
        for proc in publishers:
            read_json_line(proc)
        client = child("client", "--port", str(port), env=env)
        procs.append(client)
        print(
            f"live bench: fake provider at {args.rate:g} deltas/s, {args.tokens} per reply, "
            f"its time to first token {args.model_ttft * 1000:.0f} ms; web: gunicorn + uvicorn "
            f"workers ({args.workers or 'gunicorn.conf.py'}), PostgreSQL, Redis relay; "
            f"{args.publishers} publisher processes ({args.source}); {os.cpu_count()} cores; "
            f"load average {os.getloadavg()[0]:.1f}"
        )
        # Warm-up: every web process imports, connects its pool and its Redis client.
        run_step(
            10, fake=fake, publishers=publishers, client=client, web=web, args=args, prefix=prefix
        )
        header = (
            f"{'battles':>7} {'streams':>7} {'tokens':>7} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7} "
            f"{'wrk p50':>7} {'wrk p99':>7} "
            f"{'lost':>5} {'reord':>5} {'dup':>4} {'KiB/str':>8} {'webMiB':>7} "
            f"{'TTFT fake':>9} {'TTFT tool':>9} {'(p99)':>7} {'cpu%':>5} {'web µs/ev':>9} "
            f"{'pub µs/ev':>9}"
        )
        print(header)
        held = 0
        for n in args.battles:
            r = run_step(
                n,
                fake=fake,
                publishers=publishers,
                client=client,
                web=web,
                args=args,
                prefix=prefix,
            )
            print(
                f"{r['battles']:>7} {r['streams']:>7} {r['tokens']:>7} {r['p50_ms']:>7.1f} "
                f"{r['p99_ms']:>7.1f} {r['max_ms']:>7.1f} {r['worker_p50_ms']:>7.1f} "
                f"{r['worker_p99_ms']:>7.1f} {r['lost']:>5} {r['reordered']:>5} "
                f"{r['repeated']:>4} {r['rss_per_stream_kib']:>8.1f} {r['rss_open_mib']:>7.1f} "
                f"{r['server_ttft_ms']:>9.0f} {r['tool_ttft_ms']:>9.0f} {r['tool_ttft_p99_ms']:>7.0f} "
                f"{r['cpu_busy_pct']:>5.0f} {r['web_us_per_event']:>9.0f} "
                f"{r['pub_us_per_event']:>9.0f}",
                flush=True,
            )
            if r["unended"] or r["bad_status"]:
                print(f"  {r['unended']} streams without their end, {r['bad_status']} not 200")
            ok = r["p99_ms"] <= 100 and not r["lost"] and not r["reordered"]
            if ok:
                held = n
            elif not args.keep_going:
                break
        print(f"most battles held with the added p99 <= 100 ms and nothing lost: {held}")
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


if __name__ == "__main__":
    main()
