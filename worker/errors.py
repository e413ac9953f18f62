"""The worker's own conditions: failures that are neither the forum's nor a bug.

The retry middleware (``worker.pipeline.retries.DiamondRetries``) maps each to what the
job should do, the way dramatiq maps ``Retry`` and an actor's ``throws``:

- ``LeaseBusy``: another run holds the lease on the same work. Nothing is wrong; the
  job waits until the lease should be free and runs again, and the wait does not count
  against its failure budget.
- ``NeedsHuman``: the job found a state it must not act on (a member placed in two
  squads of one cohort...). Retrying cannot help: the job goes to the dead-letter
  queue at once, with one log line and a staff notice saying what to sort out.

The forum's own errors are ``worker.forum.errors``.
"""

from __future__ import annotations

import dramatiq


class WorkerCondition(Exception):
    """Base of the worker's own conditions."""


class LeaseBusy(WorkerCondition, dramatiq.Retry):
    """Another run holds the lease on this work right now: retry after ``retry_after_ms``.

    A ``dramatiq.Retry`` (with its ``delay``), so dramatiq's worker treats it as the
    expected "not now" it is, not as an error with a traceback.
    """

    def __init__(self, key: str, retry_after_ms: int, *, lease_left_ms: int | None = None) -> None:
        dramatiq.Retry.__init__(
            self, f"{key!r} is being worked on by another run", delay=retry_after_ms
        )
        self.key = key
        self.retry_after_ms = retry_after_ms
        # How long the other run's claim may still last (at most): a person is told this.
        self.lease_left_ms = retry_after_ms if lease_left_ms is None else lease_left_ms


class NeedsHuman(WorkerCondition):
    """A state the job must not act on; a person has to sort it out. Never retried.

    ``str(exc)`` is the one line the staff read: what is wrong and where.
    """
