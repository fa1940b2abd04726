"""Start real `celery worker` and `celery beat` subprocesses on a given database and broker (kill -9
and broker-restart tests, benchmark)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _environment(database_url: str, broker_url: str, env: dict[str, str] | None) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "CELERY_BROKER_URL": broker_url,
        "SECRET_KEY": os.environ.get("SECRET_KEY", "tests-only-not-secret"),
        "LOG_LEVEL": "WARNING",
        **(env or {}),
    }


def _celery(
    args: list[str], *, database_url: str, broker_url: str, env, log_path: Path | None
) -> subprocess.Popen:
    """`celery -A project <args>` in its own session (process group), so it can be killed with
    everything it started."""
    log = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "project", *args, "--loglevel", "WARNING"],
        cwd=ROOT,
        env=_environment(database_url, broker_url, env),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def start_worker_process(
    *,
    database_url: str,
    broker_url: str,
    env: dict[str, str] | None = None,
    concurrency: int = 4,
    name: str = "w1",
    log_path: Path | None = None,
    queues: str = "celery",
) -> subprocess.Popen:
    """A thread-pool worker, as a subprocess."""
    args = ["worker", "--pool", "threads", "--concurrency", str(concurrency)]
    args += ["--hostname", f"{name}@%h", "--queues", queues]
    args += ["--without-heartbeat", "--without-mingle", "--without-gossip"]
    return _celery(
        args, database_url=database_url, broker_url=broker_url, env=env, log_path=log_path
    )


def start_beat_process(
    *,
    database_url: str,
    broker_url: str,
    schedule_path: Path,
    env: dict[str, str] | None = None,
    log_path: Path | None = None,
) -> subprocess.Popen:
    """`celery beat`, which sends the periodic tasks (the generation sweep) to the broker."""
    return _celery(
        ["beat", "--schedule", str(schedule_path)],
        database_url=database_url,
        broker_url=broker_url,
        env=env,
        log_path=log_path,
    )


def node_name(name: str) -> str:
    return f"{name}@{socket.gethostname()}"


def wait_ready(app, name: str, timeout: float = 90.0) -> None:
    """Until the worker answers a ping (its start-up imports the whole project)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if app.control.ping(destination=[node_name(name)], timeout=0.5):
            return
    raise RuntimeError(f"worker {name} did not start within {timeout:.0f} s")


def kill_hard(proc: subprocess.Popen) -> None:
    """kill -9 the worker's whole process group: no shutdown, no acks, no cleanup."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=10)


def stop(proc: subprocess.Popen, timeout: float = 10) -> None:
    """A warm shutdown (SIGTERM), then -9 if it lingers."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    if proc.poll() is None:
        kill_hard(proc)
