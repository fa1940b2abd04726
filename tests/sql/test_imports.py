"""annotate/sql/imports.py: the prompt import's staging table, its checks by line number and the
INSERT … SELECT (COPY on PostgreSQL, executemany on SQLite)."""

from __future__ import annotations

import json
from contextlib import contextmanager

from django.db import connection
from django.utils import timezone

from annotate.models import Prompt
from annotate.sql import imports as imports_sql
from annotate.sql.imports import PromptStaging
from tests import factories


def _row(line, text, *, external_id="", system=""):
    messages = [{"role": "user", "content": text}]
    return (line, external_id, json.dumps(messages), system, json.dumps({"n": line}), f"h-{text}")


@contextmanager
def _stage(rows, *, chunk=2):
    with PromptStaging(chunk=chunk) as staging:
        for row in rows:
            staging.add(row)
        yield staging


def _staging_exists() -> bool:
    with connection.cursor() as cursor:
        try:
            cursor.execute(f"SELECT 1 FROM {imports_sql._TABLE} LIMIT 1")
        except Exception:
            return False
    return True


def test_a_good_file_has_no_problems_and_goes_in_in_file_order(campaign):
    now = timezone.now()
    with PromptStaging(chunk=2) as staging:
        for row in (
            _row(1, "one", external_id="x1", system="Be brief."),
            _row(2, "two"),
            _row(3, "three"),
        ):
            staging.add(row)
        assert staging.problems(campaign_id=campaign.pk, skip_existing=False, limit=10) == (
            [],
            0,
            0,
        )
        assert staging.batches == [2, 1]  # a chunk at a time, the rest sent before the checks
        count, first, last = staging.insert(campaign_id=campaign.pk, now=now)
    prompts = list(Prompt.objects.filter(campaign=campaign).order_by("id"))
    assert (count, first, last) == (3, prompts[0].pk, prompts[-1].pk)
    assert [p.messages[0]["content"] for p in prompts] == ["one", "two", "three"]
    one = prompts[0]
    assert (one.external_id, one.system, one.metadata, one.content_hash) == (
        "x1",
        "Be brief.",
        {"n": 1},
        "h-one",
    )
    assert (one.rendered, one.created_at) == ([], now)  # rendered after the commit


def test_it_names_each_bad_line_and_the_line_it_clashes_with(campaign):
    factories.PromptFactory(campaign=campaign, external_id="kept", content_hash="h-stored")
    factories.PromptFactory(campaign=campaign, external_id="", content_hash="h-in-campaign")
    rows = [
        _row(1, "first", external_id="a"),
        _row(2, "first"),  # the same conversation as line 1
        _row(3, "other", external_id="a"),  # id of line 1
        _row(4, "new", external_id="kept"),  # id of a stored prompt with another conversation
        _row(5, "in-campaign"),  # already in the campaign
        _row(6, "fine"),
    ]
    with _stage(rows) as staging:
        found, count, skipped = staging.problems(
            campaign_id=campaign.pk, skip_existing=False, limit=10
        )
        assert [(p.line, p.kind) for p in found] == [
            (2, "same"), (3, "repeat"), (4, "taken"), (5, "stored"),
        ]  # fmt: skip
        assert [p.other_line for p in found[:2]] == [1, 1]
        assert [p.reason for p in found] == [
            "same conversation as line 1",
            "id 'a' repeats line 1",
            "id 'kept' is already used by another prompt",
            "duplicate of a prompt already in this campaign",
        ]
        assert (count, skipped) == (4, 0)
        limited, count, _ = staging.problems(campaign_id=campaign.pk, skip_existing=False, limit=2)
        assert ([p.line for p in limited], count) == ([2, 3], 4)  # the first few, and how many


def test_with_skip_existing_what_the_campaign_has_is_counted_and_left_out(campaign, other_campaign):
    factories.PromptFactory(campaign=campaign, content_hash="h-old")
    factories.PromptFactory(campaign=other_campaign, content_hash="h-new")  # another campaign's
    with _stage([_row(1, "old"), _row(2, "new")]) as staging:
        assert staging.problems(campaign_id=campaign.pk, skip_existing=True, limit=10) == ([], 0, 1)
        count, first, last = staging.insert(campaign_id=campaign.pk, now=timezone.now())
    added = Prompt.objects.get(campaign=campaign, content_hash="h-new")
    assert (count, first, last) == (1, added.pk, added.pk)
    assert Prompt.objects.filter(campaign=campaign).count() == 2


def test_the_staging_table_is_gone_when_the_import_ends(campaign):
    with _stage([_row(1, "one")]) as staging:
        staging.flush()
        assert _staging_exists()
    assert not _staging_exists()
