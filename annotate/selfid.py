"""Self-identification scan: does a response give away which model or vendor wrote it?

Raters must not learn which model wrote a response; a candidate saying "As Claude, I…" or "I was
trained by OpenAI" breaks the blinding. Two kinds of evidence:

* **first-person claims** ("I'm ChatGPT", "as an AI language model developed by OpenAI", "OpenAI
  trained me", "my name is Gemini"): flagged whatever the prompt says — the text leaks the identity;
* **bare mentions** of an unambiguous model or vendor name ("Anthropic", "GPT-4", "Llama 3"):
  flagged only when the conversation did not bring that name up itself, so an answer to "compare
  GPT-4 and Claude" is not flagged for naming them.

Ambiguous words stay out of the bare-mention list: "Claude" (Monet, Shannon), "Gemini" (the sign),
"llama" (the animal), "mistral" (the wind) count only in a model-like form ("Llama 3", "Gemini Pro",
"Mistral 7B") or inside a first-person claim.
"""

from __future__ import annotations

import re

# Names a model may call itself. The guard skips people ("I am Claude Monet", "as Claude's friend");
# it is case-sensitive even inside the case-insensitive patterns.
_MODEL_NAMES = (
    r"Claude|ChatGPT|GPT-?\d(?:\.\d)?(?:o|-turbo)?|Gemini|Bard|Llama|LLaMA|Mistral|Mixtral"
    r"|Grok|Qwen|DeepSeek|Copilot|Command[ -]R"
)
_VENDORS = (
    r"OpenAI|Anthropic|Google(?: DeepMind)?|DeepMind|Meta(?: AI)?|Mistral AI|xAI|Alibaba"
    r"|Microsoft|Cohere"
)
_NOT_A_PERSON = r"(?![ \t]+(?-i:[A-Z][a-z]))(?!['’]s\b)"
_MADE = r"(?:developed|created|trained|made|built|designed|programmed|fine-tuned)"
_AI = r"(?:an? )?(?:AI|artificial intelligence|large language|language|LLM|chat)(?: language)?(?: model| assistant| chatbot)?"

_FIRST_PERSON = [
    # "I'm ChatGPT", "I am Claude,", "my name is Gemini", "this is Claude speaking"
    rf"\b(?:I'm|I am|I’m|my name is|call me|this is)\s+(?:{_MODEL_NAMES})\b{_NOT_A_PERSON}",
    # "As Claude, I …", "as ChatGPT I can't"
    rf"\bas\s+(?:{_MODEL_NAMES})\b{_NOT_A_PERSON}(?:,|\s+I\b|\s+an?\b)",
    # "I was trained by OpenAI", "I'm an AI model developed by Anthropic"
    rf"\bI(?:'m| am|’m| was)\s+(?:{_AI}\s+)?{_MADE}\s+(?:by|at)\s+(?:{_VENDORS})\b",
    # "as an AI language model developed by OpenAI", "an AI assistant made by Google"
    rf"\b{_AI}\s+(?:{_MADE}\s+(?:by|at)|from)\s+(?:{_VENDORS})\b",
    # "OpenAI trained me", "Anthropic created me"
    rf"\b(?:{_VENDORS})\s+(?:{_MADE}|owns|operates)\s+me\b",
    # "I'm a large language model from Google", "I'm an AI by Anthropic"
    rf"\bI(?:'m| am|’m)\s+{_AI}\s+(?:from|by)\s+(?:{_VENDORS})\b",
    # "my creators at OpenAI", "my developers, Anthropic"
    rf"\bmy (?:creators?|developers?|makers?|training team)(?: at|,| from)?\s+(?:{_VENDORS})\b",
]
_FIRST_PERSON_RE = [re.compile(p, re.IGNORECASE) for p in _FIRST_PERSON]

# Unambiguous names, case-sensitive, each with the key used to compare against the conversation.
_BARE_MENTIONS: list[tuple[str, re.Pattern[str]]] = [
    ("openai", re.compile(r"\bOpenAI\b")),
    ("anthropic", re.compile(r"\bAnthropic\b")),
    ("chatgpt", re.compile(r"\bChatGPT\b")),
    ("gpt", re.compile(r"\bGPT-?[345](?:\.\d)?(?:o|-turbo)?\b")),
    ("claude", re.compile(r"\bClaude(?: \d(?:\.\d)?| (?:Opus|Sonnet|Haiku|Instant))\b")),
    ("gemini", re.compile(r"\b(?:Google Gemini|Gemini (?:Pro|Ultra|Flash|Nano|\d(?:\.\d)?))\b")),
    ("llama", re.compile(r"\b(?:LLaMA|Llama[ -]?\d(?:\.\d)?)\b")),
    ("mistral", re.compile(r"\b(?:Mistral AI|Mistral[ -](?:\d+B|Large|Medium|Small)|Mixtral)\b")),
    ("deepmind", re.compile(r"\bDeepMind\b")),
]
# Loose, case-insensitive names used only to ask "did the conversation bring this up?".
_TOPIC = {
    "openai": re.compile(r"openai|chatgpt|gpt", re.IGNORECASE),
    "anthropic": re.compile(r"anthropic|claude", re.IGNORECASE),
    "chatgpt": re.compile(r"chatgpt|openai|gpt", re.IGNORECASE),
    "gpt": re.compile(r"gpt|openai", re.IGNORECASE),
    "claude": re.compile(r"claude|anthropic", re.IGNORECASE),
    "gemini": re.compile(r"gemini|google|bard", re.IGNORECASE),
    "llama": re.compile(r"llama|meta", re.IGNORECASE),
    "mistral": re.compile(r"mistral|mixtral", re.IGNORECASE),
    "deepmind": re.compile(r"deepmind|google|gemini", re.IGNORECASE),
}


# Every pattern above needs one of these words; most responses contain none, so one cheap search
# skips the rest (the scan runs over every candidate on each pairing).
_ANY_NAME = (
    "claude", "gpt", "openai", "anthropic", "gemini", "bard", "llama", "mistral", "mixtral",
    "grok", "qwen", "deepseek", "copilot", "command", "google", "deepmind", "meta", "xai",
    "alibaba", "microsoft", "cohere",
)  # fmt: skip


def self_identification(text: str, *, context: str = "") -> list[str]:
    """The passages of ``text`` that name its model or vendor; empty when it looks blind.

    ``context`` is the conversation the response answers (system prompt and turns): a name the
    conversation already used is not, by itself, a give-away.
    """
    lowered = text.lower()
    if not any(name in lowered for name in _ANY_NAME):
        return []
    found: list[str] = []
    for pattern in _FIRST_PERSON_RE:
        found.extend(m.group(0) for m in pattern.finditer(text))
    for key, pattern in _BARE_MENTIONS:
        if _TOPIC[key].search(context):
            continue
        found.extend(m.group(0) for m in pattern.finditer(text))
    unique = list(dict.fromkeys(found))
    # "OpenAI" inside "OpenAI trained me" says nothing more: keep the longest passages only.
    return [f for f in unique if not any(f != g and f in g for g in unique)]


def self_identifies(text: str, *, context: str = "") -> bool:
    return bool(self_identification(text, context=context))
