"""A small reader of gettext PO files, enough for the catalog test (tests/i18n/test_catalog.py):
each entry's context, msgid, plural, translations and flags."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_ESCAPES = {"n": "\n", "t": "\t", '"': '"', "\\": "\\"}
_KEYWORD = re.compile(r"^(msgctxt|msgid_plural|msgid|msgstr(?:\[\d+\])?)\s+(\".*\")$")


@dataclass
class Entry:
    msgid: str = ""
    msgctxt: str | None = None
    msgid_plural: str | None = None
    msgstr: list[str] = field(default_factory=list)
    flags: set[str] = field(default_factory=set)
    obsolete: bool = False

    @property
    def translated(self) -> bool:
        return bool(self.msgstr) and all(self.msgstr) and "fuzzy" not in self.flags

    def __str__(self) -> str:
        return f"{self.msgctxt + ' | ' if self.msgctxt else ''}{self.msgid!r}"


def _unquote(text: str) -> str:
    body = text.strip()[1:-1]
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(1)), body)


def entries(text: str) -> list[Entry]:
    """Every entry but the header (msgid "")."""
    out: list[Entry] = []
    for block in re.split(r"\n\s*\n", text):
        entry, current, strings = Entry(), None, {}
        for line in block.splitlines():
            if line.startswith("#~"):
                entry.obsolete = True
                line = line[2:].strip()
            if line.startswith("#,"):
                entry.flags |= {f.strip() for f in line[2:].split(",")}
                continue
            if line.startswith("#") or not line.strip():
                continue
            match = _KEYWORD.match(line)
            if match:
                current = match.group(1)
                strings[current] = _unquote(match.group(2))
            elif current and line.strip().startswith('"'):
                strings[current] += _unquote(line)
        if "msgid" not in strings or strings["msgid"] == "":
            continue
        entry.msgid = strings["msgid"]
        entry.msgctxt = strings.get("msgctxt")
        entry.msgid_plural = strings.get("msgid_plural")
        entry.msgstr = [v for k, v in sorted(strings.items()) if k.startswith("msgstr")]
        out.append(entry)
    return out
