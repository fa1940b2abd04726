"""The WSGI application: sync gunicorn workers (gunicorn.conf.py) and deployments without live
campaigns; project/asgi.py is production's with them."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
application = get_wsgi_application()

from project.startup import load_urls  # noqa: E402 (after Django is set up)

load_urls()
