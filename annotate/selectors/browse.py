"""Browsing a campaign's pairs as a researcher: filters, full-text search, keyset pages, one pair whole.

Every filter is a clause on the pair's own row or an ``EXISTS`` on its votes, verdicts and flags, so a
page costs the same at any depth: pages are cut by the sort key of the row they start after
(``after``, the next page) or before (``before``, the previous one), never by ``OFFSET``. A human
vote counts as the rater's *latest* row for the pair (a revision after the judge's reveal or an undo
correction replaces the first vote, as in the exports).

Search (``search_units``): the pair's search document (PairSearch, kept by the database's triggers,
migration 0022_search) holds its prompt, both responses, and every rationale and rewrite written
about it. PostgreSQL: ``websearch_to_tsquery`` in the ``simple`` configuration (words of any
language as written; a Korean word also finds its forms with particles) against a GIN-indexed
tsvector, ranked by ``ts_rank`` (a word of the prompt
weighs most, then the responses, then the notes). SQLite, the embedded default: the FTS5 table beside
it, the same query syntax (annotate/sql/search.py), ranked by ``bm25``. Every sort but "best match"
walks an index in its own order and stops at a page; "best match" ranks every match first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import parse_qs

from django import forms
from django.db import connection
from django.db.models import (
    BigIntegerField,
    Count,
    Exists,
    F,
    IntegerField,
    Max,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.expressions import RawSQL
from django.db.models.functions import Cast, Coalesce

from annotate.exports.options import MAX_VIEW
from annotate.models import Campaign, Generator, JudgeVerdict, Judgment, Pair, PairFlag
from annotate.sql import search as search_sql
from annotate.validation import validate_one_line

PAGE_SIZE = 50
MAX_ID = 2**63 - 1  # a larger id in a URL is no pair (and would overflow SQLite's integer)

# Each sort's keys, most significant first; "-" is descending. A page cursor is the keys' values of
# one row joined by ":" (``17`` or ``3:17``); the last key is always the id, so the order is total.
SORTS: dict[str, tuple[str, ...]] = {
    "id": ("id",),
    "-id": ("-id",),
    "-votes": ("-completed", "-id"),
    "votes": ("completed", "id"),
    "rank": ("-search_rank", "id"),  # best match first; only with a search
}


@dataclass(frozen=True)
class BrowseFilters:
    """What a browse view shows; every field is already validated (annotate/views/browse.py's form)."""

    q: str = ""
    status: str = ""  # "" | open | complete
    gold: str = ""  # "" | yes | no
    flagged: bool = False
    split: bool = False  # the raters' latest votes do not all agree
    judge: str = ""  # "" | disagrees (no human chose the judge's answer) | agrees | inconsistent
    revised: bool = False  # a rater revised after the judge's reveal
    generator: str = ""  # either side's generator, by name
    rater: str = ""  # voted on by this rater (username)
    min_votes: int | None = None
    contested: bool = (
        False  # the adjudication queue: raters disagree, the judge disagrees, or flagged
    )
    adjudicated: str = ""  # "" | yes | no
    sort: str = "id"


CURSOR = re.compile(r"\d{1,18}(:\d{1,18})?")
MAX_QUERY = 200  # characters of a search
YES_NO = [("", "Any"), ("yes", "Yes"), ("no", "No")]


class _RawCheckbox(forms.CheckboxInput):
    def value_from_datadict(self, data, files, name):
        return data.get(name)  # as sent: CheckboxInput would read any text as ticked


class CheckboxFilter(forms.BooleanField):
    """A checkbox filter: ``on`` (what a browser sends for a ticked box) or absent. Anything else is
    refused, not read as "on" (``split=AAA`` is a mistake, never a filter)."""

    widget = _RawCheckbox

    def to_python(self, value):
        if value in (None, "", False):
            return False
        if value in ("on", True):
            return True
        raise forms.ValidationError("Use “on” or leave it out.", code="invalid")


class BrowseForm(forms.Form):
    q = forms.CharField(
        required=False, max_length=MAX_QUERY, validators=[validate_one_line], label="Search"
    )
    status = forms.ChoiceField(
        required=False,
        choices=[("", "Any"), ("open", "Wanting votes"), ("complete", "Fully voted")],
    )
    gold = forms.ChoiceField(required=False, choices=YES_NO)
    flagged = CheckboxFilter(required=False, label="Flagged")
    split = CheckboxFilter(required=False, label="Raters disagree")
    judge = forms.ChoiceField(
        required=False,
        label="AI judge",
        choices=[
            ("", "Any"),
            ("disagrees", "Disagrees with every rater"),
            ("agrees", "Agrees with a rater"),
            ("inconsistent", "Disagreed with itself on swap"),
        ],
    )
    revised = CheckboxFilter(required=False, label="Revised after the judge's reveal")
    generator = forms.ChoiceField(required=False)
    rater = forms.CharField(required=False, max_length=150, validators=[validate_one_line])
    min_votes = forms.IntegerField(required=False, min_value=0, max_value=10_000, label="Votes ≥")
    contested = CheckboxFilter(required=False, label="Contested")
    adjudicated = forms.ChoiceField(required=False, choices=YES_NO)
    sort = forms.ChoiceField(
        required=False,
        initial="id",
        choices=[
            ("id", "Oldest first"),
            ("-id", "Newest first"),
            ("-votes", "Most votes"),
            ("votes", "Fewest votes"),
            ("rank", "Best match"),
        ],
    )
    after = forms.CharField(required=False, max_length=40, widget=forms.HiddenInput)
    before = forms.CharField(required=False, max_length=40, widget=forms.HiddenInput)

    def __init__(self, data, *, generators: list[str]):
        super().__init__(data)
        self.fields["generator"].choices = [("", "Any")] + [(g, g) for g in generators]
        self.unknown = sorted(set(data) - set(self.fields))
        getlist = getattr(data, "getlist", None)
        self.repeated = sorted(k for k in data if getlist and len(getlist(k)) > 1)

    def clean(self):
        cleaned = super().clean()
        if self.unknown:
            raise forms.ValidationError(f"Unknown filter: {', '.join(self.unknown)}.")
        if self.repeated:
            raise forms.ValidationError(f"A filter given twice: {', '.join(self.repeated)}.")
        sort = cleaned.get("sort") or "id"
        if sort == "rank" and not cleaned.get("q"):
            self.add_error(
                "sort", "“Best match” sorts the results of a search: give words to search for."
            )
        keys = len(SORTS.get(sort, ()))
        for name in ("after", "before"):
            cursor = cleaned.get(name) or ""
            if cursor and not (CURSOR.fullmatch(cursor) and cursor.count(":") + 1 == keys):
                self.add_error(name, "This page cursor does not belong to this sort order.")
        if cleaned.get("after") and cleaned.get("before"):
            raise forms.ValidationError("A page starts after one pair or before one, not both.")
        return cleaned

    def filters(self) -> BrowseFilters:
        data = {k: v for k, v in self.cleaned_data.items() if k not in ("after", "before")}
        data["sort"] = data.get("sort") or "id"
        assert data["sort"] in SORTS
        return BrowseFilters(**data)


def view_form(campaign: Campaign, data) -> BrowseForm:
    """The browse form of ``campaign`` over ``data`` (a QueryDict or a plain dict of strings)."""
    generators = list(
        Generator.objects.filter(campaign=campaign).order_by("name").values_list("name", flat=True)
    )
    return BrowseForm(data, generators=generators)


def view_filters(campaign: Campaign, query: str) -> BrowseFilters:
    """The filters of a browse view given as its query string (``q=sql&contested=on``), as an
    export's ``view`` filter names it; ValueError says what is wrong with it."""
    query = query.strip().lstrip("?")
    if len(query) > MAX_VIEW:
        raise ValueError(f"a view is at most {MAX_VIEW} characters")
    try:
        parsed = parse_qs(query, keep_blank_values=True, strict_parsing=bool(query))
    except ValueError:
        raise ValueError("not a query string of the browse page (name=value&…)") from None
    repeated = sorted(k for k, v in parsed.items() if len(v) > 1)
    if repeated:
        raise ValueError(f"a filter given twice: {', '.join(repeated)}")
    data = {k: v[0] for k, v in parsed.items() if k not in ("after", "before")}  # all its pages
    form = view_form(campaign, data)
    if not form.is_valid():
        problems = [
            f"{name}: {' '.join(errors)}" if name != "__all__" else " ".join(errors)
            for name, errors in form.errors.items()
        ]
        raise ValueError("; ".join(problems))
    return form.filters()


@dataclass
class BrowsePage:
    rows: list[Pair]
    next_after: str = ""  # the cursor of the next page; "" on the last one
    filters: BrowseFilters = field(default_factory=BrowseFilters)
    previous_before: str = ""  # the cursor of the previous page; "" on the first one


def latest_human_votes() -> QuerySet:
    """Human votes that no later row of the same rater on the same pair replaces."""
    later = Judgment.objects.filter(
        pair=OuterRef("pair"), rater=OuterRef("rater"), source="human", id__gt=OuterRef("id")
    )
    return Judgment.objects.filter(source="human").exclude(Exists(later))


def search_units(campaign: Campaign, query: str, pairs: QuerySet | None = None) -> QuerySet:
    """The campaign's pairs (or those of ``pairs``) whose prompt, responses, rationales or rewrites
    match ``query``: words all required, ``"a phrase"``, ``a or b``, ``-word`` (websearch syntax,
    on both databases). Each row carries ``search_rank``, an integer: higher is a better match.
    Any text is a query (an empty or word-less one matches nothing), never a database error."""
    if pairs is None:
        pairs = Pair.objects.filter(campaign=campaign)
    if connection.vendor == "postgresql":
        from django.contrib.postgres.search import SearchRank

        tsquery = search_sql.KoreanPrefixQuery(
            query.replace("\x00", " "), config="simple", search_type="websearch"
        )
        # normalization 1: divided by 1 + log(document length), so a long answer does not win by
        # length alone.
        rank = SearchRank(F("search__document"), tsquery, normalization=1)
        return pairs.filter(search__document=tsquery).annotate(
            search_rank=Cast(rank * 1_000_000, BigIntegerField())
        )
    fts = search_sql.fts_query(query)
    if fts.empty:
        return pairs.none().annotate(search_rank=Value(0, BigIntegerField()))
    if fts.must:
        pairs = pairs.filter(id__in=RawSQL(search_sql.MATCHING_IDS, [fts.must]))
    if fts.must_not:
        pairs = pairs.exclude(id__in=RawSQL(search_sql.MATCHING_IDS, [fts.must_not]))
    rank = search_sql.FtsRank(fts.must) if fts.must else Value(0, BigIntegerField())
    return pairs.annotate(search_rank=rank)


def _judge_clause(judge: str) -> Q:
    verdicts = JudgeVerdict.objects.filter(pair=OuterRef("pk"), status="done")
    if judge == "inconsistent":
        return Q(Exists(verdicts.filter(choice=JudgeVerdict.INCONSISTENT)))
    agreeing = latest_human_votes().filter(pair=OuterRef("pair"), choice=OuterRef("choice"))
    decided = verdicts.exclude(choice=JudgeVerdict.INCONSISTENT).exclude(choice="")
    voted = Exists(Judgment.objects.filter(pair=OuterRef("pk"), source="human"))
    if judge == "agrees":
        return Q(Exists(decided.filter(Exists(agreeing))))
    return Q(voted) & Q(Exists(decided.exclude(Exists(agreeing))))


def _split_clause() -> Q:
    """The raters' latest votes on the pair are not all the same choice: their smallest choice
    is not their largest. One pass over the pair's latest votes (an aggregate), where "some latest
    vote has another latest vote with a different choice" read them once per vote: a third of a
    filtered search page's time on PostgreSQL (bench/research.py)."""
    latest = (
        latest_human_votes()
        .filter(pair=OuterRef("pk"))
        .order_by()
        .values("pair")
        .annotate(low=Min("choice"), high=Max("choice"))
        .filter(low__lt=F("high"))
    )
    return Q(Exists(latest))


def _flagged_clause() -> Q:
    return Q(Exists(PairFlag.objects.filter(pair=OuterRef("pk"))))


def filtered_pairs(campaign: Campaign, filters: BrowseFilters) -> QuerySet:
    """The campaign's pairs that pass every filter (unordered, unsliced)."""
    pairs = Pair.objects.filter(campaign=campaign)
    if filters.status == "open":
        pairs = pairs.filter(completed__lt=F("needed"))
    elif filters.status == "complete":
        pairs = pairs.filter(completed__gte=F("needed"))
    if filters.gold == "yes":
        pairs = pairs.exclude(gold_answer="")
    elif filters.gold == "no":
        pairs = pairs.filter(gold_answer="")
    if filters.flagged:
        pairs = pairs.filter(_flagged_clause())
    if filters.split:
        pairs = pairs.filter(_split_clause())
    if filters.judge:
        pairs = pairs.filter(_judge_clause(filters.judge))
    if filters.contested:
        pairs = pairs.filter(_split_clause() | _judge_clause("disagrees") | _flagged_clause())
    if filters.adjudicated:
        final = Exists(Judgment.objects.filter(pair=OuterRef("pk"), source="adjudicated"))
        pairs = pairs.filter(final if filters.adjudicated == "yes" else ~final)
    if filters.revised:
        revised = Judgment.objects.filter(
            pair=OuterRef("pk"), source="human", revises__isnull=False, judge_shown=True
        )
        pairs = pairs.filter(Exists(revised))
    if filters.generator:
        pairs = pairs.filter(
            Q(candidate_a__generator__name=filters.generator)
            | Q(candidate_b__generator__name=filters.generator)
        )
    if filters.rater:
        pairs = pairs.filter(
            Exists(Judgment.objects.filter(pair=OuterRef("pk"), rater__username=filters.rater))
        )
    if filters.min_votes is not None:
        pairs = pairs.filter(completed__gte=filters.min_votes)
    if filters.q:
        pairs = search_units(campaign, filters.q, pairs)
    return pairs


def _cursor(pair: Pair, sort: str) -> str:
    return ":".join(str(getattr(pair, key.lstrip("-"))) for key in SORTS[sort])


def _past(pairs: QuerySet, sort: str, cursor: str, *, backwards: bool) -> QuerySet:
    """Rows strictly past the cursor's row in the sort's order (before it when ``backwards``):
    for keys (k1, k2), ``k1 beyond v1 OR (k1 = v1 AND k2 beyond v2)``."""
    if not cursor:
        return pairs
    keys, values = SORTS[sort], [int(part) for part in cursor.split(":")]
    clause, equal = Q(), Q()
    for key, value in zip(keys, values, strict=True):
        name = key.lstrip("-")
        beyond = "lt" if key.startswith("-") != backwards else "gt"
        clause |= equal & Q(**{f"{name}__{beyond}": value})
        equal &= Q(**{name: value})
    return pairs.filter(clause)


def _reversed(keys: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(key[1:] if key.startswith("-") else f"-{key}" for key in keys)


def browse_page(
    campaign: Campaign,
    filters: BrowseFilters,
    *,
    after: str = "",
    before: str = "",
    size: int = PAGE_SIZE,
) -> BrowsePage:
    """One page of pairs with what the list shows of each: prompt, both generators, votes, flags,
    and the judge's answer. The page starts after the row of cursor ``after`` or ends before the
    row of cursor ``before`` (at most one of them); with neither it is the first page."""
    pairs = filtered_pairs(campaign, filters)
    if filters.sort == "rank" and not filters.q:
        raise ValueError("the best-match sort needs a search")
    order = SORTS[filters.sort]
    if before:
        pairs, order = _past(pairs, filters.sort, before, backwards=True), _reversed(order)
    else:
        pairs = _past(pairs, filters.sort, after, backwards=False)
    flags = PairFlag.objects.filter(pair=OuterRef("pk")).order_by().values("pair")
    verdict = JudgeVerdict.objects.filter(pair=OuterRef("pk"), status="done").order_by("-id")
    rows = list(
        pairs.select_related("prompt", "candidate_a__generator", "candidate_b__generator")
        .annotate(
            flag_count=Coalesce(
                Subquery(flags.annotate(n=Count("id")).values("n"), output_field=IntegerField()),
                0,
            ),
            judge_choice=Subquery(verdict.values("choice")[:1]),
            final_choice=Subquery(
                Judgment.objects.filter(pair=OuterRef("pk"), source="adjudicated")
                .order_by("-id")
                .values("choice")[:1]
            ),
        )
        .defer("candidate_a__html", "candidate_b__html", "prompt__rendered")
        .order_by(*order)[: size + 1]
    )
    more = len(rows) > size
    rows = rows[:size]
    if before:
        rows.reverse()
    votes = _vote_summaries([p.id for p in rows])
    for pair in rows:
        pair.vote_summary = votes.get(pair.id, {})
    # Past a cursor, the rows on its other side are there (the cursor's own row at least).
    has_next = (more and not before) or bool(before)
    has_previous = (more and bool(before)) or bool(after)
    return BrowsePage(
        rows=rows,
        next_after=_cursor(rows[-1], filters.sort) if has_next and rows else "",
        previous_before=_cursor(rows[0], filters.sort) if has_previous and rows else "",
        filters=filters,
    )


def _vote_summaries(pair_ids: list[int]) -> dict[int, dict[str, int]]:
    """{pair id: {choice: latest human votes}} for the pairs of one page. Read as rows (a page's
    pairs have a few votes each) and the latest per rater kept here: the same rule as
    latest_human_votes(), whose anti-join PostgreSQL would hash over every vote of the table."""
    latest: dict[tuple[int, int | None], str] = {}
    rows = (
        Judgment.objects.filter(pair_id__in=pair_ids, source="human")
        .order_by("id")
        .values_list("pair_id", "rater_id", "choice")
    )
    for pair_id, rater_id, choice in rows:
        latest[(pair_id, rater_id)] = choice  # a later row of the same rater replaces it
    summary: dict[int, dict[str, int]] = {}
    for (pair_id, _), choice in latest.items():
        counts = summary.setdefault(pair_id, {})
        counts[choice] = counts.get(choice, 0) + 1
    return summary


@dataclass
class PairDetail:
    pair: Pair
    votes: list[Judgment]  # every row: human votes, revisions, judge labels, adjudications
    verdicts: list[JudgeVerdict]
    flags: list[PairFlag]

    @property
    def final(self) -> Judgment | None:
        """The latest adjudication: the pair's final label."""
        return next((v for v in reversed(self.votes) if v.source == "adjudicated"), None)


def pair_detail(campaign: Campaign, pair_id: int) -> PairDetail | None:
    """One pair whole, for researchers: prompt, both candidates with their generators, every vote
    (revisions and corrections too, oldest first), the judge's verdicts and the flags."""
    if not 0 < pair_id <= MAX_ID:
        return None
    pair = (
        Pair.objects.filter(campaign=campaign, id=pair_id)
        .select_related("prompt", "candidate_a__generator", "candidate_b__generator")
        .first()
    )
    if pair is None:
        return None
    votes = list(
        Judgment.objects.filter(pair=pair).select_related("rater", "revises").order_by("id")
    )
    verdicts = list(JudgeVerdict.objects.filter(pair=pair).select_related("rubric").order_by("id"))
    flags = list(PairFlag.objects.filter(pair=pair).select_related("rater").order_by("id"))
    return PairDetail(pair=pair, votes=votes, verdicts=verdicts, flags=flags)
