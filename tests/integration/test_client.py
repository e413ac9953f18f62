"""ForumClient against canned Discourse answers (``responses``): transport, errors, limits."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
import requests
import responses

from worker.forum.client import DEFAULT_RATE_LIMIT_WAIT, NO_READ_RETRY, ForumClient
from worker.forum.errors import ForumRejected, ForumUnavailable, NotFound, RateLimited
from worker.forum.paths import fill, guess_template
from worker.forum.ratelimit import LocalRateLimiter

BASE = "https://forum.example"
KEY = "k3y-0123456789abcdef-SECRET"


def no_sleep(seconds: float) -> None:
    raise AssertionError(f"a worker client must not sleep (asked for {seconds}s)")


@pytest.fixture
def rsps():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def client() -> ForumClient:
    # How one answer is classified; re-reading after a 5xx is tested in test_faults_client.
    return ForumClient(BASE, KEY, "system", sleep=no_sleep, read_retry=NO_READ_RETRY)


class StubLimiter:
    """Answers acquire() from a script; records penalties."""

    limit = 50
    period = 60.0

    def __init__(self, waits: list[float] | None = None) -> None:
        self.waits = list(waits or [])
        self.penalties: list[float] = []
        self.acquired = 0

    def acquire(self) -> float:
        self.acquired += 1
        return self.waits.pop(0) if self.waits else 0.0

    def penalize(self, wait_seconds: float) -> None:
        self.penalties.append(wait_seconds)


# ---------------------------------------------------------------- 429 in every shape

HTTP_DATE_IN_30S = "<an HTTP date 30 s from when the test runs>"


def _resolve_headers(headers: dict[str, str]) -> dict[str, str]:
    # The date is made when the test runs, not at import: the suite may take minutes.
    in_30s = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    return {k: in_30s if v == HTTP_DATE_IN_30S else v for k, v in headers.items()}


RATE_LIMIT_SHAPES = {
    "json body from the app with extras.wait_seconds and Retry-After": dict(
        body=json.dumps(
            {
                "errors": ["You've performed this action too many times. Please wait 37 seconds."],
                "error_type": "rate_limit",
                "extras": {"wait_seconds": 37, "time_left": "37 seconds"},
            }
        ),
        content_type="application/json; charset=utf-8",
        headers={"Retry-After": "37", "Discourse-Rate-Limit-Error-Code": "admin_api_key_rate"},
        wait=(37, 37),
    ),
    "json wait_seconds without Retry-After": dict(
        body=json.dumps(
            {"errors": ["slow"], "error_type": "rate_limit", "extras": {"wait_seconds": 8}}
        ),
        content_type="application/json",
        headers={},
        wait=(8, 8),
    ),
    "text/plain from the per-IP middleware": dict(
        body="Slow down, too many requests from this IP address. "
        "Please retry again in 12 seconds. Error code: ip_10_secs_limit.",
        content_type="text/plain",
        headers={"Retry-After": "12", "Discourse-Rate-Limit-Error-Code": "ip_10_secs_limit"},
        wait=(12, 12),
    ),
    "text/plain without Retry-After: the seconds are read from the text": dict(
        body="Slow down, too many requests from this IP address. Please retry again in 9 seconds.",
        content_type="text/plain",
        headers={},
        wait=(9, 9),
    ),
    "html from a proxy with Retry-After as an HTTP date": dict(
        body="<html><head><title>429 Too Many Requests</title></head>"
        "<body><center><h1>429 Too Many Requests</h1></center><hr>nginx</body></html>",
        content_type="text/html",
        headers={"Retry-After": HTTP_DATE_IN_30S},
        wait=(25, 30),
    ),
    "html from a proxy with no hint at all: the default wait": dict(
        body="<html><body><h1>429 Too Many Requests</h1></body></html>",
        content_type="text/html",
        headers={},
        wait=(DEFAULT_RATE_LIMIT_WAIT, DEFAULT_RATE_LIMIT_WAIT),
    ),
    "Retry-After longer than the body's hint wins": dict(
        body=json.dumps({"errors": ["x"], "extras": {"wait_seconds": 5}}),
        content_type="application/json",
        headers={"Retry-After": "20"},
        wait=(20, 20),
    ),
}


@pytest.mark.parametrize("shape", RATE_LIMIT_SHAPES.values(), ids=RATE_LIMIT_SHAPES.keys())
def test_429_becomes_rate_limited_with_the_wait_the_forum_asked_for(rsps, shape) -> None:
    limiter = StubLimiter()
    client = ForumClient(BASE, KEY, limiter=limiter, sleep=no_sleep)
    rsps.add(
        "GET",
        f"{BASE}/admin/users/7.json",
        status=429,
        body=shape["body"],
        content_type=shape["content_type"],
        headers=_resolve_headers(shape["headers"]),
    )
    with pytest.raises(RateLimited) as caught:
        client.admin_get_user(7)
    low, high = shape["wait"]
    assert low <= caught.value.wait_seconds <= high
    assert caught.value.retriable
    assert caught.value.path == "GET /admin/users/{id}.json"
    # every process sharing the limiter backs off too
    assert limiter.penalties == [caught.value.wait_seconds]


def test_json_429_message_carries_discourse_error_code(rsps, client) -> None:
    shape = RATE_LIMIT_SHAPES["json body from the app with extras.wait_seconds and Retry-After"]
    rsps.add(
        "GET",
        f"{BASE}/admin/badges.json",
        status=429,
        body=shape["body"],
        content_type="application/json",
        headers=shape["headers"],
    )
    with pytest.raises(RateLimited) as caught:
        client.list_badges()
    assert "admin_api_key_rate" in str(caught.value)
    assert "37 seconds" in str(caught.value)


def test_wait_policy_sleeps_then_retries_after_429(rsps) -> None:
    slept: list[float] = []
    client = ForumClient(BASE, KEY, on_limit="wait", sleep=slept.append)
    rsps.add(
        "GET",
        f"{BASE}/admin/badges.json",
        status=429,
        body="slow down",
        content_type="text/plain",
        headers={"Retry-After": "3"},
    )
    rsps.add("GET", f"{BASE}/admin/badges.json", json={"badges": [{"id": 1}]})
    assert client.list_badges() == [{"id": 1}]
    assert slept == [3.0]
    assert client.call_counts["GET /admin/badges.json"] == 2


def test_wait_policy_gives_up_past_max_wait(rsps) -> None:
    slept: list[float] = []
    client = ForumClient(BASE, KEY, on_limit="wait", max_wait=5, sleep=slept.append)
    rsps.add("GET", f"{BASE}/admin/badges.json", status=429, body="", headers={"Retry-After": "60"})
    with pytest.raises(RateLimited) as caught:
        client.list_badges()
    assert caught.value.wait_seconds == 60
    assert slept == []


def test_exhausted_budget_raises_without_calling_the_forum_in_raise_mode(rsps) -> None:
    limiter = StubLimiter(waits=[4.5])
    client = ForumClient(BASE, KEY, limiter=limiter, sleep=no_sleep)
    with pytest.raises(RateLimited) as caught:
        client.list_badges()
    assert caught.value.wait_seconds == 4.5
    assert len(rsps.calls) == 0
    assert client.call_counts == {}


def test_exhausted_budget_waits_in_wait_mode(rsps) -> None:
    limiter = StubLimiter(waits=[0.5, 0.25])
    slept: list[float] = []
    client = ForumClient(BASE, KEY, limiter=limiter, on_limit="wait", sleep=slept.append)
    rsps.add("GET", f"{BASE}/admin/badges.json", json={"badges": []})
    assert client.list_badges() == []
    assert slept == [0.5, 0.25]
    assert len(rsps.calls) == 1


def test_local_limiter_refuses_the_request_past_the_budget(rsps) -> None:
    client = ForumClient(BASE, KEY, limiter=LocalRateLimiter(limit=2, period=60), sleep=no_sleep)
    rsps.add("GET", f"{BASE}/admin/badges.json", json={"badges": []})
    client.list_badges()
    client.list_badges()
    with pytest.raises(RateLimited) as caught:
        client.list_badges()
    assert 59 < caught.value.wait_seconds <= 60
    assert len(rsps.calls) == 2


def test_on_limit_must_be_raise_or_wait() -> None:
    with pytest.raises(ValueError, match="on_limit"):
        ForumClient(BASE, KEY, on_limit="sleep")  # type: ignore[arg-type]


# ---------------------------------------------------------------- other failures


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_is_retriable_unavailable(rsps, client, status) -> None:
    rsps.add(
        "GET",
        f"{BASE}/groups/camp.json",
        status=status,
        body="<html><body>Bad Gateway</body></html>",
        content_type="text/html",
    )
    with pytest.raises(ForumUnavailable) as caught:
        client.get_group("camp")
    assert caught.value.retriable
    assert caught.value.status == status
    assert "<html>" not in str(caught.value)


@pytest.mark.parametrize(
    "failure",
    [
        requests.ConnectTimeout("connect timed out"),
        requests.ReadTimeout("read timed out"),
        requests.ConnectionError("Connection refused"),
    ],
    ids=["connect timeout", "read timeout", "connection refused"],
)
def test_timeouts_and_connection_errors_are_retriable_unavailable(rsps, client, failure) -> None:
    rsps.add("GET", f"{BASE}/groups/camp.json", body=failure)
    with pytest.raises(ForumUnavailable) as caught:
        client.get_group("camp")
    assert caught.value.retriable
    assert caught.value.path == "GET /groups/{name}.json"
    assert caught.value.__cause__ is None  # the requests exception is not chained


def test_every_call_carries_connect_and_read_timeouts(rsps) -> None:
    client = ForumClient(BASE, KEY, timeout=(2.0, 9.0))
    rsps.add("GET", f"{BASE}/admin/badges.json", json={"badges": []})
    client.list_badges()
    assert rsps.calls[0].request.req_kwargs["timeout"] == (2.0, 9.0)


def test_default_timeouts_are_set() -> None:
    assert ForumClient(BASE, KEY).timeout == (3.05, 30)


def test_other_4xx_is_rejected_with_discourse_message(rsps, client) -> None:
    rsps.add(
        "POST",
        f"{BASE}/admin/groups.json",
        status=422,
        json={"errors": ["Name has already been taken"], "error_type": "invalid_parameters"},
    )
    with pytest.raises(ForumRejected) as caught:
        client.create_group("camp")
    assert not caught.value.retriable
    assert caught.value.status == 422
    assert caught.value.errors == ["Name has already been taken"]
    assert caught.value.error_type == "invalid_parameters"
    assert "Name has already been taken" in str(caught.value)


def test_403_with_failed_json_message_is_rejected_with_that_message(rsps, client) -> None:
    rsps.add(
        "DELETE",
        f"{BASE}/admin/users/9.json",
        status=403,
        json={"deleted": False, "message": "User alice has 3 posts"},
    )
    rsps.add("GET", f"{BASE}/admin/users/9.json", json={"id": 9, "username": "alice"})
    with pytest.raises(ForumRejected) as caught:
        client.delete_user(9)
    assert "has 3 posts" in str(caught.value)


def test_404_is_not_found(rsps, client) -> None:
    rsps.add(
        "GET",
        f"{BASE}/u/ghost.json",
        status=404,
        json={
            "errors": ["The requested URL or resource could not be found."],
            "error_type": "not_found",
        },
    )
    with pytest.raises(NotFound) as caught:
        client.get_user("ghost")
    assert not caught.value.retriable
    assert isinstance(caught.value, ForumRejected)


def test_redirect_is_rejected_with_a_hint_about_url_and_key(rsps, client) -> None:
    rsps.add("GET", f"{BASE}/admin/badges.json", status=302, headers={"Location": "/login"})
    with pytest.raises(ForumRejected, match="check the forum URL and API key"):
        client.list_badges()


# ---------------------------------------------------------------- bodies that are not JSON


def test_empty_body_without_content_type_is_an_empty_dict(rsps, client) -> None:
    rsps.add("PUT", f"{BASE}/admin/users/5/approve.json", body=b"", content_type=None)
    assert client.approve_user(5) == {}


def test_204_is_an_empty_dict(rsps, client) -> None:
    rsps.add("PUT", f"{BASE}/admin/site_settings/title.json", status=204)
    assert client.set_site_setting("title", "钻石") == {}


def test_json_body_with_wrong_content_type_is_still_decoded(rsps, client) -> None:
    rsps.add("GET", f"{BASE}/admin/users/5.json", body='{"id": 5}', content_type="text/html")
    assert client.admin_get_user(5) == {"id": 5}


def test_non_json_success_body_is_unavailable_not_a_crash(rsps, client) -> None:
    rsps.add(
        "GET", f"{BASE}/admin/users/5.json", body="<html>Log in</html>", content_type="text/html"
    )
    with pytest.raises(ForumUnavailable, match="expected JSON"):
        client.admin_get_user(5)


def test_non_json_error_body_without_content_type_is_rejected_not_a_crash(rsps, client) -> None:
    rsps.add("GET", f"{BASE}/admin/users/5.json", status=400, body="bad request", content_type=None)
    with pytest.raises(ForumRejected, match="bad request"):
        client.admin_get_user(5)


def test_success_status_with_errors_in_body_is_rejected(rsps, client) -> None:
    rsps.add("POST", f"{BASE}/posts.json", json={"errors": ["Title is too short"]})
    with pytest.raises(ForumRejected, match="Title is too short"):
        client.create_post(3, "hi")


# ---------------------------------------------------------------- the API key stays secret


def test_api_key_goes_in_headers_with_the_username(rsps, client) -> None:
    rsps.add("GET", f"{BASE}/admin/badges.json", json={"badges": []})
    client.list_badges()
    headers = rsps.calls[0].request.headers
    assert headers["Api-Key"] == KEY
    assert headers["Api-Username"] == "system"
    assert KEY not in rsps.calls[0].request.url


def test_api_key_never_appears_in_errors_or_logs(rsps, client, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    failures = [
        requests.ConnectionError(f"HTTPSConnectionPool: Max retries for url /x?api_key={KEY}"),
        requests.ReadTimeout(f"Read timed out. (headers={{'Api-Key': '{KEY}'}})"),
    ]
    messages = []
    for failure in failures:
        rsps.add("PUT", f"{BASE}/admin/users/5/approve.json", body=failure)
        with pytest.raises(ForumUnavailable) as caught:
            client.approve_user(5, reason="passed the gate")
        messages += [str(caught.value), repr(caught.value), caught.value.message]
        rsps.reset()
    rsps.add("PUT", f"{BASE}/admin/users/6/approve.json", status=500, body=f"boom {KEY}")
    with pytest.raises(ForumUnavailable) as caught:
        client.approve_user(6)
    messages += [str(caught.value), repr(caught.value)]
    rsps.add("PUT", f"{BASE}/admin/users/7/approve.json", body=b"")
    client.approve_user(7, reason="passed the gate")
    logging.getLogger("test").error("reporting %s", caught.value)
    assert all(KEY not in m for m in messages), messages
    assert KEY not in caplog.text
    assert KEY not in repr(client)
    assert "passed the gate" in caplog.text  # writes are logged with their reason


# ---------------------------------------------------------------- counting


def test_calls_are_counted_by_method_and_path_template(rsps, client) -> None:
    rsps.add("PUT", f"{BASE}/admin/users/5/approve.json", body=b"")
    rsps.add("PUT", f"{BASE}/admin/users/6/approve.json", body=b"")
    rsps.add("GET", f"{BASE}/u/%E5%BC%A0%E4%B8%89.json", json={"user": {"id": 3}})
    rsps.add("GET", f"{BASE}/groups/camp/members.json", json={"members": [], "owners": []})
    client.approve_user(5)
    client.approve_user(6)
    client.get_user("张三")
    list(client.iter_group_members("camp"))
    assert client.call_counts == {
        "PUT /admin/users/{id}/approve.json": 2,
        "GET /u/{username}.json": 1,
        "GET /groups/{name}/members.json": 1,
    }


def test_failed_calls_are_counted_too(rsps, client) -> None:
    rsps.add("GET", f"{BASE}/admin/badges.json", status=503)
    with pytest.raises(ForumUnavailable):
        client.list_badges()
    assert client.call_counts["GET /admin/badges.json"] == 1


def test_callers_see_only_the_typed_methods_not_pydiscourse_wrappers(client) -> None:
    from pydiscourse import DiscourseClient

    wrappers = {name for name in dir(DiscourseClient) if not name.startswith("_")}
    leaked = {name for name in wrappers if hasattr(client, name)} - set(vars(ForumClient))
    assert not isinstance(client, DiscourseClient)
    assert leaked == set()


def test_pydiscourse_underneath_goes_through_the_same_door(rsps, client) -> None:
    rsps.add("GET", f"{BASE}/users/alice.json", json={"user": {"id": 4, "username": "alice"}})
    assert client._library.user("alice") == {"id": 4, "username": "alice"}
    assert client.call_counts == {"GET /users/{username}.json": 1}
    assert rsps.calls[0].request.headers["Api-Key"] == KEY
    assert rsps.calls[0].request.req_kwargs["timeout"] == (3.05, 30)


def test_as_user_acts_as_member_sharing_session_limiter_and_counts(rsps) -> None:
    limiter = StubLimiter()
    admin = ForumClient(BASE, KEY, limiter=limiter)
    member = admin.as_user("alice")
    rsps.add("POST", f"{BASE}/post_actions.json", json={"id": 10})
    member.like_post(10)
    assert rsps.calls[0].request.headers["Api-Username"] == "alice"
    assert admin.api_username == "system"
    assert member.session is admin.session
    assert member.limiter is limiter and limiter.acquired == 1
    assert admin.call_counts == {"POST /post_actions.json": 1}


@pytest.mark.integration
def test_call_counts_are_mirrored_to_a_redis_hash(rsps, redis_client) -> None:
    one = ForumClient(BASE, KEY, counts_redis=redis_client)
    two = ForumClient(BASE, KEY, counts_redis=redis_client)
    rsps.add("GET", f"{BASE}/admin/badges.json", json={"badges": []})
    one.list_badges()
    two.list_badges()
    assert redis_client.hgetall("diamond:forum:calls") == {b"GET /admin/badges.json": b"2"}


GUESSES = {
    "/users/alice.json": "/users/{username}.json",
    "/u/bob.json": "/u/{username}.json",
    "/admin/users/12/approve.json": "/admin/users/{id}/approve.json",
    "/admin/users/list/active.json": "/admin/users/list/active.json",
    "/groups/camp/members.json": "/groups/{name}/members.json",
    "/groups/by-id/3.json": "/groups/by-id/{id}.json",
    "/t/55/posts.json?post_ids[]=1": "/t/{id}/posts.json",
    "/admin/site_settings/title.json": "/admin/site_settings/{name}.json",
    "/user-badges/carol.json": "/user-badges/{username}.json",
}


@pytest.mark.parametrize("path,template", GUESSES.items(), ids=GUESSES.keys())
def test_template_guessed_for_pydiscourse_paths(path, template) -> None:
    assert guess_template(path) == template


def test_fill_quotes_values_and_names_missing_ones() -> None:
    assert fill("/u/{username}.json", username="a b/c") == "/u/a%20b%2Fc.json"
    with pytest.raises(ValueError, match="id"):
        fill("/posts/{id}.json")


# ---------------------------------------------------------------- arguments


def test_naive_datetime_is_refused_before_any_call(rsps, client) -> None:
    with pytest.raises(ValueError, match="time zone"):
        client.silence_user(5, datetime(2030, 1, 1), "spam")
    assert len(rsps.calls) == 0


def test_bad_iterator_flag_and_permission_level_are_refused(client) -> None:
    with pytest.raises(ValueError, match="flag"):
        next(client.iter_admin_users("everyone"))
    with pytest.raises(ValueError, match="1, 2 or 3"):
        client.create_category("x", permissions={"camp": 4})
