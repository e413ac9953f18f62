"""Admin rate limit, fault injection, the command line and concurrent use, over real HTTP."""

from __future__ import annotations

import threading
import time

import pytest
import requests
from pydiscourse import DiscourseClient

from tests.support.sandbox_api import Api
from worker.cli import main
from worker.commands.sandbox import parse_rate_limit
from worker.sandbox import RunningSandbox, build_sandbox, parse_rule, start_sandbox


def _get(sandbox: RunningSandbox, path: str, username: str = "system") -> requests.Response:
    return requests.get(sandbox.url + path, headers=sandbox.headers(username), timeout=5)


def test_admin_rate_limit_answers_discourses_429_with_retry_after() -> None:
    with start_sandbox(port=0, api_key="rl-key", rate_limit=(3, 2.0)) as sandbox:
        statuses = [_get(sandbox, "/categories.json").status_code for _ in range(3)]
        limited = _get(sandbox, "/categories.json")
    assert statuses == [200, 200, 200]
    assert limited.status_code == 429
    assert limited.headers["Content-Type"] == "application/json; charset=utf-8"
    assert limited.headers["Retry-After"] == "2"
    assert limited.json() == {
        "errors": [
            "You’ve performed this action too many times. "
            "Please wait 2 seconds before trying again."
        ],
        "error_type": "rate_limit",
        "extras": {"wait_seconds": 2, "time_left": "2 seconds"},
    }


def test_compressed_window_frees_the_bucket_again() -> None:
    with start_sandbox(port=0, api_key="rl-key", rate_limit=(2, 0.3)) as sandbox:
        assert [_get(sandbox, "/categories.json").status_code for _ in range(3)] == [200, 200, 429]
        time.sleep(0.35)
        assert _get(sandbox, "/categories.json").status_code == 200


def test_rate_limit_is_off_by_default_and_member_keys_are_not_in_the_admin_bucket(
    sandbox: RunningSandbox,
) -> None:
    assert {_get(sandbox, "/categories.json").status_code for _ in range(80)} == {200}
    sandbox.forum.create_user(username="member", email="m@example.com", approved=True, emit=False)
    key = sandbox.user_api_key("member")
    sandbox.set_rate_limit(1, 60)
    member = {"Api-Key": key, "Api-Username": "member"}
    codes = {
        requests.get(sandbox.url + "/categories.json", headers=member, timeout=5).status_code
        for _ in range(5)
    }
    assert codes == {200}
    assert [_get(sandbox, "/categories.json").status_code for _ in range(2)] == [200, 429]


def test_site_setting_changes_the_enforced_limit(sandbox: RunningSandbox) -> None:
    sandbox.set_rate_limit(100, 60)
    requests.put(
        sandbox.url + "/admin/site_settings/max_admin_api_reqs_per_minute.json",
        data={"max_admin_api_reqs_per_minute": "2"},
        headers=sandbox.headers(),
        timeout=5,
    ).raise_for_status()
    assert [_get(sandbox, "/categories.json").status_code for _ in range(3)] == [200, 200, 429]


@pytest.mark.parametrize(
    ("shape", "content_type", "retry_after", "body_start"),
    [
        ("json", "application/json; charset=utf-8", "7", '{"errors": ["You’ve performed'),
        ("text", "text/plain", "7", "Slow down, too many requests from this IP address."),
        ("html", "text/html", None, "<html>"),
    ],
)
def test_injected_429_comes_in_all_three_shapes(
    sandbox: RunningSandbox, shape: str, content_type: str, retry_after: str | None, body_start: str
) -> None:
    sandbox.add_fault(f"GET /categories.json:429=1,shape={shape},wait=7")
    reply = _get(sandbox, "/categories.json")
    assert reply.status_code == 429
    assert reply.headers["Content-Type"] == content_type
    assert reply.headers.get("Retry-After") == retry_after
    assert reply.text.startswith(body_start)
    if shape == "json":
        assert reply.json()["extras"]["wait_seconds"] == 7


def test_faults_apply_only_to_matching_method_and_path(sandbox: RunningSandbox) -> None:
    sandbox.add_fault("PUT /groups/*/members.json:500=1")
    assert _get(sandbox, "/groups.json").status_code == 200
    reply = requests.put(
        sandbox.url + "/groups/1/members.json",
        data={"usernames": "x"},
        headers=sandbox.headers(),
        timeout=5,
    )
    assert (reply.status_code, reply.json()) == (
        500,
        {"status": 500, "error": "Internal Server Error"},
    )
    sandbox.clear_faults()
    assert _get(sandbox, "/groups.json").status_code == 200


def test_fault_shares_are_deterministic_for_a_seed() -> None:
    def run(seed: int) -> list[int]:
        sandbox = build_sandbox(api_key="k", seed=seed, faults=["*:500=0.3,429=0.2"])
        api = Api(sandbox)
        statuses = [api.get("/categories.json").status for _ in range(40)]
        sandbox.webhooks.close()
        return statuses

    first, again, other = run(7), run(7), run(8)
    assert first == again
    assert first != other
    assert {500, 429, 200} == set(first)


def test_latency_is_added_through_the_sleeper() -> None:
    slept: list[float] = []
    sandbox = build_sandbox(
        api_key="k", faults=["GET /posts.json:latency=0.25"], sleep=slept.append
    )
    api = Api(sandbox)
    api.get("/posts.json")
    api.get("/categories.json")
    sandbox.webhooks.close()
    assert slept == [0.25]


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        ("no-options", "expected PATTERN:key=value"),
        ("*:500=2", "between 0 and 1"),
        ("*:500=0.7,429=0.6", "add up to 1.3"),
        ("*:shape=xml", "shape must be"),
        ("*:bogus=1", "unknown key"),
    ],
)
def test_bad_fault_specs_are_explained(spec: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        parse_rule(spec)


def test_fault_spec_parses_method_pattern_and_options() -> None:
    rule = parse_rule(
        "put /groups/*:503=0.1,429=0.2,shape=mixed,wait=3,latency=0.5,latency_share=0.5"
    )
    assert (rule.method, rule.pattern, rule.status_shares, rule.rate_limit_share) == (
        "PUT",
        "/groups/*",
        {503: 0.1},
        0.2,
    )
    assert (rule.shape, rule.wait_seconds, rule.latency, rule.latency_share) == (
        "mixed",
        3,
        0.5,
        0.5,
    )


@pytest.mark.parametrize(
    ("text", "expected"), [("60/60", (60, 60.0)), ("5/0.5", (5, 0.5)), ("30", (30, 60.0))]
)
def test_rate_limit_option_parses(text: str, expected: tuple[int, float]) -> None:
    assert parse_rate_limit(text) == expected


@pytest.mark.parametrize("args", [["--rate-limit", "x/y"], ["--fault", "nonsense"]])
def test_sandbox_command_rejects_bad_options_with_exit_2(
    args: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["sandbox", "--api-key", "secret-key-1", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("diamond sandbox: ")
    assert "secret-key-1" not in err


def test_concurrent_signups_get_unique_ids(sandbox: RunningSandbox) -> None:
    results: list[int] = []
    lock = threading.Lock()

    def sign_up(i: int) -> None:
        reply = requests.post(
            sandbox.url + "/users.json",
            json={
                "username": f"user_{i}",
                "email": f"u{i}@example.com",
                "password": "p" * 16,
                "approved": True,
            },
            headers=sandbox.headers(),
            timeout=10,
        )
        with lock:
            results.append(reply.json()["user_id"])

    threads = [threading.Thread(target=sign_up, args=(i,)) for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(results)) == 20


def test_pydiscourse_talks_to_the_sandbox(sandbox: RunningSandbox) -> None:
    client = DiscourseClient(sandbox.url, api_username="admin", api_key=sandbox.api_key, timeout=5)
    client.create_user(
        "Li Lei", "lilei", "lilei@example.com", "p" * 16, active="true", approved="true"
    )
    assert client.user("lilei")["username"] == "lilei"
    post = client.create_post(
        "A post written by pydiscourse", category_id=1, title="Created through pydiscourse"
    )
    assert client.topic_posts(post["topic_id"])["post_stream"]["posts"][0]["id"] == post["id"]
    assert [c["name"] for c in client.categories()] == ["Uncategorized"]
