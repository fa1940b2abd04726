"""Gunicorn settings for the web processes; gunicorn reads this file from the working directory.

    .venv/bin/gunicorn project.wsgi --bind 127.0.0.1:8000         # pages and the API
    .venv/bin/gunicorn project.asgi:application -k uvicorn_worker.UvicornWorker --bind 127.0.0.1:8001

Production runs both, the proxy sending only the live conversations' event streams to the second
(README, Scaling out): uvicorn workers hold open Server-Sent Events streams in an event loop,
where a sync worker would give each its whole process, but every sync view under ASGI pays for a
hand-off to a thread and back (bench/rating.py --asgi: pairwise 199 against 283 votes/s on 2
cores). See project/asgi.py for the database under ASGI.

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


# Python's full garbage collections walk every object the process holds, and a process with Django
# loaded holds hundreds of thousands: 100-340 ms a collection in a web process streaming 200 live
# replies (bench/live.py), every token of every stream waiting behind it. Frozen, the objects made
# at start (modules, settings, the URL conf) are never walked again. The master freezes before it
# forks, so the workers share those pages; each worker freezes what it made while starting.
def when_ready(server):
    import gc

    gc.freeze()


def post_worker_init(worker):
    import gc

    gc.freeze()
