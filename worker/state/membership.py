"""What the membership journey remembers in Redis (keys under ``diamond:membership:``).

    emails                 hash  normalised email -> username of the first applicant with it
    removed                set   usernames rejected or removed (lower-case)
    referrals:{ref}:{ym}   set   applicants approved on ``ref``'s referral in month ``ym``
    applicant-emails       hash  user id -> the email a signed body gave (the admin view has none)
    applicant-facts        hash  user id -> the applicant as the last read (or signed body) gave
                                 them (JSON: ``dump_applicant``), so the same sign-up's later
                                 events need not read them again
    decisions              hash  user id -> outcome of the last gating decision
    gating                 hash  user id -> that decision in full (JSON, see ``RecordedDecision``),
                                 written before its actions run so a retried job finishes it
    gating:inputs          hash  user id -> what that decision read (JSON, no email address:
                                 ``inputs_record`` below), for ``whatif --applications``
    campers                hash  username -> camper record (JSON, see ``_camper``)
    camp:active            set   usernames in camp now
    camp:ever              set   everyone who was ever in camp (who counts as a fellow camper)
    camp:posts:{username}  hash  post id -> camp post (JSON)
    graduates:{cohort}     hash  username -> graduate (JSON): the cohort's squad queue
    cohorts                set   cohorts with graduates
    cohorts:pending        set   cohorts with graduates not yet given to squad formation

Camp posts are also on the forum, so the camp part can be rebuilt by replaying
post events; decisions are in the staff audit log.

Facts known to be missing (``diamond:facts:missing_posts``, hash: post id -> author, ""
unknown): post events whose step failed and has not yet succeeded. The post step notes
its post when it fails and clears it when it succeeds (its record phase). While a member
has a post noted, no decision about them is taken (the camp check defers them, the audit
waits): a lost reply must not become an extension and then a removal. A post whose author
is unknown (the body had none) holds back every decision until it is handled.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from typing import Any

import redis

from worker.engine.camp import Camper, CampPost
from worker.engine.facts import MemberFact, Squad
from worker.engine.gating import (
    Applicant,
    GateHit,
    GatingDecision,
    GatingFacts,
    email_domain,
    is_yes,
    normalise_email,
)
from worker.engine.squads import Graduate, PlannedSquad, SquadPlan
from worker.redis_text import text
from worker.rules import Rules
from worker.state import keys
from worker.state.codec import decode_value, encode_value


def _s(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


@dataclass(frozen=True)
class RecordedDecision:
    """A gating decision as it was made: what, when, and whether its writes were live."""

    decision: GatingDecision
    decided_at: datetime
    live: bool


class MembershipStore:
    def __init__(self, redis_client: redis.Redis) -> None:
        self.redis = redis_client

    # --- gating -------------------------------------------------------------------

    def remember_email(self, normalised: str, username: str) -> None:
        self.redis.hsetnx(keys.EMAILS, normalised, username)

    def remember_applicant(self, email: str, username: str) -> None:
        """The first applicant with this (normalised) email: a later one is a duplicate."""
        if email:
            self.remember_email(normalise_email(email), username)

    def emails(self) -> dict[str, str]:
        return {_s(k): _s(v) for k, v in self.redis.hgetall(keys.EMAILS).items()}

    def remember_applicant_email(self, user_id: int, email: str) -> None:
        """The email a signed webhook body gave for an applicant (the admin view has none)."""
        self.redis.hset(keys.APPLICANT_EMAILS, str(user_id), email)

    def applicant_email(self, user_id: int) -> str | None:
        value = self.redis.hget(keys.APPLICANT_EMAILS, str(user_id))
        return _s(value) if value else None

    def remember_applicant_facts(self, applicant: Applicant) -> None:
        """The applicant as a read (or a signed body) gave them, for the same sign-up's
        later events (its email is kept apart: ``remember_applicant_email``)."""
        self.redis.hset(keys.APPLICANT_FACTS, str(applicant.user_id), dump_applicant(applicant))

    def forget_application(self, applicant: Applicant) -> None:
        """The decision is carried out: keep whom the id stands for (all a later event of
        the sign-up asks), not the application's answers (its text, the payment proof)."""
        self.remember_applicant_facts(replace(applicant, fields={}))

    def applicant_facts(self, user_id: int) -> Applicant | None:
        raw = self.redis.hget(keys.APPLICANT_FACTS, str(user_id))
        if not raw:
            return None
        try:
            return parse_applicant(raw)
        except (ValueError, TypeError, KeyError):  # an entry from another version: read again
            return None

    def mark_removed(self, username: str) -> None:
        self.redis.sadd(keys.REMOVED, username.lower())

    def was_removed(self, username: str) -> bool:
        return bool(self.redis.sismember(keys.REMOVED, username.lower()))

    def removed(self) -> frozenset[str]:
        return frozenset(_s(u) for u in self.redis.smembers(keys.REMOVED))

    def record_referral(self, referrer: str, applicant: str, month: str) -> None:
        self.redis.sadd(keys.referrals(referrer, month), applicant.lower())

    def referrals(self, referrer: str, month: str) -> int:
        return int(self.redis.scard(keys.referrals(referrer, month)))

    def record_decision(self, user_id: int, outcome: str) -> None:
        self.redis.hset(keys.DECISIONS, str(user_id), outcome)

    def decision(self, user_id: int) -> str | None:
        value = self.redis.hget(keys.DECISIONS, str(user_id))
        return _s(value) if value else None

    def record_gating_decision(
        self,
        user_id: int,
        decision: GatingDecision,
        decided_at: datetime,
        *,
        live: bool,
        inputs: Mapping[str, object] | None = None,
    ) -> RecordedDecision:
        """Keep the whole decision before acting on it: a retry redoes it, never a new one.

        ``inputs``: what the decision read (``inputs_record``), kept with it
        so a rule change can be previewed on it without reading the forum again.
        """
        data = {
            "outcome": decision.outcome,
            "hits": [asdict(hit) for hit in decision.hits],
            "referrer": decision.referrer,
            "already_approved": decision.already_approved,
            "referrer_exists": decision.referrer_exists,
            "decided_at": decided_at.isoformat(),
            "live": live,
        }
        pipe = self.redis.pipeline()
        pipe.hset(keys.GATING, str(user_id), json.dumps(data, ensure_ascii=False))
        pipe.hset(keys.DECISIONS, str(user_id), decision.outcome)
        if inputs is not None:
            pipe.hset(keys.GATING_INPUTS, str(user_id), json.dumps(inputs, ensure_ascii=False))
        else:  # never leave an earlier decision's inputs next to this decision
            pipe.hdel(keys.GATING_INPUTS, str(user_id))
        pipe.execute()
        return RecordedDecision(decision, decided_at, live)

    def forget_gating_decision(self, user_id: int) -> None:
        pipe = self.redis.pipeline()
        pipe.hdel(keys.GATING, str(user_id))
        pipe.hdel(keys.DECISIONS, str(user_id))
        pipe.hdel(keys.GATING_INPUTS, str(user_id))
        pipe.execute()

    def gating_inputs(self, user_id: int) -> dict | None:
        raw = self.redis.hget(keys.GATING_INPUTS, str(user_id))
        return json.loads(raw) if raw else None

    def gating_records(self) -> dict[int, tuple[RecordedDecision, dict | None]]:
        """Every recorded gating decision by user id, with its inputs (None: not kept)."""
        inputs = {
            int(_s(k)): json.loads(v) for k, v in self.redis.hgetall(keys.GATING_INPUTS).items()
        }
        return {
            int(_s(k)): (self._decision_of(v), inputs.get(int(_s(k))))
            for k, v in self.redis.hgetall(keys.GATING).items()
        }

    def gating_decision(self, user_id: int) -> RecordedDecision | None:
        raw = self.redis.hget(keys.GATING, str(user_id))
        return self._decision_of(raw) if raw else None

    def _decision_of(self, raw: bytes | str) -> RecordedDecision:
        d = json.loads(raw)
        decision = GatingDecision(
            d["outcome"],
            tuple(GateHit.from_record(hit) for hit in d["hits"]),
            d.get("referrer"),
            already_approved=bool(d.get("already_approved")),
            referrer_exists=bool(d.get("referrer_exists")),
        )
        return RecordedDecision(decision, datetime.fromisoformat(d["decided_at"]), bool(d["live"]))

    # --- camp ---------------------------------------------------------------------

    def start_camp(self, camper: Camper, *, city: str | None, volunteer: bool) -> None:
        record = {
            "user_id": camper.user_id,
            "username": camper.username,
            "started_at": camper.started_at.isoformat(),
            "extensions": camper.extensions,
            "referrer": camper.referrer,
            "language": camper.language,
            "city": city,
            "volunteer": volunteer,
        }
        key = camper.username.lower()
        pipe = self.redis.pipeline()
        pipe.hsetnx(keys.CAMPERS, key, json.dumps(record, ensure_ascii=False))
        pipe.sadd(keys.CAMP_ACTIVE, key)
        pipe.sadd(keys.CAMP_EVER, key)
        pipe.hsetnx(keys.CAMP_BY_ID, str(camper.user_id), camper.username)
        pipe.execute()

    def entered_camp(self, user_id: int) -> str | None:
        """The username of a user who was let into the camp (whatever became of them)."""
        value = self.redis.hget(keys.CAMP_BY_ID, str(user_id))
        return _s(value) if value else None

    def _record(self, username: str) -> dict | None:
        raw = self.redis.hget(keys.CAMPERS, username.lower())
        return json.loads(raw) if raw else None

    def camper(self, username: str) -> Camper | None:
        record = self._record(username)
        if record is None:
            return None
        return Camper(
            user_id=int(record["user_id"]),
            username=record["username"],
            started_at=datetime.fromisoformat(record["started_at"]),
            extensions=int(record.get("extensions") or 0),
            referrer=record.get("referrer"),
            language=record.get("language"),
        )

    def languages(self) -> dict[str, str]:
        """username -> the language a member chose when applying ("zh"/"en"), for every
        camper who chose one: Diamond writes to each member in it."""
        out = {}
        for raw in self.redis.hvals(keys.CAMPERS):
            record = json.loads(raw)
            if record.get("language"):
                out[str(record["username"])] = str(record["language"])
        return out

    def camper_extra(self, username: str) -> tuple[str | None, bool]:
        """(city, volunteer) as the camper's application said."""
        record = self._record(username) or {}
        return record.get("city"), bool(record.get("volunteer"))

    def set_extensions(self, username: str, extensions: int) -> None:
        record = self._record(username)
        if record is not None:
            record["extensions"] = extensions
            self.redis.hset(keys.CAMPERS, username.lower(), json.dumps(record))

    def end_camp(self, username: str) -> None:
        self.redis.srem(keys.CAMP_ACTIVE, username.lower())

    def active_campers(self) -> list[str]:
        return sorted(_s(u) for u in self.redis.smembers(keys.CAMP_ACTIVE))

    def ever_campers(self) -> frozenset[str]:
        return frozenset(_s(u) for u in self.redis.smembers(keys.CAMP_EVER))

    def is_camper(self, username: str) -> bool:
        return bool(self.redis.sismember(keys.CAMP_ACTIVE, username.lower()))

    def record_camp_post(self, username: str, post: CampPost) -> None:
        data = {
            "id": post.id,
            "created_at": post.created_at.isoformat(),
            "units": post.units,
            "category": post.category,
            "is_topic": post.is_topic,
            "reply_to": post.reply_to,
            "deleted": post.deleted,
        }
        self.redis.hset(keys.camp_posts(username), str(post.id), json.dumps(data))

    def camp_posts(self, username: str) -> list[CampPost]:
        raw = self.redis.hgetall(keys.camp_posts(username))
        posts = []
        for value in raw.values():
            d = json.loads(value)
            posts.append(
                CampPost(
                    id=int(d["id"]),
                    created_at=datetime.fromisoformat(d["created_at"]),
                    units=int(d["units"]),
                    category=d.get("category"),
                    is_topic=bool(d.get("is_topic")),
                    reply_to=d.get("reply_to"),
                    deleted=bool(d.get("deleted")),
                )
            )
        return sorted(posts, key=lambda p: p.id)

    # --- squads -------------------------------------------------------------------

    def queue_graduate(self, cohort: str, graduate: Graduate) -> None:
        data = {
            "username": graduate.username,
            "class_key": graduate.class_key,
            "volunteer": graduate.volunteer,
            "activity": graduate.activity,
        }
        pipe = self.redis.pipeline()
        pipe.hset(keys.graduates(cohort), graduate.username.lower(), json.dumps(data))
        pipe.sadd(keys.COHORTS, cohort)
        pipe.sadd(keys.COHORTS_PENDING, cohort)
        pipe.execute()

    def graduates(self, cohort: str) -> list[Graduate]:
        raw = self.redis.hgetall(keys.graduates(cohort))
        out = []
        for value in raw.values():
            d = json.loads(value)
            out.append(
                Graduate(
                    d["username"],
                    d.get("class_key"),
                    bool(d.get("volunteer")),
                    int(d.get("activity") or 0),
                )
            )
        return sorted(out, key=lambda g: g.username.lower())

    def cohorts(self) -> list[str]:
        return sorted(_s(c) for c in self.redis.smembers(keys.COHORTS))

    def pending_cohorts(self) -> list[str]:
        return sorted(_s(c) for c in self.redis.smembers(keys.COHORTS_PENDING))

    def formed(self, cohort: str) -> None:
        pipe = self.redis.pipeline()
        pipe.srem(keys.COHORTS_PENDING, cohort)
        pipe.hdel(keys.FORMATIONS, cohort)
        pipe.execute()

    def record_formation(self, plan: SquadPlan) -> SquadPlan:
        """Keep a cohort's squad plan before acting on it: a retry finishes *this* split.
        Returns the plan in force: the one recorded first.

        Planning again after some squads were filled would see them as existing squads
        and place the rest as late graduates, i.e. a different split. So the record is
        claimed (``HSETNX``): a run delivered twice at once that planned while the other
        was already creating groups carries out the other's plan, not its own.
        """
        doc = json.dumps(encode_value(asdict(plan)), ensure_ascii=False)
        if self.redis.hsetnx(keys.FORMATIONS, plan.cohort, doc):
            return plan
        return self.formation(plan.cohort) or plan

    def formation(self, cohort: str) -> SquadPlan | None:
        """The plan recorded for ``cohort`` whose writes are not all done yet."""
        raw = self.redis.hget(keys.FORMATIONS, cohort)
        if not raw:
            return None
        d = decode_value(json.loads(raw))
        squads = tuple(PlannedSquad(**{**p, "squad": Squad(**p["squad"])}) for p in d["squads"])
        return SquadPlan(d["cohort"], squads, d["notes"], d["leader_changes"])

    def forget(self, usernames: Iterable[str]) -> None:
        """Drop people from the camp (used when a camper is deleted from the forum)."""
        for name in usernames:
            self.redis.srem(keys.CAMP_ACTIVE, name.lower())


def dump_applicant(applicant: Applicant) -> str:
    """An applicant as JSON, without the email (kept apart, and only while needed)."""
    return json.dumps(
        {
            "user_id": applicant.user_id,
            "username": applicant.username,
            "created_at": applicant.created_at.isoformat() if applicant.created_at else None,
            "fields": dict(applicant.fields),
            "groups": sorted(applicant.groups),
            "invited_by": applicant.invited_by,
            "approved": applicant.approved,
            "active": applicant.active,
            "language": applicant.language,
        },
        ensure_ascii=False,
    )


def parse_applicant(raw: str | bytes) -> Applicant:
    data = json.loads(raw)
    created = data.get("created_at")
    return Applicant(
        user_id=int(data["user_id"]),
        username=str(data["username"]),
        email="",
        created_at=datetime.fromisoformat(created) if created else None,
        fields={str(k): str(v) for k, v in (data.get("fields") or {}).items()},
        groups=frozenset(data.get("groups") or ()),
        invited_by=data.get("invited_by"),
        approved=bool(data.get("approved")),
        active=bool(data.get("active", True)),
        language=data.get("language"),
    )


# --- what a gating decision read ------------------------------------------------------
# Kept with the decision for ``diamond whatif --applications`` (pure: ``GatingFacts`` ⇄ a
# JSON-able record). The record holds the inputs of ``evaluate_application`` without
# secrets: no email address (its domain and which earlier applicant had the same
# normalised email stand in for it), the payment field only as "confirmed or not", and of
# the user fields only those the gating rules read. The referrer is kept as seen then
# (groups, staff, active strikes, referrals that month), so a preview needs no forum read
# per applicant.

# The stand-in address a preview gives an applicant: its domain is the real one (the
# screening of ``email_domain`` reads it); the local part never reaches a report.
STAND_IN_LOCAL = "applicant"


def fields_read(rules: Rules) -> list[str]:
    """The user fields (rules keys) gating reads under ``rules``."""
    gating = rules.gating
    names = [
        gating.referral.referrer_field,
        gating.application.field,
        gating.payment.confirmed_field,
        gating.duplicates.reapplication_field,
        rules.community.language_field,
    ]
    return sorted({k for k in names if k})


def _values(fields: Mapping[str, str]) -> set[str]:
    return {v.strip().lstrip("@").lower() for v in fields.values() if v and v.strip()}


def inputs_record(rules: Rules, facts: GatingFacts, month: str) -> dict[str, Any]:
    """``facts`` as kept in the membership store (``month``: the referral quota's month)."""
    applicant = facts.applicant
    read = fields_read(rules)
    fields = {k: applicant.fields[k] for k in read if k in applicant.fields}
    confirmed = rules.gating.payment.confirmed_field
    if confirmed and confirmed in fields:  # an order number is not the preview's business
        fields[confirmed] = "yes" if is_yes(fields[confirmed]) else ""
    referrer = facts.referrer
    email = applicant.email
    return {
        "user_id": applicant.user_id,
        "username": applicant.username,
        "created_at": applicant.created_at.isoformat() if applicant.created_at else None,
        "fields": fields,
        "fields_read": read,
        "groups": sorted(applicant.groups),
        "invited_by": applicant.invited_by,
        "approved": applicant.approved,
        "active": applicant.active,
        "language": applicant.language,
        "email_domain": email_domain(email) if email else None,
        "same_email_as": facts.earlier_emails.get(normalise_email(email)) if email else None,
        "referrer": None
        if referrer is None
        else {
            "user_id": referrer.user_id,
            "username": referrer.username,
            "groups": sorted(referrer.groups),
            "staff": referrer.staff,
            "approved": referrer.approved,
            "strikes": facts.strikes_of.get(referrer.username, 0),
            "referrals": facts.referrals_this_month.get(referrer.username, 0),
        },
        "month": month,
        # of the people removed, those the applicant's fields name (a re-application)
        "removed": sorted(_values(fields) & {u.lower() for u in facts.removed}),
    }


@dataclass(frozen=True)
class RecordedInputs:
    """A record read back: the facts to evaluate, and what the preview must know of them."""

    facts: GatingFacts
    month: str
    fields_read: frozenset[str]


def facts_from_record(data: Mapping[str, Any]) -> RecordedInputs:
    domain = data.get("email_domain")
    email = f"{STAND_IN_LOCAL}@{domain}" if domain else ""
    created = data.get("created_at")
    applicant = Applicant(
        user_id=int(data["user_id"]),
        username=str(data["username"]),
        email=email,
        created_at=datetime.fromisoformat(created) if created else None,
        fields=dict(data.get("fields") or {}),
        groups=frozenset(data.get("groups") or ()),
        invited_by=data.get("invited_by"),
        approved=bool(data.get("approved")),
        active=bool(data.get("active", True)),
        language=data.get("language"),
    )
    earlier = data.get("same_email_as")
    ref = data.get("referrer")
    referrer = None
    strikes: dict[str, int] = {}
    referrals: dict[str, int] = {}
    if ref:
        referrer = MemberFact(
            user_id=int(ref["user_id"]),
            username=str(ref["username"]),
            groups=frozenset(ref.get("groups") or ()),
            staff=bool(ref.get("staff")),
            approved=bool(ref.get("approved", True)),
        )
        strikes[referrer.username] = int(ref.get("strikes") or 0)
        referrals[referrer.username] = int(ref.get("referrals") or 0)
    facts = GatingFacts(
        applicant=applicant,
        referrer=referrer,
        strikes_of=strikes,
        referrals_this_month=referrals,
        earlier_emails={normalise_email(email): str(earlier)} if email and earlier else {},
        removed=frozenset(data.get("removed") or ()),
    )
    return RecordedInputs(facts, str(data.get("month") or ""), frozenset(data["fields_read"]))


# ─────────────────────────────── facts known to be missing ───────────────────────────────

MISSING_POSTS_KEY = keys.MISSING_POSTS
UNKNOWN_AUTHOR = ""


def note_missing_post(client: redis.Redis, post_id: int, author: str | None) -> None:
    client.hset(MISSING_POSTS_KEY, str(post_id), author or UNKNOWN_AUTHOR)


def clear_missing_post(client: redis.Redis, post_id: int) -> None:
    client.hdel(MISSING_POSTS_KEY, str(post_id))


def missing_posts(client: redis.Redis) -> dict[int, str]:
    """Post id -> author (``UNKNOWN_AUTHOR`` when the body did not say)."""
    return {int(k): text(v) for k, v in client.hgetall(MISSING_POSTS_KEY).items()}


def held_back(missing: dict[int, str], usernames: Iterable[str]) -> set[str]:
    """Those of ``usernames`` whose decisions wait for a missing post (pure)."""
    names = set(usernames)
    authors = set(missing.values())
    if UNKNOWN_AUTHOR in authors:
        return names
    return {n for n in names if n.lower() in {a.lower() for a in authors}}
