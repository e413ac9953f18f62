"""Execute a plan through the forum client; converge by re-planning after a failure.

Each step is safe to repeat: creates are only planned for what the forum lacks, and
updates send the whole desired state of one resource. After a 429 or 5xx in the
middle, ``sync`` waits, re-reads the forum and plans again, so what already landed
is not applied twice and what is left gets done (or the next ``diamond apply`` does it).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from pydantic import SecretStr

from worker.config_sync.actual import read_actual
from worker.config_sync.desired import INTERNAL_HOSTS, Desired, with_items
from worker.config_sync.diff import diff
from worker.config_sync.ownership import mark, read_mark
from worker.config_sync.plan import (
    BADGE,
    CATEGORY,
    GROUP,
    SITE_SETTING,
    USER_FIELD,
    WEBHOOK,
    Change,
    ForumState,
    Kind,
    Plan,
)
from worker.config_sync.safety import check_safety
from worker.forum.errors import ForumError, ForumRejected, ForumUnavailable, RateLimited

if TYPE_CHECKING:
    from worker.forum.client import ForumClient

log = logging.getLogger(__name__)


class ApplyFailed(Exception):
    """A step failed; ``done`` lists what landed before it, ``change`` the failed step."""

    def __init__(self, change: Change, error: ForumError, done: list[Change]) -> None:
        super().__init__(f"{change.kind} {change.resource} {change.key}: {error}")
        self.change = change
        self.error = error
        self.done = done


@dataclass
class SyncReport:
    first_plan: Plan
    final_plan: Plan
    done: list[Change] = field(default_factory=list)
    rounds: int = 0
    failures: list[str] = field(default_factory=list)  # one line per retried failure

    @property
    def converged(self) -> bool:
        return not self.final_plan.changes


def apply_plan(client: ForumClient, plan: Plan, state: ForumState) -> list[Change]:
    """Run every change in order; stop at the first forum error (``ApplyFailed``)."""
    runner = _Runner(client, state)
    done: list[Change] = []
    for change in plan.changes:
        try:
            runner.run(change)
        except ForumError as exc:
            raise ApplyFailed(change, exc, done) from exc
        log.debug("applied: %s %s %s", change.kind, change.resource, change.key)
        done.append(change)
    return done


def sync(
    client: ForumClient,
    desired: Desired,
    *,
    force: bool = False,
    max_rounds: int = 6,
    max_wait: float = 60.0,
    sleep: Callable[[float], None] = time.sleep,
    on_plan: Callable[[Plan], None] | None = None,
) -> SyncReport:
    """Plan, check safety, apply; after a retriable failure wait and plan again.

    Raises ``UnsafePlan`` (nothing written) and non-retriable ``ForumError``s; a forum
    that keeps failing leaves ``report.converged`` false and the rest for the next run.
    """
    report: SyncReport | None = None
    backoff = 1.0
    for round_number in range(1, max_rounds + 1):
        try:
            state = read_actual(client, desired)
            plan = diff(desired, state)
            if report is None:
                report = SyncReport(first_plan=plan, final_plan=plan)
                if on_plan is not None:
                    on_plan(plan)  # shown before the safety check, so a refusal can be read
            check_safety(plan, desired.safety, force=force)
            report.final_plan, report.rounds = plan, round_number
            if not plan.changes:
                return report
            report.done += apply_plan(client, plan, state)
        except ApplyFailed as exc:
            assert report is not None
            report.done += exc.done
            if not exc.error.retriable:
                raise exc.error from exc
            wait = _wait_for(exc.error, backoff)
            report.failures.append(f"{exc} (retrying in {wait:.0f}s)")
        except (RateLimited, ForumUnavailable) as exc:  # while reading the forum
            wait = _wait_for(exc, backoff)
            if report is not None:
                report.failures.append(f"reading the forum: {exc} (retrying in {wait:.0f}s)")
            elif round_number == max_rounds:
                raise
        else:
            continue  # applied the whole plan: the next round confirms nothing is left
        sleep(min(wait, max_wait))
        backoff = min(backoff * 2, max_wait)
    if report is None:  # pragma: no cover - the loop either returns, raises or sets it
        raise RuntimeError("no round completed")
    try:
        report.final_plan = diff(desired, read_actual(client, desired))
    except (RateLimited, ForumUnavailable) as exc:
        report.failures.append(f"reading the forum: {exc}")
    return report


def _wait_for(error: ForumError, backoff: float) -> float:
    if isinstance(error, RateLimited):
        return max(error.wait_seconds, 0.0)
    return backoff


def _forum_id(change: Change) -> int:
    """The forum id an update or delete acts on (the plan sets it for every such change)."""
    if change.id is None:
        raise ValueError(f"{change.kind} {change.resource} {change.key}: no forum id")
    return int(change.id)


class _Runner:
    """Turns one ``Change`` into one client call, resolving names to forum ids."""

    def __init__(self, client: ForumClient, state: ForumState) -> None:
        self.client = client
        self.event_types = dict(state.event_types)
        self.group_ids = {g.natural_key: g.id for g in state.groups}
        self.category_ids = {c.natural_key: c.id for c in state.categories}

    def run(self, change: Change) -> None:
        reason = f"plugin_config: {change.kind} {change.resource} {change.key}"
        if change.kind is Kind.DELETE:
            getattr(self.client, f"delete_{_CLIENT_NAMES[change.resource]}")(
                change.id, reason=reason
            )
            return
        handler = getattr(self, f"_{change.resource}")
        handler(change, reason)

    def _site_setting(self, change: Change, reason: str) -> None:
        value = change.desired["value"]
        made = change.desired.get("groups") or ()  # groups this plan created before it
        if made:
            value = with_items(value, [str(self._group_id(name)) for name in made])
        self.client.set_site_setting(change.key, value, reason=reason)

    def _user_field(self, change: Change, reason: str) -> None:
        attrs = dict(change.desired)
        attrs["description"] = mark(attrs.get("description", ""), change.key)
        attrs["options"] = list(attrs.get("options", ()))
        if change.kind is Kind.CREATE:
            self.client.create_user_field(reason=reason, **attrs)
        else:
            self.client.update_user_field(_forum_id(change), reason=reason, **attrs)

    def _group(self, change: Change, reason: str) -> None:
        attrs = dict(change.desired)
        attrs["bio_raw"] = mark(attrs.pop("bio", ""), change.key)
        if change.kind is Kind.CREATE:
            name = attrs.pop("name")
            created = self.client.create_group(
                name, attrs.pop("full_name", None), reason=reason, **attrs
            )
            if isinstance(created, Mapping) and "id" in created:
                self.group_ids[name] = int(created["id"])
            else:  # the answer lacked the id: look it up for categories that name the group
                self.group_ids[name] = int(self.client.get_group(name)["id"])
        else:
            self.client.update_group(_forum_id(change), reason=reason, **attrs)
            self.group_ids[attrs["name"]] = _forum_id(change)

    def _category(self, change: Change, reason: str) -> None:
        attrs = dict(change.desired)
        attrs["description"] = mark(attrs.get("description", ""), change.key)
        parent = attrs.pop("parent", None)
        attrs["parent_category_id"] = self.category_ids[parent] if parent else None
        moderating = attrs.pop("moderating_groups", None)
        if moderating is not None:
            attrs["moderating_group_ids"] = [self._group_id(name) for name in moderating]
        if change.kind is Kind.CREATE:
            result = self.client.create_category(attrs.pop("name"), reason=reason, **attrs)
            self.category_ids[change.desired["slug"]] = int(result["id"])
        else:
            if parent is None:
                attrs.pop("parent_category_id")  # None would be dropped by the client anyway
            result = self.client.update_category(_forum_id(change), reason=reason, **attrs)
        self._describe_category(result, attrs["description"], change.key, reason)

    def _describe_category(
        self, category: Mapping[str, Any], text: str, key: str, reason: str
    ) -> None:
        """Real Discourse ignores ``description`` on create/update: the description is the
        first paragraph of the category's "About" topic, so write it there when needed."""
        shown = category.get("description_text") or category.get("description")
        if read_mark(shown, cooked=True)[1] == key:
            return  # the forum took the description (the sandbox does)
        match = re.search(r"/(\d+)/?$", str(category.get("topic_url") or ""))
        if not match:
            return
        topic = self.client.get_topic(int(match.group(1)))
        posts = ((topic.get("post_stream") or {}).get("posts")) or []
        if posts:
            self.client.update_post(int(posts[0]["id"]), text, reason=reason)

    def _group_id(self, name: str) -> int:
        if name not in self.group_ids:
            self.group_ids[name] = int(self.client.get_group(name)["id"])
        return self.group_ids[name]

    def _badge(self, change: Change, reason: str) -> None:
        attrs = dict(change.desired)
        attrs["description"] = mark(attrs.get("description", ""), change.key)
        if change.kind is Kind.CREATE:
            name, tier = attrs.pop("name"), attrs.pop("badge_type_id")
            self.client.create_badge(name, tier, reason=reason, **attrs)
        else:
            self.client.update_badge(_forum_id(change), reason=reason, **attrs)

    def _webhook(self, change: Change, reason: str) -> None:
        attrs = dict(change.desired)
        missing = [name for name in attrs["events"] if name not in self.event_types]
        if missing:
            raise ValueError(f"the forum has no webhook event type(s) {', '.join(missing)}")
        ids = sorted(self.event_types[name] for name in attrs.pop("events"))
        if "categories" in attrs:  # the chat webhook's filter, by slug: ids now
            slugs = attrs.pop("categories")
            unknown = [slug for slug in slugs if slug not in self.category_ids]
            if unknown or not slugs:
                # An empty filter would let every category's chat through.
                raise ValueError(f"the chat webhook's categories are not there: {unknown}")
            attrs["category_ids"] = sorted(self.category_ids[slug] for slug in slugs)
        secret = attrs.pop("secret")
        secret_text = secret.get_secret_value() if isinstance(secret, SecretStr) else secret
        url = str(attrs.get("payload_url") or "")
        try:
            if change.kind is Kind.CREATE:
                attrs.pop("payload_url")
                self.client.create_webhook(url, secret_text, ids, reason=reason, **attrs)
            else:
                self.client.update_webhook(
                    _forum_id(change),
                    reason=reason,
                    secret=secret_text,
                    event_type_ids=ids,
                    **attrs,
                )
        except ForumRejected as exc:
            refused = WebhookUrlRefused.from_rejection(exc, url)
            if refused is None:
                raise
            raise refused from exc


class WebhookUrlRefused(ForumRejected):
    """The forum refused the payload URL as a private or internal address.

    ``WebHook#ensure_payload_url_allowed`` adds ``webhooks.payload_url.blocked_or_internal``
    to the record and the controller answers 422 with it; the operator fixes it in the
    forum's site setting ``allowed_internal_hosts``, so the message says just that.
    """

    @classmethod
    def from_rejection(cls, exc: ForumRejected, url: str) -> WebhookUrlRefused | None:
        said = " ".join(exc.errors)
        if exc.status != 422 or not re.search(r"internal|blocked|private", said, re.IGNORECASE):
            return None
        host = urlsplit(url).hostname or url
        message = (
            f"the forum refuses webhooks to {host} ({said.strip()}): add {host} to the "
            f"forum's site setting {INTERNAL_HOSTS} (Admin > Settings), or list it under "
            f"{INTERNAL_HOSTS} in plugin_config/site_settings.yml"
        )
        return cls(message, status=exc.status, path=exc.path, errors=exc.errors)


_CLIENT_NAMES = {
    USER_FIELD: "user_field",
    GROUP: "group",
    CATEGORY: "category",
    BADGE: "badge",
    WEBHOOK: "webhook",
    SITE_SETTING: "site_setting",
}
