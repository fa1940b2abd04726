"""What a text must be to go into a dataset, and when two texts are the same. Pure.

* ``clean(text)``: the text as it is written into a row. A leading byte-order mark (U+FEFF, an
  encoding artefact of the file it came from, never content) is removed; nothing else changes.
* ``text_key(text)``: what "the same text" means. Unicode NFC, white space folded (every run of
  spaces, tabs and newlines is one space, the ends trimmed). Two responses with the same key are
  one response: a preference between them is no preference, and a rewrite with the key of a
  response it rewrites is not a rewrite.
* ``text_problem(text)``: why a text cannot be a message of a row, or None. It must be a string,
  not empty or only white space, and hold no NUL character (U+0000, which many readers and
  tokenizers take for the end of the string).
"""

from __future__ import annotations

import unicodedata

BOM = "\ufeff"


def clean(text: str) -> str:
    return text[1:] if text.startswith(BOM) else text


def text_key(text: str) -> str:
    folded = " ".join(text.split())
    return folded if folded.isascii() else unicodedata.normalize("NFC", folded)


def same_text(a: str, b: str) -> bool:
    if a == b:
        return True
    # Most texts that differ differ in their first word: when both first words are ASCII (no
    # combining mark can follow them), they decide without folding the whole texts.
    first_a, first_b = a.split(None, 1), b.split(None, 1)
    if first_a and first_b and first_a[0] != first_b[0]:
        if first_a[0].isascii() and first_b[0].isascii():
            return False
    return text_key(a) == text_key(b)


def text_problem(text: object) -> str | None:
    if usable_text(text):
        return None
    if not isinstance(text, str):
        return f"not a string ({type(text).__name__})"
    if not text or text.isspace():
        return "empty"
    if "\x00" in text:
        return "holds a NUL character"
    if text.startswith(BOM):
        return "starts with a byte-order mark"
    return None


def usable_text(text: object) -> bool:
    """``text_problem(text) is None``, in one test (it runs for every text of every row)."""
    return (
        type(text) is str
        and text != ""
        and "\x00" not in text
        and text[0] != BOM
        and not text.isspace()
    )


def texts_key(parts: tuple) -> tuple:
    """The key of a tuple of texts: each one's ``text_key``."""
    return tuple(text_key(t) for t in parts)


def same_texts(p: tuple, q: tuple) -> bool:
    """``texts_key(p) == texts_key(q)``, mostly without folding (see ``same_text``)."""
    return all(same_text(a, b) for a, b in zip(p, q, strict=True))


class SeenOnce:
    """What was already written, for "no row twice" checks, by key (``key(parts)``, which folds
    texts, so it costs). Most prompts give a few rows: up to ``FEW`` entries are compared with
    ``same(p, q)``, which mostly decides without folding; past that, keys go in a set."""

    FEW = 4
    __slots__ = ("_few", "_keys", "_key", "_same")

    def __init__(self, key=texts_key, same=same_texts) -> None:
        self._key, self._same = key, same
        self._few: list[tuple] = []
        self._keys: set | None = None

    def __contains__(self, parts: tuple) -> bool:
        if self._keys is None:
            return any(self._same(parts, seen) for seen in self._few)
        return self._key(parts) in self._keys

    def add(self, parts: tuple) -> bool:
        """Record the entry; False if one with its key was already there."""
        if self._keys is None and any(self._same(parts, seen) for seen in self._few):
            return False
        return self._record(parts, check=True)

    def record(self, parts: tuple) -> None:
        """Record an entry known not to be there yet."""
        self._record(parts, check=False)

    def _record(self, parts: tuple, *, check: bool) -> bool:
        if self._keys is None:
            if len(self._few) < self.FEW:
                self._few.append(parts)
                return True
            self._keys = {self._key(seen) for seen in self._few}
            self._few = []
        key = self._key(parts)
        if check and key in self._keys:
            return False
        self._keys.add(key)
        return True

    def clear(self) -> None:
        self._few.clear()
        self._keys = None
