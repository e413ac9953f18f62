"""``diamond apply`` reads each list it plans from once: the categories' permissions and
moderating groups in one ``GET /categories/find.json`` (not one ``show`` per category), the
webhooks and their event types in one page; a hand change to either is still seen."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.config_sync import no_sleep, sandbox_client, shipped_desired
from worker.config_sync.actual import read_actual
from worker.config_sync.apply import sync
from worker.config_sync.desired import Desired
from worker.config_sync.diff import diff
from worker.config_sync.plan import Kind
from worker.forum.client import ForumClient
from worker.forum.errors import NotFound
from worker.sandbox import RunningSandbox, start_sandbox

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SECRET = "sandbox-sync-secret-4c1a"
RECEIVER = "http://127.0.0.1:9/webhooks"

LISTS = {
    "GET /groups.json",
    "GET /categories.json",
    "GET /categories/find.json",
    "GET /admin/api/web_hooks.json",
    "GET /admin/site_settings.json",
    "GET /admin/config/user_fields.json",
    "GET /admin/badges.json",
}


@pytest.fixture(scope="module")
def shipped() -> Desired:
    return shipped_desired(receiver_url=RECEIVER, secret=SECRET)


@pytest.fixture
def forum() -> Iterator[RunningSandbox]:
    with start_sandbox(port=0) as sandbox:
        yield sandbox


def test_reading_the_forum_reads_each_list_once_and_no_category_alone(
    forum: RunningSandbox, shipped: Desired
) -> None:
    client = sandbox_client(forum)
    assert sync(client, shipped, sleep=no_sleep).converged
    client.call_counts.clear()

    state = read_actual(client, shipped)

    assert dict(client.call_counts) == dict.fromkeys(LISTS, 1)
    audit = next(c for c in state.categories if c.natural_key == "audit-log")
    assert audit.fields["permissions"] == {"staff": 1, "reviewers": 2}
    checkins = next(c for c in state.categories if c.natural_key == "checkins")
    assert checkins.fields["moderating_groups"] == ("leaders",)


def test_a_permission_changed_by_hand_is_seen_and_put_back(
    forum: RunningSandbox, shipped: Desired
) -> None:
    client = sandbox_client(forum)
    assert sync(client, shipped, sleep=no_sleep).converged
    audit = next(c for c in client.list_categories() if c["slug"] == "audit-log")
    client.update_category(int(audit["id"]), name=audit["name"], permissions={"everyone": 1})

    plan = diff(shipped, read_actual(client, shipped))
    assert [(c.kind, c.resource, c.key, set(c.fields)) for c in plan.changes] == [
        (Kind.UPDATE, "category", "audit-log", {"permissions"})
    ]
    assert sync(client, shipped, sleep=no_sleep).converged
    assert diff(shipped, read_actual(client, shipped)).changes == ()


class OlderForum(ForumClient):
    """A Discourse without ``/categories/find`` (added in 2023): the route answers 404."""

    def find_categories(self, category_ids: list[int]) -> list[dict[str, Any]]:
        raise NotFound("not found", status=404, path="GET /categories/find.json")


def test_a_forum_without_categories_find_reads_each_category_alone(
    forum: RunningSandbox, shipped: Desired
) -> None:
    client = OlderForum(forum.url, forum.api_key, "system", on_limit="raise")
    assert sync(client, shipped, sleep=no_sleep).converged
    client.call_counts.clear()

    state = read_actual(client, shipped)

    assert client.call_counts["GET /c/{id}/show.json"] == len(shipped.categories.items)
    audit = next(c for c in state.categories if c.natural_key == "audit-log")
    assert audit.fields["permissions"] == {"staff": 1, "reviewers": 2}


def test_a_fresh_apply_puts_new_groups_in_a_group_list_setting_in_the_same_round(
    forum: RunningSandbox, shipped: Desired
) -> None:
    """chat_allowed_groups names groups the same apply creates: their ids go in once they
    are made, so the forum is read twice (to plan, to confirm), not three times."""
    client = sandbox_client(forum)
    report = sync(client, shipped, sleep=no_sleep)
    assert report.converged and report.rounds == 2
    assert client.call_counts["GET /groups.json"] == 2
    with forum.forum.lock:
        ids = {g.name: g.id for g in forum.forum.groups.values()}
        allowed = forum.forum.settings["chat_allowed_groups"].split("|")
    assert {str(ids[g]) for g in shipped.site_setting_groups["chat_allowed_groups"]} <= set(allowed)
