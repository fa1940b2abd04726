"""What the benchmarks that run real workers share (bench/generation.py, bench/recovery.py): a fresh
PostgreSQL database of their own on $BENCH_DATABASE_URL's server, migrated, with Django set up in
this process on it and on the Redis broker $BENCH_REDIS_URL (which they FLUSH: give them a database
nothing else uses)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SERVER = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432")
REDIS = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/1")


def fresh_database(name: str) -> str:
    """Drop and create database ``name``, set Django up on it, migrate; its URL."""
    import psycopg

    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {name}")
    db_url = f"{SERVER}/{name}"
    os.environ.update(
        DATABASE_URL=db_url,
        CELERY_BROKER_URL=REDIS,
        SECRET_KEY=os.environ.get("SECRET_KEY", "bench-only-not-secret"),
        DJANGO_SETTINGS_MODULE="project.settings",
        LOG_LEVEL="WARNING",
    )
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return db_url


def start_two_workers(
    *, db_url: str, slug: str, env: dict, concurrency: int, log: Path, app: str = "project"
) -> list:
    """Two thread-pool worker subprocesses on this database and broker (the broker flushed
    first), once both answer a ping."""
    import redis

    from project.celery import app as celery_app
    from tests.fakes.worker import start_worker_process, wait_ready

    redis.Redis.from_url(REDIS).flushdb()
    workers = [
        start_worker_process(
            database_url=db_url,
            broker_url=REDIS,
            env=env,
            concurrency=concurrency,
            name=f"{slug}-{i}",
            log_path=log,
            app=app,
        )
        for i in (1, 2)
    ]
    for i in (1, 2):
        wait_ready(celery_app, f"{slug}-{i}")
    return workers


def drop_database(name: str) -> None:
    import psycopg
    from django.db import connections

    connections.close_all()
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
