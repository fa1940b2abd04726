"""Start real `celery worker` subprocesses on a given database and broker (kill -9 and broker-restart
tests, benchmarks), and the pair of workers the kill -9 tests use (``KillRig``)."""

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


def _log_level(env: dict[str, str] | None) -> str:
    return (env or {}).get("LOG_LEVEL") or os.environ.get("WORKER_LOG_LEVEL", "WARNING")


def _celery(
    args: list[str],
    *,
    database_url: str,
    broker_url: str,
    env,
    log_path: Path | None,
    app: str = "project",
) -> subprocess.Popen:
    """`celery -A project <args>` in its own session (process group), so it can be killed with
    everything it started."""
    log = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", app, *args, "--loglevel", _log_level(env)],
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
    app: str = "project",
) -> subprocess.Popen:
    """A thread-pool worker, as a subprocess (``app``: the Celery app module, e.g. one of
    tests/fakes that slows something down)."""
    args = ["worker", "--pool", "threads", "--concurrency", str(concurrency)]
    args += ["--hostname", f"{name}@%h", "--queues", queues]
    args += ["--without-heartbeat", "--without-mingle", "--without-gossip"]
    return _celery(
        args, database_url=database_url, broker_url=broker_url, env=env, log_path=log_path, app=app
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


class KillRig:
    """Two workers started together (start-up imports the whole project, seconds on a busy
    machine): ``doomed`` takes the work (of ``queue``); ``successor`` listens on an idle queue, serving (beating
    and sweeping) all along, until ``kill_doomed`` kills the first with -9 and hands it the queue.
    Nobody presses Resume: what the dead worker held comes back through the live one's sweep."""

    def __init__(
        self,
        *,
        app,
        database_url: str,
        broker_url: str,
        env: dict,
        log_path: Path,
        concurrency: int = 4,
        celery_app: str = "project",
        queue: str = "celery",
    ) -> None:
        self.app = app
        self.queue = queue
        common = {
            "database_url": database_url,
            "broker_url": broker_url,
            "env": env,
            "concurrency": concurrency,
            "log_path": log_path,
            "app": celery_app,
        }
        self.doomed = start_worker_process(**common, name="doomed", queues=queue)
        self.successor = start_worker_process(**common, name="successor", queues="standby")

    def __enter__(self) -> KillRig:
        wait_ready(self.app, "doomed")
        return self

    def kill_doomed(self) -> float:
        """kill -9 the first worker; the moment of the kill."""
        kill_hard(self.doomed)
        return time.monotonic()

    def hand_over(self) -> None:
        """The second worker takes the queue the first one served."""
        wait_ready(self.app, "successor")
        self.app.control.add_consumer(self.queue, destination=[node_name("successor")], reply=True)

    def __exit__(self, *exc) -> None:
        stop(self.doomed)
        stop(self.successor)
