"""responses_import: answers made elsewhere become DONE candidates of "imported" generators."""

from __future__ import annotations

import json

import pytest

from annotate.models import Candidate, Generator, Prompt
from annotate.services.pairing import pairs_build
from annotate.services.responses import responses_import
from tests import factories


def _jsonl(*rows) -> bytes:
    return "\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows).encode()


def test_it_imports_nested_jsonl_with_new_prompts(campaign):
    data = _jsonl(
        {
            "prompt": "Explain DNS.",
            "id": "q1",
            "responses": [
                {"model": "llama-3-8b", "text": "DNS maps **names** to addresses."},
                {"model": "my-sft", "text": "It is the phone book of the internet."},
            ],
        },
        {
            "messages": [{"role": "user", "content": "Hi"}],
            "responses": [{"model": "my-sft", "text": "Hello!"}],
        },
    )
    result = responses_import(campaign=campaign, file_name="r.jsonl", data=data)
    assert result.ok and result.created == 3, result.errors
    assert Prompt.objects.filter(campaign=campaign).count() == 2
    gens = Generator.objects.filter(campaign=campaign)
    assert {(g.provider, g.model) for g in gens} == {
        ("imported", "llama-3-8b"),
        ("imported", "my-sft"),
    }
    c = Candidate.objects.get(generator__model="llama-3-8b")
    assert c.status == Candidate.Status.DONE and c.prompt.external_id == "q1"
    assert c.html == "<p>DNS maps <strong>names</strong> to addresses.</p>\n"
    assert pairs_build(campaign=campaign) == 1  # the prompt answered by both models


def test_it_imports_flat_csv_against_existing_prompts(campaign):
    factories.PromptFactory(campaign=campaign, external_id="p1")
    data = (
        b"prompt_id,model,response\n"
        b"p1,model-a,First answer\n"
        b"p1,model-a,Second sample\n"
        b'p1,model-b,"Multi\nline"\n'
    )
    result = responses_import(campaign=campaign, file_name="r.csv", data=data)
    assert result.ok and result.created == 3, result.errors
    samples = Candidate.objects.filter(generator__model="model-a").order_by("sample_index")
    assert [c.sample_index for c in samples] == [0, 1]
    assert Candidate.objects.get(generator__model="model-b").text == "Multi\nline"


def test_it_imports_flat_rows_that_repeat_a_new_prompt(campaign):
    data = b"prompt,model,response\nWhat is 2+2?,a,4\nWhat is 2+2?,b,Four\n"
    assert responses_import(campaign=campaign, file_name="r.csv", data=data).created == 2
    assert Prompt.objects.filter(campaign=campaign).count() == 1


def test_it_skips_responses_already_imported(campaign):
    data = _jsonl({"prompt": "Q", "responses": [{"model": "m", "text": "A"}]})
    responses_import(campaign=campaign, file_name="r.jsonl", data=data)
    again = responses_import(campaign=campaign, file_name="r.jsonl", data=data)
    assert again.ok and again.created == 0 and again.skipped == 1
    assert Candidate.objects.count() == 1


def test_it_names_the_generator_apart_from_a_live_one(campaign):
    factories.GeneratorFactory(campaign=campaign, name="gpt-x", provider="demo")
    data = _jsonl({"prompt": "Q", "model": "gpt-x", "response": "A"})
    assert responses_import(campaign=campaign, file_name="r.jsonl", data=data).ok
    assert Generator.objects.get(provider="imported").name == "gpt-x (imported)"


def test_it_reports_every_bad_line_and_imports_nothing(campaign):
    factories.PromptFactory(campaign=campaign, external_id="p1")
    prompts_before, candidates_before = Prompt.objects.count(), Candidate.objects.count()
    data = _jsonl(
        {"prompt": "ok", "responses": [{"model": "m", "text": "fine"}]},  # 1
        "{broken",  # 2
        {"prompt": "no responses"},  # 3
        {"prompt": "q", "responses": [{"model": "", "text": "t"}]},  # 4
        {"prompt": "q", "responses": [{"model": "m", "text": " "}]},  # 5
        {"prompt_id": "nope", "model": "m", "response": "r"},  # 6
        {"prompt_id": "p1", "prompt": "also", "model": "m", "response": "r"},  # 7
        {"messages": [{"role": "assistant", "content": "a"}], "model": "m", "response": "r"},  # 8
        {"prompt": "q", "responses": []},  # 9
    )
    result = responses_import(campaign=campaign, file_name="r.jsonl", data=data)
    by_line = {e.line: e.reason for e in result.errors}
    assert sorted(by_line) == [2, 3, 4, 5, 6, 7, 8, 9]
    assert "missing responses" in by_line[3]
    assert "missing model name" in by_line[4]
    assert "empty response text" in by_line[5]
    assert "no prompt with id 'nope'" in by_line[6]
    assert "not both" in by_line[7]
    assert "should be from the user" in by_line[8]  # an assistant turn cannot open it
    assert (Prompt.objects.count(), Candidate.objects.count()) == (
        prompts_before,
        candidates_before,
    )
    assert not Generator.objects.filter(provider="imported").exists()


def test_it_checks_metadata_on_a_row_whose_prompt_is_stored(campaign):
    responses_import(campaign=campaign, file_name="r.jsonl", data=_jsonl(
        {"prompt": "Q", "model": "m", "response": "A"}
    ))  # fmt: skip
    again = _jsonl({"prompt": "Q", "metadata": 0, "model": "m", "response": "B"})
    result = responses_import(campaign=campaign, file_name="r.jsonl", data=again)
    assert "'metadata' must be a JSON object" in str(result.errors[0])


@pytest.mark.parametrize(
    ("row", "says"),
    [
        ({"prompt_id": "p1", "system": "S", "model": "m", "response": "r"}, "give no 'system'"),
        ({"prompt_id": "p1", "id": "x", "metadata": {}, "model": "m", "response": "r"},
         "give no 'id', 'metadata'"),
        ({"prompt_id": "p1", "prompt": None, "model": "m", "response": "r"}, "not both"),
        ({"prompt": "Q", "responses": [{"model": "m", "text": "t"}], "model": "m"},
         "give either 'responses' or 'model' and 'response'"),
    ],
)  # fmt: skip
def test_it_refuses_keys_a_row_would_have_ignored(campaign, row, says):
    factories.PromptFactory(campaign=campaign, external_id="p1")
    result = responses_import(campaign=campaign, file_name="r.jsonl", data=_jsonl(row))
    assert says in str(result.errors[0]) and not Candidate.objects.exists()


def test_a_csv_row_with_a_prompt_id_may_leave_other_columns_empty(campaign):
    factories.PromptFactory(campaign=campaign, external_id="p1")
    data = b"prompt_id,prompt,system,model,response\np1,,,m,An answer\n,New?,,m,Yes\n"
    result = responses_import(campaign=campaign, file_name="r.csv", data=data)
    assert result.ok and result.created == 2, result.errors


def test_it_asks_about_stored_prompts_in_chunks(campaign, monkeypatch):
    from annotate.services import responses as response_service

    monkeypatch.setattr(response_service, "KNOWN_CHUNK", 2)
    for i in range(5):
        factories.PromptFactory(campaign=campaign, external_id=f"p{i}")
    first = "".join(f"p{i},m,answer {i}\n" for i in range(5))
    assert (
        responses_import(
            campaign=campaign, file_name="r.csv", data=f"prompt_id,model,response\n{first}".encode()
        ).created
        == 5
    )
    again = first + "".join(f"p{i},m,second answer {i}\n" for i in range(5))
    result = responses_import(
        campaign=campaign, file_name="r.csv", data=f"prompt_id,model,response\n{again}".encode()
    )
    assert (result.created, result.skipped) == (5, 5)
    indexes = Candidate.objects.filter(prompt__external_id="p4").values_list(
        "sample_index", flat=True
    )
    assert sorted(indexes) == [0, 1]
