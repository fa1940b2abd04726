"""`python manage.py generate`: inline generation with a progress bar, and clear errors."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from annotate.models import Campaign, Candidate, GenerationJob, Generator
from tests import factories


@pytest.fixture
def draft(db):
    campaign = factories.CampaignFactory(slug="cmd", status=Campaign.Status.DRAFT)
    factories.PromptFactory.create_batch(2, campaign=campaign)
    factories.GeneratorFactory(campaign=campaign, name="concise", model="demo-concise")
    return campaign


def test_it_generates_inline_and_prints_a_summary(draft):
    out = StringIO()
    call_command("generate", "cmd", "--inline", stdout=out, stderr=StringIO())
    assert "Job " in out.getvalue() and "done: 2 done, 0 failed" in out.getvalue()
    assert Candidate.objects.filter(status=Candidate.Status.DONE).count() == 2
    assert GenerationJob.objects.get().status == GenerationJob.Status.DONE


def test_it_fails_with_the_provider_message(draft, monkeypatch):
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.delenv("ANTHROPIC_API_KEY_FILE", raising=False)
    draft.generators.update(provider=Generator.Provider.ANTHROPIC)
    err = StringIO()
    with pytest.raises(CommandError, match="ANTHROPIC_API_KEY is not set"):
        call_command("generate", "cmd", "--inline", stdout=StringIO(), stderr=err)
    assert "2 x ANTHROPIC_API_KEY is not set" in err.getvalue()


def test_it_rejects_an_unknown_campaign(db):
    with pytest.raises(CommandError, match="No campaign"):
        call_command("generate", "nope", stdout=StringIO())


def test_waiting_says_when_a_worker_was_lost(draft, capsys):
    from annotate.management.commands.generate import Command
    from annotate.models import WorkRecovery
    from annotate.services.generation import generation_start

    job = generation_start(campaign=draft, actor=None)
    job.candidates.update(status=Candidate.Status.DONE)
    GenerationJob.objects.filter(id=job.id).update(status=GenerationJob.Status.DONE)
    WorkRecovery.objects.create(kind="candidate", job_id=job.id, rows=2)
    job.refresh_from_db()
    Command()._follow(job, 0.0)
    printed = capsys.readouterr()
    assert "the 2 responses it held were sent again." in printed.out + printed.err
