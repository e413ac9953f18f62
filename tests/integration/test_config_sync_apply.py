"""apply/sync through a small in-memory stand-in of the client's config endpoints.

The stand-in answers like the ForumClient methods (same names and shapes) and can
fail chosen calls with 429/500, so ordering, idempotence and convergence are
checked without HTTP. The same behaviours run against the sandbox forum in
``test_config_sync_sandbox.py``.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from worker.config_sync.actual import read_actual
from worker.config_sync.apply import sync
from worker.config_sync.desired import Desired, Section, load_desired
from worker.config_sync.diff import diff
from worker.config_sync.plan import Kind
from worker.config_sync.safety import UnsafePlan
from worker.forum.errors import ForumRejected, ForumUnavailable, RateLimited
from worker.reads.parse import user_field_ids_of
from worker.rules import load_rules

ROOT = Path(__file__).resolve().parents[2]
SECRET = "apply-test-secret-0451"
EVENT_TYPES = {
    "topic": [
        {"id": 101, "name": "topic_created"},
        {"id": 103, "name": "topic_edited"},
        {"id": 104, "name": "topic_destroyed"},
    ],
    "post": [
        {"id": 201, "name": "post_created"},
        {"id": 202, "name": "post_edited"},
        {"id": 203, "name": "post_destroyed"},
        {"id": 204, "name": "post_recovered"},
    ],
    "user": [
        {"id": 303, "name": "user_confirmed_email"},
        {"id": 304, "name": "user_created"},
        {"id": 305, "name": "user_approved"},
        {"id": 306, "name": "user_updated"},
        {"id": 307, "name": "user_destroyed"},
    ],
    "group": [
        {"id": 402, "name": "group_updated"},
        {"id": 403, "name": "group_destroyed"},
    ],
    "group_user": [
        {"id": 1401, "name": "user_added_to_group"},
        {"id": 1402, "name": "user_removed_from_group"},
    ],
    "like": [{"id": 1501, "name": "post_liked"}],
    # the chat plugin's (plugins/chat/plugin.rb add_web_hook_event_types), part of core
    "chat": [
        {"id": 1801, "name": "chat_message_created"},
        {"id": 1802, "name": "chat_message_edited"},
        {"id": 1803, "name": "chat_message_trashed"},
        {"id": 1804, "name": "chat_message_restored"},
    ],
}


class FakeForum:
    """Config endpoints of the ForumClient over dicts; counts calls; injects failures."""

    def __init__(self, *, description_in_about_topic: bool = False) -> None:
        # like real Discourse: a category's description is its About topic's first post
        self.about_topics = description_in_about_topic
        self.ids = itertools.count(50)
        self.settings: dict[str, Any] = {
            "must_approve_users": "false",
            "enable_category_group_moderation": "false",
            "enable_badges": "true",
            # the chat plugin is part of core: its settings exist on every forum
            "chat_enabled": "true",
            "chat_channel_retention_days": "90",
            "chat_allowed_groups": "1|2|11",
        }
        self.user_fields: dict[int, dict] = {}
        self.groups: dict[int, dict] = {
            1: {"id": 1, "name": "staff", "automatic": True, "bio_raw": None},
            2: {"id": 2, "name": "everyone", "automatic": True, "bio_raw": None},
        }
        self.categories: dict[int, dict] = {
            9: {"id": 9, "name": "Uncategorized", "slug": "uncategorized", "description": None}
        }
        self.badges: dict[int, dict] = {
            1: {"id": 1, "name": "Basic User", "system": True, "description": "tl1"}
        }
        self.webhooks: dict[int, dict] = {}
        self.calls: Counter[str] = Counter()
        self.fail: Callable[[str], Exception | None] = lambda call: None

    # the door every call passes: counting and fault injection
    def _call(self, name: str) -> None:
        self.calls[name] += 1
        error = self.fail(name)
        if error is not None:
            raise error

    @property
    def writes(self) -> int:
        return sum(n for name, n in self.calls.items() if not name.startswith(("list", "get")))

    # site settings
    def get_site_settings(self) -> dict[str, Any]:
        self._call("get_site_settings")
        return dict(self.settings)

    def set_site_setting(self, name: str, value: Any, *, reason: str | None = None) -> None:
        self._call("set_site_setting")
        self.settings[name] = ("true" if value else "false") if isinstance(value, bool) else value

    # user fields
    def list_user_fields(self) -> list[dict]:
        self._call("list_user_fields")
        return [dict(f) for f in self.user_fields.values()]

    def create_user_field(self, *, reason: str | None = None, **attrs: Any) -> dict:
        self._call("create_user_field")
        new = {"id": next(self.ids), **attrs}
        self.user_fields[new["id"]] = new
        return new

    def update_user_field(self, field_id: int, *, reason: str | None = None, **attrs) -> dict:
        self._call("update_user_field")
        self.user_fields[field_id].update(attrs)
        return self.user_fields[field_id]

    def delete_user_field(self, field_id: int, *, reason: str | None = None) -> dict:
        self._call("delete_user_field")
        self.user_fields.pop(field_id, None)
        return {}

    # groups
    def list_groups(self) -> list[dict]:
        self._call("list_groups")
        return [dict(g) for g in self.groups.values()]

    def get_group(self, name: str) -> dict:
        self._call("get_group")
        return next(g for g in self.groups.values() if g["name"] == name)

    def create_group(self, name: str, full_name: str | None = None, *, reason=None, **attrs):
        self._call("create_group")
        if any(g["name"] == name for g in self.groups.values()):
            raise ForumRejected("Name has already been taken", status=422)
        new = {"id": next(self.ids), "name": name, "full_name": full_name, **attrs}
        self.groups[new["id"]] = new
        return new

    def update_group(self, group_id: int, *, reason: str | None = None, **attrs: Any) -> dict:
        self._call("update_group")
        self.groups[group_id].update(attrs)
        return {"success": "OK"}

    def delete_group(self, group_id: int, *, reason: str | None = None) -> dict:
        self._call("delete_group")
        self.groups.pop(group_id, None)
        return {}

    # categories: the list carries no permissions (as on Discourse); details do
    def list_categories(self) -> list[dict]:
        self._call("list_categories")
        return [
            {k: v for k, v in c.items() if k not in ("permissions", "moderating_group_ids")}
            for c in self.categories.values()
        ]

    def find_categories(self, category_ids: list[int]) -> list[dict]:
        self._call("list_categories_found")  # a read (writes: not list/get)
        return [self._category_details(i) for i in category_ids if i in self.categories]

    def get_category(self, category_id: int) -> dict:
        self._call("get_category")
        return self._category_details(category_id)

    def _category_details(self, category_id: int) -> dict:
        category = self.categories[category_id]
        permissions = category.get("permissions") or {"everyone": 1}
        return {
            **category,
            "group_permissions": [
                {"group_name": g, "permission_type": p} for g, p in permissions.items()
            ],
        }

    def create_category(self, name: str, *, reason: str | None = None, **attrs: Any) -> dict:
        self._call("create_category")
        parent = attrs.get("parent_category_id")
        assert parent is None or parent in self.categories, "parent must exist first"
        new = {"id": next(self.ids), "name": name, **attrs}
        if self.about_topics:
            new["description"] = "[Replace this first paragraph with a short description]"
            new["topic_url"] = f"/t/about-the-{attrs.get('slug')}-category/{new['id'] + 1000}"
        self.categories[new["id"]] = new
        return dict(new)

    def get_topic(self, topic_id: int) -> dict:
        self._call("get_topic")
        return {"id": topic_id, "post_stream": {"posts": [{"id": topic_id + 1000}]}}

    def update_post(self, post_id: int, raw: str, edit_reason=None, *, reason=None) -> dict:
        self._call("update_post")
        category = next(c for c in self.categories.values() if c["id"] + 2000 == post_id)
        category["description"] = f"<p>{raw.replace('&', '&amp;')}</p>"
        return {"id": post_id}

    def update_category(self, category_id: int, *, reason: str | None = None, **attrs) -> dict:
        self._call("update_category")
        if self.about_topics:
            attrs.pop("description", None)
        self.categories[category_id].update(attrs)
        return dict(self.categories[category_id])

    def delete_category(self, category_id: int, *, reason: str | None = None) -> dict:
        self._call("delete_category")
        self.categories.pop(category_id, None)
        return {}

    # badges
    def list_badges(self) -> list[dict]:
        self._call("list_badges")
        return [dict(b) for b in self.badges.values()]

    def create_badge(self, name: str, badge_type_id: int, description=None, *, reason=None, **a):
        self._call("create_badge")
        new = {"id": next(self.ids), "name": name, "badge_type_id": badge_type_id}
        new.update(description=description, **a)
        self.badges[new["id"]] = new
        return new

    def update_badge(self, badge_id: int, *, reason: str | None = None, **attrs: Any) -> dict:
        self._call("update_badge")
        self.badges[badge_id].update(attrs)
        return self.badges[badge_id]

    def delete_badge(self, badge_id: int, *, reason: str | None = None) -> dict:
        self._call("delete_badge")
        self.badges.pop(badge_id, None)
        return {}

    # webhooks
    def list_webhooks(self) -> list[dict]:
        self._call("list_webhooks")
        return [dict(h) for h in self.webhooks.values()]

    def list_webhooks_and_event_types(self) -> tuple[list[dict], dict]:
        self._call("list_webhooks")
        return [dict(h) for h in self.webhooks.values()], EVENT_TYPES

    def webhook_event_types(self) -> dict:
        self._call("get_webhook_event_types")
        return EVENT_TYPES

    def create_webhook(self, payload_url, secret, event_type_ids, *, reason=None, **attrs):
        self._call("create_webhook")
        new = {"id": next(self.ids), "payload_url": payload_url, "secret": secret, **attrs}
        new["web_hook_event_type_ids"] = list(event_type_ids)
        self.webhooks[new["id"]] = new
        return new

    def update_webhook(self, webhook_id: int, *, reason: str | None = None, **attrs: Any):
        self._call("update_webhook")
        if "event_type_ids" in attrs:
            attrs["web_hook_event_type_ids"] = list(attrs.pop("event_type_ids"))
        self.webhooks[webhook_id].update(attrs)
        return self.webhooks[webhook_id]

    def delete_webhook(self, webhook_id: int, *, reason: str | None = None) -> dict:
        self._call("delete_webhook")
        self.webhooks.pop(webhook_id, None)
        return {}


@pytest.fixture(scope="module")
def shipped() -> Desired:
    rules = load_rules(ROOT / "rules")
    return load_desired(
        ROOT / "plugin_config",
        receiver_url="https://diamond.example.org/webhooks",
        webhook_secret=SECRET,
        badges=rules.badges.badges,
    )


def _no_sleep(seconds: float) -> None:
    pass


def test_fresh_forum_converges_and_a_second_sync_writes_nothing(shipped: Desired) -> None:
    fake = FakeForum()
    report = sync(fake, shipped, sleep=_no_sleep)
    assert report.converged and not report.final_plan.conflicts
    created = report.first_plan.count(Kind.CREATE)
    # chat_allowed_groups names groups by name: the ids of those the same round creates are
    # added once they are made, in that round
    later = [c.key for c in report.done if c not in report.first_plan.changes]
    assert later == []
    assert created == len(report.done) - report.first_plan.count(Kind.UPDATE) - len(later)
    writes = fake.writes
    assert writes == len(report.done)  # one call per change, nothing repeated

    again = sync(fake, shipped, sleep=_no_sleep)
    assert again.done == [] and fake.writes == writes  # zero writes
    assert again.first_plan.changes == ()


def test_categories_get_group_ids_and_markers(shipped: Desired) -> None:
    fake = FakeForum()
    sync(fake, shipped, sleep=_no_sleep)
    by_name = {g["name"]: g["id"] for g in fake.groups.values()}
    checkins = next(c for c in fake.categories.values() if c.get("slug") == "checkins")
    assert checkins["moderating_group_ids"] == [by_name["leaders"]]
    assert checkins["permissions"]["camp"] == 1
    assert checkins["description"].endswith("[diamond:checkins]")
    assert fake.groups[by_name["camp"]]["bio_raw"].endswith("[diamond:camp]")
    referrer = next(f for f in fake.user_fields.values() if f["name"].endswith("Referrer"))
    assert user_field_ids_of(fake.list_user_fields())["referrer"] == referrer["id"]
    hook, _chat = sorted(fake.webhooks.values(), key=lambda h: h["payload_url"])
    assert hook["secret"] == SECRET
    assert 201 in hook["web_hook_event_type_ids"] and 1501 in hook["web_hook_event_type_ids"]
    assert not hook.get("category_ids"), "a category filter would drop the user events"


def test_the_chat_webhook_has_chat_events_only_and_diamonds_categories(shipped: Desired) -> None:
    fake = FakeForum()
    sync(fake, shipped, sleep=_no_sleep)
    hook, chat = sorted(fake.webhooks.values(), key=lambda h: h["payload_url"])
    assert chat["payload_url"] == hook["payload_url"] + "?hook=chat"
    assert chat["secret"] == SECRET
    assert sorted(chat["web_hook_event_type_ids"]) == [1801, 1802, 1803, 1804]
    ours = {c["id"] for c in fake.categories.values() if c.get("slug") != "uncategorized"}
    assert set(chat["category_ids"]) == ours


def test_creates_parent_category_before_child() -> None:
    from worker.config_sync.desired import CategorySpec

    desired = Desired(
        categories=Section(
            (
                CategorySpec(slug="squad-1", name="Squad 1", parent="squads"),
                CategorySpec(slug="squads", name="Squads"),
            )
        )
    )
    fake = FakeForum()
    report = sync(fake, desired, sleep=_no_sleep)  # the fake asserts the parent exists
    child = next(c for c in fake.categories.values() if c.get("slug") == "squad-1")
    parent = next(c for c in fake.categories.values() if c.get("slug") == "squads")
    assert child["parent_category_id"] == parent["id"] and report.converged


FAULTS = [
    pytest.param(lambda: RateLimited(3.0), id="429 in the middle"),
    pytest.param(lambda: ForumUnavailable("boom", status=500), id="500 in the middle"),
]


@pytest.mark.parametrize("error", FAULTS)
def test_partial_failure_converges_without_applying_anything_twice(
    shipped: Desired, error: Callable[[], Exception]
) -> None:
    fake = FakeForum()
    failures = iter([5, 12, 20])  # fail the 5th, 12th and 20th write once each
    write_number = itertools.count(1)
    next_failure = next(failures)

    def fail(call: str) -> Exception | None:
        nonlocal next_failure
        if call.startswith(("list", "get")):
            return None
        if next(write_number) == next_failure:
            next_failure = next(failures, -1)
            return error()
        return None

    fake.fail = fail
    waits: list[float] = []
    report = sync(fake, shipped, sleep=waits.append)
    assert report.converged
    assert len(report.failures) == 3 and len(waits) == 3
    done_keys = [(c.resource, c.key) for c in report.done]
    assert len(done_keys) == len(set(done_keys))  # nothing applied twice
    successful_writes = fake.writes - 3
    assert successful_writes == len(report.done)
    fresh = FakeForum()
    sync(fresh, shipped, sleep=_no_sleep)
    assert successful_writes == fresh.writes  # the same writes as an undisturbed run


def test_a_forum_that_keeps_failing_leaves_the_rest_for_the_next_run(shipped: Desired) -> None:
    fake = FakeForum()
    fake.fail = lambda call: (
        ForumUnavailable("down", status=503) if call == "create_badge" else None
    )
    report = sync(fake, shipped, sleep=_no_sleep, max_rounds=3)
    assert not report.converged
    assert {c.resource for c in report.final_plan.changes} == {"badge", "webhook"}
    fake.fail = lambda call: None
    assert sync(fake, shipped, sleep=_no_sleep).converged


def test_a_rejected_change_stops_with_the_forum_error(shipped: Desired) -> None:
    fake = FakeForum()
    fake.fail = lambda call: ForumRejected("bad", status=422) if call == "create_group" else None
    with pytest.raises(ForumRejected):
        sync(fake, shipped, sleep=_no_sleep)
    assert fake.calls["create_group"] == 1  # not retried


def test_unsafe_plan_writes_nothing_unless_forced(shipped: Desired) -> None:
    fake = FakeForum()
    sync(fake, shipped, sleep=_no_sleep)
    for group in fake.groups.values():
        if group.get("bio_raw", "") and "[diamond:" in group["bio_raw"]:
            group["full_name"] = "edited by hand"
    writes = fake.writes
    with pytest.raises(UnsafePlan):
        sync(fake, shipped, sleep=_no_sleep)
    assert fake.writes == writes
    report = sync(fake, shipped, sleep=_no_sleep, force=True)
    assert report.converged and fake.writes == writes + len(shipped.groups.items)


def test_hand_edit_shows_as_exactly_that_drift(shipped: Desired) -> None:
    fake = FakeForum()
    sync(fake, shipped, sleep=_no_sleep)
    members = next(g for g in fake.groups.values() if g["name"] == "members")
    members["messageable_level"] = 99
    plan = diff(shipped, read_actual(fake, shipped))
    assert [(c.kind, c.resource, c.key, dict(c.fields)) for c in plan.changes] == [
        (Kind.UPDATE, "group", "members", {"messageable_level": (99, 2)})
    ]


def test_category_description_goes_to_the_about_topic_on_real_discourse(shipped: Desired) -> None:
    fake = FakeForum(description_in_about_topic=True)
    report = sync(fake, shipped, sleep=_no_sleep)
    assert report.converged and not report.final_plan.conflicts
    assert fake.calls["update_post"] == len(shipped.categories.items)
    audit = next(c for c in fake.categories.values() if c.get("slug") == "audit-log")
    assert audit["description"].endswith("[diamond:audit-log]</p>")
    writes = fake.writes
    assert sync(fake, shipped, sleep=_no_sleep).done == [] and fake.writes == writes
