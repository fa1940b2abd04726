"""The login counter is shared by every web process: two gunicorn servers (separate processes, as
two machines would be) on one embedded-default SQLite database, the attempts alternating between
them, lock out together; a client at another address still logs in."""

from __future__ import annotations

import http.client
import re
import socket
import subprocess
import time
from http.cookies import SimpleCookie
from urllib.parse import urlencode

import pytest

from tests.shell import ROOT, clean_env, run

CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _login(port: int, password: str, source: str = "127.0.0.1") -> int:
    def request(method, path, body=None, cookies=""):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30, source_address=(source, 0))
        headers = {"Cookie": cookies}
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        payload = response.read().decode()
        conn.close()
        return response, payload

    response, page = request("GET", "/login/")
    cookie = SimpleCookie(response.getheader("Set-Cookie"))
    cookies = f"csrftoken={cookie['csrftoken'].value}"
    body = urlencode(
        {
            "username": "alice",
            "password": password,
            "csrfmiddlewaretoken": CSRF.search(page).group(1),
        }
    )
    response, _ = request("POST", "/login/", body=body, cookies=cookies)
    return response.status


@pytest.mark.slow
def test_two_servers_share_one_lock_on_sqlite(tmp_path):
    env = clean_env(DATA_DIR=str(tmp_path), ALLOWED_HOSTS="127.0.0.1", LOG_LEVEL="WARNING")
    prepared = run(
        ".venv/bin/python manage.py migrate -v 0 && .venv/bin/python manage.py shell --no-imports "
        "-c \"from annotate.models import User; User.objects.create_user('alice', password='right')\"",
        env=env,
    )
    assert prepared.returncode == 0, prepared.stderr[-3000:]
    ports = [_free_port(), _free_port()]
    servers = [
        subprocess.Popen(
            [str(ROOT / ".venv/bin/gunicorn"), "project.wsgi", "--workers", "1"]
            + ["--bind", f"127.0.0.1:{port}", "--log-level", "warning"],
            cwd=ROOT,
            env=env,
        )
        for port in ports
    ]
    try:
        for port in ports:
            deadline = time.monotonic() + 60
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    assert time.monotonic() < deadline, "gunicorn did not start"
                    time.sleep(0.2)
        failures = [_login(ports[i % 2], "wrong") for i in range(5)]
        assert failures == [200, 200, 200, 200, 429]
        assert _login(ports[0], "right") == 429
        assert _login(ports[1], "right") == 429
        assert _login(ports[1], "right", source="127.0.0.2") == 302
    finally:
        for server in servers:
            server.terminate()
        for server in servers:
            server.wait(timeout=20)
