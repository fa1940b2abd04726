"""Run the project's commands as a person does in a fresh shell: a clean environment (PATH and HOME
only, plus what the test names), the repository's .venv, no settings module chosen for them."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENV_PY = ROOT / ".venv" / "bin" / "python"


def clean_env(**extra: str) -> dict[str, str]:
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ["HOME"], **extra}


def run(
    command: str,
    *,
    env: dict[str, str],
    cwd: Path = ROOT,
    stdin: str | None = None,
    timeout: float = 180,
) -> subprocess.CompletedProcess:
    """``command`` through bash, as typed (``stdin``: what the person types at its prompts)."""
    return subprocess.run(
        ["bash", "-c", command],
        cwd=cwd,
        env=env,
        input=stdin if stdin is not None else "",
        capture_output=True,
        text=True,
        timeout=timeout,
    )
