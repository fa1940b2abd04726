"""prompts_import at scale: a stream in, chunks staged, checks in SQL, all or nothing at any size.

Runs on PostgreSQL (bin/test) and, through test_import_sqlite.py, on SQLite.
"""

from __future__ import annotations

import io
import json

import pytest

from annotate.models import Prompt
from annotate.services import prompts as prompt_service
from annotate.services.assignment import assignment_next
from annotate.services.import_files import MAX_ERRORS_LISTED
from annotate.services.prompts import prompts_import, prompts_render
from annotate.sql import imports as imports_sql
from tests import factories

LINES = 3_000


def _line(i: int, **extra) -> str:
    row = {"id": f"q{i}", "prompt": f"Question {i}: why is the sky blue?", **extra}
    return json.dumps(row)


def _file(lines: list[str]) -> bytes:
    return ("\n".join(lines) + "\n").encode()


class _StreamOnly(io.BytesIO):
    """A file that can only be iterated line by line: reading it whole fails the test."""

    def read(self, *args):
        raise AssertionError("the import read the whole file")

    def readlines(self, *args):
        raise AssertionError("the import read the whole file")


@pytest.mark.parametrize(
    ("last", "reason"),
    [
        ('{"prompt": "cut short', "malformed JSON"),
        (_line(1, id="other"), "same conversation as line 1"),
        (json.dumps({"id": "q7", "prompt": "A new question"}), "id 'q7' repeats line 7"),
        (json.dumps({"prompt": "fine", "colour": "red"}), "unknown keys 'colour'"),
    ],
    ids=["malformed", "repeated-conversation", "repeated-id", "unknown-key"],
)
def test_it_imports_nothing_when_the_last_of_thousands_of_lines_is_bad(campaign, last, reason):
    lines = [_line(i) for i in range(1, LINES)] + [last]
    result = prompts_import(campaign=campaign, file_name="p.jsonl", data=_file(lines))
    assert [e.line for e in result.errors] == [LINES]
    assert reason in result.errors[0].reason
    assert result.created == 0 and not Prompt.objects.exists()


def test_it_imports_thousands_of_lines_in_file_order(campaign):
    lines = [_line(i) for i in range(1, LINES + 1)]
    result = prompts_import(campaign=campaign, file_name="p.jsonl", data=_StreamOnly(_file(lines)))
    assert result.ok and result.created == LINES
    ids = list(Prompt.objects.filter(campaign=campaign).values_list("external_id", flat=True))
    assert ids == [f"q{i}" for i in range(1, LINES + 1)]


def test_it_stages_a_chunk_at_a_time_never_the_whole_file(campaign, monkeypatch):
    monkeypatch.setattr(imports_sql, "CHUNK", 100)
    stagings = []
    real_init = imports_sql.PromptStaging.__init__

    def spy(self, **kwargs):
        real_init(self, **kwargs)
        stagings.append(self)

    monkeypatch.setattr(imports_sql.PromptStaging, "__init__", spy)
    lines = [_line(i) for i in range(1, 1051)]
    source = _StreamOnly(_file(lines))
    assert prompts_import(campaign=campaign, file_name="p.jsonl", data=source).created == 1050
    assert stagings[0].batches == [100] * 10 + [50]
    assert Prompt.objects.filter(campaign=campaign).count() == 1050


def test_it_counts_every_bad_line_but_keeps_only_those_it_lists(campaign, monkeypatch):
    kept = []
    real_add = prompt_service.BadLines.add

    def spy(self, line, reason):
        real_add(self, line, reason)
        kept.append(len(self._kept))

    monkeypatch.setattr(prompt_service.BadLines, "add", spy)
    lines = [_line(i) for i in range(1, 1001)] * 5  # every line after the first thousand repeats
    result = prompts_import(campaign=campaign, file_name="p.jsonl", data=_file(lines))
    assert len(result.errors) == MAX_ERRORS_LISTED + 1
    assert [e.line for e in result.errors[:3]] == [1001, 1002, 1003]
    assert result.errors[1].reason == "same conversation as line 2"
    assert result.errors[-1].reason == f"{4000 - MAX_ERRORS_LISTED:,} more bad lines not listed"
    assert max(kept, default=0) < 2 * MAX_ERRORS_LISTED
    assert not Prompt.objects.exists()


def test_it_lists_bad_lines_in_line_order_whichever_check_found_them(campaign):
    lines = [_line(i) for i in range(1, 11)]
    lines[3] = _line(1)  # line 4 repeats line 1 (found in SQL)
    lines[5] = "{oops"  # line 6 (found while reading)
    lines[8] = _line(2)  # line 9 repeats line 2
    result = prompts_import(campaign=campaign, file_name="p.jsonl", data=_file(lines))
    assert [e.line for e in result.errors] == [4, 6, 9]


def test_it_checks_ids_and_conversations_against_the_campaign(campaign, other_campaign):
    factories.PromptFactory(campaign=campaign, external_id="q2")  # another conversation
    stored = prompts_import(campaign=other_campaign, file_name="p.jsonl", data=_file([_line(1)]))
    assert stored.created == 1  # another campaign's prompts are not in the way
    prompts_import(campaign=campaign, file_name="p.jsonl", data=_file([_line(3)]))
    data = _file([_line(1), _line(2), _line(3)])
    result = prompts_import(campaign=campaign, file_name="p.jsonl", data=data)
    assert [(e.line, e.reason) for e in result.errors] == [
        (2, "id 'q2' is already used by another prompt"),
        (3, "duplicate of a prompt already in this campaign"),
    ]
    again = prompts_import(campaign=campaign, file_name="p.jsonl", data=data, skip_existing=True)
    assert [e.line for e in again.errors] == [2]  # an id clash is never skipped
    fixed = _file([_line(1), _line(3), _line(4)])
    skipped = prompts_import(campaign=campaign, file_name="p.jsonl", data=fixed, skip_existing=True)
    assert (skipped.created, skipped.skipped) == (2, 1)


def test_it_refuses_a_file_over_the_limit_while_streaming_one_of_unknown_size(
    campaign, monkeypatch
):
    monkeypatch.setattr(prompt_service, "MAX_IMPORT_BYTES", 1000)

    class Pipe(_StreamOnly):
        def seekable(self):
            return False

    result = prompts_import(
        campaign=campaign, file_name="p.jsonl", data=Pipe(_file([_line(i) for i in range(100)]))
    )
    assert result.errors[0].line == 0 and "over 1,000 bytes" in result.errors[0].reason
    assert not Prompt.objects.exists()


def test_it_streams_csv_too(campaign):
    rows = "".join(f'q{i},"Question {i},\nwith a line break"\n' for i in range(1, 501))
    source = _StreamOnly(f"id,prompt\n{rows}".encode())
    assert prompts_import(campaign=campaign, file_name="p.csv", data=source).created == 500
    last = Prompt.objects.get(campaign=campaign, external_id="q500")
    assert last.messages[0]["content"] == "Question 500,\nwith a line break"


def test_it_renders_a_small_import_before_it_returns(campaign):
    prompts_import(campaign=campaign, file_name="p.jsonl", data=_file([_line(1)]))
    assert Prompt.objects.get().rendered == [
        {"role": "user", "html": "<p>Question 1: why is the sky blue?</p>\n"}
    ]


def test_it_renders_a_large_import_in_background_chunks(
    campaign, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(prompt_service, "RENDER_INLINE_MAX", 10)
    monkeypatch.setattr(prompt_service, "RENDER_CHUNK", 25)
    sent = []
    from annotate import tasks

    monkeypatch.setattr(tasks.prompts_render_task, "delay", lambda **kw: sent.append(kw))
    with django_capture_on_commit_callbacks(execute=True):
        result = prompts_import(
            campaign=campaign, file_name="p.jsonl", data=_file([_line(i) for i in range(60)])
        )
    assert result.created == 60
    assert not Prompt.objects.exclude(rendered=[]).exists()  # nothing rendered in the import
    first = Prompt.objects.order_by("id").first().id
    assert sent == [
        {"first_id": first, "last_id": first + 24},
        {"first_id": first + 25, "last_id": first + 49},
        {"first_id": first + 50, "last_id": first + 59},
    ]
    assert sum(prompts_render(**chunk) for chunk in sent) == 60
    assert sum(prompts_render(**chunk) for chunk in sent) == 0  # a redelivered task: nothing left
    prompt = Prompt.objects.get(external_id="q42")
    assert prompt.rendered == [
        {"role": "user", "html": "<p>Question 42: why is the sky blue?</p>\n"}
    ]


def test_the_rating_page_renders_and_stores_a_prompt_still_unrendered(campaign, rater):
    prompt = factories.PromptFactory(
        campaign=campaign, messages=[{"role": "user", "content": "Is **this** rendered?"}]
    )
    Prompt.objects.filter(pk=prompt.pk).update(rendered=[])
    factories.PairFactory(campaign=campaign, prompt=prompt)
    lease = assignment_next(campaign=campaign, rater=rater)
    expected = [{"role": "user", "html": "<p>Is <strong>this</strong> rendered?</p>\n"}]
    assert lease.pair.prompt.rendered == expected
    prompt.refresh_from_db()
    assert prompt.rendered == expected  # stored: the next view does not render it again


@pytest.mark.parametrize(
    ("system", "messages"),
    [
        ("", [{"role": "user", "content": 'Caf\u00e9 "quoted" \\ back\nslash \u2028'}]),
        ("Be terse.", [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"},
                       {"role": "user", "content": "c"}]),
    ],
)  # fmt: skip
def test_the_hash_is_that_of_the_conversation_as_canonical_json(system, messages):
    import hashlib

    from annotate.services.prompts import conversation_hash

    canonical = json.dumps(
        {"system": system, "messages": messages},
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    assert conversation_hash(system=system, messages=messages) == (
        hashlib.sha256(canonical.encode()).hexdigest()
    )


def test_what_runs_before_the_commit_goes_with_the_prompts(campaign):
    seen = []
    result = prompts_import(
        campaign=campaign,
        file_name="p.jsonl",
        data=_file([_line(1), _line(2)]),
        before_commit=lambda r: seen.append((r.created, Prompt.objects.count())),
    )
    assert result.created == 2 and seen == [(2, 2)]

    class Refused(Exception):
        pass

    def refuse(result):
        raise Refused

    with pytest.raises(Refused):
        prompts_import(
            campaign=campaign, file_name="p.jsonl", data=_file([_line(3)]), before_commit=refuse
        )
    assert Prompt.objects.count() == 2  # the third was rolled back with the hook's refusal


def test_a_refused_file_counts_every_bad_line(campaign):
    result = prompts_import(campaign=campaign, file_name="p.jsonl", data=b"{oops\n" * 300)
    assert result.bad_lines == 300 and len(result.errors) == MAX_ERRORS_LISTED + 1
