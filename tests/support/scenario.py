"""A cohort's whole journey on a (sandbox) forum: sign-up → gating → camp → squads.

For the end-to-end tests and the demo. People's actions (sign-ups, posts) are made
through a ``ForumClient`` acting as them; Diamond's side runs however the caller
wires it: through the real pipeline (``settle`` waits for webhooks and workers) or
directly (``DirectDiamond`` calls the membership steps in process).

    report = run_cohort(people, diamond, start=..., n=77)

Time moves by ``diamond.set_now``: it must move the forum's clock (post times) and
Diamond's clock (``worker.clock``) together.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

import redis
import requests

from tests.support.steps import category_ids, field_ids, step_ctx
from worker.engine.gating import normalise_email
from worker.reads.forum_view import load_roster
from worker.rules import Rules
from worker.state.membership import MembershipStore
from worker.steps import camp_check, form_squads, gate, record_post
from worker.steps.camp_check import ready_cohorts

CITIES = ("北京", "北京", "北京", "上海", "上海", "广州", "成都", "拉萨")
INTRO = (
    "大家好,我是{name}。我在{city}工作,平时喜欢读书、写作和跑步。加入这个社区是因为想和一群"
    "认真的人一起坚持每周写一篇文章,并且认真点评彼此的文字。我希望通过持续的输出整理自己的思考,"
    "也希望从别人的点评中看到自己的盲点。我愿意承担每周的写作和点评任务,也愿意帮助新来的伙伴。"
    "我最近在读历史和经济学方面的书,打算每周写一篇读书笔记或者工作中的思考,字数在一千字左右。"
    "希望在这里认识更多朋友,一起成长,也欢迎大家随时指出我文章里的问题。谢谢大家的阅读和帮助。"
)
# Kinds of applicant and what the shipped rules decide for them.
GATING_KINDS = {
    "good": "approve",
    "invited": "approve",
    "spam": "reject",
    "no_referrer": "reject",
    "short": "hold",
    "disposable": "hold",
    "unpaid": "hold",
    "duplicate": "hold",
}
# What approved campers do: all tasks, nothing until extended then all, or nothing at all.
CAMP_KINDS = ("diligent", "late", "lazy")


@dataclass
class Persona:
    username: str
    email: str
    kind: str  # a GATING_KINDS key
    camp: str = "diligent"  # a CAMP_KINDS value (approved applicants only)
    referrer: str = ""
    invited_by: str | None = None
    application: str = ""
    city: str = ""
    volunteer: bool = False
    payment: str = "ORDER"
    user_id: int | None = None

    @property
    def expected(self) -> str:
        return GATING_KINDS[self.kind]


def personas(n: int, referrers: list[str], *, seed: int = 0) -> list[Persona]:
    """``n`` applicants of mixed quality: ~80% good (a few lazy in camp), the rest flawed."""
    rnd = random.Random(seed)
    flawed = ["spam", "no_referrer", "short", "disposable", "unpaid", "duplicate"]
    bad = max(len(flawed), n // 5) if n >= 12 else 0
    kinds = [flawed[i % len(flawed)] for i in range(bad)]
    kinds += ["invited" if i % 7 == 3 else "good" for i in range(n - bad)]
    people: list[Persona] = []
    ref_i = 0
    good_count = 0
    for i, kind in enumerate(kinds):
        name = f"ap{i + 1:03d}"
        city = rnd.choice(CITIES)
        # Good applicants share all referrers but the last (referrals per month are
        # limited); flawed ones name the last, whose quota they never use up.
        good = kind in ("good", "invited")
        pool = referrers[:-1] or referrers
        referrer = pool[ref_i % len(pool)] if good else referrers[-1]
        ref_i += good
        p = Persona(
            username=name,
            email=f"{name}@example.com",
            kind=kind,
            referrer=referrer,
            application=INTRO.format(name=name, city=city or "家里"),
            city=city,
            volunteer=rnd.random() < 0.12,
            payment=f"ORDER-{1000 + i}",
        )
        if kind == "invited":
            p.invited_by = referrer
        elif kind == "spam":
            p.application += "需要代写请加微信 vx: abcdef123"
        elif kind == "no_referrer":
            p.referrer = "nobody_known"
        elif kind == "short":
            p.application = "我想加入。"
        elif kind == "disposable":
            p.email = f"{name}@mailinator.com"
        elif kind == "unpaid":
            p.payment = "no"
        if kind in ("good", "invited"):
            good_count += 1
            if good_count % 12 == 5:
                p.camp = "late"
            elif good_count % 12 == 11:
                p.camp = "lazy"
        people.append(p)
    # Duplicates re-use (a Gmail spelling of) a good applicant's address.
    goods = [p for p in people if p.kind == "good"]
    for j, p in enumerate(q for q in people if q.kind == "duplicate"):
        original = goods[j % len(goods)]
        original.email = f"{original.username}.x@gmail.com"
        local = original.email.split("@")[0].replace(".", "")
        p.email = f"{local[:3]}.{local[3:]}+again@gmail.com"
        assert normalise_email(p.email) == normalise_email(original.email)
    return people


class Diamond(Protocol):
    """How the scenario reaches Diamond's side."""

    client: Any  # Diamond's forum client (reads for the report)
    redis: redis.Redis
    rules: Rules

    def set_now(self, moment: datetime) -> None: ...
    def settle(self) -> None: ...  # wait until every event so far was handled
    def applicant_signed_up(self, user_id: int) -> None: ...  # pipeline: nothing to do
    def posted(self, post_id: int) -> None: ...
    def camp_check(self, now: datetime) -> None: ...  # incl. squad formation of ready cohorts


@dataclass
class DirectDiamond:
    """Diamond's steps called in process, without webhooks or workers."""

    client: Any
    redis: redis.Redis
    rules: Rules
    set_clock: Callable[[datetime], None]
    live: bool = True
    now: datetime | None = None

    def set_now(self, moment: datetime) -> None:
        self.now = moment
        self.set_clock(moment)

    def settle(self) -> None:
        return None

    def applicant_signed_up(self, user_id: int) -> None:
        assert self.now is not None
        gate.run(
            step_ctx(self.client, self.redis, self.rules, now=self.now, live=self.live),
            user_id,
            strikes_of=lambda _u: 0,
        )

    def posted(self, post_id: int) -> None:
        record_post.record_camp_post(
            step_ctx(self.client, self.redis, self.rules), self.client.get_post(post_id)
        )

    def camp_check(self, now: datetime) -> None:
        camp_check.run(step_ctx(self.client, self.redis, self.rules, now=now, live=self.live))
        store = MembershipStore(self.redis)
        for cohort in ready_cohorts(store, self.rules):
            form_squads.run(step_ctx(self.client, self.redis, self.rules, live=self.live), cohort)


@dataclass
class ScenarioReport:
    people: list[Persona]
    decisions: dict[str, str] = field(default_factory=dict)  # username -> gating outcome
    camp: dict[str, str] = field(default_factory=dict)  # username -> final camp state
    squads: dict[str, tuple[str, ...]] = field(default_factory=dict)  # slug -> members
    leaders: dict[str, str | None] = field(default_factory=dict)

    def counts(self) -> dict[str, Counter[str]]:
        return {"gating": Counter(self.decisions.values()), "camp": Counter(self.camp.values())}


def _required_fields(ids: dict[str, int], values: dict[str, str]) -> dict[int, str]:
    return {ids[k]: v for k, v in values.items() if k in ids}


def seed_referrers(people_client: Any, count: int, *, prefix: str = "mentor") -> list[str]:
    """Full members who can refer (made by the admin, approved, in the members group)."""
    ids = field_ids(people_client)
    names = [f"{prefix}{i + 1:02d}" for i in range(count)]
    for name in names:
        fields = {
            "referrer": "founder",
            "application": "founding member",
            "city": "北京",
            "payment": "founder",
            "accept_rules": "true",
        }
        people_client.create_user(
            name,
            name,
            f"{name}@example.org",
            "secret-password-123",
            approved=True,
            user_fields=_required_fields(ids, fields),
        )
    group = people_client.get_group("members")
    people_client.add_group_members(int(group["id"]), names)
    return names


def sign_up(
    people_client: Any, persona: Persona, ids: dict[str, int], *, confirm: bool = True
) -> int:
    """Sign ``persona`` up as a person does: an anonymous ``POST /users.json`` (inactive
    until the email is confirmed), then the activation link (``confirm``). An invitee
    redeems an email invite from ``invited_by``: Discourse approves them at once."""
    fields = {
        "referrer": persona.referrer,
        "application": persona.application,
        "city": persona.city or "",
        "payment": persona.payment,
        "accept_rules": "true",
        "volunteer_leader": "愿意 Yes" if persona.volunteer else "暂不 Not now",
    }
    body: dict[str, Any] = {
        "name": persona.username,
        "username": persona.username,
        "email": persona.email,
        "password": "secret-password-123",
        "user_fields": {str(k): v for k, v in _required_fields(ids, fields).items()},
    }
    if persona.invited_by:
        inviter = people_client.as_user(persona.invited_by)
        invite = inviter._call("POST", "/invites.json", json={"email": persona.email})
        body["invite_code"] = invite["invite_key"]  # sandbox: redeems it in the sign-up
    result = _anonymous(people_client, "POST", "/users.json", json=body)
    if not result.get("success", True) or "user_id" not in result:
        raise RuntimeError(f"sign-up of {persona.username} refused: {result.get('message')}")
    persona.user_id = int(result["user_id"])
    if confirm and not result.get("active"):
        confirm_email(people_client, persona.username)
    return persona.user_id


def confirm_email(people_client: Any, username: str) -> None:
    """Follow the activation link of ``username``'s email (the token through the
    sandbox-only ``/sandbox/email-token``): Discourse emits ``user_confirmed_email``."""
    answer = people_client._call("GET", "/sandbox/email-token/{username}.json", username=username)
    if answer.get("token"):
        _anonymous(people_client, "PUT", f"/u/activate-account/{answer['token']}")


def _anonymous(people_client: Any, method: str, path: str, **kw: Any) -> dict[str, Any]:
    response = requests.request(
        method, people_client.host + path, headers={"Accept": "application/json"}, timeout=30, **kw
    )
    if response.status_code >= 400:
        raise RuntimeError(f"{method} {path}: {response.status_code} {response.text[:200]}")
    return response.json() if response.content else {}


def run_cohort(
    people_client: Any,
    diamond: Diamond,
    *,
    start: datetime,
    n: int = 77,
    seed: int = 0,
    referrers: int | None = None,
) -> ScenarioReport:
    """Sign ``n`` people up at ``start`` and take them through camp (with one extension)
    to squads. Returns what happened to each person; the forum holds the rest."""
    rules = diamond.rules
    max_refs = rules.gating.referral.referrer.max_referrals_per_month
    diamond.set_now(start)
    mentors = seed_referrers(people_client, referrers or max(2, -(-n // max_refs) + 2))
    people = personas(n, mentors, seed=seed)
    ids = field_ids(people_client)
    # Duplicates last: the earlier application must be on record first.
    for wave in (
        [p for p in people if p.kind != "duplicate"],
        [p for p in people if p.kind == "duplicate"],
    ):
        for p in wave:
            diamond.applicant_signed_up(sign_up(people_client, p, ids))
        diamond.settle()
    store = MembershipStore(diamond.redis)
    report = ScenarioReport(people)
    for p in people:
        assert p.user_id is not None
        report.decisions[p.username] = store.decision(p.user_id) or "none"
    campers = [p for p in people if report.decisions[p.username] == "approve"]

    categories = category_ids(people_client)
    days = rules.camp.duration_days
    intros: dict[str, int] = {}  # camper -> introduction topic id
    _camp_days(
        people_client,
        diamond,
        [p for p in campers if p.camp == "diligent"],
        intros,
        categories,
        start,
        days,
    )
    end = start.astimezone(rules.tz).replace(hour=9, minute=0, second=0, microsecond=0)
    first_check = end + timedelta(days=days)
    diamond.set_now(first_check)
    diamond.camp_check(first_check)
    diamond.settle()
    # The extension: late campers do the work now; lazy ones still do nothing.
    ext = rules.camp.extension.days
    _camp_days(
        people_client,
        diamond,
        [p for p in campers if p.camp == "late"],
        intros,
        categories,
        first_check + timedelta(hours=1),
        min(ext, days),
    )
    second_check = first_check + timedelta(days=ext)
    diamond.set_now(second_check)
    diamond.camp_check(second_check)
    diamond.settle()

    members = {
        m["username"] for m in diamond.client.iter_group_members(rules.community.groups.members)
    }
    alumni = {
        m["username"] for m in diamond.client.iter_group_members(rules.community.groups.alumni)
    }
    for p in campers:
        report.camp[p.username] = (
            "passed" if p.username in members else "removed" if p.username in alumni else "open"
        )
    for squad in load_roster(diamond.client, rules).squads:
        report.squads[squad.slug] = squad.members
        report.leaders[squad.slug] = squad.leader
    return report


def _camp_days(
    people_client: Any,
    diamond: Diamond,
    workers: list[Persona],
    intro_topics: dict[str, int],
    categories: dict[str, int],
    start: datetime,
    days: int,
) -> None:
    """``workers`` do every camp task over ``days`` days from ``start``: an introduction,
    replies to the introductions of fellow campers (earlier ones included), check-ins."""
    if not workers:
        return
    tasks = diamond.rules.camp.tasks
    intro_cat = categories[tasks.introduction.category]
    checkin_cat = categories[tasks.checkins.category]
    checkin_topics: dict[str, int] = {}
    diamond.set_now(start)
    for p in workers:
        me = people_client.as_user(p.username)
        topic = me.create_topic(f"自我介绍:{p.username} 的第一篇帖子", p.application, intro_cat)
        intro_topics[p.username] = int(topic["topic_id"])
        diamond.posted(int(topic["id"]))
    # Everyone replies to the next few fellow campers' introductions.
    names = sorted(intro_topics)
    for p in workers:
        me = people_client.as_user(p.username)
        i = names.index(p.username)
        for k in range(1, tasks.replies.min_replies + 1):
            other = names[(i + k) % len(names)]
            if other == p.username:
                continue
            raw = f"欢迎 @{other}!我是 {p.username},读了你的介绍很受启发,期待一起写作和互相点评。"
            post = me.create_post(intro_topics[other], raw, reply_to_post_number=1)
            diamond.posted(int(post["id"]))
    for day in range(min(days, tasks.checkins.min_days)):
        diamond.set_now(start + timedelta(days=day, hours=1))
        for p in workers:
            me = people_client.as_user(p.username)
            raw = f"第 {day + 1} 天打卡:{p.username} 今天读了三十页书,写了五百字的草稿。"
            if p.username not in checkin_topics:
                topic = me.create_topic(f"打卡记录:{p.username} 的试用营", raw, checkin_cat)
                checkin_topics[p.username] = int(topic["topic_id"])
                diamond.posted(int(topic["id"]))
            else:
                post = me.create_post(checkin_topics[p.username], raw)
                diamond.posted(int(post["id"]))
    diamond.settle()
