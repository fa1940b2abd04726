"""selectors/browse.py: each filter, search, the latest-vote rule and keyset pages, on the database
the suite runs on (and on SQLite by test_browse_on_sqlite.py)."""

from __future__ import annotations

import pytest

from annotate.models import JudgeRubric, JudgeVerdict, Judgment, Pair, PairFlag
from annotate.selectors.browse import BrowseFilters, browse_page, filtered_pairs, pair_detail
from tests import factories
from tests.exports.builders import campaign_with_votes

pytestmark = pytest.mark.django_db


@pytest.fixture
def voted(campaign):
    """Pairs 0..3 of campaign_with_votes: 0 unanimous, 1 split two to one, 2 tie, 3 both bad."""
    made = campaign_with_votes(campaign)
    # The builder writes votes directly; the counters the vote path keeps are set to match.
    Pair.objects.filter(campaign=campaign).update(completed=3, needed=3)
    return made


def _ids(campaign, **filters) -> list[int]:
    return sorted(filtered_pairs(campaign, BrowseFilters(**filters)).values_list("id", flat=True))


def _pairs(campaign) -> list:
    return list(campaign.pairs.order_by("id"))


def _verdict(pair, choice: str) -> JudgeVerdict:
    rubric, _ = JudgeRubric.objects.get_or_create(campaign=pair.campaign, version=1, text="r")
    return JudgeVerdict.objects.create(
        campaign=pair.campaign,
        prompt=pair.prompt,
        pair=pair,
        candidate_a=pair.candidate_a,
        candidate_b=pair.candidate_b,
        rubric=rubric,
        provider="demo",
        model="judge-m",
        status="done",
        choice=choice,
        consistent=choice != "inconsistent",
        order1={"choice": choice, "rationale": "first order says so"},
        order2={"choice": choice, "rationale": "second order too"},
    )


def test_split_finds_only_the_pair_whose_raters_disagree(campaign, voted):
    pairs = _pairs(campaign)
    assert _ids(campaign, split=True) == [pairs[1].id]


def test_a_revision_to_the_others_choice_ends_a_split(campaign, voted):
    from collections import Counter

    pairs = _pairs(campaign)
    votes = list(Judgment.objects.filter(pair=pairs[1], source="human").order_by("id"))
    (majority, _), (minority, _) = Counter(v.choice for v in votes).most_common()
    odd = next(v for v in votes if v.choice == minority)
    Judgment.objects.create(
        campaign=campaign, pair=pairs[1], rater=odd.rater, choice=majority,
        revises=odd, judge_shown=True, left_is_a=True,
    )  # fmt: skip
    assert _ids(campaign, split=True) == []  # the first vote no longer counts: all agree now


def test_a_revision_replaces_the_raters_first_vote(campaign, voted):
    pairs = _pairs(campaign)
    first = Judgment.objects.filter(pair=pairs[0], source="human").order_by("id").first()
    other = "b" if first.choice == "a" else "a"
    Judgment.objects.create(
        campaign=campaign, pair=pairs[0], rater=first.rater, choice=other,
        revises=first, judge_shown=True, left_is_a=True,
    )  # fmt: skip
    assert _ids(campaign, split=True) == sorted([pairs[0].id, pairs[1].id])
    assert _ids(campaign, revised=True) == [pairs[0].id]
    page = browse_page(campaign, BrowseFilters())
    summary = {p.id: p.vote_summary for p in page.rows}
    assert summary[pairs[0].id] == {first.choice: 2, other: 1}  # three raters, latest votes


def test_judge_filters_compare_the_judge_with_the_raters_latest_votes(campaign, voted):
    pairs = _pairs(campaign)
    unanimous = Judgment.objects.filter(pair=pairs[0]).first().choice
    _verdict(pairs[0], "b" if unanimous == "a" else "a")  # nobody chose it
    _verdict(pairs[1], unanimous)  # split pair: one of the raters agrees
    _verdict(pairs[2], "inconsistent")
    assert _ids(campaign, judge="disagrees") == [pairs[0].id]
    assert _ids(campaign, judge="agrees") == [pairs[1].id]
    assert _ids(campaign, judge="inconsistent") == [pairs[2].id]


def test_pair_level_filters(campaign, voted):
    pairs = _pairs(campaign)
    pairs[2].gold_answer = "tie"
    pairs[2].save()
    PairFlag.objects.create(pair=pairs[3], rater=voted["raters"][0], reason="broken")
    extra = factories.PairFactory(campaign=campaign)  # no votes yet, other generators
    assert _ids(campaign, gold="yes") == [pairs[2].id]
    assert pairs[2].id not in _ids(campaign, gold="no")
    assert _ids(campaign, flagged=True) == [pairs[3].id]
    assert _ids(campaign, status="open") == [extra.id]
    assert extra.id not in _ids(campaign, status="complete")
    assert _ids(campaign, generator="gen-x") == [p.id for p in pairs]
    assert _ids(campaign, rater="rater2") == [p.id for p in pairs]
    assert _ids(campaign, rater="nobody") == []
    assert _ids(campaign, min_votes=1) == [p.id for p in pairs]


@pytest.mark.parametrize(
    ("q", "which"),
    [
        ("sql", "response"),  # one word, any case
        ("INJECTION attacks", "response"),  # every word required
        ("Rewrite 3 rater1", "rewrite"),
        ("parameterised", "rationale"),
        ("보안", "prompt"),  # Korean words match as written
    ],
)
def test_search_looks_in_prompts_responses_rationales_and_rewrites(campaign, voted, q, which):
    pairs = _pairs(campaign)
    prompt = factories.PromptFactory(
        campaign=campaign, messages=[{"role": "user", "content": "웹 보안 질문: how to stop it?"}]
    )
    special = factories.PairFactory(
        campaign=campaign,
        prompt=prompt,
        candidate_b=factories.CandidateFactory(prompt=prompt, text="Stop SQL injection attacks."),
    )
    Judgment.objects.create(
        campaign=campaign, pair=pairs[1], rater=voted["raters"][0], source="judge",
        choice="a", rationale="Use parameterised queries.",
    )  # fmt: skip
    expected = {
        "response": special.id,
        "prompt": special.id,
        "rewrite": pairs[3].id,
        "rationale": pairs[1].id,
    }[which]
    assert expected in _ids(campaign, q=q)
    assert len(_ids(campaign, q=q)) < campaign.pairs.count()


@pytest.mark.parametrize("sort", ["id", "-id", "votes", "-votes"])
def test_keyset_pages_visit_every_pair_once_in_order(campaign, voted, sort):
    for _ in range(3):
        factories.PairFactory(campaign=campaign)
    filters = BrowseFilters(sort=sort)
    seen, after = [], ""
    for _ in range(10):
        page = browse_page(campaign, filters, after=after, size=2)
        seen += [(p.completed, p.id) for p in page.rows]
        after = page.next_after
        if not after:
            break
    everything = [(p.completed, p.id) for p in campaign.pairs.all()]
    key = {
        "id": lambda r: r[1],
        "-id": lambda r: -r[1],
        "votes": lambda r: (r[0], r[1]),
        "-votes": lambda r: (-r[0], -r[1]),
    }[sort]
    assert seen == sorted(everything, key=key)


def test_pair_detail_has_every_vote_the_judge_and_the_flags(campaign, voted, other_campaign):
    pair = _pairs(campaign)[3]
    _verdict(pair, "both_bad")
    PairFlag.objects.create(pair=pair, rater=voted["raters"][1], reason="other", note="odd")
    detail = pair_detail(campaign, pair.id)
    assert [v.rater.username for v in detail.votes] == ["rater0", "rater1", "rater2"]
    assert detail.verdicts[0].order2["rationale"] == "second order too"
    assert detail.flags[0].note == "odd"
    assert pair_detail(other_campaign, pair.id) is None


def test_the_queue_holds_contested_pairs_until_they_are_adjudicated(campaign, voted, researcher):
    from annotate.services.adjudication import adjudication_record

    pairs = _pairs(campaign)
    unanimous = Judgment.objects.filter(pair=pairs[0]).first().choice
    _verdict(pairs[0], "b" if unanimous == "a" else "a")  # the judge disagrees with every rater
    PairFlag.objects.create(pair=pairs[2], rater=voted["raters"][0], reason="broken")
    queue = {"contested": True, "adjudicated": "no"}
    assert _ids(campaign, **queue) == [pairs[0].id, pairs[1].id, pairs[2].id]
    adjudication_record(
        campaign=campaign, pair=pairs[1], adjudicator=researcher, choice="a", reason="A cites it."
    )
    assert _ids(campaign, **queue) == [pairs[0].id, pairs[2].id]
    assert _ids(campaign, adjudicated="yes") == [pairs[1].id]
    page = browse_page(campaign, BrowseFilters(adjudicated="yes"))
    assert [p.final_choice for p in page.rows] == ["a"]


def _texts(campaign, texts: list[str]) -> list[Pair]:
    made = []
    for text in texts:
        prompt = factories.PromptFactory(campaign=campaign)
        made.append(
            factories.PairFactory(
                campaign=campaign,
                prompt=prompt,
                candidate_a=factories.CandidateFactory(prompt=prompt, text=text),
            )
        )
    return made


def test_the_best_match_comes_first(campaign):
    once, thrice, none = _texts(
        campaign,
        [
            "Use an ORM; raw sql is fine elsewhere, and many other words follow here.",
            "sql sql sql: parameterised sql.",
            "Nothing to see.",
        ],
    )
    page = browse_page(campaign, BrowseFilters(q="sql", sort="rank"))
    assert [p.id for p in page.rows] == [thrice.id, once.id]
    assert page.rows[0].search_rank > page.rows[1].search_rank > 0


def test_filters_and_search_narrow_each_other(campaign, voted):
    pairs = _pairs(campaign)
    assert _ids(campaign, q="Rewrite") == [pairs[3].id]
    assert _ids(campaign, q="Rewrite", split=True) == []
    assert _ids(campaign, q="answer", split=True) == [pairs[1].id]
    assert _ids(campaign, q="answer -Rewrite") == [p.id for p in pairs[:3]]
    assert _ids(campaign, q='"Y answer 2" or "X answer 0"') == [pairs[0].id, pairs[2].id]
    assert _ids(campaign, q="-Rewrite", status="complete") == [p.id for p in pairs[:3]]


@pytest.mark.parametrize(
    "q",
    [
        "'", '"', '""', "\\", "a & b | !c", "(sql", "sql)", "sql*", "NEAR(a b)", "AND OR NOT",
        "col:sql", "^sql", "-", "--", "<->", "a:*", "'; DROP TABLE annotate_pair; --",
        "%", "_", "\x00", "보안 취약점", "😀", "x" * 200, " ".join(["sql"] * 60),
    ],
)  # fmt: skip
def test_any_search_text_is_a_query_never_an_error(campaign, voted, q):
    for sort in ("id", "rank"):
        page = browse_page(campaign, BrowseFilters(q=q, sort=sort))
        assert isinstance(page.rows, list)
    assert Pair.objects.filter(campaign=campaign).count() == 4


@pytest.mark.parametrize("sort", ["id", "-id", "votes", "-votes", "rank"])
def test_previous_pages_walk_back_over_the_same_rows(campaign, sort):
    made = _texts(campaign, [f"word {'word ' * (i % 3)}{i}" for i in range(7)])
    for i, pair in enumerate(made):
        Pair.objects.filter(id=pair.id).update(completed=i % 2)
    filters = BrowseFilters(q="word", sort=sort)
    forward, after, pages = [], "", []
    while True:
        page = browse_page(campaign, filters, after=after, size=3)
        pages.append([p.id for p in page.rows])
        forward += pages[-1]
        if not page.next_after:
            break
        after = page.next_after
    assert sorted(forward) == sorted(p.id for p in made) and len(set(forward)) == 7
    back, before = [], page.previous_before
    while before:
        page = browse_page(campaign, filters, before=before, size=3)
        back = [p.id for p in page.rows] + back
        before = page.previous_before
    assert back + pages[-1] == forward
    assert not browse_page(campaign, filters).previous_before


def test_pages_have_no_gaps_or_repeats_while_pairs_arrive(campaign):
    _texts(campaign, ["match me"] * 5)
    seen, after = [], ""
    filters = BrowseFilters(q="match", sort="-id")
    while True:
        page = browse_page(campaign, filters, after=after, size=2)
        seen += [p.id for p in page.rows]
        _texts(campaign, ["match me"])  # a newer pair: it sorts before every page already shown
        if not page.next_after:
            break
        after = page.next_after
    first_five = sorted(Pair.objects.filter(campaign=campaign).values_list("id", flat=True))[:5]
    assert seen == sorted(first_five, reverse=True)
    filters = BrowseFilters(q="match", sort="id")
    seen, after = [], ""
    while True:
        page = browse_page(campaign, filters, after=after, size=2)
        seen += [p.id for p in page.rows]
        if len(seen) < 8:
            _texts(campaign, ["match me"])  # arrives after the rows shown: listed once, in order
        if not page.next_after:
            break
        after = page.next_after
    everything = list(Pair.objects.filter(campaign=campaign).values_list("id", flat=True))
    assert seen == sorted(everything)
