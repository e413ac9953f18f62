"""What one post may mention and one PM may reach, as Discourse checks it.

lib/validators/post_validator.rb#max_mention_validator (max_mentions_per_post,
newuser_max_mentions_per_post; staff exempt) and lib/post_creator.rb#valid?
(max_allowed_message_recipients; staff exempt), defaults from config/site_settings.yml.
"""

from __future__ import annotations

import requests

from worker.sandbox import RunningSandbox

UNCATEGORIZED = 1


def _people(sandbox: RunningSandbox, n: int) -> list[str]:
    names = [f"user{i:02d}" for i in range(n)]
    for name in names:
        sandbox.forum.create_user(
            username=name, email=f"{name}@example.com", approved=True, emit=False
        )
    return names


def _post(sandbox: RunningSandbox, username: str, **body) -> requests.Response:
    return requests.post(
        sandbox.url + "/posts.json", json=body, headers=sandbox.headers(username), timeout=5
    )


def _topic(sandbox: RunningSandbox, username: str, raw: str, title: str) -> requests.Response:
    return _post(sandbox, username, title=title, raw=raw, category=UNCATEGORIZED)


def test_a_member_may_mention_ten_people_in_a_post_not_eleven(sandbox: RunningSandbox) -> None:
    names = _people(sandbox, 12)
    author = names[0]
    ten = " ".join(f"@{n}" for n in names[1:11])
    eleven = " ".join(f"@{n}" for n in names[1:12])
    ok = _topic(sandbox, author, f"Hello {ten} and welcome", "Ten mentions in a topic")
    assert ok.status_code == 200, ok.text
    refused = _topic(sandbox, author, f"Hello {eleven} and welcome", "Eleven mentions here")
    assert refused.status_code == 422
    assert refused.json()["errors"] == ["Sorry, you can only mention 10 users in a post."]
    reply = _post(sandbox, author, topic_id=ok.json()["topic_id"], raw=f"Again {eleven}!")
    assert reply.status_code == 422


def test_mentions_count_each_user_once_and_not_in_quotes(sandbox: RunningSandbox) -> None:
    names = _people(sandbox, 12)
    twice = " ".join(f"@{n} @{n}" for n in names[1:11])
    quoted = f'[quote="x, post:1, topic:1"]\n@{names[11]}\n[/quote]\n\n{twice}'
    ok = _topic(sandbox, names[0], quoted, "Ten people mentioned twice")
    assert ok.status_code == 200, ok.text


def test_staff_are_not_limited_in_mentions(sandbox: RunningSandbox) -> None:
    names = _people(sandbox, 15)
    raw = "Reminder for " + " ".join(f"@{n}" for n in names)
    assert _topic(sandbox, "system", raw, "Fifteen mentions by staff").status_code == 200


def test_a_new_user_may_mention_two(sandbox: RunningSandbox) -> None:
    names = _people(sandbox, 4)
    sandbox.forum.find_user(names[0]).trust_level = 0
    ok = _topic(
        sandbox, names[0], f"Hello there @{names[1]} @{names[2]}", "Two mentions by a new user"
    )
    refused = _topic(
        sandbox, names[0], f"Hi @{names[1]} @{names[2]} @{names[3]}", "Three mentions by a new user"
    )
    assert ok.status_code == 200, ok.text
    assert refused.status_code == 422
    assert refused.json()["errors"] == ["Sorry, new users can only mention 2 users in a post."]


def test_an_edit_is_checked_like_a_new_post(sandbox: RunningSandbox) -> None:
    names = _people(sandbox, 12)
    made = _topic(sandbox, names[0], "A plain first post for now", "Edited to many mentions")
    eleven = " ".join(f"@{n}" for n in names[1:12])
    edit = requests.put(
        f"{sandbox.url}/posts/{made.json()['id']}.json",
        json={"post": {"raw": f"Now {eleven}"}},
        headers=sandbox.headers(names[0]),
        timeout=5,
    )
    assert edit.status_code == 422


def test_a_member_may_message_thirty_people_staff_more(sandbox: RunningSandbox) -> None:
    names = _people(sandbox, 33)
    sender, others = names[0], names[1:]

    def pm(by: str, to: list[str]) -> requests.Response:
        return _post(
            sandbox,
            by,
            title="A message to many",
            raw="Hello everyone, this is a message.",
            archetype="private_message",
            target_recipients=",".join(to),
        )

    assert pm(sender, others[:30]).status_code == 200
    refused = pm(sender, others[:31])
    assert refused.status_code == 422
    assert refused.json()["errors"] == ["Sorry, you can send a message to at most 30 recipients."]
    assert pm("system", others).status_code == 200
