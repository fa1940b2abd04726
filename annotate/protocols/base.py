"""The protocol seam: what every protocol says about itself, in one record per protocol.

A protocol names

* its **unit** (what one lease hands a rater: a pair, a set of K candidates, …) and the model that
  holds it;
* ``units_build(campaign)``: create the missing units from the campaign's DONE candidates
  (idempotent; returns a report with ``created``, ``eligible``, ``flagged`` and ``notes``);
* ``units_exist(campaign)``: whether the campaign has any unit (a campaign opens only then);
* ``unit_next(campaign, rater)``: the rater's live lease or a newly claimed unit (None: no work);
* ``vote_record(**vote)``: validate and store a vote on a lease (raises VoteRefused);
* ``export_rows(campaign_id, …)``: the campaign's votes as pairwise vote rows (what every pairwise
  export format is built from), sorted by prompt, then pair, then vote;
* ``agreement(campaign)``: its agreement statistics for the analytics page;
* ``rate_url``: the URL name of its rating page.

The implementations are imported when called, so this module imports nothing but the standard
library, and models may name it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

_REGISTRY: dict[str, Protocol] = {}


@dataclass(frozen=True)
class Protocol:
    name: str
    unit: str  # singular noun shown to people: "pair", "set"
    units_build: Callable[..., Any]
    units_exist: Callable[..., bool]
    unit_next: Callable[..., Any]
    vote_record: Callable[..., Any]
    export_rows: Callable[..., Any]
    agreement: Callable[..., dict]
    rate_url: str


def register(protocol: Protocol) -> Protocol:
    if protocol.name in _REGISTRY:
        raise ValueError(f"protocol {protocol.name!r} is already registered")
    _REGISTRY[protocol.name] = protocol
    return protocol


def protocols() -> dict[str, Protocol]:
    _load()
    return dict(_REGISTRY)


def protocol_for(campaign) -> Protocol:
    """The protocol of a campaign (or of a protocol name)."""
    _load()
    name = campaign if isinstance(campaign, str) else campaign.protocol
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown protocol {name!r}") from None


def _load() -> None:
    # Importing a protocol's module registers it (once: a module runs once per process).
    from annotate.protocols import live, pairwise, ranking, rating, steps  # noqa: F401
