"""Builders shared by the obligations / penalties / audit tests."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from worker.engine.facts import Squad
from worker.engine.obligations import SquadWeek, Version, WeekPost, evaluate_week
from worker.engine.penalties import AuditPlan, plan_audit
from worker.engine.textlen import QuoteRef
from worker.engine.weeks import Week
from worker.rules import Rules, load_rules
from worker.rules.models import Rendered

ROOT = Path(__file__).resolve().parents[2]
SH = ZoneInfo("Asia/Shanghai")
W47 = Week(2026, 47)  # Mon 2026-11-16 .. Sun 2026-11-22; deadline Sun 22:00 (Shanghai)
THREAD = 900


@cache
def shipped_rules() -> Rules:
    return load_rules(ROOT / "rules")


def _deep_update(model: Any, changes: dict[str, Any]) -> Any:
    update = {}
    for name, value in changes.items():
        if isinstance(value, dict):
            update[name] = _deep_update(getattr(model, name), value)
        else:
            update[name] = value
    return type(model).model_validate({**model.model_dump(), **update})


def with_delivery(rules: Rules, delivery: str) -> Rules:
    """``rules`` with every reminder delivered by ``delivery`` (pm or squad_thread)."""
    reminders = tuple(
        r.model_copy(update={"delivery": delivery}) for r in rules.obligations.reminders
    )
    obligations = rules.obligations.model_copy(update={"reminders": reminders})
    return rules.model_copy(update={"obligations": obligations})


def pm_rules() -> Rules:
    """The shipped rules with reminders sent as one PM per member (``delivery: pm``), the
    roll call then in the thread's first post (``roll_call: posts``: no post carries it)."""
    return with_delivery(rules_with(article={"roll_call": "posts"}), "pm")


def rules_with(**obligations: Any) -> Rules:
    """The shipped rules with ``obligations`` fields replaced (nested dicts merge)."""
    base = shipped_rules()
    if not obligations:
        return base
    new = _deep_update(base.obligations, obligations)
    return base.model_copy(update={"obligations": new})


def at(day: int, hh: int = 12, mm: int = 0, ss: int = 0, month: int = 11) -> dt.datetime:
    """A moment in November 2026, Shanghai time (16 = Monday of W47, 22 = Sunday)."""
    return dt.datetime(2026, month, day, hh, mm, ss, tzinfo=SH)


_ids = itertools.count(1000)


class Thread:
    """Writes a weekly thread the way members do: floors, replies, quotes, edits."""

    def __init__(self, topic_id: int = THREAD) -> None:
        self.topic_id = topic_id
        self.posts: list[WeekPost] = []
        self._number = 1  # post 1 is the thread's opening post (Diamond's)

    def post(
        self,
        user: str,
        when: dt.datetime,
        units: int,
        *,
        reply_to: int | None = None,
        quotes: tuple[int, ...] = (),
        topic_id: int | None = None,
        post_number: int | None = None,
    ) -> WeekPost:
        if post_number is None:
            self._number += 1
            post_number = self._number
        topic = topic_id or self.topic_id
        refs = tuple(QuoteRef("someone", topic, n) for n in quotes)
        post = WeekPost(
            id=next(_ids),
            topic_id=topic,
            post_number=post_number,
            username=user,
            created_at=when,
            versions=(Version(when, units, refs),),
            reply_to_post_number=reply_to,
        )
        self.posts.append(post)
        return post

    def edit(self, post: WeekPost, when: dt.datetime, units: int) -> WeekPost:
        edited = post.edited(when, units, post.versions[-1].quotes)
        self.posts[self.posts.index(post)] = edited
        return edited


def squad(*members: str, leader: str | None = None, slug: str = "sq-3") -> Squad:
    return Squad(
        slug=slug,
        full_name="3组",
        cohort="2026-11",
        members=tuple(members),
        leader=leader or (members[0] if members else None),
        category_id=30,
    )


def ring_audit(
    rules: Rules, names: list[str], writers: list[str], history: dict[str, dict[Week, int]]
) -> tuple[AuditPlan, Thread]:
    """The W47 audit of squad sq-3 (``names``, led by the first): each of ``writers`` wrote
    an article and reviewed both ring neighbours, the others wrote nothing; ``history`` is
    the strikes before. Also the week's thread."""
    t = Thread()
    posts = [t.post(u, at(17, 8 + i % 10), 900) for i, u in enumerate(writers)]
    for i, u in enumerate(writers):
        for target in (posts[(i - 1) % len(posts)], posts[(i + 1) % len(posts)]):
            t.post(u, at(18, 9), 150, reply_to=target.post_number)
    week = SquadWeek(squad(*names, leader=names[0]), W47, tuple(t.posts), t.topic_id)
    results = evaluate_week(rules.obligations, SH, W47, [week])
    audit = plan_audit(
        rules,
        results,
        history,
        now=at(24, 23),
        user_ids={u: i for i, u in enumerate(names)},
        threads={"sq-3": 900},
        audit_log_category_id=77,
    )
    return audit, t


def rendering(rules: Rules, seen: Callable[[str, dict[str, object], Rendered], None]) -> Rules:
    """``rules`` whose every ``render`` (key, the values passed, what came out) is shown to
    ``seen``: the same rules, as an instance of a subclass of this test's own (copies made
    from it, e.g. another language's, stay recording)."""

    class Rendering(type(rules)):  # type: ignore[misc,valid-type]  # the rules' own class
        def render(self, key: str, lang: str | None = None, **values: object) -> Rendered:
            out = super().render(key, lang, **values)
            seen(key, values, out)
            return out

    return Rendering.model_construct(**{name: getattr(rules, name) for name in Rules.model_fields})
