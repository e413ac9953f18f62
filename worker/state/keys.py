"""Every ``diamond:*`` key the worker's stores and caches use, built in one place.

The strings are a contract with the data already in Redis (running deployments, saved
demo worlds): ``tests/pure/test_state_keys.py`` pins each format. Change one only with
a migration.

Stores (``worker.state``): ``membership``, ``ledger``, ``rec`` (recognition).
Caches of forum facts (``worker.reads.forum_view``): ``cache``, ``ledger:category-ids``,
``rec:topics``. Pipeline and client keys live beside their code: ``diamond:done:``,
``diamond:shadow:done:``, ``diamond:pm-thread:``, ``diamond:cache:group-ids``
(``worker.apply``), ``diamond:forum:*`` (``worker.forum``), ``diamond:seen:``,
``diamond:once:``, ``diamond:notice:*``, ``diamond:catchup:*``, ``diamond:periodic:``,
``diamond:scheduler:leader``, ``diamond:health:``, ``diamond:probe:``,
``diamond:metrics:*``, ``diamond:facts:missing_posts`` (``worker.pipeline``).
"""

from __future__ import annotations

from typing import Any

ROOT = "diamond:"

# ─────────────────────────────── membership ───────────────────────────────

MEMBERSHIP = ROOT + "membership:"
EMAILS = MEMBERSHIP + "emails"
APPLICANT_EMAILS = MEMBERSHIP + "applicant-emails"
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
    """The lease one gating job of an applicant holds (``worker.pipeline.leases``)."""
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
ROSTER = CACHE + "roster"
ROSTER_GENERATION = CACHE + "roster-gen"  # bumped by every forget_roster
USER_FIELD_IDS = CACHE + "user-field-ids"
CATEGORY_IDS = LEDGER + "category-ids"  # kept under the ledger, where it was first cached
TOPIC_FACTS = REC + "topics"  # topic id -> facts, kept where recognition first cached them


def group_members(generation: int, group: str) -> str:
    return f"{CACHE}group-members:{generation}:{group}"


# ─────────────────────────────── clock ───────────────────────────────

SIMULATED_NOW = ROOT + "clock:simulated-now"

# --- chat (the facts of squad chat messages, from the signed chat_message bodies) ---
CHAT_MESSAGE_PREFIX = ROOT + "chat:message:"  # + message id
CHAT_CATEGORY_PREFIX = ROOT + "chat:category:"  # + category id

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
