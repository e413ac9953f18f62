"""One module per job, each with the same shape:

    gather (reads only) → engine (pure) → Applier (the one door) → record (Redis)

1. **gather** reads the forum through ``worker.reads`` (the cached forum view, the one
   parser of Discourse JSON) and Redis through ``worker.state``; it writes nothing.
2. the **engine** (``worker.engine``) decides from (rules, facts, now): plain values in,
   actions (data) out. No step builds an action itself.
3. the **Applier** (``worker.apply``; a step calls ``ctx.apply(actions)``) carries the
   actions out, once each (idempotency keys), in shadow mode only what touches no member.
4. **record** keeps in ``worker.state`` what was decided and done, so a retried job
   finishes the *same* decision.

A step gets a ``StepContext``: the forum client (typed by the step's own small
``Protocol`` of the calls it makes, so a test can hand it a 20-line fake), Redis, the
rules, ``now`` (passed in: a step never reads the clock) and whether writes are live.
The Protocol lists the calls by composing ``worker.forum.calls`` (one Protocol per client
call, with the client's own signature, written once; ``ForumClient`` must fit them: the
actors' contexts are ``StepContext[ForumClient]``) and covers the reads' own Protocols
(``worker.reads.forum_view.RosterReads``...) of what it hands its forum to.
Actors (``worker.jobs``) get theirs from the actor decorator (``context=True``, built from
what the worker process set up once, ``worker.pipeline.runtime``); CLI commands
(``worker.commands``) build one. Both call the step; neither holds logic of its own, and
commands never import actors.

Steps may call the pure engine, ``worker.reads``, ``worker.state`` and the Applier, never
``worker.jobs`` or ``worker.commands`` (nothing imports upward).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Generic, TypeVar, cast

import redis

from worker.rules import Rules

if TYPE_CHECKING:
    from worker.actions import Action
    from worker.apply import Applier, ApplyReport
    from worker.forum.client import ForumClient

F = TypeVar("F", covariant=True)  # a step may run another whose forum needs less


@dataclass(frozen=True)
class StepContext(Generic[F]):
    """What every step runs with (see the module doc)."""

    forum: F
    redis: redis.Redis
    rules: Rules
    now: datetime
    live: bool
    # How long the Applier's claim on an action outlives a run that died holding it
    # (``worker.apply.CLAIM_LEASE_SECONDS`` unless the process was configured otherwise).
    claim_lease_seconds: int | None = None

    def applier(self, rules: Rules | None = None) -> Applier:
        """The one door for this step's writes (``rules``: another copy, e.g. a reviewer's).

        A step types its forum by the calls it makes; the Applier writes through the whole
        client (at run time ``forum`` is one; a test's fake answers the writes it expects).
        """
        from worker.apply import CLAIM_LEASE_SECONDS, Applier

        forum = cast("ForumClient", self.forum)
        lease = self.claim_lease_seconds
        lease = CLAIM_LEASE_SECONDS if lease is None else lease
        return Applier(
            forum,
            self.redis,
            live=self.live,
            rules=self.rules if rules is None else rules,
            now=self.now,  # the roster state dates a member's joining at the step's time
            claim_lease_seconds=lease,
        )

    def apply(self, actions: Sequence[Action], *, rules: Rules | None = None) -> ApplyReport:
        """Carry out ``actions`` through the Applier (the mode's: shadow records only)."""
        return self.applier(rules).apply(actions)

    def at(self, now: datetime) -> StepContext[F]:
        """The same context at another moment (a scheduled run's own time)."""
        return replace(self, now=now)
