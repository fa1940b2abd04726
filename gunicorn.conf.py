"""Gunicorn settings for the web process; gunicorn reads this file from the working directory.

    .venv/bin/gunicorn project.asgi:application -k uvicorn_worker.UvicornWorker --bind 0.0.0.0:8000
    .venv/bin/gunicorn project.wsgi --bind 0.0.0.0:8000     # sync workers: no live conversations

Production is the first: uvicorn workers hold the open Server-Sent Events streams of live
conversations (annotate/live/relay.py) in an event loop, where a sync worker would give each its
whole process. Sync views run as under WSGI (in threads); see project/asgi.py for the database.
The second stays for deployments without live campaigns.

Sync workers: a vote is short and CPU-bound. Cores + 1 of them, measured with bench/rating.py on
2 cores: 3 and 4 workers were within run-to-run noise of each other (232-251 votes/s closed loop),
5 fell to 212 (more processes than cores fighting for them). WEB_CONCURRENCY overrides the count.
"""

import multiprocessing
import os

workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() + 1))
worker_class = "sync"
preload_app = True  # import Django once in the master, before forking
backlog = 512
