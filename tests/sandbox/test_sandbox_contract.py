"""Every sandbox response on an endpoint documented in openapi.json validates against it.

One scenario drives every route the sandbox serves; each 200 JSON answer whose
route is in the official OpenAPI document is validated against the documented
schema. The schema is used as published, except for the documented quirks below
(each names why Discourse itself answers outside the generated schema).
"""

from __future__ import annotations

import copy
import json
import re
from functools import cache
from typing import Any

import jsonschema
import pytest

from tests.conftest import DISCOURSE_REF
from tests.support.sandbox_api import Api, Exchange
from worker.sandbox import build_sandbox

OPENAPI = DISCOURSE_REF / "openapi.json"

# Keys Discourse serializers add only in some states (``include_<key>?``), so the
# schemas generated from one fabricated record forbid them. Each is allowed when
# the documented object does not list it.
CONDITIONAL_KEYS = {
    "user_fields",  # AdminDetailedUserSerializer#include_user_fields?: when the user has values
    "approved",  # AdminUserListSerializer#include_approved?: with must_approve_users
    "email",  # include_email?: staff asking with show_emails / for themselves
    "secondary_emails",
    "silenced",  # include_silenced?: only while silenced
    "silenced_till",
    "suspended_at",  # include_suspended_*?: only while suspended
    "suspended_till",
    "suspend_reason",
    "invited_by",  # UserSerializer's inviter (BasicUser); null when nobody invited
    "parent_category_id",  # CategorySerializer: subcategories only
    "moderating_group_ids",  # with enable_category_group_moderation
    "more_topics_url",  # TopicListSerializer: when there is a next page
    "allowed_users",  # TopicViewDetailsSerializer: private messages only
    "allowed_groups",
    "is_group_user",  # BasicGroupSerializer: when logged in
    "is_group_owner",
    "subcategory_list",  # CategoryList: include_subcategories=true
    "topic_title",  # not in the generated post schema; kept for compatibility
    "tags",  # topic list items when tagging is enabled
    "count",  # actions_summary: only once someone acted (likes)
    "acted",  # actions_summary: only for the viewer who acted
    "can_undo",
}

# Objects whose documented shape is the fabricated record's, not the general one:
# ``user_fields`` lists the spec's two field ids; any forum has its own ids.
FREE_FORM = {"user_fields"}

# Properties the generated schema types as non-null but that Discourse emits as
# null when there is nothing to show (a user without a name, a member who never
# posted, a user nobody approved, no featured topic, ...).
NULLABLE = {
    "name",
    "display_username",
    "last_posted_at",
    "last_seen_at",
    "timezone",
    "approved_by",
    "featured_topic",
    "category_id",  # private-message posts have no category
    "excerpt",
    "permission",  # category lists for anonymous visitors
    "description",
    "user",
    "image_url",  # topics without an image
    "email",  # link invites have no email
}

# reply_to_post_number is typed ``string|null`` by the generator; Discourse sends an integer.
EXTRA_TYPES = {
    "reply_to_post_number": ["integer"],
    "reviewable_id": ["null"],
    # typed string|null from a record never silenced/suspended; Discourse sends a BasicUser.
    "silenced_by": ["object"],
    "suspended_by": ["object"],
    # /c/{slug}/{id}.json documents string|null, /latest.json boolean; Discourse sends
    # booleans to logged-in users and omits/nulls them for anonymous ones.
    "bookmarked": ["boolean", "null"],
    "liked": ["boolean", "null"],
}


def _loosen(schema: Any) -> Any:
    if isinstance(schema, list):
        return [_loosen(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {key: _loosen(value) for key, value in schema.items()}
    # minItems comes from the fabricated record's non-empty lists, not from Discourse.
    out.pop("minItems", None)
    props = out.get("properties")
    if isinstance(props, dict):
        for name, sub in props.items():
            if not isinstance(sub, dict):
                continue
            if name in FREE_FORM:
                props[name] = {"type": ["object", "null"]}
                continue
            extra = list(EXTRA_TYPES.get(name, []))
            if name in NULLABLE:
                extra.append("null")
            if extra and "type" in sub:
                types = sub["type"] if isinstance(sub["type"], list) else [sub["type"]]
                sub["type"] = sorted(set(types) | set(extra))
        if out.get("additionalProperties") is False:
            for name in CONDITIONAL_KEYS:
                props.setdefault(name, {})
    return out


@cache
def _openapi() -> dict[str, Any]:
    return json.loads(OPENAPI.read_text())


def _norm(template: str) -> str:
    return re.sub(r"\{[^}]+\}|<[^>]+>", "{}", template)


@cache
def _documented() -> dict[tuple[str, str], str]:
    """(normalized path, METHOD) → openapi path template."""
    out = {}
    for path, ops in _openapi()["paths"].items():
        for method in ops:
            if method in ("get", "post", "put", "delete"):
                out[(_norm(path), method.upper())] = path
    return out


def _response_schema(template: str, method: str) -> dict[str, Any] | None:
    op = _openapi()["paths"][template][method.lower()]
    content = op.get("responses", {}).get("200", {}).get("content", {})
    schema = content.get("application/json", {}).get("schema")
    return copy.deepcopy(schema) if schema else None


def _route_of(sandbox: Any, exchange: Exchange) -> str | None:
    adapter = sandbox.app.url_map.bind("localhost")
    try:
        rule, _ = adapter.match(
            exchange.path.split("?")[0], method=exchange.method, return_rule=True
        )
    except Exception:
        return None
    return rule.rule


def drive_everything(api: Api) -> dict[str, Any]:
    """Exercise every route the sandbox serves, as admin and as members."""
    ids: dict[str, Any] = {}
    admin = api
    admin.put(
        "/admin/site_settings/enable_category_group_moderation.json",
        form={"enable_category_group_moderation": "true"},
    )
    admin.get("/admin/site_settings.json")
    field = admin.post(
        "/admin/config/user_fields.json",
        {
            "user_field": {
                "name": "Why",
                "description": "Why join?",
                "field_type": "text",
                "editable": True,
                "requirement": "optional",
            }
        },
    ).body["user_field"]
    admin.put(
        f"/admin/config/user_fields/{field['id']}.json",
        {"user_field": {"description": "Why do you want to join?"}},
    )
    admin.get("/admin/config/user_fields.json")
    for name in ("alice", "bob", "carol"):
        admin.post(
            "/users.json",
            {
                "name": name.title(),
                "username": name,
                "email": f"{name}@example.com",
                "password": "p" * 16,
                "active": True,
                "approved": True,
                "user_fields": {str(field["id"]): f"{name} wants in"},
            },
        )
    alice = admin.get("/u/alice.json").body["user"]
    bob = admin.get("/u/bob.json").body["user"]
    ids["alice"] = alice["id"]
    admin.put("/u/alice.json", {"user_fields": {str(field["id"]): "updated"}, "name": "Alice A"})
    admin.get(f"/admin/users/{alice['id']}.json")
    admin.get("/admin/users/list/active.json", show_emails="true")
    admin.get("/admin/users/list/new.json")
    admin.get("/admin/users.json")
    admin.put(f"/admin/users/{bob['id']}/trust_level.json", form={"level": "2"})
    admin.put(
        f"/admin/users/{bob['id']}/silence.json",
        {"silenced_till": "2099-01-01T00:00:00.000Z", "reason": "spam"},
    )
    admin.get("/admin/users/list/silenced.json")
    admin.get(f"/admin/users/{bob['id']}.json")
    admin.put(f"/admin/users/{bob['id']}/unsilence.json")
    admin.put(
        f"/admin/users/{bob['id']}/suspend.json",
        {"suspend_until": "2099-01-01T00:00:00.000Z", "reason": "rules"},
    )
    admin.get(f"/admin/users/{bob['id']}.json")
    admin.put(f"/admin/users/{bob['id']}/unsuspend.json")
    # pending user + review queue
    admin.put("/admin/site_settings/must_approve_users.json", form={"must_approve_users": "true"})
    dave = admin.post(
        "/users.json",
        {
            "name": "Dave",
            "username": "dave",
            "email": "dave@example.com",
            "password": "p" * 16,
            "active": True,
        },
    ).body
    erin = admin.post(
        "/users.json",
        {
            "name": "Erin",
            "username": "erin",
            "email": "erin@example.com",
            "password": "p" * 16,
            "active": True,
        },
    ).body
    admin.get("/admin/users/list/pending.json")
    queue = admin.get("/review.json", type="ReviewableUser", status="pending").body
    first = queue["reviewables"][0]
    admin.get(f"/review/{first['id']}.json")
    admin.put(f"/review/{first['id']}/perform/approve_user.json?version={first['version']}")
    admin.put(f"/admin/users/{dave['user_id']}/approve.json")
    admin.put("/admin/site_settings/must_approve_users.json", form={"must_approve_users": "false"})
    admin.put(f"/admin/users/{erin['user_id']}/deactivate.json")
    admin.put(f"/admin/users/{erin['user_id']}/activate.json")
    # groups
    group = admin.post(
        "/admin/groups.json",
        {
            "group": {
                "name": "squad_1",
                "full_name": "第一小队",
                "visibility_level": 0,
                "members_visibility_level": 0,
                "bio_raw": "A squad",
                "usernames": "alice",
            }
        },
    ).body["basic_group"]
    ids["group"] = group["id"]
    admin.get("/groups.json")
    admin.get("/groups/squad_1.json")
    admin.get(f"/groups/by-id/{group['id']}.json")
    admin.put(f"/groups/{group['id']}.json", {"group": {"full_name": "Squad One"}})
    admin.put(f"/groups/{group['id']}/members.json", form={"usernames": "bob,carol"})
    admin.get("/groups/squad_1/members.json", limit="50", offset="0")
    admin.put(f"/groups/{group['id']}/owners.json", form={"usernames": "alice"})
    admin.put(f"/admin/groups/{group['id']}/owners.json", {"group": {"usernames": "bob"}})
    admin.delete(f"/admin/groups/{group['id']}/owners.json", user_id=str(bob["id"]))
    admin.delete(f"/groups/{group['id']}/owners.json", usernames="bob")
    admin.delete(f"/groups/{group['id']}/members.json", usernames="carol")
    spare = admin.post("/admin/groups.json", {"group": {"name": "spare"}}).body["basic_group"]
    admin.delete(f"/admin/groups/{spare['id']}.json")
    # categories
    cat = admin.post(
        "/categories.json",
        {
            "name": "Articles",
            "color": "0088CC",
            "text_color": "FFFFFF",
            "permissions": {"everyone": 1},
            "description": "Weekly articles",
        },
    ).body["category"]
    ids["category"] = cat["id"]
    sub = admin.post(
        "/categories.json",
        {
            "name": "Squad room",
            "parent_category_id": cat["id"],
            "permissions": {"squad_1": 1, "staff": 1},
            "moderating_group_ids": [group["id"]],
        },
    ).body["category"]
    admin.put(f"/categories/{sub['id']}.json", {"name": "Squad room", "color": "FF0000"})
    admin.get("/categories.json")
    admin.get("/categories.json", include_subcategories="true")
    admin.get(f"/c/{cat['id']}/show.json")
    doomed = admin.post("/categories.json", {"name": "Doomed"}).body["category"]
    admin.delete(f"/categories/{doomed['id']}.json")
    # topics, posts, likes, tags
    alice_api = admin.as_user("alice")
    bob_api = admin.as_user("bob")
    topic_post = alice_api.post(
        "/posts.json",
        {
            "title": "My first weekly article",
            "raw": "This is the body of my weekly article.",
            "category": cat["id"],
            "tags": ["week-1"],
        },
    ).body
    ids["topic"] = topic_post["topic_id"]
    reply = bob_api.post(
        "/posts.json",
        {
            "topic_id": topic_post["topic_id"],
            "reply_to_post_number": 1,
            "raw": f'[quote="alice, post:1, topic:{topic_post["topic_id"]}"]\nbody\n[/quote]\n'
            "A thoughtful review, thanks!",
        },
    ).body
    admin.post(
        "/posts.json",
        {
            "title": "Back-dated topic for demo",
            "raw": "Written weeks ago, honestly.",
            "category": cat["id"],
            "created_at": "2026-01-05T10:00:00Z",
        },
    )
    admin.get(f"/posts/{reply['id']}.json")
    bob_api.put(f"/posts/{reply['id']}.json", {"post": {"raw": "An even more thoughtful review!"}})
    alice_api.post("/post_actions.json", {"id": reply["id"], "post_action_type_id": 2})
    alice_api.delete(f"/post_actions/{reply['id']}.json", post_action_type_id="2")
    alice_api.post("/post_actions.json", {"id": reply["id"], "post_action_type_id": 2})
    admin.get("/posts.json")
    admin.get("/posts.json", before=str(reply["id"]))
    admin.get(f"/t/{topic_post['topic_id']}.json")
    admin.get(f"/t/slug/{topic_post['topic_id']}.json")
    admin.request(
        "GET", f"/t/{topic_post['topic_id']}/posts.json", query={"post_ids[]": [str(reply["id"])]}
    )
    admin.get(f"/c/{cat['slug']}/{cat['id']}.json")
    admin.get(f"/c/{cat['slug']}/{cat['id']}.json", page="1")
    admin.get(f"/c/{cat['slug']}/{cat['id']}/l/latest.json")
    admin.get(f"/c/articles/{sub['slug']}/{sub['id']}.json")
    admin.get("/latest.json")
    admin.get("/tags.json")
    throwaway = alice_api.post(
        "/posts.json", {"topic_id": topic_post["topic_id"], "raw": "A reply I will delete shortly."}
    ).body
    alice_api.delete(f"/posts/{throwaway['id']}.json")
    gone = alice_api.post(
        "/posts.json",
        {
            "title": "Topic to be deleted soon",
            "raw": "This topic will be deleted.",
            "category": cat["id"],
        },
    ).body
    admin.delete(f"/t/{gone['topic_id']}.json")
    # private messages
    alice_api.post(
        "/posts.json",
        {
            "title": "Welcome to the squad",
            "raw": "Hello Bob, welcome!",
            "archetype": "private_message",
            "target_recipients": "bob",
        },
    )
    bob_api.get("/topics/private-messages/bob.json")
    alice_api.get("/topics/private-messages-sent/alice.json")
    # badges
    badge = admin.post(
        "/admin/badges.json",
        {"name": "Good reviewer", "badge_type_id": 3, "description": "Gave good reviews"},
    ).body["badge"]
    admin.put(f"/admin/badges/{badge['id']}.json", {"name": "Great reviewer", "badge_type_id": 2})
    admin.get("/admin/badges.json")
    granted = admin.post(
        "/user_badges.json",
        {
            "username": "bob",
            "badge_id": badge["id"],
            "reason": f"{api.sandbox.forum.base_url}/t/x/{topic_post['topic_id']}/2",
        },
    ).body["user_badge"]
    admin.get("/user-badges/bob.json")
    admin.delete(f"/user_badges/{granted['id']}.json")
    spare_badge = admin.post("/admin/badges.json", {"name": "Spare", "badge_type_id": 3}).body
    admin.delete(f"/admin/badges/{spare_badge['badge']['id']}.json")
    # webhooks, invites, api keys (a payload URL on loopback needs allowed_internal_hosts)
    admin.put(
        "/admin/site_settings/allowed_internal_hosts.json",
        {"allowed_internal_hosts": "127.0.0.1"},
    )
    hook = admin.post(
        "/admin/api/web_hooks.json",
        {
            "web_hook": {
                "payload_url": "http://127.0.0.1:9/hook",
                "secret": "a-long-enough-secret",
                "content_type": 1,
                "web_hook_event_type_ids": [201, 101],
                "active": True,
            }
        },
    ).body["web_hook"]
    admin.get("/admin/api/web_hooks.json")
    admin.get(f"/admin/api/web_hooks/{hook['id']}.json")
    admin.put(f"/admin/api/web_hooks/{hook['id']}.json", {"web_hook": {"active": False}})
    admin.post(f"/admin/api/web_hooks/{hook['id']}/ping.json")
    admin.post(f"/admin/api/web_hooks/{hook['id']}/ping")
    admin.delete(f"/admin/api/web_hooks/{hook['id']}.json")
    invite = alice_api.post("/invites.json", {"max_redemptions_allowed": 1}).body
    admin.anonymous().post(
        "/users.json",
        {
            "name": "Frank",
            "username": "frank",
            "email": "frank@example.com",
            "password": "p" * 16,
            "invite_code": invite["invite_key"],
        },
    )
    admin.post("/admin/api/keys.json", {"key": {"description": "alice", "username": "alice"}})
    admin.get("/users/frank.json")
    # removals last
    admin.delete(f"/admin/config/user_fields/{field['id']}.json")
    admin.delete(f"/admin/users/{erin['user_id']}.json")
    return ids


@pytest.fixture(scope="module")
def driven() -> tuple[Any, list[Exchange]]:
    sandbox = build_sandbox(api_key="contract-key")
    api = Api(sandbox)
    drive_everything(api)
    sandbox.webhooks.close()
    return sandbox, api.log


def test_scenario_succeeds_on_every_call(driven: tuple[Any, list[Exchange]]) -> None:
    _, log = driven
    failures = [(e.method, e.path, e.status, e.body) for e in log if e.status != 200]
    assert failures == []


def test_every_documented_response_validates_against_openapi(
    driven: tuple[Any, list[Exchange]],
) -> None:
    sandbox, log = driven
    problems = []
    checked: set[tuple[str, str]] = set()
    for exchange in log:
        route = _route_of(sandbox, exchange)
        template = _documented().get((_norm(route or ""), exchange.method))
        if template is None or exchange.status != 200:
            continue
        schema = _response_schema(template, exchange.method)
        if schema is None:
            continue
        checked.add((exchange.method, template))
        validator = jsonschema.Draft7Validator(_loosen(schema))
        for error in validator.iter_errors(exchange.body):
            where = "/".join(str(p) for p in error.absolute_path)
            problems.append(f"{exchange.method} {exchange.path} at {where}: {error.message}")
    assert problems == []
    # The list of endpoints this test checks (printed with -s; asserted below).
    print("\nvalidated against openapi.json:", *sorted(checked), sep="\n  ")
    assert len(checked) >= 30


def test_contract_scenario_reaches_every_documented_route(
    driven: tuple[Any, list[Exchange]],
) -> None:
    sandbox, log = driven
    served = {
        (_norm(rule.rule), method)
        for rule in sandbox.app.url_map.iter_rules()
        for method in rule.methods or ()
        if method in ("GET", "POST", "PUT", "DELETE")
    }
    documented = set(_documented())
    exercised = {(_norm(_route_of(sandbox, e) or ""), e.method) for e in log}
    missing = sorted((served & documented) - exercised)
    assert missing == []
