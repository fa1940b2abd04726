"""Model-based aggregation of the raters' votes: Dawid–Skene and MACE, fitted by crowd-kit. Pure.

Majority vote trusts every rater alike. These models estimate, from all votes of the campaign at
once, how reliable each rater is and, from that, each pair's most probable label:

* **Dawid–Skene** (1979): each rater has a confusion matrix (the probability of answering ``b``
  when the truth is ``a``, and so on); EM alternates between the pairs' label probabilities and
  the raters' matrices. A rater's *reliability* is the probability that their answer is the true
  label, ``Σ_c prior(c) · P(answer c | truth c)``.
* **MACE** (Hovy et al., 2013): each rater either knows the answer or, with some probability,
  "spams" by a label distribution of their own; their *reliability* is their competence, the
  posterior probability of knowing.

The classes are the choices ``a``, ``b``, ``tie`` and ``both_bad`` (nominal: a 7-point vote counts
by its side, and its strength only in the margin the export writes). Each rater's latest vote on a
pair counts (as for majority); a pair's label is the class of highest posterior probability.
Both fits are deterministic (MACE's restarts have a fixed seed).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field

MODEL_METHODS = ("dawid_skene", "mace")
MODEL_RULES = __doc__.split("\n\n", 1)[1].strip()  # for the dataset card


@dataclass(frozen=True)
class FittedLabels:
    method: str
    labels: dict[int, tuple[str, float]] = field(default_factory=dict)  # pair -> (label, P)
    reliability: dict[int, float] = field(default_factory=dict)  # rater -> P(answer is true)
    votes: int = 0


def fit_labels(votes: Iterable[dict], *, method: str, seed: int = 0) -> FittedLabels:
    """Fit ``method`` to counted human votes (dicts with ``pair_id``, ``rater_id``, ``choice``:
    one per rater and pair, as exports.aggregate.counted_votes leaves them)."""
    if method not in MODEL_METHODS:
        raise ValueError(f"unknown model method {method!r}; one of {', '.join(MODEL_METHODS)}")
    import pandas as pd

    data = pd.DataFrame(
        [(v["pair_id"], _worker(v["rater_id"]), v["choice"]) for v in votes],
        columns=["task", "worker", "label"],
    )
    if data.empty:
        return FittedLabels(method)
    with warnings.catch_warnings():
        # crowd-kit calls pandas APIs that pandas has deprecated (DataFrame.eval(inplace=...)):
        # its warnings, not ours to act on.
        warnings.filterwarnings("ignore", category=DeprecationWarning, module="crowdkit")
        warnings.filterwarnings("ignore", category=FutureWarning, module="crowdkit")
        if method == "dawid_skene":
            model, reliability = _dawid_skene(data)
        else:
            model, reliability = _mace(data, seed=seed)
    probas = model.probas_
    best = probas.idxmax(axis="columns")
    top = probas.max(axis="columns")
    labels = {int(t): (str(best[t]), round(float(top[t]), 6)) for t in probas.index}
    return FittedLabels(method, labels, reliability, votes=len(data))


def _worker(rater_id):
    return "judge" if rater_id is None else rater_id  # the AI judge's rows have no rater


def _rater(worker):
    return worker if isinstance(worker, str) else int(worker)


def _dawid_skene(data):
    from crowdkit.aggregation import DawidSkene

    model = DawidSkene(n_iter=100).fit(data)
    errors, priors = model.errors_, model.priors_
    reliability = {}
    for worker in data["worker"].unique():
        matrix = errors.loc[worker]
        reliability[_rater(worker)] = round(
            float(sum(priors[c] * matrix.at[c, c] for c in priors.index if c in matrix.index)), 6
        )
    return model, reliability


def _mace(data, *, seed: int):
    import pandas as pd
    from crowdkit.aggregation import MACE

    # Three restarts, not the ten of the paper: each costs a full fit (about 2 s per thousand
    # votes on two cores), and on preference data they rarely disagree.
    model = MACE(n_restarts=3, n_iter=50, random_state=seed).fit(data)
    # Rows of spamming_ follow the order in which the workers first appear (pd.factorize, as fit
    # does); column 1 is the probability of knowing the answer.
    _, workers = pd.factorize(data["worker"])
    reliability = {int(w): round(float(model.spamming_[i, 1]), 6) for i, w in enumerate(workers)}
    return model, reliability
