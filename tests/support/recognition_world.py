"""A small forum world for recognition/health/report tests: posts, likes, squads, results."""

from __future__ import annotations

import itertools
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from worker.engine.facts import LikeFact, PostFact, Roster, Squad
from worker.engine.graph import PostIndex, week_start
from worker.engine.recognition import RecognitionFacts, WeekResult
from worker.engine.textlen import QuoteRef
from worker.engine.weeks import Week
from worker.rules import load_rules
from worker.rules.models import Badge, Badges, Rules

ROOT = Path(__file__).resolve().parents[2]
TZ = ZoneInfo("Asia/Shanghai")
WEEK = Week(2026, 47)  # Monday 2026-11-16; the shipped deadline is Sunday 22:00
BASE = "https://forum.example"
DIGESTS, INTROS, AUDIT = 50, 51, 52

_SHIPPED: Rules | None = None


def shipped_rules() -> Rules:
    global _SHIPPED
    if _SHIPPED is None:
        _SHIPPED = load_rules(ROOT / "rules")
    return _SHIPPED


def rules_with(*badges: dict) -> Rules:
    """The shipped rules with only ``badges`` (dicts in the badges.yml shape)."""
    base = shipped_rules()
    models = tuple(
        Badge.model_validate(
            {"name": b["slug"], "tier": "bronze", "description": "d", "template": "badge_granted"}
            | b
        )
        for b in badges
    )
    return base.model_copy(update={"badges": Badges(badges=models)})


def at(week: Week = WEEK, day: int = 0, hour: int = 12, minute: int = 0) -> datetime:
    """A moment in ``week``: ``day`` 0 = Monday, in the community's time zone."""
    return week_start(week, TZ) + timedelta(days=day, hours=hour, minutes=minute)


@dataclass
class World:
    squads: list[Squad] = field(default_factory=list)
    posts: list[PostFact] = field(default_factory=list)
    likes: list[LikeFact] = field(default_factory=list)
    results: dict[Week, dict[str, WeekResult]] = field(default_factory=lambda: defaultdict(dict))
    newcomers: frozenset[str] | None = None
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))
    _topics: itertools.count = field(default_factory=lambda: itertools.count(1000))
    _numbers: dict[int, int] = field(default_factory=dict)

    def squad(self, slug: str, *members: str, leader: str | None = None) -> Squad:
        squad = Squad(slug, slug.upper(), "2026-11", members, leader or members[0])
        self.squads.append(squad)
        return squad

    def topic(
        self,
        user: str,
        when: datetime,
        *,
        units: int = 900,
        category: int | None = None,
        tags: tuple[str, ...] = (),
        mentions: tuple[str, ...] = (),
        like_count: int = 0,
    ) -> PostFact:
        topic = next(self._topics)
        self._numbers[topic] = 0
        return self._add(user, topic, when, units, category, None, (), mentions, tags, like_count)

    def reply(
        self,
        user: str,
        to: PostFact,
        when: datetime,
        *,
        units: int = 150,
        quote: PostFact | None = None,
        mentions: tuple[str, ...] = (),
        direct: bool = True,
    ) -> PostFact:
        quotes = (QuoteRef(quote.username, quote.topic_id, quote.post_number),) if quote else ()
        reply_to = to.post_number if direct else None
        return self._add(
            user, to.topic_id, when, units, to.category_id, reply_to, quotes, mentions, (), 0
        )

    def _add(self, user, topic, when, units, category, reply_to, quotes, mentions, tags, likes):
        self._numbers[topic] += 1
        post = PostFact(
            id=next(self._ids),
            topic_id=topic,
            post_number=self._numbers[topic],
            user_id=0,
            username=user,
            created_at=when,
            units=units,
            category_id=category,
            reply_to_post_number=reply_to,
            quotes=quotes,
            mentions=mentions,
            tags=tags,
            like_count=likes,
        )
        self.posts.append(post)
        return post

    def like(self, user: str, post: PostFact, when: datetime | None = None) -> None:
        self.likes.append(LikeFact(post.id, user, when or post.created_at + timedelta(hours=1)))

    def result(
        self,
        week: Week,
        user: str,
        status: str = "met",
        article: PostFact | None = None,
        owed: tuple[PostFact, ...] = (),
        *,
        reviews_done: int | None = None,
        struck: bool = False,
        obliged: bool = True,
    ) -> None:
        self.results[week][user] = WeekResult(
            status,  # type: ignore[arg-type]
            article.id if article else None,
            article.created_at if article else None,
            frozenset(p.id for p in owed),
            len(owed) if reviews_done is None else reviews_done,
            struck,
            obliged,
        )

    def week_of_articles(self, week: Week, squad: Squad, status: str = "met") -> list[PostFact]:
        """Each member of ``squad`` posts an article on Wednesday of ``week`` with ``status``."""
        arts = [self.topic(m, at(week, 2, 10 + i)) for i, m in enumerate(squad.members)]
        for i, m in enumerate(squad.members):
            self.result(week, m, status, arts[i], (arts[i - 1], arts[(i + 1) % len(arts)]))
        return arts

    def facts(self) -> RecognitionFacts:
        return RecognitionFacts(
            posts=PostIndex(self.posts),
            likes=tuple(self.likes),
            roster=Roster(tuple(self.squads)),
            results={w: dict(r) for w, r in self.results.items()},
            category_ids={"digests": DIGESTS, "introductions": INTROS, "audit-log": AUDIT},
            base_url=BASE,
            newcomers=self.newcomers,
        )


def weeks_back(n: int, last: Week = WEEK) -> list[Week]:
    return [last.shift(-k) for k in range(n - 1, -1, -1)]
