"""Squads chat: each squad's channel, written in by its members as they would from the app.

Every evening of the writing weeks (Monday to Saturday) the squads talk in their channels,
through the sandbox's chat API as the members themselves (``POST /chat/{channel}`` with
their own user API key), so the ``chat_message`` webhooks carry the messages to Diamond:

- the first squad (by name) is talkative: someone opens the evening's conversation and
  every other member answers it (a reply opens a thread) or mentions a mate; its
  dropouts stop writing articles but keep chatting (mostly in chat);
- the second squad is quiet: nobody ever writes in its channel;
- the other squads chat a little: two members (the first half of the squad, by name)
  exchange a message each evening; the rest never chat.

Chat changes no obligation, strike or badge of the shipped rules (chat counts for bonds in
the health report); its texts come from a random generator of its own, so the rest of the
story (who writes, who misses) draws the same numbers as without chat.

The chat webhook is Diamond's own (``plugin_config/webhook.yml`` ``chat:``, made by the
demo's ``diamond apply``; each new squad's category joins its filter as the squad forms).
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

from worker.demo.context import Demo
from worker.demo.people import zh_text

CHAT_TIME = (19, 30)  # every evening, Monday to Saturday
CHAT_DAYS = range(6)
_OPENERS = (
    "今天大家读到什么好文章了吗?",
    "这周的题目我有点卡住了,大家怎么想?",
    "晚上好!今天的进度怎么样?",
    "分享一个今天学到的小技巧,欢迎补充。",
)


def schedule_chat(demo: Demo) -> None:
    rng = random.Random(29)  # its own stream: the story draws the same numbers as before
    demo.facts.setdefault("chat", {"messages": 0, "by_squad": {}})
    for week in range(1, demo.weeks + 2):
        monday = demo.week_monday(week)
        for day in CHAT_DAYS:
            when = (monday + timedelta(days=day)).replace(hour=CHAT_TIME[0], minute=CHAT_TIME[1])
            demo.agenda.at(when, "squad chat", lambda: _evening(demo, rng))


def _channels(demo: Demo) -> dict[str, int]:
    """Squad slug → its chat channel's id (what each member's chat sidebar lists)."""
    forum = demo.stack.sandbox.forum
    out = {}
    with forum.lock:
        for slug in demo.view.squads():
            category = next((c for c in forum.categories.values() if c.slug == slug), None)
            channel = forum.category_channel(category.id) if category is not None else None
            if channel is not None:
                out[slug] = channel.id
    return out


def _say(
    demo: Demo,
    username: str,
    channel: int,
    text: str,
    squad: str,
    *,
    in_reply_to: int | None = None,
) -> int | None:
    body: dict[str, Any] = {"message": text}
    if in_reply_to is not None:
        body["in_reply_to_id"] = in_reply_to
    answer = demo.members.try_("chat message", "POST", f"/chat/{channel}", username, json=body)
    if not answer:
        return None
    chat = demo.facts["chat"]
    chat["messages"] += 1
    chat["by_squad"][squad] = chat["by_squad"].get(squad, 0) + 1
    return int(answer["message_id"])


def _evening(demo: Demo, rng: random.Random) -> None:
    now: datetime = demo.sim.now
    channels = _channels(demo)
    squads = demo.view.squads()
    for i, slug in enumerate(sorted(squads)):
        channel = channels.get(slug)
        if channel is None or i == 1:  # the second squad never chats
            continue
        people = sorted(m for m in squads[slug] if not demo.view.silenced(m, now))
        if len(people) < 2:
            continue
        if i > 0:  # a little: two of the first half exchange a message
            half = people[: max(2, len(people) // 2)]
            a, b = rng.sample(half, 2)
            opened = _say(demo, a, channel, rng.choice(_OPENERS), slug)
            if opened is not None:
                _say(demo, b, channel, "我也是," + zh_text(rng, 12), slug, in_reply_to=opened)
            continue
        opener = people[now.toordinal() % len(people)]
        opened = _say(demo, opener, channel, rng.choice(_OPENERS) + zh_text(rng, 10), slug)
        for k, person in enumerate(p for p in people if p != opener):
            if opened is not None and k % 3 != 2:
                _say(demo, person, channel, zh_text(rng, 15), slug, in_reply_to=opened)
            else:
                mate = people[(people.index(person) + 1) % len(people)]
                _say(demo, person, channel, f"@{mate} " + zh_text(rng, 15), slug)
