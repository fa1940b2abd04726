"""Statistics checked against small cases computed by hand."""

from __future__ import annotations

import math

import pytest

from annotate.analytics import agreement, bias, ranking
from annotate.analytics.dashboard import dashboard
from tests.exports.rows import vote


def test_krippendorff_alpha_matches_a_hand_computed_ordinal_case():
    # Two raters, three pairs, binary scale: scores (+1,+1), (-1,-1), (+1,-1).
    # Ordinal α with values {-1, +1} equals nominal α here: 2x2 coincidence matrix
    # o(-1,-1)=2, o(+1,+1)=2, o(-1,+1)=o(+1,-1)=1; n=6, n(-1)=n(+1)=3.
    # D_o = 2·1/6 = 1/3 ; D_e = 2·3·3/(6·5) = 0.6 ; α = 1 - (1/3)/0.6 = 4/9.
    rows = [
        vote(1, pair_id=1, rater_id=1, choice="a"),
        vote(2, pair_id=1, rater_id=2, choice="a"),
        vote(3, pair_id=2, rater_id=1, choice="b"),
        vote(4, pair_id=2, rater_id=2, choice="b"),
        vote(5, pair_id=3, rater_id=1, choice="a"),
        vote(6, pair_id=3, rater_id=2, choice="b"),
    ]
    assert agreement.krippendorff_alpha(rows) == pytest.approx(4 / 9)
    result = agreement.alpha_with_ci(rows, n_boot=50)
    assert result["pairs"] == 3 and result["low"] <= result["alpha"] <= result["high"]


def test_alpha_is_undefined_when_everyone_always_agrees_on_one_value():
    rows = [vote(i, pair_id=i // 2, rater_id=i % 2, choice="a") for i in range(6)]
    assert agreement.krippendorff_alpha(rows) is None


def test_agreement_with_the_majority_is_leave_one_out():
    # Pair 1: r1 a, r2 a, r3 b. Others of r1 = {a, b}: no majority -> skipped; same for r2;
    # others of r3 = {a, a} -> a; r3 disagrees. Pair 2: all three a -> everyone agrees.
    rows = [
        vote(1, pair_id=1, rater_id=1, choice="a"),
        vote(2, pair_id=1, rater_id=2, choice="a"),
        vote(3, pair_id=1, rater_id=3, choice="b"),
        vote(4, pair_id=2, rater_id=1, choice="a"),
        vote(5, pair_id=2, rater_id=2, choice="a"),
        vote(6, pair_id=2, rater_id=3, choice="a"),
    ]
    result = agreement.rater_agreement_with_majority(rows)
    assert result[1] == {"agree": 1, "compared": 1, "share": 1.0}
    assert result[3] == {"agree": 1, "compared": 2, "share": 0.5}


def test_gold_accuracy_counts_first_votes_on_gold_pairs():
    rows = [
        vote(1, pair_id=1, rater_id=1, choice="a", gold_answer="a"),
        vote(2, pair_id=2, rater_id=1, choice="b", gold_answer="a"),
        vote(3, pair_id=2, rater_id=1, choice="a", gold_answer="a", revises_id=2),  # not counted
        vote(4, pair_id=3, rater_id=1, choice="b"),  # not gold
    ]
    assert agreement.gold_accuracy(rows) == {1: {"correct": 1, "answered": 2, "share": 0.5}}


def test_position_bias_share_interval_and_exact_p_value():
    # Rater 1: 8 decisive votes, 7 for the left response (a shown left and a chosen, or b left and b).
    rows = [vote(i, pair_id=i, rater_id=1, choice="a", left_is_a=True) for i in range(1, 6)]
    rows += [vote(i, pair_id=i, rater_id=1, choice="b", left_is_a=False) for i in range(6, 8)]
    rows += [vote(8, pair_id=8, rater_id=1, choice="a", left_is_a=False)]
    rows += [vote(9, pair_id=9, rater_id=1, choice="tie", left_is_a=True)]  # no side: ignored
    result = bias.position_bias(rows)["raters"][1]
    assert (result["k"], result["n"], result["share"]) == (7, 8, 0.875)
    # Exact two-sided binomial p for 7 of 8: 2·(C(8,7)+C(8,8))/2^8 = 18/256.
    assert result["p_value"] == pytest.approx(18 / 256)
    # Wilson 95%: centre (7 + z²/2)/(8 + z²), half-width z·sqrt(7·1/8 + z²/4)/(8 + z²).
    z = 1.959963984540054
    centre = (7 + z * z / 2) / (8 + z * z)
    half = z * math.sqrt(7 * 1 / 8 + z * z / 4) / (8 + z * z)
    assert (result["low"], result["high"]) == pytest.approx((centre - half, centre + half))


def test_length_bias_counts_picks_of_the_longer_response():
    rows = [
        vote(1, pair_id=1, choice="a"),
        vote(2, pair_id=2, choice="b"),
        vote(3, pair_id=3, choice="a"),
    ]
    rows[0].update(a_len=100, b_len=10)  # longer picked
    rows[1].update(a_len=100, b_len=10)  # shorter picked
    rows[2].update(a_len=50, b_len=50)  # equal: skipped
    result = bias.length_bias(rows)["overall"]
    assert (result["k"], result["n"]) == (1, 2)


def test_time_on_task_median_and_percentiles():
    rows = [vote(i, pair_id=i, time_on_task_ms=ms) for i, ms in enumerate([1000, 2000, 9000], 1)]
    assert bias.time_on_task(rows)["overall"] == {"n": 3, "median": 2.0, "p10": 1.0, "p90": 9.0}


def test_bradley_terry_recovers_the_log_odds_of_a_hand_computed_case():
    # X beats Y 3 times, Y beats X once: the BT MLE gives θx − θy = ln 3 (≈ 191 Elo points).
    rows = [
        vote(i, pair_id=i, rater_id=1, choice="a", a_generator="X", b_generator="Y")
        for i in range(1, 4)
    ]
    rows.append(vote(4, pair_id=4, rater_id=1, choice="a", a_generator="Y", b_generator="X"))
    board = ranking.bradley_terry(rows, n_boot=100)
    assert [r["name"] for r in board] == ["X", "Y"]
    gap = board[0]["score"] - board[1]["score"]
    assert gap == pytest.approx(
        400 * math.log10(3), abs=3
    )  # the light regularisation shrinks it a bit
    assert board[0]["low"] <= board[0]["score"] <= board[0]["high"]
    assert board[0]["comparisons"] == 4


def test_ties_count_half_and_the_win_rate_matrix_is_complementary():
    rows = [
        vote(1, pair_id=1, choice="a", a_generator="X", b_generator="Y"),
        vote(2, pair_id=2, choice="tie", a_generator="X", b_generator="Y"),
        vote(3, pair_id=3, choice="both_bad", a_generator="X", b_generator="Y"),  # ignored
        vote(4, pair_id=4, choice="a", a_generator="X", b_generator="X"),  # same generator: ignored
    ]
    wins = ranking.win_rates(rows)
    assert wins["names"] == ["X", "Y"]
    assert wins["rate"][0][1] == 0.75 and wins["rate"][1][0] == 0.25
    assert wins["n"][0][1] == 2.0
    assert math.isnan(wins["rate"][0][0])


def test_the_dashboard_renders_svg_figures():
    rows = [
        vote(i, pair_id=i, rater_id=1 + i % 2, choice="ab"[i % 2], a_generator="X", b_generator="Y")
        for i in range(1, 9)
    ]
    for r in rows:
        r.update(a_len=10 * r["judgment_id"], b_len=40)
    result = dashboard(
        rows, days=[("2026-01-01", 5), ("2026-01-02", 3)], usernames={1: "ann"}, n_boot=20
    )
    assert set(result["figures"]) == {"progress", "position", "leaderboard", "wins", "time"}
    assert all(svg.startswith("<svg") for svg in result["figures"].values())
    assert [r["name"] for r in result["raters"]] == ["rater 2", "ann"]
