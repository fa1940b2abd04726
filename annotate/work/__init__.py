"""Claimable background work, one machinery for every kind (candidates, judge verdicts, exports).

The life of a row of any kind is the whole protocol:

    pending --claim (conditional UPDATE: status, claimed_at, claimed_by, attempts+1)--> running
       ^                                                                                  |
       |   retryable error: backoff honouring retry-after (bounded by max_attempts)      |
       +----------------------------------------------------------------------------------+
       |   holder dead (no heartbeat for WORK_DEAD_AFTER_SECONDS) or claim stale: the sweep
       +---- sends it again (after max_attempts such claims: failed) -------------------+
                                                                                          |
                                  running --write guarded by (running, claimed_at)--> done | failed

and a job (if the kind has jobs) ends once none of its rows is pending or running.

    kinds.py     ``Kind``: what a kind declares (model, statuses, job, how to send, what ends a job);
                 ``all_kinds``, the list of them
    claims.py    the claim rule, claim / held / release / record_error / fail, backoff,
                 finish_if_complete
    workers.py   the heartbeat of every process that claims, and the lease that picks who sweeps
    sweep.py     the one sweep: dead holders' and stale claims, lost retries and messages, ending jobs
    batches.py   Message Batches for any kind: submit with a stamp recorded before the call, poll,
                 collect, recover a lost batch id
    progress.py  rate from recent completions, and the lost-worker notice

Services keep what is theirs: how to call the provider and what to write (services/generation.py,
judging.py, exports.py), and which rows a batch holds (generation_batches.py, judging_batch.py).
Tasks stay thin: ids in, one service call, ``self.retry(countdown=outcome.retry_in)`` when told.
"""

from annotate.work.claims import Outcome
from annotate.work.kinds import Kind

__all__ = ["Kind", "Outcome"]
