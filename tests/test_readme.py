"""The README's commands work as written for a new user: in a fresh shell with no variable set (only
DATA_DIR, pointing at a folder prepared the way bin/run prepares ./data, so the test leaves the
repository's own data alone), every `manage.py` line and every Python snippet of the README runs.
The Scaling out section is for deployments with servers of their own and is left out."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from tests.shell import ROOT, clean_env, run

FENCE = re.compile(r"^( *)```(\w+)\n(.*?)^\1```", re.MULTILINE | re.DOTALL)
SKIPPED_SECTIONS = {"Scaling out"}
ADMIN_PASSWORD = "a-long-passphrase-for-ada"


def _readme_blocks() -> list[tuple[str, str]]:
    blocks = []
    for section in re.split(r"^## ", (ROOT / "README.md").read_text(), flags=re.MULTILINE):
        if section.split("\n", 1)[0].strip() in SKIPPED_SECTIONS:
            continue
        blocks += [(lang, textwrap.dedent(body)) for _, lang, body in FENCE.findall(section)]
    return blocks


def _bin_run_preparation() -> list[str]:
    """bin/run's own manage.py lines before it starts the worker and the web server."""
    lines = (ROOT / "bin" / "run").read_text().splitlines()
    return [line.replace("$PY", ".venv/bin/python") for line in lines if line.startswith("$PY ")]


def _fresh_checkout(tmp_path: Path) -> Path:
    """The repository as a new user has it, without its ./data, exports or screenshots."""
    work = tmp_path / "annotate"
    work.mkdir()
    for entry in ROOT.iterdir():
        if entry.name not in {"data", "exports", "screenshots", ".git"}:
            (work / entry.name).symlink_to(entry)
    return work


@pytest.mark.slow
def test_the_readme_commands_run_as_written_after_bin_run(tmp_path):
    work = _fresh_checkout(tmp_path)
    env = clean_env(DATA_DIR=str(tmp_path / "data"))
    preparation = _bin_run_preparation()
    assert any("migrate" in line for line in preparation)
    assert any("seed_demo" in line for line in preparation)
    for line in preparation:
        out = run(line, env={**env, "DEBUG": "1"}, cwd=work)  # bin/run sets DEBUG=1
        assert out.returncode == 0, (line, out.stderr[-3000:])

    blocks = _readme_blocks()
    commands = [
        line.strip()
        for lang, body in blocks
        if lang == "bash"
        for line in body.splitlines()
        if line.startswith(".venv/bin/python manage.py")
    ]
    snippets = [body for lang, body in blocks if lang == "python"]
    assert any("export_dataset demo-sample" in c for c in commands)
    assert any("create_admin" in c for c in commands)
    assert any("load_dataset" in s for s in snippets)

    for command in commands:  # a new shell each: no DEBUG, no SECRET_KEY, no DATABASE_URL
        stdin = f"{ADMIN_PASSWORD}\n" if "create_admin" in command else None
        out = run(command, env=env, cwd=work, stdin=stdin)
        assert out.returncode == 0, (command, out.stdout[-2000:], out.stderr[-3000:])
    assert (work / "exports" / "demo" / "data" / "train.jsonl").stat().st_size > 0

    snippet_env = {**env, "HF_HOME": str(tmp_path / "hf"), "HF_HUB_OFFLINE": "1"}
    for i, snippet in enumerate(snippets):
        script = tmp_path / f"snippet{i}.py"
        script.write_text(snippet)
        out = run(f".venv/bin/python {script}", env=snippet_env, cwd=work)
        assert out.returncode == 0, (snippet, out.stderr[-3000:])
        assert "'role': 'assistant'" in out.stdout  # the chosen answer of the first row

    check = run(
        '.venv/bin/python manage.py shell --no-imports -c "from annotate.models import User; '
        "u = User.objects.get(username='ada'); print(u.role, u.is_staff, u.is_superuser, "
        f"u.check_password('{ADMIN_PASSWORD}'))\"",
        env=env,
        cwd=work,
    )
    assert check.stdout.strip() == "admin True True True", check.stderr[-2000:]
