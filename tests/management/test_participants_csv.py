from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from annotate.services.participants import participant_arrive
from tests.fakes.crowd import crowd_campaign, prolific_id

pytestmark = pytest.mark.django_db


def test_it_writes_the_participants_csv(tmp_path, capsys):
    campaign, *_ = crowd_campaign()
    pid = prolific_id()
    participant_arrive(campaign=campaign, platform="prolific", external_id=pid)
    call_command("participants_csv", "study")
    out = capsys.readouterr().out
    assert out.startswith("participant_id,pseudonym,platform,study_id") and pid in out
    call_command("participants_csv", "study", "--out", str(tmp_path / "p.csv"), "--pseudonyms")
    written = (tmp_path / "p.csv").read_text()
    assert pid not in written and "p_" in written
    with pytest.raises(CommandError):
        call_command("participants_csv", "nope")
