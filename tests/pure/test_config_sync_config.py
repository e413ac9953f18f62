"""Loading plugin_config/: the shipped example, and located problems for broken files."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from worker.config_sync.desired import ConfigProblems, load_desired
from worker.rules import load_rules
from worker.rules.checks import user_field_refs

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "plugin_config"


def _load(directory: Path, **kwargs):
    kwargs.setdefault("receiver_url", "https://diamond.example.org/webhooks")
    kwargs.setdefault("webhook_secret", "a-secret-for-tests")
    return load_desired(directory, **kwargs)


def test_shipped_example_describes_the_whole_forum() -> None:
    rules = load_rules(ROOT / "rules")
    desired = _load(SHIPPED, badges=rules.badges.badges)
    assert {g.name for g in desired.groups.items} >= {
        "camp",
        "members",
        "leaders",
        "alumni",
        "reviewers",
    }
    # every group and category the rules name exists in plugin_config
    assert set(rules.community.groups.model_dump().values()) <= {
        g.name for g in desired.groups.items
    }
    assert set(rules.community.categories.model_dump().values()) <= {
        c.slug for c in desired.categories.items
    }
    assert rules.gating.payment.paid_group in {g.name for g in desired.groups.items}
    # every user field the rules read is declared (by key)
    keys = {f.key for f in desired.user_fields.items}
    named = {name: ".".join(map(str, path)) for path, name in user_field_refs(rules)}
    assert {"referrer", "application", "city", "previous_username"} <= set(named)
    undeclared = {name: where for name, where in named.items() if name not in keys}
    assert not undeclared, f"rules name user fields plugin_config/ does not declare: {undeclared}"
    assert {f.field_type for f in desired.user_fields.items} >= {"text", "confirm", "dropdown"}
    assert [b.key for b in desired.badges.items] == [b.slug for b in rules.badges.badges]
    assert desired.site_settings["must_approve_users"] is True
    assert desired.webhook is not None and "post_created" in desired.webhook.events
    audit = next(c for c in desired.categories.items if c.slug == "audit-log")
    assert set(audit.permissions) <= {"staff", "admins", "moderators", "reviewers"}


BROKEN = [
    pytest.param(
        "groups.yml",
        "groups:\n  - name: camp\n    visibilty_level: staff\n",
        ["groups.yml:3:5: groups[0].visibilty_level: unknown key 'visibilty_level'"],
        id="unknown key is located",
    ),
    pytest.param(
        "groups.yml",
        "groups:\n  - name: camp\n    messageable_level: friends\n",
        ["groups.yml:3:5: groups[0].messageable_level: unknown level 'friends'"],
        id="unknown level name is located",
    ),
    pytest.param(
        "categories.yml",
        "categories:\n  - slug: digests\n    name: D\n    permissions:\n      membres: full\n",
        ["categories.yml:5:7: categories[0].permissions.membres: unknown group 'membres'"],
        id="unknown group in permissions is located",
    ),
    pytest.param(
        "categories.yml",
        "categories:\n  - slug: a\n    name: A\n    parent: b\n",
        ["categories.yml:4:5: categories[0].parent: no category with slug 'b'"],
        id="parent must be configured",
    ),
    pytest.param(
        "user_fields.yml",
        "fields:\n  - key: lead\n    name: Lead\n    field_type: dropdown\n",
        ["user_fields.yml:2:5: fields[0]: options: a dropdown field needs at least one option"],
        id="dropdown without options",
    ),
    pytest.param(
        "groups.yml",
        "groups:\n  - name: camp\n  - name: camp\n",
        ["groups.yml:3:5: groups[1]: duplicate 'camp' (also groups[0])"],
        id="duplicate group",
    ),
    pytest.param(
        "sync.yml",
        "safety:\n  max_change_share: 3\n",
        ["sync.yml:2:3: safety.max_change_share:"],
        id="share above one",
    ),
    pytest.param(
        "groups.yml",
        "groups:\n  - name: camp\n    full_name：预备营\n",
        ["groups.yml:3:"],
        id="full-width colon is a located error",
    ),
]


@pytest.mark.parametrize(("filename", "text", "expected"), BROKEN)
def test_broken_file_is_reported_with_file_line_col(
    tmp_path: Path, filename: str, text: str, expected: list[str]
) -> None:
    (tmp_path / filename).write_text(text, encoding="utf-8")
    with pytest.raises(ConfigProblems) as raised:
        _load(tmp_path)
    lines = [str(p).removeprefix(tmp_path.as_posix() + "/") for p in raised.value.problems]
    assert len(lines) == len(expected), lines
    for line, prefix in zip(lines, expected, strict=True):
        assert line.startswith(prefix), line


def test_every_problem_in_every_file_at_once(tmp_path: Path) -> None:
    shutil.copytree(SHIPPED, tmp_path / "pc")
    config = tmp_path / "pc"
    (config / "groups.yml").write_text(
        (config / "groups.yml")
        .read_text()
        .replace("visibility_level: staff", "visibility_level: 7", 1)
    )
    (config / "sync.yml").write_text("safety:\n  max_change_share: 0\n")
    (config / "webhook.yml").write_text("events: []\n")
    with pytest.raises(ConfigProblems) as raised:
        _load(config)
    files = sorted(p.file.rsplit("/", 1)[-1] for p in raised.value.problems)
    assert files == ["groups.yml", "sync.yml"]  # webhook checks wait for valid files
    with pytest.raises(ConfigProblems) as raised:
        _load(SHIPPED, receiver_url="", webhook_secret="")
    assert [p.message for p in raised.value.problems] == [
        "the webhook needs DIAMOND_RECEIVER_URL (http:// or https://), or set enabled: false",
        "the webhook needs DIAMOND_WEBHOOK_SECRET, or set enabled: false",
    ]


def test_missing_files_manage_nothing(tmp_path: Path) -> None:
    desired = _load(tmp_path)
    assert desired.groups.items == () and desired.site_settings == {}
    assert desired.webhook is None or desired.webhook.events == ()


def test_webhook_can_be_disabled_without_settings(tmp_path: Path) -> None:
    (tmp_path / "webhook.yml").write_text("enabled: false\n")
    assert _load(tmp_path, receiver_url="", webhook_secret="").webhook is None
