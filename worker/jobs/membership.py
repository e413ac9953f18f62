"""Membership actors: gating on sign-up, camp progress from posts, the daily camp check,
squad formation.

Routes: ``user_created``/``user_confirmed_email``/``user_approved``/``user_updated`` →
``membership.on_user``, with the email and inviter the signed body carries (the admin
user view has neither), and the user's facts it carries (an approval's are all the gate
needs). An email sign-up is gated once ``user_confirmed_email`` says it
is active; an invitee Discourse approved at once is gated after the fact; a held
application approved by a reviewer enters the camp; the catch-up scan feeds pending
users the webhooks missed as ``user_created``. ``user_added_to_group``,
``user_removed_from_group``, ``group_updated``, ``group_destroyed`` →
``membership.on_group_event``: the roster state follows an admin's hand changes
(``worker.state.roster``). Post events reach the camp through the one post actor
(``worker.jobs.posts``). Periodic: the camp check at ``camp.check_schedule`` (community
time zone). Thin: each gets its ``StepContext`` from the actor decorator
(``context=True``) and calls its step (``worker.steps.gate``, ``camp_check``,
``form_squads``, ``group_events``); gating holds the applicant's lease (``GATING_LEASE``).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dramatiq

from worker.pipeline.jobs import Lease, diamond_actor
from worker.pipeline.notices import raise_notice
from worker.pipeline.routes import add_route
from worker.pipeline.scheduler import (
    CronFields,
    PeriodicJob,
    add_periodic_job,
    add_schedule_source,
    cron_fields,
    periodic_job,
)
from worker.reads.parse import USER_BODY_FACTS, USER_HINTS, Hints
from worker.rules import Rules, load_rules
from worker.state import keys
from worker.state.membership import MembershipStore
from worker.steps import StepContext, form_squads, gate, group_events
from worker.steps import camp_check as camp_step

if TYPE_CHECKING:
    from worker.forum.client import ForumClient

log = logging.getLogger(__name__)
QUEUE = "membership"
DEFAULT_CAMP_CRON = "0 9 * * *"


# One gating job per applicant at a time: the ``user_approved`` event of Diamond's own
# approval must not take the half-done decision of a crashed job and finish it twice. The
# lease is renewed while the job runs: a killed worker's is gone before its job is
# redelivered, and a second job does not wait in its thread but is retried after it.
GATING_LEASE = Lease(
    key=lambda user_id, **_: keys.gating_lock(user_id), seconds=20.0, wait_seconds=5.0
)


@diamond_actor(queue=QUEUE, time_limit=120, lease=GATING_LEASE, context=True)
def on_user(
    ctx: StepContext[ForumClient],
    user_id: int,
    hints: dict[str, Any] | None = None,
    event: str | None = None,
    body: dict[str, Any] | None = None,
) -> None:
    """A sign-up (or a change to a pending one): gate it."""
    result = gate.run(ctx, user_id, hints=Hints.from_route(hints), event=event, body=body)
    if result.waiting:
        log.info("user %s has not confirmed their email yet: gated once they do", user_id)
    elif result.decision is None:
        log.debug("user %s is not pending: nothing to decide", user_id)


@diamond_actor(queue=QUEUE, time_limit=60, context=True)
def on_group_event(
    ctx: StepContext[ForumClient],
    group_id: int,
    event: str | None = None,
    user_id: int | None = None,
    body: dict[str, Any] | None = None,
) -> None:
    """A group's members or the group changed on the forum (an admin by hand, or the echo
    of Diamond's own change): the roster state follows (``worker.steps.group_events``)."""
    created = (body or {}).get("created_at")
    created_at = created if isinstance(created, str) and created else None
    if group_events.run(ctx, event, group_id, user_id, created_at):
        log.info("%s: group %s changed on the forum; the roster follows", event, group_id)


@diamond_actor(queue=QUEUE, time_limit=600, context=True)
def camp_check(ctx: StepContext[ForumClient], scheduled_for: str | None = None) -> None:
    """Daily: decide the camps that have ended; form squads of cohorts that are complete."""
    deferred: list[str] = []
    checks = camp_step.run(ctx, deferred=deferred)
    log.info("camp check at %s: %d decided", ctx.now.isoformat(), len(checks))
    if deferred:
        raise_notice(
            ctx.redis,
            dramatiq.get_broker(),
            "camp_facts_missing",
            [f"@{name}" for name in deferred],  # the words are the template's
        )
    for cohort in camp_step.ready_cohorts(MembershipStore(ctx.redis), ctx.rules):
        form_cohort_squads.send(cohort)


@diamond_actor(queue=QUEUE, time_limit=600, context=True)
def form_cohort_squads(ctx: StepContext[ForumClient], cohort: str) -> None:
    """Form (or complete) the squads of one cohort; re-running it changes nothing."""
    form_squads.run(ctx, cohort)
    # New squads owe this week too: open their weekly thread now rather than next Monday
    # (open_threads skips the squads that have one).
    from worker.jobs.obligations import open_threads

    open_threads.send()


def _camp_cron() -> CronFields:
    # Read the rules directly: importing this module must not fix the process's settings.
    try:
        expr = load_rules(Path(os.environ.get("DIAMOND_RULES_DIR", "rules"))).camp.check_schedule
    except Exception:  # no (valid) rules where this module is imported: the shipped default
        expr = DEFAULT_CAMP_CRON
    return cron_fields(expr)


for _event in ("user_created", "user_confirmed_email", "user_approved", "user_updated"):
    add_route(
        _event,
        on_user.actor_name,
        ids={"user_id": "id"},
        hints=USER_HINTS,
        body=USER_BODY_FACTS,  # an approval's body carries the applicant: no read
        pass_event=True,
    )
# Members moved by hand (WebHookGroupUserSerializer: group_id, user_id, created_at) and
# groups edited or deleted by hand reach the roster state without a forum read.
for _event in group_events.GROUP_USER_EVENTS:
    add_route(
        _event,
        on_group_event.actor_name,
        ids={"group_id": "group_id", "user_id": "user_id"},
        body=("created_at",),
        pass_event=True,
    )
for _event in ("group_updated", "group_destroyed"):
    add_route(_event, on_group_event.actor_name, ids={"group_id": "id"}, pass_event=True)
add_periodic_job("membership_camp_check", camp_check.actor_name, **_camp_cron())


def schedules(rules: Rules) -> list[PeriodicJob]:
    """The camp check at ``camp.check_schedule`` (the running scheduler follows edits)."""
    return [
        periodic_job(
            "membership_camp_check",
            camp_check.actor_name,
            source="camp.yml check_schedule",
            from_rules=True,
            **cron_fields(rules.camp.check_schedule),
        )
    ]


add_schedule_source(schedules)
