"""Server-rendered SVG plots (matplotlib, Agg backend): numbers in, an SVG string out.

Text stays text in the SVG (``svg.fonttype = none``) so it is crisp, searchable and small; matplotlib
escapes it, so generator names cannot inject markup into the page.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

STYLE = {
    "svg.fonttype": "none",
    "svg.hashsalt": "annotate",
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.edgecolor": "#98a2b3",
    "axes.labelcolor": "#344054",
    "xtick.color": "#475467",
    "ytick.color": "#475467",
}
ACCENT = "#2f5bd3"
MUTED = "#98a2b3"


def _svg(fig) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    text = buf.getvalue()
    return text[text.index("<svg") :]  # drop the XML prolog/doctype: the SVG goes inline


def votes_over_time(days: Sequence, counts: Sequence[int]) -> str:
    """Votes per day (bars) and the running total (line)."""
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(6.4, 2.4))
        ax.bar(days, counts, color=MUTED, label="votes that day")
        ax.set_ylabel("votes per day")
        total = ax.twinx()
        running, acc = [], 0
        for c in counts:
            acc += c
            running.append(acc)
        total.plot(days, running, color=ACCENT, marker="o", markersize=3, label="total")
        total.set_ylabel("total votes", color=ACCENT)
        total.spines["top"].set_visible(False)
        fig.autofmt_xdate()
        return _svg(fig)


def share_intervals(
    labels: Sequence[str], shares: Sequence, lows: Sequence, highs: Sequence, *, xlabel: str
) -> str:
    """Horizontal dots with 95% intervals against the 50% line (position or length bias)."""
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(6.4, 0.45 * len(labels) + 0.9))
        ys = list(range(len(labels)))[::-1]
        for y, share, low, high in zip(ys, shares, lows, highs, strict=True):
            if share is None:
                continue
            ax.plot([low, high], [y, y], color=ACCENT, linewidth=2)
            ax.plot([share], [y], "o", color=ACCENT)
        ax.axvline(0.5, color="#b42318", linestyle="--", linewidth=1)
        ax.set_yticks(ys, labels)
        ax.set_xlim(0, 1)
        ax.set_xlabel(xlabel)
        return _svg(fig)


def leaderboard(board: Sequence[dict]) -> str:
    """Bradley–Terry scores with bootstrap 95% intervals, best on top."""
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(6.4, 0.5 * len(board) + 0.9))
        ys = list(range(len(board)))[::-1]
        for y, row in zip(ys, board, strict=True):
            ax.plot([row["low"], row["high"]], [y, y], color=ACCENT, linewidth=2)
            ax.plot([row["score"]], [y], "o", color=ACCENT)
        ax.axvline(1000, color=MUTED, linestyle=":", linewidth=1)
        ax.set_yticks(ys, [row["name"] for row in board])
        ax.set_xlabel("Bradley–Terry score (Elo scale, 95% bootstrap CI)")
        return _svg(fig)


def win_matrix(
    names: Sequence[str], rate: Sequence[Sequence[float]], n: Sequence[Sequence[float]]
) -> str:
    """Heat map: row generator's share of votes won against the column generator."""
    with plt.rc_context(STYLE):
        size = 1.0 + 0.7 * len(names)
        fig, ax = plt.subplots(figsize=(size + 1.5, size))
        image = ax.imshow(
            [[0.5 if math.isnan(v) else v for v in row] for row in rate],
            cmap="RdBu",
            vmin=0,
            vmax=1,
        )
        ax.set_xticks(range(len(names)), names, rotation=30, ha="right")
        ax.set_yticks(range(len(names)), names)
        for i, row in enumerate(rate):
            for j, value in enumerate(row):
                text = "–" if math.isnan(value) else f"{value:.0%}\nn={n[i][j]:.0f}"
                ax.text(j, i, text, ha="center", va="center", fontsize=7.5)
        ax.set_xlabel("against")
        fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="row wins")
        return _svg(fig)


def histogram(
    values: Sequence[float], *, xlabel: str, weights: Sequence[float] | None = None
) -> str:
    """``weights``: how many votes each value stands for (a histogram of counts from SQL)."""
    total = int(sum(weights)) if weights is not None else len(values)
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(6.4, 2.2))
        ax.hist(values, weights=weights, bins=min(30, max(5, total // 5)), color=ACCENT)
        ax.set_xlabel(xlabel)
        ax.set_ylabel("votes")
        return _svg(fig)


# One colour and marker per best-of-N method (annotate/analytics/ttc.py), colour-blind safe.
TTC_STYLE = {
    "majority": ("#2f5bd3", "o"),
    "judge": ("#b54708", "s"),
    "verifier": ("#067647", "^"),
    "human": ("#9e1f63", "D"),
    "pass_at_n": ("#667085", "x"),
}


def accuracy_vs_n(curves: dict, labels: dict[str, str]) -> str:
    """Accuracy against N (log₂ axis) per method, with the 95% bootstrap band; pass@N dashed."""
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(6.4, 3.2))
        ticks: set[int] = set()
        for method, points in curves.items():
            colour, marker = TTC_STYLE.get(method, (ACCENT, "o"))
            ns = [p.n for p in points]
            ticks.update(ns)
            dashed = method == "pass_at_n"
            ax.plot(
                ns,
                [p.accuracy for p in points],
                color=colour,
                marker=marker,
                markersize=4,
                linestyle="--" if dashed else "-",
                label=labels.get(method, method),
            )
            if not dashed:
                ax.fill_between(
                    ns, [p.low for p in points], [p.high for p in points], color=colour, alpha=0.12
                )
        ax.set_xscale("log", base=2)
        ax.set_xticks(sorted(ticks), [str(n) for n in sorted(ticks)])
        ax.set_ylim(0, 1.02)
        ax.set_xlabel("samples per prompt (N)")
        ax.set_ylabel("accuracy vs the reference")
        ax.legend(loc="lower right", fontsize=7.5, frameon=False)
        return _svg(fig)
