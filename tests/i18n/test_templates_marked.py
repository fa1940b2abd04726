"""No template under templates/ shows text outside translation tags. Each template's text is read
the way a person sees the page: comments, scripts, styles, {{ values }}, {% tags %}, translated
blocks, kbd key names, markup and numbers are taken away, and the visible attributes (title,
placeholder, aria-label, alt) are checked the same way. What is left must be empty (bar the
brand name and the side letters A / B)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
# Not words to translate: the product's name, the side letters, and the statistics' notation
# (n = sample size, p-value, s = seconds, v = version, κ and α, CI).
ALLOWED = {"annotate", "A", "B", "n", "p", "s", "v", "κ", "α", "CI", "N"}
VISIBLE_ATTRS = ("title", "placeholder", "aria-label", "alt", "value", "data-confirm")

_BLOCKS = [
    re.compile(r"{%\s*comment\s*%}.*?{%\s*endcomment\s*%}", re.S),
    re.compile(r"{#.*?#}", re.S),
    re.compile(r"{%\s*blocktranslate\b.*?{%\s*endblocktranslate\s*%}", re.S),
    re.compile(r"{%\s*blocktrans\b.*?{%\s*endblocktrans\s*%}", re.S),
    re.compile(r"{%\s*block\s+\w*class\s*%}.*?{%\s*endblock\s*%}", re.S),  # CSS class names
    re.compile(r"<script\b.*?</script>", re.S | re.I),
    re.compile(r"<style\b.*?</style>", re.S | re.I),
    re.compile(r"<kbd\b[^>]*>.*?</kbd>", re.S | re.I),
    re.compile(r"<(code|pre)\b[^>]*>.*?</\1>", re.S | re.I),
]
_TAG_OR_VALUE = re.compile(r"{%.*?%}|{{.*?}}", re.S)
_ATTR = re.compile(r"""\b([\w:-]+)\s*=\s*("[^"]*"|'[^']*')""", re.S)
_HTML_TAG = re.compile(r"<[^>]*>", re.S)
_ENTITY = re.compile(r"&[#\w]+;")
_WORD = re.compile(r"[^\W\d_]+")


def _strip(text: str) -> str:
    for block in _BLOCKS:
        text = block.sub(" ", text)
    return text


def _words(text: str) -> list[str]:
    return [w for w in _WORD.findall(_ENTITY.sub(" ", text)) if w not in ALLOWED]


def untranslated(template: str) -> list[str]:
    """The words of ``template`` a visitor would see untranslated, with where they were."""
    # Template syntax first (a translated attribute nests quotes: title="{% translate "Go" %}").
    text = _TAG_OR_VALUE.sub(" ", _strip(template))
    found = []
    for tag in re.findall(r"<[a-zA-Z][^>]*>", text):
        for name, value in _ATTR.findall(tag):
            if name.lower() not in VISIBLE_ATTRS:
                continue
            # A value shows only on an <input type=submit|button>.
            if name.lower() == "value" and not re.match(
                r'<input\b[^>]*type="(submit|button)"', tag
            ):
                continue
            if _words(value[1:-1]):
                found.append(f"{name}={value}")
    # Text between tags: drop the tags (with their attributes), then the template syntax.
    body = _HTML_TAG.sub(" ", text)
    for line in body.splitlines():
        if _words(line):
            found.append(line.strip())
    return found


def _templates() -> list[Path]:
    return sorted(TEMPLATES.rglob("*.html"))


@pytest.mark.parametrize("path", _templates(), ids=lambda p: str(p.relative_to(TEMPLATES)))
def test_every_visible_string_is_marked_for_translation(path):
    assert untranslated(path.read_text(encoding="utf-8")) == []


def test_the_check_finds_what_it_should():
    assert untranslated("<p>Hello <strong>{{ name }}</strong></p>") == ["Hello"]
    assert untranslated('<input placeholder="Your name">') == ['placeholder="Your name"']
    assert (
        untranslated(
            '<button title="{% translate "Go" %}">{% translate "Go" %} <kbd>Enter</kbd></button>'
        )
        == []
    )
    assert untranslated("{% blocktranslate %}Hi {{ x }}{% endblocktranslate %} · 12 %") == []
    assert untranslated("{# a note #}<span>A</span> <code>x = 1</code>") == []
