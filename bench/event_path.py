"""Which worker modules one event visits, in order, from the receiver to the forum calls.

    python -m bench.event_path [--show]

Sets up a sandbox forum configured from ``plugin_config/`` and a private Redis, signs an
applicant up (and confirms the email), then replays two signed deliveries the sandbox
made, each through the receiver (``Receiver.handle``) and the actor it enqueues (run in
this thread): the applicant's ``user_created`` (gating: the approval, the camp) and a
``post_created`` of the new camper's first post (camp progress, ledger, recognition).

A profiler hook (``sys.setprofile``) records every call into a file of ``worker/`` (not
the sandbox, which stands for the forum), receiver and actor apart, consecutive calls in
one file folded into one visit. Figures per event: the distinct files visited (receiver
and actor); the actor's distinct files; the actor's edge-layer path (the pure core and
data, ``engine/``, ``rules/``, ``actions.py``, left out; the client and its helpers one
stop): how often it moves from one module to another ("bounces") and how many modules it
enters again after leaving them ("revisited"). ``--show`` prints the paths.

The issue's target (#20): about half the files of the code before it, no module visited
twice along the edge layer (receiver → step → Applier → client).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.common import Figure, emit

ROOT = Path(__file__).resolve().parent.parent
WORKER = str(ROOT / "worker") + os.sep
SKIP = (str(ROOT / "worker" / "sandbox") + os.sep,)
SECRET = "event-path-secret"
API_KEY = "event-path-key"


# The pure core and data (engine, rules models, actions) and the client's insides are not
# the edge layer: calls into them are counted as files, not as bounces.
PURE = ("worker/engine/", "worker/rules/", "worker/actions.py")
CLIENT = "worker/forum/"


@dataclass
class Trace:
    event: str
    receiver: list[str] = field(default_factory=list)  # folded: one entry per visit
    actor: list[str] = field(default_factory=list)

    @property
    def distinct(self) -> list[str]:
        return list(dict.fromkeys([*self.receiver, *self.actor]))

    @property
    def edge(self) -> list[str]:
        """The actor's path through the edge layer (the client as one stop)."""
        out: list[str] = []
        for name in self.actor:
            if name.startswith(PURE):
                continue
            name = "worker/forum/*" if name.startswith(CLIENT) else name
            if not out or out[-1] != name:
                out.append(name)
        return out

    @property
    def bounces(self) -> int:
        return max(0, len(self.edge) - 1)

    @property
    def revisited(self) -> list[str]:
        seen: dict[str, int] = {}
        for name in self.edge:
            seen[name] = seen.get(name, 0) + 1
        return [name for name, n in seen.items() if n > 1 and name != "worker/forum/*"]


def _short(filename: str) -> str:
    return os.path.relpath(filename, ROOT)


def traced(into: list[str], run: Callable[[], Any]) -> Any:
    def hook(frame: Any, what: str, _arg: Any) -> None:
        if what != "call":
            return
        filename = frame.f_code.co_filename
        if filename.startswith(WORKER) and not filename.startswith(SKIP):
            name = _short(filename)
            if not into or into[-1] != name:
                into.append(name)

    sys.setprofile(hook)
    try:
        return run()
    finally:
        sys.setprofile(None)


def _environ(delivery: Any) -> dict[str, Any]:
    from werkzeug.test import EnvironBuilder

    headers = {k: v for k, v in delivery.headers.items() if k.lower() != "content-length"}
    return EnvironBuilder(
        path="/webhook", method="POST", data=delivery.body, headers=headers
    ).get_environ()


def _replay(receiver: Any, broker: Any, delivery: Any) -> Trace:
    """Receiver (traced) → enqueued messages → each actor (traced), in this thread."""
    from dramatiq import Message
    from werkzeug.wrappers import Request

    trace = Trace(delivery.event)
    request = Request(_environ(delivery))
    response = traced(trace.receiver, lambda: receiver.handle(request))
    if response.status_code != 202:
        raise RuntimeError(f"{delivery.event}: receiver answered {response.status_code}")
    for queue in list(broker.queues):
        q = broker.queues[queue]
        while not q.empty():
            message = Message.decode(q.get_nowait())
            actor = broker.get_actor(message.actor_name)
            traced(trace.actor, lambda: actor(*message.args, **message.kwargs))  # noqa: B023
    return trace


def measure() -> list[Trace]:
    import redis
    import requests
    from dramatiq.brokers.stub import StubBroker

    from worker.config_sync.apply import sync
    from worker.config_sync.desired import load_desired
    from worker.forum.client import ForumClient
    from worker.pipeline import broker as broker_mod
    from worker.pipeline import runtime
    from worker.pipeline.jobs import load_actors
    from worker.pipeline.receiver import Receiver, ReceiverConfig
    from worker.redis_server import EmbeddedRedis
    from worker.rules import load_rules
    from worker.sandbox import start_sandbox

    work = Path(tempfile.mkdtemp(prefix="event-path-"))
    server = EmbeddedRedis().start()
    sandbox = start_sandbox(port=0, api_key=API_KEY)
    try:
        rules_dir = work / "rules"
        shutil.copytree(ROOT / "rules", rules_dir)
        for name, value in {
            "DIAMOND_FORUM_URL": sandbox.url,
            "DIAMOND_API_KEY": API_KEY,
            "DIAMOND_API_USERNAME": "system",
            "DIAMOND_REDIS_URL": server.url,
            "DIAMOND_RULES_DIR": str(rules_dir),
            "DIAMOND_MODE": "live",
            "DIAMOND_API_REQUESTS_PER_MINUTE": "10000",
            "DIAMOND_WEBHOOK_SECRET": SECRET,
        }.items():
            os.environ[name] = value
        rules = load_rules(rules_dir)
        client = ForumClient(sandbox.url, API_KEY, "system", on_limit="raise")
        desired = load_desired(
            ROOT / "plugin_config",
            receiver_url="http://127.0.0.1:9/",  # nobody listens: deliveries are kept
            webhook_secret=SECRET,
            badges=rules.badges.badges,
        )
        sync(client, desired, sleep=lambda _s: None)

        # A referrer in the members group, and an applicant who names them.
        from worker.reads.parse import user_field_ids_of

        ids = user_field_ids_of(client.list_user_fields())
        values = {
            "referrer": "mentor01",
            "application": "我想加入这个社区，每周写一篇文章，并认真点评两位伙伴的文章。" * 8,
            "city": "北京",
            "payment": "ORDER-12345",
            "accept_rules": "true",
            "volunteer_leader": "暂不 Not now",
        }
        client.create_user(
            "mentor01",
            "mentor01",
            "mentor01@example.org",
            "secret-password-123",
            approved=True,
            user_fields={
                ids[k]: v for k, v in {**values, "referrer": "founder"}.items() if k in ids
            },
        )
        members = client.get_group(rules.community.groups.members)
        client.add_group_members(int(members["id"]), ["mentor01"])
        body = {
            "name": "newcomer",
            "username": "newcomer",
            "email": "newcomer@example.org",
            "password": "secret-password-123",
            "user_fields": {str(ids[k]): v for k, v in values.items() if k in ids},
        }
        signed = requests.post(sandbox.url + "/users.json", json=body, timeout=10).json()
        token = client._call("GET", "/sandbox/email-token/{username}.json", username="newcomer")
        requests.put(sandbox.url + f"/u/activate-account/{token['token']}", timeout=10)
        sandbox.wait_idle()
        (created,) = [d for d in sandbox.deliveries("user_created") if b'"newcomer"' in d.body]
        assert signed.get("user_id")

        runtime.reset()
        runtime.configure(redis_url=server.url)
        stub = StubBroker(middleware=broker_mod.build_middleware())
        broker_mod._install(stub)
        load_actors()
        runtime.forum(), runtime.rules()  # built once per process, not part of an event's path
        stub.emit_after("process_boot")
        receiver = Receiver(
            ReceiverConfig(SECRET, "system"), stub, redis.Redis.from_url(server.url)
        )
        paths = [_replay(receiver, stub, created)]

        camper = client.as_user("newcomer")
        category = _camp_category(client, rules)
        camper.create_topic(
            title="大家好，我是新来的 newcomer",
            raw="大家好！我来自北京，喜欢写作和阅读，希望在这里每周写一篇文章。" * 4,
            category_id=category,
        )
        sandbox.wait_idle()
        post = [d for d in sandbox.deliveries("post_created") if b'"newcomer"' in d.body][-1]
        paths.append(_replay(receiver, stub, post))
        return paths
    finally:
        sandbox.stop()
        server.cleanup()
        shutil.rmtree(work, ignore_errors=True)


def _camp_category(client: Any, rules: Any) -> int:
    slugs = {str(c["slug"]): int(c["id"]) for c in client.list_categories()}
    return slugs[rules.camp.tasks.introduction.category]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--show", action="store_true", help="print each folded path")
    args = parser.parse_args(argv)
    paths = measure()
    figures = []
    for path in paths:
        if args.show:
            print(f"{path.event} receiver: {' → '.join(path.receiver)}")
            print(f"{path.event} actor: {' → '.join(path.actor)}")
            print(f"{path.event} edge: {' → '.join(path.edge)}")
            print(f"  revisited: {', '.join(path.revisited) or 'none'}")
        figures += [
            Figure(f"{path.event}: distinct worker files", len(path.distinct), "files"),
            Figure(f"{path.event}: actor's distinct files", len(set(path.actor)), "files"),
            Figure(f"{path.event}: actor's edge-layer bounces", path.bounces, "bounces"),
            Figure(f"{path.event}: edge modules revisited", len(path.revisited), "modules"),
        ]
    emit(figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
