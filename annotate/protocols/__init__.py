"""Protocols: how a campaign collects preferences. ``protocol_for(campaign)`` is the one seam.

    base.py      the Protocol record and the registry (name → protocol)
    pairwise.py  two candidates, A / B / tie / both bad (today's code, delegated to)
    ranking.py   K candidates of one prompt ranked best to worst, ties allowed
    rating.py    one or several candidates of a prompt, each scored per aspect on a scale
    live.py      two anonymous models in a conversation, a pair per turn (services/live.py)

A new protocol (per-aspect rating, live conversations) is a module that builds a ``Protocol`` and
registers it; campaigns, exports and analytics reach it only through ``protocol_for``.
"""

from annotate.protocols.base import Protocol, protocol_for, protocols

__all__ = ["Protocol", "protocol_for", "protocols"]
