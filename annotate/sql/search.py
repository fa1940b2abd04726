"""Full-text search on SQLite: the FTS5 statements the ORM cannot say (``MATCH``, ``bm25()``), and
the translation of a search box's text into an FTS5 query that can never be a syntax error; and
on both databases, Korean words matched as prefixes.

PostgreSQL needs little here: the ORM says ``document @@ websearch_to_tsquery('simple', %s)`` and
``ts_rank`` (django.contrib.postgres.search), and websearch_to_tsquery accepts any text. FTS5's own
query language does not (a stray quote, ``AND``, ``*``, ``:`` or ``^`` is an error), so the text is
read here with the same rules as websearch_to_tsquery and written back as quoted phrases only:

    words            every word required             sql injection   -> "sql" AND "injection"
    "a phrase"       the words next to each other    "sql injection" -> "sql injection"
    a or b           either                          sql or nosql    -> ("sql" OR "nosql")
    -word            without it                      sql -mysql      -> "sql", and not "mysql"

A word is a run of letters and digits (``\\w``, any script: Korean is searched as written); any
other character only separates words, so nothing the user types reaches FTS5 unquoted. The
document is the FTS5 table annotate_pairsearch_fts (migration 0022_search: rowid = pair id).

Korean attaches particles and endings to the word (데이터를, 데이터가; 먹었다), which both indexes
keep as one token, so a Korean word matches as a prefix: 데이터 finds 데이터를. PostgreSQL marks
every Korean lexeme of the query a prefix (``KoreanPrefixQuery``); FTS5 can mark only a phrase's
last word, so there a Korean word is a prefix when it ends its phrase (a bare word always does).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.contrib.postgres.search import SearchQuery
from django.db.models import BigIntegerField, F, Func, Value

FTS = "annotate_pairsearch_fts"
_TERM = re.compile(r'(-?)"([^"]*)"?|(\S+)')
_WORD = re.compile(r"[^\W_]+")
# Hangul jamo, compatibility jamo and syllables: a word with any of them is Korean.
HANGUL = "\u1100-\u11ff\u3130-\u318f\uac00-\ud7a3"
_KOREAN = re.compile(f"[{HANGUL}]")
# A Korean lexeme in a tsquery's text form ('데이터' & 'sql'), and the same as a prefix.
_TSQUERY_KOREAN = f"'([^']*[{HANGUL}][^']*)'"
_TSQUERY_PREFIX = "'\\1':*"


class KoreanPrefixQuery(SearchQuery):
    """websearch_to_tsquery's reading of the text, with every Korean lexeme a prefix."""

    def as_sql(self, compiler, connection, **kwargs):
        sql, params = super().as_sql(compiler, connection, **kwargs)
        return (
            f"regexp_replace(({sql})::text, %s, %s, 'g')::tsquery",
            [*params, _TSQUERY_KOREAN, _TSQUERY_PREFIX],
        )


# Pair ids whose document matches; ``%s`` is an FTS5 query from fts_query().
MATCHING_IDS = f"SELECT rowid FROM {FTS} WHERE {FTS} MATCH %s"


class FtsRank(Func):
    """How well a pair's document matches an FTS5 query, as an integer (higher is better:
    -bm25 × 10¹², since FTS5 floors the weight of a word in most documents at 10⁻⁶), or NULL when
    it does not match: FTS5 finds the row by rowid, then scores it.
    ``FtsRank(must)`` on a pair queryset; the pair's id column is the ORM's (so it stays right in
    a subquery), joined to the query by ``arg_joiner``."""

    template = (
        f"(SELECT CAST(-bm25({FTS}) * 1e12 AS INTEGER) FROM {FTS} "
        f"WHERE {FTS} MATCH %(expressions)s)"
    )
    arg_joiner = " AND rowid = "
    output_field = BigIntegerField()

    def __init__(self, must: str) -> None:
        super().__init__(Value(must), F("id"))


@dataclass(frozen=True)
class FtsQuery:
    must: str  # an FTS5 query every match satisfies; "" when the text has no positive word
    must_not: str  # an FTS5 query no match satisfies; "" when nothing is excluded

    @property
    def empty(self) -> bool:
        return not self.must and not self.must_not


def _phrase(text: str) -> str:
    words = _WORD.findall(text)
    if not words:
        return ""
    return '"' + " ".join(words) + '"' + (" *" if _KOREAN.search(words[-1]) else "")


def fts_query(text: str) -> FtsQuery:
    """The FTS5 form of a search box's text, read as websearch_to_tsquery reads it."""
    groups: list[list[str]] = []
    excluded: list[str] = []
    pending_or = False
    for match in _TERM.finditer(text):
        negated, quoted, bare = match.group(1), match.group(2), match.group(3)
        if bare is not None:
            if bare.lower() == "or":
                pending_or = bool(groups)
                continue
            if bare.startswith("-"):
                negated, bare = "-", bare[1:]
        phrase = _phrase(quoted if quoted is not None else bare)
        if not phrase:
            continue
        if negated:
            excluded.append(phrase)
        elif pending_or:
            groups[-1].append(phrase)
        else:
            groups.append([phrase])
        pending_or = False
    must = " AND ".join(g[0] if len(g) == 1 else "(" + " OR ".join(g) + ")" for g in groups)
    return FtsQuery(must=must, must_not=" OR ".join(excluded))
