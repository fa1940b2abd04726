"""The ASGI application: production's web processes (gunicorn with uvicorn workers), which hold
the open Server-Sent Events streams of live conversations in an event loop instead of a thread each.

    .venv/bin/gunicorn project.asgi:application -k uvicorn_worker.UvicornWorker --bind 0.0.0.0:8000

Every sync view works as under WSGI (Django runs it in a thread). Django asks that persistent
database connections be off under ASGI, so settings reads SERVER_GATEWAY: connections close after
each request and PostgreSQL's come from psycopg's pool instead (project/settings.py).
"""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
os.environ["SERVER_GATEWAY"] = "asgi"

from django.core.asgi import get_asgi_application  # noqa: E402 (after the variables above)

application = get_asgi_application()

from project.startup import load_urls  # noqa: E402

load_urls()
