"""import_prompts / import_responses: line-numbered errors and a non-zero exit on bad input."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from django.core.management import CommandError, call_command

from annotate.models import Candidate, Prompt


def test_it_imports_prompts_from_a_file(campaign, tmp_path, capsys):
    path = tmp_path / "p.jsonl"
    path.write_text('{"prompt": "one"}\n{"prompt": "two"}\n')
    call_command("import_prompts", "helpfulness", str(path))
    assert "Imported 2 prompts." in capsys.readouterr().out
    assert Prompt.objects.filter(campaign=campaign).count() == 2


def test_it_prints_every_bad_line_and_fails(campaign, tmp_path, capsys):
    path = tmp_path / "p.jsonl"
    path.write_text('{"prompt": "ok"}\n{oops\n{"prompt": ""}\n')
    with pytest.raises(CommandError, match="2 bad line"):
        call_command("import_prompts", "helpfulness", str(path))
    err = capsys.readouterr().err
    assert "line 2: malformed JSON" in err and "line 3: empty prompt" in err
    assert not Prompt.objects.exists()


def test_it_refuses_unknown_campaigns_and_missing_files(campaign, tmp_path):
    with pytest.raises(CommandError, match="No campaign"):
        call_command("import_prompts", "nope", str(tmp_path / "x.jsonl"))
    with pytest.raises(CommandError, match="Cannot read"):
        call_command("import_responses", "helpfulness", str(tmp_path / "missing.csv"))


def test_it_imports_responses_from_csv(campaign, tmp_path, capsys):
    path = tmp_path / "r.csv"
    path.write_text("prompt,model,response\nQ,a,x\nQ,b,y\n")
    call_command("import_responses", "helpfulness", str(path))
    assert "Imported 2 responses." in capsys.readouterr().out
    assert Candidate.objects.filter(prompt__campaign=campaign).count() == 2


def test_it_exits_non_zero_from_the_shell(transactional_db, tmp_path):
    """What a script sees: bad lines on stderr and exit status 1 (run against the test database)."""
    from django.db import connection

    from tests import factories

    factories.CampaignFactory(slug="shell")
    path = tmp_path / "p.jsonl"
    path.write_text('{"prompt": "fine"}\n{bad\n')
    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
    }
    done = subprocess.run(
        [sys.executable, "manage.py", "import_prompts", "shell", str(path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == 1
    assert "line 2: malformed JSON" in done.stderr
    assert not Prompt.objects.exists()


def test_it_queues_a_background_import(campaign, tmp_path, capsys, settings, monkeypatch):
    from annotate.models import PromptImport
    from annotate.services import prompt_imports

    settings.MEDIA_ROOT = tmp_path / "media"
    sent = []
    monkeypatch.setattr(prompt_imports, "_send", sent.extend)
    path = tmp_path / "p.jsonl"
    path.write_text('{"prompt": "one"}\n')
    call_command("import_prompts", "helpfulness", str(path), "--background")
    job = PromptImport.objects.get()
    assert f"Import {job.id} queued" in capsys.readouterr().out
    assert sent == [job.id] and job.status == "queued" and job.file_name == "p.jsonl"
    prompt_imports.prompt_import_run(import_id=job.id)  # what the worker does
    job.refresh_from_db()
    assert (job.status, job.created) == ("done", 1)
    assert not [p for p in (tmp_path / "media").rglob("*") if p.is_file()]  # the copy is gone
    assert Prompt.objects.filter(campaign=campaign).count() == 1
