"""prompts_import: JSONL and CSV in, all rows or none, every bad line reported by number."""

from __future__ import annotations

import json

import pytest

from annotate.models import Prompt
from annotate.services.prompts import conversation_hash, prompts_import
from annotate.validation import MAX_TEXT
from tests import factories


def _jsonl(*rows) -> bytes:
    return "\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows).encode()


def test_it_imports_jsonl_prompts_and_conversations(campaign):
    data = _jsonl(
        {"prompt": "Explain **TCP** slow start.", "id": "q1", "metadata": {"topic": "net"}},
        "",
        {
            "messages": [
                {"role": "user", "content": "Hi"},
                {"role": "assistant", "content": "Hello!"},
                {"role": "user", "content": "Tell me a joke"},
            ],
            "system": "Be brief.",
            "id": 7,
        },
    )
    result = prompts_import(campaign=campaign, file_name="p.jsonl", data=data)
    assert result.ok and result.created == 2
    first, second = Prompt.objects.filter(campaign=campaign).order_by("id")
    assert first.external_id == "q1"
    assert first.messages == [{"role": "user", "content": "Explain **TCP** slow start."}]
    assert first.metadata == {"topic": "net"}
    assert first.rendered == [
        {"role": "user", "html": "<p>Explain <strong>TCP</strong> slow start.</p>\n"}
    ]
    assert second.external_id == "7" and second.system == "Be brief."
    assert [t["role"] for t in second.rendered] == ["user", "assistant", "user"]
    assert second.content_hash == conversation_hash(system="Be brief.", messages=second.messages)


def test_it_moves_a_leading_system_message_to_the_system_field(campaign):
    data = _jsonl(
        {
            "messages": [
                {"role": "system", "content": "Be terse."},
                {"role": "user", "content": "Q?"},
            ]
        }
    )
    assert prompts_import(campaign=campaign, file_name="p.jsonl", data=data).ok
    prompt = Prompt.objects.get(campaign=campaign)
    assert prompt.system == "Be terse." and prompt.messages == [{"role": "user", "content": "Q?"}]


def test_it_imports_csv_with_optional_columns(campaign):
    data = (
        b"id,prompt,system,metadata\n"
        b'a1,"Write a haiku, about rain",,"{""lang"": ""en""}"\n'
        b'a2,"Two\nline prompt",Be kind.,\n'
    )
    result = prompts_import(campaign=campaign, file_name="p.CSV", data=data)
    assert result.ok, result.errors
    prompts = {p.external_id: p for p in Prompt.objects.filter(campaign=campaign)}
    assert prompts["a1"].messages[0]["content"] == "Write a haiku, about rain"
    assert prompts["a1"].metadata == {"lang": "en"}
    assert prompts["a2"].messages[0]["content"] == "Two\nline prompt"
    assert prompts["a2"].system == "Be kind." and prompts["a2"].metadata == {}


def test_it_reports_every_bad_jsonl_line_and_imports_nothing(campaign):
    factories.PromptFactory(campaign=campaign, external_id="taken")
    before = Prompt.objects.count()
    data = _jsonl(
        {"prompt": "fine"},  # 1
        "{not json",  # 2
        {"id": "x"},  # 3 missing prompt
        {"prompt": "   "},  # 4 empty
        {
            "messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]
        },  # 5
        {"messages": [{"role": "robot", "content": "q"}]},  # 6
        {"prompt": "dup id", "id": "d"},  # 7
        {"prompt": "dup id again", "id": "d"},  # 8
        {"prompt": "fine"},  # 9 same as line 1
        [1, 2],  # 10
        {"prompt": "x", "metadata": "notadict"},  # 11
        {"prompt": "y", "id": "taken"},  # 12
        {"prompt": "z", "messages": [{"role": "user", "content": "z"}]},  # 13
    )
    result = prompts_import(campaign=campaign, file_name="p.jsonl", data=data)
    assert not result.ok and result.created == 0
    by_line = {e.line: e.reason for e in result.errors}
    assert sorted(by_line) == [2, 3, 4, 5, 6, 8, 9, 10, 11, 12, 13]
    assert "malformed JSON" in by_line[2]
    assert "missing prompt" in by_line[3]
    assert "empty prompt" in by_line[4]
    assert "last message must be from the user" in by_line[5]
    assert "'robot'" in by_line[6]
    assert "repeats line 7" in by_line[8]
    assert "same conversation as line 1" in by_line[9]
    assert "JSON object" in by_line[10]
    assert "metadata" in by_line[11]
    assert "already used" in by_line[12]
    assert "not both" in by_line[13]
    assert Prompt.objects.count() == before


def test_it_reports_bad_csv_rows_by_their_line(campaign):
    data = (
        b"prompt,metadata\n"
        b"ok,\n"
        b",\n"  # blank row: ignored
        b"bad meta,{oops\n"
        b'"spans\ntwo lines",[1]\n'
        b"too,many,cells\n"
    )
    result = prompts_import(campaign=campaign, file_name="p.csv", data=data)
    assert {e.line: e.reason for e in result.errors}.keys() == {4, 5, 7}
    assert "not valid JSON" in str(result.errors[0])
    assert Prompt.objects.filter(campaign=campaign).count() == 0


def test_it_refuses_a_csv_without_a_prompt_column(campaign):
    result = prompts_import(campaign=campaign, file_name="p.csv", data=b"question\nhello\n")
    assert [e.line for e in result.errors] == [2]
    assert "missing prompt" in result.errors[0].reason


def test_it_refuses_an_empty_file_and_non_utf8(campaign):
    assert "no prompts" in str(
        prompts_import(campaign=campaign, file_name="p.jsonl", data=b"\n").errors[0]
    )
    result = prompts_import(campaign=campaign, file_name="p.jsonl", data=b'{"prompt": "\xff"}')
    assert "not UTF-8" in str(result.errors[0])


def test_it_refuses_prompts_already_in_the_campaign_unless_asked_to_skip(campaign):
    data = _jsonl({"prompt": "one"}, {"prompt": "two"})
    assert prompts_import(campaign=campaign, file_name="p.jsonl", data=data).created == 2
    again = _jsonl({"prompt": "one"}, {"prompt": "two"}, {"prompt": "three"})
    refused = prompts_import(campaign=campaign, file_name="p.jsonl", data=again)
    assert [e.line for e in refused.errors] == [1, 2]
    assert "already in this campaign" in refused.errors[0].reason
    skipped = prompts_import(campaign=campaign, file_name="p.jsonl", data=again, skip_existing=True)
    assert skipped.ok and skipped.created == 1 and skipped.skipped == 2
    assert Prompt.objects.filter(campaign=campaign).count() == 3


def test_it_dedups_per_campaign_not_globally(campaign, other_campaign):
    data = _jsonl({"prompt": "shared"})
    assert prompts_import(campaign=campaign, file_name="p.jsonl", data=data).created == 1
    assert prompts_import(campaign=other_campaign, file_name="p.jsonl", data=data).created == 1


def test_it_sanitises_markdown_at_ingest(campaign):
    data = _jsonl({"prompt": "<script>alert(1)</script> [x](javascript:alert(1))"})
    prompts_import(campaign=campaign, file_name="p.jsonl", data=data)
    html = Prompt.objects.get(campaign=campaign).rendered[0]["html"]
    assert "<script" not in html and "&lt;script&gt;" in html
    assert 'href="javascript' not in html


def test_it_reads_conversations_from_a_csv_messages_column(campaign):
    turns = [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Yo"},
        {"role": "user", "content": "Joke?"},
    ]
    cell = json.dumps(turns).replace('"', '""')
    data = f'messages,id\n"{cell}",c1\n'.encode()
    result = prompts_import(campaign=campaign, file_name="p.csv", data=data)
    assert result.ok, result.errors
    assert Prompt.objects.get(campaign=campaign, external_id="c1").messages == turns


def test_it_reads_a_json_array_file_numbering_items(campaign):
    data = json.dumps([{"prompt": "a"}, {"prompt": ""}, {"prompt": "c"}], indent=2).encode()
    result = prompts_import(campaign=campaign, file_name="p.json", data=data)
    assert [(e.line, e.reason) for e in result.errors] == [(2, "empty prompt")]
    fixed = json.dumps([{"prompt": "a"}, {"prompt": "c"}]).encode()
    assert prompts_import(campaign=campaign, file_name="p.json", data=fixed).created == 2


def test_it_refuses_turns_that_do_not_alternate_and_nul_characters(campaign):
    user, assistant = ({"role": r, "content": r} for r in ("user", "assistant"))
    data = _jsonl(
        {"messages": [user, user]},  # 1 two user turns in a row
        {"messages": [assistant, user]},  # 2 the assistant opens
        {"messages": [user, assistant, assistant, user]},  # 3
        {"prompt": "nul \u0000 inside"},  # 4
        {"prompt": "fine", "system": "nul \u0000 inside"},  # 5
        {"messages": [user, {"role": "assistant", "content": "a\u0000"}, user]},  # 6
        {"messages": [{"role": "system", "content": "s"}, user, assistant, user]},  # 7 fine
    )
    result = prompts_import(campaign=campaign, file_name="p.jsonl", data=data)
    by_line = {e.line: e.reason for e in result.errors}
    assert sorted(by_line) == [1, 2, 3, 4, 5, 6]
    assert "message 2 is from the user but should be from the assistant" in by_line[1]
    assert "message 1 is from the assistant but should be from the user" in by_line[2]
    assert "message 3 is from the assistant but should be from the user" in by_line[3]
    assert "NUL" in by_line[4] and "NUL" in by_line[5] and "NUL" in by_line[6]
    assert not Prompt.objects.filter(campaign=campaign).exists()


@pytest.mark.parametrize("system", [False, 0, [], {}, 1])
def test_it_refuses_a_system_prompt_that_is_not_text(campaign, system):
    data = json.dumps({"prompt": "Q", "system": system}).encode()
    result = prompts_import(campaign=campaign, file_name="p.jsonl", data=data)
    assert [e.line for e in result.errors] == [1] and "'system' must be a string" in str(
        result.errors[0]
    )
    assert prompts_import(
        campaign=campaign, file_name="p.jsonl", data=b'{"prompt": "Q", "system": null}'
    ).ok


def test_it_bounds_a_leading_system_message_like_the_system_field(campaign):
    long = {"role": "system", "content": "s" * (MAX_TEXT + 1)}
    data = json.dumps({"messages": [long, {"role": "user", "content": "Q"}]}).encode()
    result = prompts_import(campaign=campaign, file_name="p.jsonl", data=data)
    assert "message 1 (system)" in str(result.errors[0]) and not Prompt.objects.exists()
