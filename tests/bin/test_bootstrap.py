"""bin/run installs the app's dependencies only; bin/test adds the dev group; one after the other
in the same environment neither removes nor reinstalls anything (bin/_bootstrap.sh)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _ensure(env_dir: Path, what: str) -> str:
    env = {**os.environ, "UV_PROJECT_ENVIRONMENT": str(env_dir)}
    env.pop("VIRTUAL_ENV", None)
    out = subprocess.run(
        ["bash", "-c", f"set -euo pipefail; source bin/_bootstrap.sh; ensure_python_env {what}"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stderr


def _installed(env_dir: Path) -> set[str]:
    site = next((env_dir / "lib").glob("python3*/site-packages"))
    return {p.name.split("-")[0].lower() for p in site.glob("*.dist-info")}


@pytest.mark.slow
def test_it_installs_the_app_alone_then_the_dev_group_without_thrashing(tmp_path):
    env_dir = tmp_path / "venv"
    _ensure(env_dir, "app")
    app = _installed(env_dir)
    assert {"django", "celery", "django_axes", "gunicorn"} <= app
    assert not app & {"pytest", "playwright", "datasets", "ruff", "factory_boy"}

    _ensure(env_dir, "dev")
    dev = _installed(env_dir)
    assert app < dev
    assert {"pytest", "playwright", "datasets", "ruff"} <= dev

    # bin/run after bin/test keeps the dev group (no uninstall, nothing to install again).
    site = next((env_dir / "lib").glob("python3*/site-packages"))
    mtime = site.stat().st_mtime_ns
    _ensure(env_dir, "app")
    assert _installed(env_dir) == dev
    assert site.stat().st_mtime_ns == mtime


def test_it_refuses_an_unknown_group(tmp_path):
    out = subprocess.run(
        ["bash", "-c", "source bin/_bootstrap.sh; ensure_python_env everything"],
        cwd=ROOT,
        env={**os.environ, "UV_PROJECT_ENVIRONMENT": str(tmp_path / "venv")},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2
    assert "app or dev" in out.stderr
