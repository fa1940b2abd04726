"""The self-identification scan: responses that name their model or vendor, and ones that do not."""

from __future__ import annotations

import pytest

from annotate.selfid import self_identification, self_identifies


@pytest.mark.parametrize(
    "text",
    [
        "As Claude, I can't browse the web.",
        "I'm ChatGPT, a large language model.",
        "I am an AI language model developed by OpenAI.",
        "As an AI language model developed by OpenAI, I cannot do that.",
        "OpenAI trained me on a large corpus.",
        "I was trained by Anthropic to be helpful.",
        "I'm Gemini, and here's what I found.",
        "my name is Llama and I'm happy to help",
        "I’m an AI assistant made by Google.",
        "Hello! This is Claude speaking.",
        "I'm a large language model from Google.",
        "Sure. (I'm based on GPT-4, so my knowledge has a cutoff.)",
        "Anthropic has policies about this.",
        "As Mistral, I'd answer this way:",
        "I'm Claude.",
    ],
)
def test_it_flags_a_response_naming_its_model_or_vendor(text):
    assert self_identifies(text), text


@pytest.mark.parametrize(
    "text",
    [
        "Claude Monet painted water lilies at Giverny.",
        "Claude Shannon founded information theory.",
        "As Claude Shannon showed, entropy bounds compression.",
        "I am Claude Debussy's biggest fan.",
        "Gemini is the third sign of the zodiac.",
        "A llama is a domesticated South American camelid.",
        "The mistral is a cold wind in southern France.",
        "I am an AI assistant, and I'd be glad to help with your essay.",
        "Here is a Python function that sorts a list.",
        "I am happy to help you plan the trip.",
    ],
)
def test_it_leaves_ordinary_text_alone(text):
    assert not self_identifies(text), self_identification(text)


def test_it_allows_names_the_conversation_brought_up():
    prompt = "Compare GPT-4 and Claude 3 for coding. Which does OpenAI or Anthropic recommend?"
    answer = "GPT-4 from OpenAI is strong at code; Claude 3 from Anthropic handles long files."
    assert not self_identifies(answer, context=prompt)
    assert self_identifies(answer)  # without that context, the same words are a give-away


def test_it_flags_first_person_claims_even_when_the_prompt_names_the_model():
    prompt = "What do you think of Claude?"
    assert self_identifies("As Claude, I may be biased here.", context=prompt)
    assert self_identification("I am ChatGPT. OpenAI trained me.") == [
        "I am ChatGPT",
        "OpenAI trained me",
    ]
