"""What recognition and health remember in Redis: posts, likes, badges held, stage snapshots.

Layout (keys under ``diamond:rec:``; values small JSON):

    posts            hash  post id -> compact PostFact (+ "ad": AdScreen signal)
    posts:t          zset  post id by creation time (epoch seconds)
    likes            hash  "{post id}:{username}" -> creation time (ISO)
    likes:t          zset  "{post id}:{username}" by creation time
    held:{slug}      set   usernames Diamond granted badge {slug} (and did not revoke)
    stages:{week}    str   {"pending": [...], "camp": [...], ...} as seen at that week's report

Posts and likes are fed by post/like events and the catch-up scan; a week's report
reads a few weeks of them (no bulk forum reads). ``prune`` drops what is older than
any report looks back.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, cast

import redis

from worker.engine.facts import LikeFact, PostFact
from worker.engine.textlen import QuoteRef
from worker.state import keys

POSTS, POSTS_T = keys.REC_POSTS, keys.REC_POSTS_T
LIKES, LIKES_T = keys.REC_LIKES, keys.REC_LIKES_T
CHUNK = 2000  # ids per HMGET


def _ts(moment: datetime) -> float:
    return moment.timestamp()


def encode_post(post: PostFact, ad: str | None = None) -> str:
    data: dict[str, object] = {
        "id": post.id,
        "t": post.topic_id,
        "n": post.post_number,
        "uid": post.user_id,
        "u": post.username,
        "at": post.created_at.isoformat(),
        "len": post.units,
    }
    optional = {
        "c": post.category_id,
        "r": post.reply_to_post_number,
        "q": [[q.username, q.topic_id, q.post_number] for q in post.quotes],
        "m": list(post.mentions),
        "pm": post.private_message,
        "tags": list(post.tags),
        "likes": post.like_count,
        "title": post.topic_title,
        "ad": ad,
    }
    data.update({k: v for k, v in optional.items() if v})
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def decode_post(raw: bytes | str) -> tuple[PostFact, str | None]:
    d = json.loads(raw)
    post = PostFact(
        id=d["id"],
        topic_id=d["t"],
        post_number=d["n"],
        user_id=d.get("uid", 0),
        username=d["u"],
        created_at=datetime.fromisoformat(d["at"]).astimezone(UTC),
        units=d["len"],
        category_id=d.get("c"),
        reply_to_post_number=d.get("r"),
        quotes=tuple(QuoteRef(u, t, n) for u, t, n in d.get("q", ())),
        mentions=tuple(d.get("m", ())),
        private_message=bool(d.get("pm")),
        topic_title=d.get("title", ""),
        tags=tuple(d.get("tags", ())),
        like_count=d.get("likes", 0),
    )
    return post, d.get("ad")


class RecognitionStore:
    def __init__(self, redis_client: redis.Redis) -> None:
        self.redis = redis_client

    # --- posts -------------------------------------------------------------------

    def put_post(self, post: PostFact, ad: str | None = None) -> None:
        """Remember ``post`` as it is now (a deleted post is forgotten)."""
        if post.deleted:
            self.remove_post(post.id)
            return
        pipe = self.redis.pipeline()
        pipe.hset(POSTS, post.id, encode_post(post, ad))
        pipe.zadd(POSTS_T, {str(post.id): _ts(post.created_at)})
        pipe.execute()

    def remove_post(self, post_id: int) -> None:
        pipe = self.redis.pipeline()
        pipe.hdel(POSTS, post_id)
        pipe.zrem(POSTS_T, str(post_id))
        pipe.execute()

    def post(self, post_id: int) -> PostFact | None:
        raw = self.redis.hget(POSTS, post_id)
        return decode_post(raw)[0] if raw else None

    def posts_between(
        self, start: datetime, end: datetime
    ) -> tuple[list[PostFact], dict[int, str]]:
        """Posts created in ``[start, end)``, oldest first, and their ad signals."""
        ids = self.redis.zrangebyscore(POSTS_T, _ts(start), f"({_ts(end)}")
        posts: list[PostFact] = []
        ads: dict[int, str] = {}
        for raw in self._hmget(POSTS, ids):
            post, ad = decode_post(raw)
            posts.append(post)
            if ad:
                ads[post.id] = ad
        return posts, ads

    def _hmget(self, key: str, fields: Sequence[Any]) -> Iterator[bytes | str]:
        for i in range(0, len(fields), CHUNK):
            for raw in self.redis.hmget(key, fields[i : i + CHUNK]):
                if raw is not None:
                    yield raw

    # --- likes -------------------------------------------------------------------

    def put_like(self, like: LikeFact) -> bool:
        """Remember a like; False if it was already known (its first time is kept)."""
        member = f"{like.post_id}:{like.user}"
        if not self.redis.hsetnx(LIKES, member, like.created_at.isoformat()):
            return False
        self.redis.zadd(LIKES_T, {member: _ts(like.created_at)})
        return True

    def remove_like(self, post_id: int, username: str) -> None:
        member = f"{post_id}:{username}"
        pipe = self.redis.pipeline()
        pipe.hdel(LIKES, member)
        pipe.zrem(LIKES_T, member)
        pipe.execute()

    def likes_between(self, start: datetime, end: datetime) -> list[LikeFact]:
        out = []
        scored = self.redis.zrangebyscore(LIKES_T, _ts(start), f"({_ts(end)}", withscores=True)
        for member, score in cast("list[tuple[bytes, float]]", scored):  # withscores: pairs
            post_id, _, user = member.decode().partition(":")
            out.append(LikeFact(int(post_id), user, datetime.fromtimestamp(score, UTC)))
        return out

    # --- badges held ----------------------------------------------------------------

    def held(self, slugs: Iterable[str]) -> dict[str, frozenset[str]]:
        pipe = self.redis.pipeline()
        slugs = list(slugs)
        for slug in slugs:
            pipe.smembers(keys.badge_holders(slug))
        return {
            slug: frozenset(m.decode() for m in members)
            for slug, members in zip(slugs, pipe.execute(), strict=True)
        }

    def record_badges(
        self, granted: Iterable[tuple[str, str]], revoked: Iterable[tuple[str, str]] = ()
    ) -> None:
        """(slug, username) pairs granted / revoked on the forum."""
        pipe = self.redis.pipeline()
        for slug, user in granted:
            pipe.sadd(keys.badge_holders(slug), user)
        for slug, user in revoked:
            pipe.srem(keys.badge_holders(slug), user)
        pipe.execute()

    # --- stage snapshots ------------------------------------------------------------

    def save_stages(self, week: str, stages: Mapping[str, Iterable[str]]) -> None:
        data = {stage: sorted(names) for stage, names in stages.items()}
        self.redis.set(keys.stages(week), json.dumps(data, ensure_ascii=False))

    def stages(self, week: str) -> dict[str, frozenset[str]] | None:
        raw = self.redis.get(keys.stages(week))
        if not raw:
            return None
        return {stage: frozenset(names) for stage, names in json.loads(raw).items()}

    # --- housekeeping -----------------------------------------------------------------

    def prune(self, before: datetime) -> int:
        """Forget posts and likes created before ``before``; returns how many."""
        removed = 0
        for index, data in ((POSTS_T, POSTS), (LIKES_T, LIKES)):
            old = self.redis.zrangebyscore(index, "-inf", f"({_ts(before)}")
            for i in range(0, len(old), CHUNK):
                chunk = old[i : i + CHUNK]
                pipe = self.redis.pipeline()
                pipe.hdel(data, *chunk)
                pipe.zrem(index, *chunk)
                pipe.execute()
            removed += len(old)
        return removed
