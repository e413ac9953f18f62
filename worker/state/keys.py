"""Every ``diamond:*`` key the worker's stores and caches use, built in one place.

The strings are a contract with the data already in Redis (running deployments, saved
demo worlds): ``tests/pure/test_state_keys.py`` pins each format. Change one only with
a migration.

Stores (``worker.state``): ``membership``, ``ledger``, ``rec`` (recognition), ``roster``.
Caches of forum facts (``worker.reads.forum_view``): ``cache``, ``ledger:category-ids``,
``rec:topics``. The pipeline's (``worker.pipeline``: ``seen``, ``once``, ``notice``,
``catchup``, ``scheduler``, ``periodic``, ``health``, ``probe``, ``facts``), the metrics',
the Applier's (``done``, ``shadow:done``, ``pm-thread``, ``cache:group-ids``), the
client's (``forum:*``), the loaded rules', the demo's marker, and chat's: all here too.
The modules that use them keep their older names (``apply.DONE_PREFIX``...) as aliases.
Dramatiq's own queue keys are under its namespace (``QUEUE_PREFIX``).
"""

from __future__ import annotations

from typing import Any

ROOT = "diamond:"

# ─────────────────────────────── membership ───────────────────────────────

MEMBERSHIP = ROOT + "membership:"
EMAILS = MEMBERSHIP + "emails"
APPLICANT_EMAILS = MEMBERSHIP + "applicant-emails"
APPLICANT_FACTS = MEMBERSHIP + "applicant-facts"
REMOVED = MEMBERSHIP + "removed"
DECISIONS = MEMBERSHIP + "decisions"
GATING = MEMBERSHIP + "gating"
GATING_INPUTS = MEMBERSHIP + "gating:inputs"
CAMPERS = MEMBERSHIP + "campers"
CAMP_ACTIVE = MEMBERSHIP + "camp:active"
CAMP_EVER = MEMBERSHIP + "camp:ever"
CAMP_BY_ID = MEMBERSHIP + "camp:by-id"
COHORTS = MEMBERSHIP + "cohorts"
COHORTS_PENDING = MEMBERSHIP + "cohorts:pending"
FORMATIONS = MEMBERSHIP + "formations"


def referrals(referrer: str, month: str) -> str:
    return f"{MEMBERSHIP}referrals:{referrer.lower()}:{month}"


def camp_posts(username: str) -> str:
    return f"{MEMBERSHIP}camp:posts:{username.lower()}"


def graduates(cohort: str) -> str:
    return f"{MEMBERSHIP}graduates:{cohort}"


def gating_lock(user_id: int | str) -> str:
    """The lease one gating job of an applicant holds (``worker.jobs.membership.GATING_LEASE``)."""
    return f"{MEMBERSHIP}gating-lock:{user_id}"


# ─────────────────────────────── ledger ───────────────────────────────

LEDGER = ROOT + "ledger:"
LEDGER_TOPICS = LEDGER + "topics"
SQUAD_CATEGORIES = LEDGER + "squad-categories"
SQUAD_NAMES = LEDGER + "squad-names"
POST_PLACES = LEDGER + "post-places"
LEAVE = LEDGER + "leave"
AUDIT_RULES = LEDGER + "audit-rules"
ROLL_CALL_DIRTY = LEDGER + "roll-call:dirty"
ROLL_CALL_EDITED = LEDGER + "roll-call:edited"
ROLL_CALL_FIRST_POSTS = LEDGER + "roll-call:first-posts"
ROLL_CALL_WRITTEN = LEDGER + "roll-call:written"  # week|squad -> "edits:digest" last written
POSTS_PATTERN = LEDGER + "posts:*"
THREADS_PATTERN = LEDGER + "threads:*"


def threads(week: Any) -> str:
    return f"{LEDGER}threads:{week}"


def week_posts(week: Any, squad: str) -> str:
    return f"{LEDGER}posts:{week}:{squad}"


def strikes(username: str, *, live: bool = True) -> str:
    return f"{LEDGER}{'strikes' if live else 'shadow-strikes'}:{username}"


# ─────────────────────────────── recognition ───────────────────────────────

REC = ROOT + "rec:"
REC_POSTS = REC + "posts"
REC_POSTS_T = REC + "posts:t"
REC_LIKES = REC + "likes"
REC_LIKES_T = REC + "likes:t"


def badge_holders(slug: str) -> str:
    return f"{REC}held:{slug}"


def stages(week: str) -> str:
    return f"{REC}stages:{week}"


# ─────────────────────────────── caches of forum facts ───────────────────────────────

CACHE = ROOT + "cache:"
ROSTER_GENERATION = CACHE + "roster-gen"  # moved by every change to the roster state
USER_FIELD_IDS = CACHE + "user-field-ids"
CATEGORY_IDS = LEDGER + "category-ids"  # kept under the ledger, where it was first cached
TOPIC_FACTS = REC + "topics"  # topic id -> facts, kept where recognition first cached them
SQUAD_CHANNELS = CACHE + "squad-channels"  # category id -> its chat channel id (reminders)


# The roster as state (``worker.state.roster``): squads, watched groups' members, the
# user id -> username map from member listings (and its reverse, by lower-cased name),
# groups to read again, the last reconcile.
ROSTER_STATE = ROOT + "roster:"
ROSTER_SQUADS = ROSTER_STATE + "squads"
ROSTER_GROUPS = ROSTER_STATE + "groups"
ROSTER_DIRTY = ROSTER_STATE + "dirty"
ROSTER_CHECKED = ROSTER_STATE + "checked"
ROSTER_USER_NAMES = ROSTER_STATE + "user-names"
ROSTER_USER_IDS = ROSTER_STATE + "user-ids"


# ─────────────────────────────── clock ───────────────────────────────

SIMULATED_NOW = ROOT + "clock:simulated-now"

# --- chat (the facts of squad chat messages, from the signed chat_message bodies) ---
CHAT_MESSAGE_PREFIX = ROOT + "chat:message:"  # + message id
CHAT_CATEGORY_PREFIX = ROOT + "chat:category:"  # + category id
# sorted set: channel id -> the highest message id recorded (the catch-up's gap check)
CHAT_CHANNEL_SEEN = ROOT + "chat:channel-seen"
# hash: channel id -> the message id up to which the catch-up read the channel's history
CHAT_CHANNEL_READ = ROOT + "chat:channel-read"
CHAT_CATCHUP_DONE = ROOT + "chat:catchup-done"  # set while the last chat catch-up is recent
# sorted set: channel id -> the newest message id Diamond's API user wrote there (the
# Applier's floor when it looks for a chat message whose answer was lost)
CHAT_OWN_WRITTEN = ROOT + "chat:own-written"


def chat_message(message_id: int | str) -> str:
    return f"{CHAT_MESSAGE_PREFIX}{int(message_id)}"


def chat_category(category_id: int | str) -> str:
    return f"{CHAT_CATEGORY_PREFIX}{int(category_id)}"


# ─────────────────────────────── staff notices (``worker.pipeline.notices``) ───────────────

NOTICE = ROOT + "notice:"
NOTICE_GATE_PREFIX = NOTICE + "gate:"  # + condition [+ ":" + hash of the lines]
NOTICE_SUPPRESSED_PREFIX = NOTICE + "suppressed:"  # + condition -> occurrences not posted
NOTICE_TOPIC_PREFIX = NOTICE + "topic:"  # + condition:day -> topic id


def notice_gate(condition: str) -> str:
    return NOTICE_GATE_PREFIX + condition


def notice_suppressed(condition: str) -> str:
    return NOTICE_SUPPRESSED_PREFIX + condition


def notice_topic(condition: str, day: object) -> str:
    return f"{NOTICE_TOPIC_PREFIX}{condition}:{day}"


# ─────────────────────────────── the pipeline (``worker.pipeline``) ───────────────────────

QUEUE_PREFIX = ROOT  # dramatiq's namespace (``worker.pipeline.broker.NAMESPACE``) + ":"
SEEN_PREFIX = ROOT + "seen:"  # webhook deliveries already taken (``dedup``)
ONCE_PREFIX = ROOT + "once:"  # work done once (``idempotency``)
CATCHUP_LAST_POST = ROOT + "catchup:last_post_id"
CATCHUP_USERS_FED = ROOT + "catchup:users_fed"  # sorted set: pending user id -> when fed
SCHEDULER_LEADER = ROOT + "scheduler:leader"
PERIODIC_PREFIX = ROOT + "periodic:"  # + job:scheduled_for, claimed once per run
HEALTH_PREFIX = ROOT + "health:"  # + role:host, each process's heartbeat record
SITE_HEALTH = HEALTH_PREFIX + "site"  # worker_alive_at, forum, forum_checked_at
PROBE_PREFIX = ROOT + "probe:"
MISSING_POSTS = ROOT + "facts:missing_posts"  # hash: post id -> author ("" unknown)
RULES_LOADED = ROOT + "rules:loaded"  # hash: checksum, rules (JSON), loaded_at (ISO)
DEMO_MARKER = ROOT + "demo:marker"  # an external Redis is reused only if it holds this


def seen_delivery(instance: str, delivery_id: str) -> str:
    return f"{SEEN_PREFIX}delivery:{instance}:{delivery_id}"


def seen_identity(identity: str) -> str:
    return f"{SEEN_PREFIX}identity:{identity}"


def once_done(key: str) -> str:
    return ONCE_PREFIX + key + ":done"


def once_lease(key: str) -> str:
    return ONCE_PREFIX + key + ":lease"


def periodic_run(job: str, stamp: str) -> str:
    return f"{PERIODIC_PREFIX}{job}:{stamp}"


def health_record(role: str, host: str) -> str:
    return f"{HEALTH_PREFIX}{role}:{host}"


def probe_effects(name: str) -> str:
    return f"{PROBE_PREFIX}effects:{name}"


def probe_attempts(name: str) -> str:
    return f"{PROBE_PREFIX}attempts:{name}"


def probe_acted(name: str) -> str:
    return f"{PROBE_PREFIX}acted:{name}"


# ─────────────────────────────── metrics (``worker.metrics``) ───────────────────────────────

METRICS = ROOT + "metrics:"
METRICS_FORUM_429 = METRICS + "forum-429"  # "VERB template" -> 429s answered
METRICS_BUDGET_WAITS = METRICS + "budget-waits"  # waits, seconds
METRICS_DEAD_LETTERED = METRICS + "dead-lettered"  # actor -> jobs that gave up
METRICS_LAST_SUCCESS = METRICS + "last-success"  # actor -> unix time of its last success
METRICS_WEBHOOKS_REFUSED = METRICS + "webhooks-refused"  # HTTP status -> webhooks refused

# ─────────────────────────────── the Applier and the client ───────────────────────────────

DONE_PREFIX = ROOT + "done:"  # + action key: done (live)
SHADOW_DONE_PREFIX = ROOT + "shadow:done:"  # + action key: done (shadow mode)
GROUP_IDS = CACHE + "group-ids"  # group name -> id (``worker.apply``)
FORUM_CALLS = ROOT + "forum:calls"  # "VERB template" -> calls made (``worker.forum.client``)
FORUM_RATELIMIT = ROOT + "forum:ratelimit"  # the shared admin-API budget (``ratelimit``)


def pm_thread(thread: str) -> str:
    """The topic id of a PM thread Diamond keeps writing to (``worker.apply``)."""
    return ROOT + "pm-thread:" + thread
