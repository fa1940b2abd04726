"""The Differences view: the two responses as aligned side-by-side blocks, changed words marked."""

from __future__ import annotations

import re

from annotate.views.rate_support import diff_html


def _rows(html: str) -> list[tuple[str, str]]:
    cells = re.findall(r'<div class="diff-(?:cell|head)[^"]*">(.*?)</div>', html, flags=re.S)
    return list(zip(cells[::2], cells[1::2], strict=True))


LEFT = """Start with the basics.

If you share a file, say so.

```py
x = 1

y = 2
```

Totally different paragraph here."""

RIGHT = """Start with the basics.

If we share the file, say it.

```py
x = 1

y = 3
```

A new list:
- one
- two"""


def test_it_aligns_blocks_side_by_side_and_marks_the_changed_words():
    rows = _rows(diff_html(LEFT, RIGHT))
    assert rows[0] == ("Response A", "Response B")
    assert rows[1] == ("Start with the basics.", "Start with the basics.")  # unchanged, plain
    assert rows[2] == (
        "If <del>you</del> share <del>a</del> file, say <del>so</del>.",
        "If <ins>we</ins> share <ins>the</ins> file, say <ins>it</ins>.",
    )
    # A fenced code block is one block, its blank line included.
    assert rows[3] == (
        "```py\nx = 1\n\ny = <del>2</del>\n```",
        "```py\nx = 1\n\ny = <ins>3</ins>\n```",
    )
    # Blocks with too little in common are shown whole, each beside an empty cell: no word soup.
    assert rows[4] == ("Totally different paragraph here.", "")
    assert rows[5] == ("", "A new list:\n- one\n- two")
    assert len(rows) == 6


def test_it_marks_unchanged_code_and_missing_blocks_by_class():
    html = diff_html(LEFT, RIGHT)
    assert html.count('class="diff-cell diff-same"') == 2
    assert 'class="diff-cell diff-code"' in html
    assert 'class="diff-cell diff-all-del"' in html and 'class="diff-cell diff-all-ins"' in html


def test_it_escapes_markup_on_both_sides():
    html = diff_html("<script>alert(1)</script> one", "<img src=x onerror=alert(1)> one")
    assert "<script" not in html and "<img" not in html
    assert re.sub(r"</?(?:del|ins)>", "", html).count("&lt;") == 3


def test_identical_and_empty_responses():
    assert _rows(diff_html("Same.\n\nText.", "Same.\n\nText."))[1:] == [
        ("Same.", "Same."),
        ("Text.", "Text."),
    ]
    assert _rows(diff_html("", "Only B.")) == [("Response A", "Response B"), ("", "Only B.")]
