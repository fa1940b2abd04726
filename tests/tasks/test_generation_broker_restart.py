"""Restart the broker in the middle of a job: every candidate is still generated exactly once.

A private ``redis-server`` is the broker of a real worker subprocess, which also runs the periodic
sweep itself (annotate/work: no beat process); the worker generates through the real Anthropic SDK
against the fake server. Redis is stopped and started again while tasks are in flight, once with its append-only file
(a restart that keeps the queue) and once empty (a broker without persistence loses every queued,
scheduled and unacknowledged message). In both cases the sweep sends the lost work again, and the
claim rules keep the duplicates harmless: 0 lost, 0 duplicated rows, and no more successful provider
calls than candidates plus the calls in flight at the restart."""

from __future__ import annotations

import socket
import subprocess
import time

import pytest
import redis
from django.db import connection

from annotate.models import Campaign, Candidate, GenerationJob, Generator
from annotate.services.generation import generation_start
from project.celery import app as celery_app
from tests import factories
from tests.celery_broker import _reset_pools, wait_for
from tests.fakes.fixtures import fake_server_fixture  # noqa: F401
from tests.fakes.worker import start_worker_process, stop, wait_ready

PROMPTS = 48
CONCURRENCY = 4
STALE_SECONDS = 3  # the workers' WORK_STALE_SECONDS; production waits the time limit + 30 s


class PrivateRedis:
    """A redis-server of the test's own on a free port, which the test can stop and start."""

    def __init__(self, directory) -> None:
        self.directory = directory
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen | None = None

    def start(self, *, persistent: bool = True) -> None:
        self.proc = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "yes" if persistent else "no",
                "--appendfsync",
                "always",
                "--dir",
                str(self.directory),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis.from_url(self.url)
        wait_for(lambda: _answers(client), timeout=10, what="redis-server to start")

    def stop(self, *, lose_everything: bool = False) -> None:
        """A clean shutdown (the append-only file keeps the data), or kill -9 and forget the files."""
        assert self.proc is not None
        if lose_everything:
            self.proc.kill()
            for path in sorted(self.directory.rglob("*"), reverse=True):
                path.rmdir() if path.is_dir() else path.unlink()
        else:
            self.proc.terminate()  # SIGTERM: redis flushes the append-only file and exits
        self.proc.wait(timeout=10)


def _answers(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.ConnectionError:
        return False


@pytest.fixture
def private_redis(tmp_path):
    directory = tmp_path / "redis"
    directory.mkdir()
    server = PrivateRedis(directory)
    server.start()
    saved = (celery_app.conf.broker_url, celery_app.conf.broker_transport_options)
    celery_app.conf.broker_url = server.url
    celery_app.conf.broker_transport_options = {"visibility_timeout": 3600}
    _reset_pools(celery_app)
    yield server
    celery_app.conf.broker_url, celery_app.conf.broker_transport_options = saved
    _reset_pools(celery_app)
    if server.proc and server.proc.poll() is None:
        server.proc.kill()
        server.proc.wait(timeout=10)


def _database_url() -> str:
    s = connection.settings_dict
    return f"postgres://{s['USER']}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def _done(job) -> int:
    return Candidate.objects.filter(job=job, status=Candidate.Status.DONE).count()


@pytest.mark.slow
@pytest.mark.parametrize("comes_back", ["with-its-data", "empty"])
def test_it_generates_every_candidate_once_across_a_broker_restart(
    comes_back, transactional_db, private_redis, fake_server, admin_user, tmp_path
):
    fake_server.latency = 0.2
    campaign = factories.CampaignFactory(slug=f"restart-{comes_back}", status=Campaign.Status.DRAFT)
    factories.PromptFactory.create_batch(PROMPTS, campaign=campaign)
    factories.GeneratorFactory(
        campaign=campaign,
        name="claude",
        provider=Generator.Provider.ANTHROPIC,
        model="claude-sonnet-4-6",
    )
    env = {
        "ANTHROPIC_API_KEY": "sk-test",
        "ANTHROPIC_BASE_URL": fake_server.url,
        "WORK_STALE_SECONDS": str(STALE_SECONDS),
        "WORK_SWEEP_SECONDS": "1",
    }
    log = tmp_path / "celery.log"
    common = {"database_url": _database_url(), "broker_url": private_redis.url, "env": env}
    workers = [
        start_worker_process(**common, concurrency=CONCURRENCY, name="restart", log_path=log)
    ]

    def ended() -> bool:
        # kombu can crash a thread-pool worker when the broker drops it with acks in flight
        # ("Unrecoverable error: AttributeError ... 'hostname'", seen on main too): start another,
        # as a process manager would. The new one recovers what the first left from the database.
        if workers[-1].poll() is not None:
            workers.append(
                start_worker_process(**common, concurrency=CONCURRENCY, name="again", log_path=log)
            )
        return not GenerationJob.objects.get(id=job.id).is_active

    try:
        wait_ready(celery_app, "restart")
        job = generation_start(campaign=campaign, actor=admin_user)
        wait_for(
            lambda: _done(job) >= PROMPTS // 4, timeout=45, what="a quarter done", interval=0.02
        )

        private_redis.stop(lose_everything=comes_back == "empty")
        in_flight = Candidate.objects.filter(job=job, status=Candidate.Status.RUNNING).count()
        at_stop = _done(job)
        time.sleep(1)
        private_redis.start(persistent=comes_back != "empty")
        assert at_stop < PROMPTS, "the job finished before the broker went away"

        wait_for(ended, timeout=90, what="the job to end", interval=0.1)
    finally:
        for worker in workers:
            stop(worker)

    job.refresh_from_db()
    assert job.status == GenerationJob.Status.DONE, log.read_text()[-3000:]
    candidates = Candidate.objects.filter(job=job)
    lost = candidates.exclude(status=Candidate.Status.DONE).count()
    assert (candidates.count(), lost) == (PROMPTS, 0)
    assert len(fake_server.served) == PROMPTS  # every prompt was answered
    repeated_calls = fake_server.total_served - PROMPTS
    assert repeated_calls <= in_flight
    print(
        f"broker restarted ({comes_back}) after {at_stop}/{PROMPTS}: {in_flight} in flight, "
        f"0 lost, 0 duplicated rows, {repeated_calls} repeated provider calls, "
        f"{len(workers) - 1} worker restarts"
    )
