"""Markdown → safe HTML, done once when text enters the system (guidelines, prompts, candidates).

markdown-it-py renders CommonMark with raw HTML *disabled* (a ``<script>`` in a model's answer shows
as text, which is what the rater should see), Pygments highlights fenced code, and nh3 (the Rust
`ammonia` sanitiser) cleans the result against an allowlist as a second wall: no scripts, no event
handlers, no ``javascript:`` URLs, no inline SVG. Images are never loaded: they become a link that
names the image, so an external tracker pixel cannot fire when a rater opens a pair.
"""

from __future__ import annotations

import html as html_lib

import nh3
from markdown_it import MarkdownIt
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import TextLexer, get_lexer_by_name
from pygments.util import ClassNotFound

_FORMATTER = HtmlFormatter(nowrap=True)

# fmt: off
ALLOWED_TAGS = {
    "a", "p", "br", "hr", "em", "strong", "del", "s", "code", "pre", "span", "div",
    "blockquote", "ul", "ol", "li", "h1", "h2", "h3", "h4", "h5", "h6",
    "table", "thead", "tbody", "tr", "th", "td", "sup", "sub",
}
# fmt: on
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "span": {"class"},
    "code": {"class"},
    "pre": {"class"},
    "div": {"class"},
    "th": {"align"},
    "td": {"align"},
    "ol": {"start"},
}


def _highlight(code: str, lang: str, _attrs: str) -> str:
    try:
        lexer = get_lexer_by_name(lang) if lang else TextLexer()
    except ClassNotFound:
        lexer = TextLexer()
    return f'<pre class="highlight"><code>{highlight(code, lexer, _FORMATTER)}</code></pre>'


def _image_as_link(self, tokens, idx, options, env) -> str:
    token = tokens[idx]
    src = html_lib.escape(token.attrGet("src") or "", quote=True)
    alt = html_lib.escape(self.renderInlineAsText(token.children or [], options, env))
    return f'<a href="{src}">[image: {alt or "untitled"}]</a>'


_md = MarkdownIt("commonmark", {"html": False, "linkify": True, "highlight": _highlight})
_md.enable(["table", "strikethrough", "linkify"])
_md.add_render_rule("image", _image_as_link)


def render_markdown(text: str) -> str:
    """Return sanitised HTML for untrusted markdown. Safe to mark as safe in templates."""
    raw = _md.render(text or "")
    return nh3.clean(
        raw,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )


def pygments_css() -> str:
    return HtmlFormatter(style="friendly").get_style_defs(".highlight")
