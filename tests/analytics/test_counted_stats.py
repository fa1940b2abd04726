"""The dashboard's statistics from counts (annotate/analytics/counted.py, the GROUP BY reads of
annotate/selectors/analytics.py) equal the same statistics computed directly on every vote row,
and the `krippendorff` package on the reliability matrix."""

from __future__ import annotations

import random

import krippendorff
import numpy as np
import pytest

from annotate.analytics import agreement, bias, counted, ranking
from annotate.analytics.dashboard import dashboard_from_parts, parts_from_rows
from annotate.selectors import analytics as reads
from annotate.selectors.judging import judge_analytics
from tests.analytics.varied import varied_campaign


def _units(rng: random.Random, n_units: int, raters: int = 5) -> list[dict]:
    """Random vote rows on a 7-point signed scale (some pairs of one vote, some both-bad)."""
    rows = []
    for pair in range(n_units):
        for rater in rng.sample(range(raters), rng.randint(1, raters)):
            choice = rng.choice(["a", "a", "b", "tie", "both_bad"])
            rows.append(
                {
                    "judgment_id": len(rows) + 1,
                    "pair_id": pair,
                    "rater_id": rater,
                    "source": "human",
                    "choice": choice,
                    "strength": rng.randint(1, 3) if choice in ("a", "b") else 0,
                }
            )
    return rows


def _unit_counts(rows: list[dict]):
    from collections import Counter

    from annotate.exports.aggregate import signed_score

    counts = Counter(
        (r["pair_id"], signed_score(r["choice"], r["strength"]))
        for votes in agreement.latest_votes_by_pair(rows).values()
        for r in votes
        if r["choice"] != "both_bad"
    )
    return [(p, v, n) for (p, v), n in sorted(counts.items())]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_alpha_from_the_coincidence_counts_is_the_krippendorff_packages(seed):
    rows = _units(random.Random(seed), 60)
    matrix = agreement.reliability_matrix(agreement.latest_votes_by_pair(rows))
    direct = krippendorff.alpha(reliability_data=matrix, level_of_measurement="ordinal")
    got = counted.alpha_from_units(_unit_counts(rows), n_boot=50)
    assert got["alpha"] == pytest.approx(direct, abs=1e-12)
    # The same bootstrap (same seed, same draws) as the row path: the same interval.
    reference = agreement.alpha_with_ci(rows, n_boot=50)
    assert got["pairs"] == reference["pairs"] == matrix.shape[1]
    assert got["low"] == pytest.approx(reference["low"], abs=1e-12)
    assert got["high"] == pytest.approx(reference["high"], abs=1e-12)


def test_alpha_is_undefined_without_variation_or_pairable_units():
    assert counted.alpha_from_units([])["alpha"] is None
    assert counted.alpha_from_units([(1, 1.0, 3), (2, 1.0, 2)])["alpha"] is None  # all the same
    assert counted.alpha_from_units([(1, 1.0, 1), (2, -1.0, 1)])["pairs"] == 0  # one vote each


def test_time_summary_from_a_histogram_is_time_on_task_from_rows():
    rng = random.Random(5)
    rows = [
        {
            "rater_id": rng.randint(1, 4),
            "time_on_task_ms": rng.choice([1000, 1500, rng.randint(1, 9000)]),
        }
        for _ in range(301)
    ]
    histograms: dict = {}
    for r in rows:
        h = histograms.setdefault(r["rater_id"], {})
        h[r["time_on_task_ms"]] = h.get(r["time_on_task_ms"], 0) + 1
    assert counted.time_summary(histograms) == bias.time_on_task(rows)
    assert counted.time_summary({}) == bias.time_on_task([])


def test_the_ranks_the_database_picks_are_the_ranks_the_summary_reads():
    # selectors/analytics._times selects these ranks in integer arithmetic.
    for n in range(1, 200_001):
        assert counted.summary_ranks(n) <= {(n - 1) // 2, n // 2, (n + 4) // 10, (9 * n - 4) // 10}
    assert counted.summary_ranks(0) == set()


def test_time_summary_from_ranked_values_is_time_on_task_from_rows():
    rng = random.Random(6)
    rows = [
        {"rater_id": rng.randint(1, 6), "time_on_task_ms": rng.randint(1, 9000)}
        for _ in range(rng.randint(1, 400))
    ]
    everyone: dict = {}
    sorted_times: dict = {}
    for r in rows:
        everyone[r["time_on_task_ms"]] = everyone.get(r["time_on_task_ms"], 0) + 1
        sorted_times.setdefault(r["rater_id"], []).append(r["time_on_task_ms"])
    ranked = {}
    for rater, times in sorted_times.items():
        times.sort()
        ranked[rater] = (len(times), {i: times[i] for i in counted.summary_ranks(len(times))})
    assert counted.time_summary_ranked(everyone, ranked) == bias.time_on_task(rows)


def test_majority_agreement_from_tallies_is_the_row_computation():
    from collections import Counter

    rows = _units(random.Random(11), 120)
    grouped: Counter = Counter()
    for votes in agreement.latest_votes_by_pair(rows).values():
        tally = Counter(v["choice"] for v in votes)
        key = tuple(sorted(tally.items()))
        for v in votes:
            grouped[(v["rater_id"], v["choice"], key)] += 1
    got = counted.majority_agreement_tallies(
        (rater, choice, dict(key), n) for (rater, choice, key), n in grouped.items()
    )
    assert got == agreement.rater_agreement_with_majority(rows)


def test_majority_agreement_one_pair_at_a_time_is_the_row_computation():
    rows = _units(random.Random(9), 80)
    pairs = [
        [(v["rater_id"], v["choice"]) for v in votes]
        for votes in agreement.latest_votes_by_pair(rows).values()
    ]
    assert counted.majority_agreement(pairs) == agreement.rater_agreement_with_majority(rows)


def test_the_leaderboard_from_counts_is_the_leaderboard_from_rows():
    rng = random.Random(4)
    rows = [
        {
            "judgment_id": i,
            "pair_id": i,
            "rater_id": 1,
            "source": "human",
            "choice": rng.choice(["a", "b", "tie", "both_bad"]),
            "a_generator": (ab := rng.sample(["p", "q", "r"], 2))[0],
            "b_generator": ab[1],
        }
        for i in range(200)
    ]
    from collections import Counter

    grouped = Counter((r["a_generator"], r["b_generator"], r["choice"]) for r in rows)
    counts = counted.outcome_counts((a, b, c, n) for (a, b, c), n in grouped.items())
    assert counts == ranking.outcomes(rows)
    assert ranking.bradley_terry_counts(counts) == ranking.bradley_terry(rows)


def _same(got, want, path="") -> None:
    """Equal, floats to 1e-9 (sums in another order)."""
    if isinstance(want, dict):
        assert set(got) == set(want), path
        for key in want:
            _same(got[key], want[key], f"{path}.{key}")
    elif isinstance(want, list | tuple):
        assert len(got) == len(want), path
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            _same(g, w, f"{path}[{i}]")
    elif isinstance(want, float) and not np.isnan(want):
        assert got == pytest.approx(want, abs=1e-9), path
    else:
        assert got == want or (got != got and want != want), path


@pytest.mark.parametrize(
    "chunk, lengths", [(None, "stored"), (7, "stored"), (None, "some missing"), (7, "stale")]
)
def test_every_figure_from_the_database_counts_equals_the_direct_computation(
    campaign, monkeypatch, chunk, lengths
):
    """Every vote counts (a chunk smaller than the campaign streams it in many fetches, and no
    limit exists on any read): the counted parts equal parts_from_rows on all the rows, whose
    reading lengths are measured from the texts. The counts read the stored lengths, and measure
    the texts of candidates without one (rows written without it; texts changed without it)."""
    from annotate.models import Candidate

    if chunk:
        monkeypatch.setattr(reads, "STREAM_CHUNK", chunk)
    varied_campaign(campaign)
    candidates = Candidate.objects.filter(prompt__campaign=campaign).order_by("id")
    if lengths == "some missing":
        Candidate.objects.filter(id__in=list(candidates.values_list("id", flat=True)[::3])).update(
            read_length=None
        )
    elif lengths == "stale":
        for candidate in candidates[::4]:  # a longer text, its length not written with it
            Candidate.objects.filter(id=candidate.id).update(text=candidate.text + " word" * 40)
    if lengths != "stored":
        assert candidates.filter(read_length__isnull=True).exists()
    rows = reads.analytics_vote_rows(campaign_id=campaign.id)
    assert len(rows) > 60  # many pairs with several votes, revisions among them
    from_counts = reads.dashboard_parts(campaign_id=campaign.id, n_boot=100)
    from_rows = parts_from_rows(rows, n_boot=100)
    for key in from_rows:
        _same(from_counts[key], from_rows[key], key)
    assert from_counts["vote_rows"] == len(rows)
    assert from_counts["alpha"]["alpha"] == pytest.approx(agreement.krippendorff_alpha(rows))
    # And the assembled page data, figure for figure.
    page = dashboard_from_parts(from_counts, days=[], usernames={}, n_boot=100)
    reference = dashboard_from_parts(from_rows, days=[], usernames={}, n_boot=100)
    _same(
        {k: v for k, v in page.items() if k != "figures"},
        {k: v for k, v in reference.items() if k != "figures"},
    )


def test_a_snapshot_reads_only_the_votes_up_to_its_id(campaign):
    varied_campaign(campaign, pairs=12)
    upto = sorted(r["judgment_id"] for r in reads.analytics_vote_rows(campaign_id=campaign.id))[20]
    rows = reads.analytics_vote_rows(campaign_id=campaign.id, upto=upto)
    assert len(rows) == 21
    _same(
        reads.dashboard_parts(campaign_id=campaign.id, upto=upto, n_boot=50)["alpha"],
        parts_from_rows(rows, n_boot=50)["alpha"],
    )


def test_judge_kappa_and_swap_from_counts_equal_the_judge_pages(campaign):
    varied_campaign(campaign)
    page = judge_analytics(campaign=campaign)
    got = reads.judge_figures(campaign_id=campaign.id)
    want_kappa = page["kappa"]
    assert got["kappa"]["n"] == want_kappa.n > 5
    assert got["kappa"]["kappa"] == pytest.approx(want_kappa.kappa)
    assert (got["kappa"]["low"], got["kappa"]["high"]) == pytest.approx(
        (want_kappa.low, want_kappa.high)
    )
    assert (got["swap"]["k"], got["swap"]["n"]) == (page["swap"].k, page["swap"].n)
    assert got["swap"]["rate"] == page["swap"].rate
