"""Hostile files through both importers: each is refused with the line and the reason, never stored
half-way and never a crash (a NUL would be a PostgreSQL DataError; deep nesting a RecursionError).

Runs on PostgreSQL (bin/test) and on SQLite: TEST_DATABASE_URL=sqlite:////tmp/x.sqlite3 bin/test <this>.
"""

from __future__ import annotations

import pytest

from annotate import validation
from annotate.models import Candidate, Prompt
from annotate.services import prompts as prompt_service
from annotate.services.prompts import prompts_import
from annotate.services.responses import responses_import


def _prompts(campaign, data: bytes, name: str = "p.jsonl"):
    return prompts_import(campaign=campaign, file_name=name, data=data)


def _responses(campaign, data: bytes, name: str = "r.jsonl"):
    return responses_import(campaign=campaign, file_name=name, data=data)


def _errors(result) -> dict[int, str]:
    return {e.line: e.reason for e in result.errors}


def _nothing_stored():
    assert not Prompt.objects.exists()
    assert not Candidate.objects.exists()


NUL_ESCAPED = b'{"prompt": "fine"}\n{"prompt": "bad \\u0000 byte"}\n'
NUL_RAW = b'{"prompt": "fine"}\n{"prompt": "bad \x00 byte"}\n'


@pytest.mark.parametrize("data", [NUL_ESCAPED, NUL_RAW], ids=["escaped", "raw"])
def test_it_refuses_a_nul_in_a_jsonl_line_naming_the_line(campaign, data):
    result = _prompts(campaign, data)
    assert list(_errors(result)) == [2]
    _nothing_stored()


def test_it_names_the_field_holding_a_nul(campaign):
    data = b'{"prompt": "ok", "metadata": {"tags": ["a", "b\\u0000"]}}\n'
    result = _prompts(campaign, data)
    assert "metadata.tags[1]" in _errors(result)[1] and "NUL" in _errors(result)[1]
    response = _responses(
        campaign, b'{"prompt": "q", "responses": [{"model": "m", "text": "\\u0000"}]}'
    )
    assert "responses[0].text" in _errors(response)[1]
    _nothing_stored()


def test_it_refuses_a_nul_in_a_csv_cell_naming_the_column(campaign):
    result = _prompts(campaign, b"prompt,id\nfine,1\nbad\x00,2\n", name="p.csv")
    assert list(_errors(result)) == [3]
    assert "column 'prompt'" in _errors(result)[3]
    result = _responses(campaign, b"prompt,model,response\nq,m,a\x00b\n", name="r.csv")
    assert "column 'response'" in _errors(result)[2]
    _nothing_stored()


def test_it_refuses_a_lone_surrogate(campaign):
    result = _prompts(campaign, b'{"prompt": "half \\ud800 a character"}\n')
    assert "surrogate" in _errors(result)[1]
    _nothing_stored()


def test_it_refuses_json_nested_too_deep_with_the_line(campaign):
    deep = b'{"prompt": "q", "metadata": {"x": ' + b"[" * 5000 + b"]" * 5000 + b"}}"
    result = _prompts(campaign, b'{"prompt": "fine"}\n' + deep + b"\n")
    assert list(_errors(result)) == [2]
    assert f"deeper than {validation.MAX_JSON_DEPTH}" in _errors(result)[2]
    result = _responses(campaign, b"[" * 100_000)  # a whole-file array, as deep as it gets
    assert "deeper" in _errors(result)[1]
    _nothing_stored()


def test_it_names_the_line_of_bytes_that_are_not_utf8(campaign):
    data = b'{"prompt": "one"}\n{"prompt": "two"}\n{"prompt": "caf\xe9"}\n{"prompt": "\xff"}\n'
    result = _prompts(campaign, data)
    assert list(_errors(result)) == [3, 4]
    assert "not UTF-8" in _errors(result)[3] and "0xe9" in _errors(result)[3]
    assert list(_errors(_responses(campaign, b"prompt,model,response\nq,m,\xff\n", "r.csv"))) == [2]
    _nothing_stored()


def test_it_stores_a_csv_line_break_as_a_newline(campaign):
    data = b'prompt,id\r\n"first line\r\nsecond line",q1\r\n'
    assert _prompts(campaign, data, name="p.csv").ok
    assert Prompt.objects.get().messages[0]["content"] == "first line\nsecond line"


def test_it_keeps_extra_csv_columns_as_metadata(campaign):
    data = b'prompt,topic,metadata\nhello,networking,"{""level"": 2}"\nbye,,\n'
    assert _prompts(campaign, data, name="p.csv").ok
    stored = {p.messages[0]["content"]: p.metadata for p in Prompt.objects.all()}
    assert stored == {"hello": {"topic": "networking", "level": 2}, "bye": {}}


def test_it_refuses_a_csv_column_that_clashes_with_metadata(campaign):
    data = b'prompt,topic,metadata\nhello,a,"{""topic"": ""b""}"\n'
    assert "'topic'" in _errors(_prompts(campaign, data, name="p.csv"))[2]
    _nothing_stored()


def test_it_refuses_unknown_keys_and_columns_naming_them(campaign):
    result = _prompts(campaign, b'{"prompt": "q", "promt_id": "x"}\n')
    assert "'promt_id'" in _errors(result)[1]
    result = _responses(campaign, b"prompt,model,response,score\nq,m,a,5\n", name="r.csv")
    assert "'score'" in _errors(result)[2]
    result = _responses(campaign, b'{"prompt": "q", "responses": [{"model": "m", "txt": "a"}]}')
    assert "'txt'" in _errors(result)[1]
    result = _prompts(campaign, b'{"messages": [{"role": "user", "content": "q", "x": 1}]}')
    assert "'x'" in _errors(result)[1]
    _nothing_stored()


def test_it_refuses_a_key_given_twice(campaign):
    result = _prompts(campaign, b'{"prompt": "one", "prompt": "two"}\n')
    assert "'prompt' appears twice" in _errors(result)[1]
    _nothing_stored()


@pytest.mark.parametrize(
    "line",
    [b'{"prompt": "q", "metadata": {"x": NaN}}', b'{"prompt": "q", "metadata": {"x": 1e999}}',
     b'{"prompt": "q", "metadata": {"x": ' + b"9" * 5000 + b"}}",
     b'{"prompt": "q", "metadata": {"x": 99999999999999999999999}}'],
    ids=["nan", "infinite", "5000-digits", "past-64-bits"],
)  # fmt: skip
def test_it_refuses_numbers_no_database_or_dataset_can_hold(campaign, line):
    result = _prompts(campaign, line + b"\n")
    assert list(_errors(result)) == [1]
    _nothing_stored()


def test_it_ignores_a_byte_order_mark_at_the_start(campaign):
    assert _prompts(campaign, b"\xef\xbb\xbfprompt,id\nhello,q1\n", name="p.csv").ok
    assert _prompts(campaign, b'\xef\xbb\xbf{"prompt": "there"}\n').ok
    assert sorted(Prompt.objects.values_list("external_id", flat=True)) == ["", "q1"]


@pytest.mark.parametrize("data", [b"", b"\xef\xbb\xbf", b"\n\n  \n"], ids=["empty", "bom", "blank"])
def test_it_refuses_an_empty_file(campaign, data):
    assert "no prompts" in str(_prompts(campaign, data).errors[0])
    assert "no responses" in str(_responses(campaign, data, "r.csv").errors[0])


def test_it_keeps_a_line_separator_inside_a_json_string(campaign):
    assert _prompts(campaign, '{"prompt": "a\u2028b\u0085c"}\n'.encode()).ok
    assert Prompt.objects.get().messages[0]["content"] == "a\u2028b\u0085c"


def test_it_refuses_over_long_text_and_ids(campaign):
    long = "x" * (validation.MAX_TEXT + 1)
    result = _prompts(
        campaign, f'{{"prompt": "{long}"}}\n{{"prompt": "q", "id": "{"i" * 201}"}}\n'.encode()
    )
    assert "at most 200,000" in _errors(result)[1] and "longer than 200" in _errors(result)[2]
    result = _responses(campaign, f'{{"prompt": "q", "model": "m", "response": "{long}"}}'.encode())
    assert "at most 200,000" in _errors(result)[1]
    _nothing_stored()


def test_it_refuses_control_characters_in_ids_and_model_names(campaign):
    result = _prompts(campaign, b'{"prompt": "q", "id": "a\\u001bb"}\n')
    assert "control character (U+001B)" in _errors(result)[1]
    result = _responses(campaign, b'{"prompt": "q", "model": "m\\n2", "response": "a"}')
    assert "control character" in _errors(result)[1]
    _nothing_stored()


def test_it_refuses_a_file_over_the_size_limit(campaign, monkeypatch):
    monkeypatch.setattr(prompt_service, "MAX_IMPORT_BYTES", 100)
    result = _prompts(campaign, b'{"prompt": "q"}\n' * 10)
    assert "at most 100 bytes" in str(result.errors[0])
    _nothing_stored()


def test_it_lists_at_most_200_bad_lines(campaign):
    result = _prompts(campaign, b"{oops\n" * 500)
    assert len(result.errors) == 201
    assert result.errors[-1].reason == "300 more bad lines not listed"


def test_it_refuses_a_json_file_that_is_not_an_array_of_rows(campaign):
    result = _prompts(campaign, b'[{"prompt": "q"}] trailing')
    assert "malformed JSON" in str(result.errors[0])
    _nothing_stored()
