"""Crowd participants in dataset exports: a salted pseudonym of the platform id in the ``rater``
column, the platform id itself only when the researcher asks (raw_participant_ids)."""

from __future__ import annotations

import json

import pytest

from annotate.exports.options import parse_options
from annotate.services.assignment import assignment_next
from annotate.services.exports import export_build
from annotate.services.judgments import judgment_record
from annotate.services.participants import participant_arrive, participant_consent
from tests.fakes.crowd import crowd_campaign, prolific_id

pytestmark = pytest.mark.django_db


def _voted(campaign, pid):
    p = participant_arrive(campaign=campaign, platform="prolific", external_id=pid)
    participant_consent(participant=p, accept=True)
    lease = assignment_next(campaign=campaign, rater=p.user)
    judgment_record(assignment=lease, rater=p.user, choice="a", idempotency_key=f"k{lease.pk}")
    return p


def _raters(tmp_path, campaign, **filters):
    out = tmp_path / ("raw" if filters else "pseudo")
    export_build(campaign=campaign, options=parse_options("raw-jsonl", filters), out_dir=out)
    rows = [json.loads(x) for x in (out / "data/train.jsonl").read_text().splitlines()]
    return {row["rater"] for row in rows}


def test_exports_name_participants_by_a_pseudonym_unless_asked(tmp_path, client):
    campaign, *_ = crowd_campaign()
    pid = prolific_id()
    _voted(campaign, pid)
    pseudonymous = _raters(tmp_path, campaign)
    assert len(pseudonymous) == 1
    (name,) = pseudonymous
    assert name.startswith("p_") and pid not in name
    assert _raters(tmp_path, campaign, raw_participant_ids=True) == {pid}


def test_the_pseudonym_is_salted_per_campaign(tmp_path):
    one, *_ = crowd_campaign(slug="one")
    two, *_ = crowd_campaign(slug="two")
    pid = prolific_id()
    _voted(one, pid)
    _voted(two, pid)
    assert _raters(tmp_path / "1", one) != _raters(tmp_path / "2", two)


def test_it_refuses_a_non_boolean_raw_ids_flag():
    from annotate.exports.options import ExportOptionsError

    with pytest.raises(ExportOptionsError):
        parse_options("raw-jsonl", {"raw_participant_ids": "maybe"})
