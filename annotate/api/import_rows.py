"""One row of each import as the API schema documents it, for JSON bodies (``{"rows": [...]}``).

The importers (annotate/services/prompts.py and responses.py) are the rule; these schemas say what
they accept of one row on its own, key by key, so that a client can build rows from the schema.
What a schema cannot say is checked there and reported with the row's number: a conversation or an
id repeated on another row or already in the campaign, a ``prompt_id`` naming no stored prompt, and
the order of turns (a system turn first only, the last turn the user's). For that reason the
schemathesis run (tests/api/test_api_schemathesis.py) does not expect every row valid here to be
accepted.

``null`` stands for an absent value where the importers read it so (``"system": null`` is no system
prompt). White space around an id, a ``prompt_id`` or a model name is trimmed first.
"""

from __future__ import annotations

from annotate.api.schema import text_pattern
from annotate.services.prompts import MAX_ID_LENGTH, MAX_TURNS, ROLES
from annotate.services.responses import MAX_MODEL_LENGTH
from annotate.validation import MAX_TEXT

_CONTROL = r"\x00-\x1f\x7f"

TEXT = {"type": "string", "maxLength": MAX_TEXT, "pattern": text_pattern()}
# An id, after trimming: one line of at most MAX_ID_LENGTH characters; an integer is its digits.
_ID_TEXT = rf"^\s*[^{_CONTROL}]{{0,{MAX_ID_LENGTH}}}\s*$"
ID = {"anyOf": [{"type": "integer", "nullable": True}, {"type": "string", "pattern": _ID_TEXT}]}
_ID_GIVEN = {
    "anyOf": [
        {"type": "integer"},
        {
            "type": "string",
            "pattern": rf"^\s*[^\s{_CONTROL}][^{_CONTROL}]{{0,{MAX_ID_LENGTH - 1}}}\s*$",
        },
    ]
}
_ID_NOT_GIVEN = {"nullable": True, "type": "string", "pattern": r"^\s*$"}
# A model name: one line, at most MAX_MODEL_LENGTH characters once trimmed of (non-control) spaces.
_SPACE = rf"[^\S{_CONTROL}]"
MODEL = {
    "type": "string",
    "pattern": (rf"^{_SPACE}*[^\s{_CONTROL}][^{_CONTROL}]{{0,{MAX_MODEL_LENGTH - 1}}}{_SPACE}*$"),
}

MESSAGES = {
    "type": "array",
    "nullable": True,
    "minItems": 1,
    "maxItems": MAX_TURNS,
    "description": "The conversation so far, ending with the user's turn. A first turn with the "
    "role system becomes the prompt's system prompt.",
    "items": {
        "type": "object",
        "additionalProperties": False,
        "required": ["role", "content"],
        "properties": {"role": {"enum": [*ROLES, "system"]}, "content": {"type": "string"}},
        "oneOf": [
            {"properties": {"role": {"enum": list(ROLES)}, "content": {**TEXT, "example": "Hi"}}},
            {
                "properties": {
                    "role": {"enum": ["system"]},
                    "content": {"maxLength": MAX_TEXT, "pattern": text_pattern(blank=True)},
                }
            },
        ],
    },
}
_NULL = {"type": "string", "nullable": True, "enum": [None]}
_PROMPT_FIELDS = {
    "id": {**ID, "description": "Your id for the prompt (unique in the campaign)."},
    "system": {
        "type": "string",
        "nullable": True,
        "maxLength": MAX_TEXT,
        "pattern": text_pattern(blank=True),
    },
    "metadata": {"type": "object", "nullable": True, "description": "Kept with the prompt."},
}
# The conversation: exactly one of `prompt` and `messages` (the other absent or null).
_BY_PROMPT = {
    "prompt": {
        **TEXT,
        "description": "A one-turn prompt: the user's text.",
        "example": "Explain DNS in two sentences.",
    },
    "messages": _NULL,
    **_PROMPT_FIELDS,
}
_BY_MESSAGES = {"messages": MESSAGES, "prompt": _NULL, **_PROMPT_FIELDS}


def _closed(description: str, properties: dict, required: list[str]) -> dict:
    return {
        "type": "object",
        "description": description,
        "additionalProperties": False,
        "properties": properties,
        "required": required,
    }


PROMPT_ROW = {
    "description": "A prompt: `prompt` or `messages`, with optional `id`, `system`, `metadata`.",
    "oneOf": [
        _closed("A one-turn prompt.", _BY_PROMPT, ["prompt"]),
        _closed("A conversation.", _BY_MESSAGES, ["messages"]),
    ],
}

_RESPONSE_TEXT = {**TEXT, "example": "DNS maps names to addresses."}
# What answers the prompt: a list of responses, or one model and its response.
_ANSWERS = {
    "a list of responses": (
        {
            "responses": {
                "type": "array",
                "minItems": 1,
                "items": _closed(
                    "One model's response.",
                    {"model": {**MODEL, "example": "llama-3-8b"}, "text": _RESPONSE_TEXT},
                    ["model", "text"],
                ),
            }
        },
        ["responses"],
    ),
    "one response": (
        {"model": {**MODEL, "example": "llama-3-8b"}, "response": _RESPONSE_TEXT},
        ["model", "response"],
    ),
}
# Which prompt: one stored in the campaign, named by its id (then nothing else about it), or the
# prompt itself as in a prompt row (then `prompt_id` absent, null or blank).
_PROMPT_ID = {**_ID_GIVEN, "description": "The `id` of a prompt already in the campaign."}
_PROMPTS = {
    "a stored prompt": ({"prompt_id": _PROMPT_ID}, ["prompt_id"]),
    "a one-turn prompt": ({**_BY_PROMPT, "prompt_id": _ID_NOT_GIVEN}, ["prompt"]),
    "a conversation": ({**_BY_MESSAGES, "prompt_id": _ID_NOT_GIVEN}, ["messages"]),
}

RESPONSE_ROW = {
    "description": "Responses to one prompt: `responses` (a list of {model, text}) or `model` and "
    "`response`; the prompt itself as in a prompt row, or `prompt_id` naming a prompt's `id` in "
    "the campaign.",
    "oneOf": [
        _closed(
            f"{answers.capitalize()} to {prompt}.",
            {**prompt_fields, **answer_fields},
            prompt_required + answer_required,
        )
        for prompt, (prompt_fields, prompt_required) in _PROMPTS.items()
        for answers, (answer_fields, answer_required) in _ANSWERS.items()
    ],
}
