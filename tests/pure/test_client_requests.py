"""Requests the client sends validate against Discourse's documented request schemas.

Sources: ``openapi.json`` request bodies and ``schemas/*_request.json`` (Discourse's
own rswag specs). Both are strict (``additionalProperties: false``), but Discourse
accepts more than it documents; the few extra keys the client sends are listed in
``UNDOCUMENTED`` with the controller that reads them, and every other key must
validate.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import jsonschema
import pytest
import responses

from tests.conftest import DISCOURSE_REF
from worker.forum.client import ForumClient

BASE = "https://forum.example"
WHEN = datetime(2030, 1, 6, 12, 0, tzinfo=UTC)

# Spec-file schemas and the endpoint each describes (file names are Discourse's).
SCHEMA_FILES = {
    "badge_create_request.json": "POST /admin/badges.json",
    "category_create_request.json": "POST /categories.json",
    "group_create_request.json": "POST /admin/groups.json",
    "topic_create_request.json": "POST /posts.json",
    "user_badge_grant_request.json": "POST /user_badges.json",
    "user_create_request.json": "POST /users.json",
    "user_delete_request.json": "DELETE /admin/users/{id}.json",
    "user_silence_request.json": "PUT /admin/users/{id}/silence.json",
}

# Keys Discourse reads but the documented schema does not list.
UNDOCUMENTED: dict[str, set[str]] = {
    # CategoriesController#category_params permits moderating_group_ids (3.3+).
    "POST /categories.json": {"moderating_group_ids"},
    # PostsController#create_params permits tags: []; reply_to_post_number is in
    # openapi.json but missing from the older spec file.
    "POST /posts.json": {"tags", "reply_to_post_number"},
    # UsersController#update: staff may set user_fields[<id>]; the schema lists name only.
    "PUT /u/{username}.json": {"user_fields"},
    # The spec file documents the form-encoded `user_fields[1]`; openapi.json has the
    # JSON object form the client sends.
    "POST /users.json": {"user_fields"},
    # Admin::BadgesController#update_badge_from_params reads description.
    "POST /admin/badges.json": {"description"},
    # Admin::UsersController#destroy passes params[:context] to UserDestroyer.
    "DELETE /admin/users/{id}.json": {"context"},
}


def _normalise(label: str) -> str:
    return re.sub(r"\{[^}]+\}", "{}", label)


def _load_schemas() -> dict[str, list[tuple[str, dict]]]:
    found: dict[str, list[tuple[str, dict]]] = {}
    spec = json.loads((DISCOURSE_REF / "openapi.json").read_text())
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            content = (operation.get("requestBody") or {}).get("content") or {}
            schema = (content.get("application/json") or {}).get("schema")
            if schema and method.upper() != "GET":
                label = _normalise(f"{method.upper()} {path}")
                found.setdefault(label, []).append((f"openapi.json {path}", schema))
    for name, label in SCHEMA_FILES.items():
        schema = json.loads((DISCOURSE_REF / "schemas" / name).read_text())
        found.setdefault(_normalise(label), []).append((f"schemas/{name}", schema))
    return found


SCHEMAS = _load_schemas()

CALLS: dict[str, tuple[str, Callable[[ForumClient], Any]]] = {
    "create user": (
        "POST /users.json",
        lambda c: c.create_user(
            "Ann",
            "ann",
            "ann@example.org",
            "pw-0123456789",
            approved=False,
            user_fields={3: "Rust"},
        ),
    ),
    "delete user": (
        "DELETE /admin/users/{id}.json",
        lambda c: c.delete_user(5, block_email=True, block_ip=True, context="failed camp"),
    ),
    "silence user": (
        "PUT /admin/users/{id}/silence.json",
        lambda c: c.silence_user(5, WHEN, "missed an article", message="a week off"),
    ),
    "suspend user": (
        "PUT /admin/users/{id}/suspend.json",
        lambda c: c.suspend_user(5, WHEN, "third strike", message="see you"),
    ),
    "set user field": ("PUT /u/{username}.json", lambda c: c.set_user_field("ann", 3, "Go")),
    "create group": (
        "POST /admin/groups.json",
        lambda c: c.create_group("camp_1", "第一营", visibility_level=2, bio_raw="squad"),
    ),
    "update group": (
        "PUT /groups/{id}.json",
        lambda c: c.update_group(4, name="camp_1", full_name="第一营", public_admission=False),
    ),
    "add group members": (
        "PUT /groups/{id}/members.json",
        lambda c: c.add_group_members(4, ["ann", "bob"]),
    ),
    "remove group members": (
        "DELETE /groups/{id}/members.json",
        lambda c: c.remove_group_members(4, ["ann"]),
    ),
    "create category": (
        "POST /categories.json",
        lambda c: c.create_category(
            "营地",
            slug="camp",
            parent_category_id=2,
            permissions={"camp_1": 1, "everyone": 3},
            moderating_group_ids=[9],
        ),
    ),
    "update category": (
        "PUT /categories/{id}.json",
        lambda c: c.update_category(7, name="营地", color="FF0000", permissions={"camp_1": 2}),
    ),
    "create topic": (
        "POST /posts.json",
        lambda c: c.create_topic("Week 1", "text " * 10, 7, created_at=WHEN, tags=["w1"]),
    ),
    "create reply": (
        "POST /posts.json",
        lambda c: c.create_post(3, "a review", reply_to_post_number=1, created_at=WHEN),
    ),
    "private message": (
        "POST /posts.json",
        lambda c: c.send_private_message(["ann", "bob"], "Reminder", "Your article is due"),
    ),
    "update post": ("PUT /posts/{id}.json", lambda c: c.update_post(3, "new text", "typo")),
    "like post": ("POST /post_actions.json", lambda c: c.like_post(3)),
    "create badge": (
        "POST /admin/badges.json",
        lambda c: c.create_badge("Mentor", 3, "gives more than takes"),
    ),
    "update badge": (
        "PUT /admin/badges/{id}.json",
        lambda c: c.update_badge(4, name="Mentor", badge_type_id=2),
    ),
    "grant badge": (
        "POST /user_badges.json",
        lambda c: c.grant_badge("ann", 4, f"{BASE}/t/week-1/12/4"),
    ),
}


@pytest.fixture
def sent() -> Any:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        for method in ("POST", "PUT", "DELETE"):
            mock.add_callback(method, re.compile(f"{BASE}/.*"), callback=lambda r: (200, {}, "{}"))
        yield mock


@pytest.mark.parametrize("label,call", CALLS.values(), ids=CALLS.keys())
def test_request_body_matches_discourse_request_schema(sent, label, call) -> None:
    client = ForumClient(BASE, "schema-test-key")
    call(client)
    assert client.call_counts[label] >= 1
    body = json.loads(sent.calls[-1].request.body)
    schemas = SCHEMAS.get(_normalise(label))
    assert schemas, f"no documented request schema for {label}"
    allowed_extra = UNDOCUMENTED.get(label, set())
    for source, schema in schemas:
        documented = set((schema.get("properties") or {}).keys())
        extra = set(body) - documented
        assert extra <= allowed_extra, f"{source}: undocumented keys {extra - allowed_extra}"
        jsonschema.Draft202012Validator(schema).validate(
            {k: v for k, v in body.items() if k not in extra}
        )


def test_every_schema_file_is_exercised() -> None:
    exercised = {label for label, _ in CALLS.values()}
    assert set(SCHEMA_FILES.values()) <= exercised
