"""Which worker modules one event visits, in order, from the receiver to the forum calls.

    python -m bench.event_path [--show]

Sets up a sandbox forum configured from ``plugin_config/`` and a private Redis, signs an
applicant up (and confirms the email), then replays two signed deliveries the sandbox
made, each through the receiver (``Receiver.handle``) and the actor it enqueues (run in
this thread): the applicant's ``user_created`` (gating: the approval, the camp) and a
``post_created`` of the new camper's first post (camp progress, ledger, recognition).

A profiler hook (``sys.setprofile``) records every call into a file of ``worker/`` (not
the sandbox, which stands for the forum) and which ``worker/`` file called it. What counts
as a file visit is what a newcomer reading the path does:

- **files a reader opens**: the receiver's and the actor's files, with the pure core
  counted apart (functions with no I/O a step calls for a value: ``engine/``, the rules'
  models, ``actions.py``, the key names of ``state/keys.py``, the JSON → facts parser
  ``reads/parse.py``; listed, not hidden) and the forum client's insides as one stop;
- **calls between files**: distinct (caller file → callee file) pairs among those: the
  reading tree. Returning from a call is not a move, nor is a file calling itself;
- **files reached twice**: a file reached from two different files, or calling back into
  a file that called it: the reader meets it again from elsewhere (the back-and-forth
  #20 is about). A step calling its store twice is one edge, not a revisit.

The figures of every call in order (each entry into another file after a return counted
as a bounce, the measure before round 2 of #20) are kept for comparison, computed with
the same pure-core set. ``--show`` prints each file with its callers.

The issue's target (#20): about half the files of the code before it (24 for a
``user_created``, 22 for a ``post_created``), no module reached twice along the edge layer
(receiver → step → Applier → client). Reached: 14 and 13 files a reader opens, none
reached twice (19 and 17, one twice, before the receiver's routes, the process set-up at
boot, the actor-owned context and lease, and the Applier's own roster invalidation; 17 and
16 once the roster became state, before the step's ``now`` reached the roster state, the
post step kept its own missing-fact record and gate its own gathering).
Process set-up (settings, the forum client, the rules holder, which clock counts) happens
at worker boot (``runtime.process()``), as here before the first event, not per event.
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


# Counted apart from the files a reader opens: the pure core and data, functions with no
# I/O that a step calls for a value (the engine, the rules' models, actions as data, the
# key names of state/keys.py, the JSON → facts parser reads/parse.py); the rules holder
# (pipeline/runtime.py), which reads files, is not. The inside of the forum client is one
# stop ("worker/forum/*").
PURE = (
    "worker/engine/",
    "worker/rules/models.py",
    "worker/rules/types.py",
    "worker/actions.py",
    "worker/state/keys.py",
    "worker/reads/parse.py",
)
CLIENT = "worker/forum/"


def _stop(name: str) -> str:
    return "worker/forum/*" if name.startswith(CLIENT) else name


@dataclass
class Trace:
    event: str
    receiver: list[str] = field(default_factory=list)  # folded: one entry per visit
    actor: list[str] = field(default_factory=list)
    # (caller file, callee file) of every call from one worker file into another, in order
    calls: list[tuple[str, str]] = field(default_factory=list)

    @property
    def distinct(self) -> list[str]:
        return list(dict.fromkeys([*self.receiver, *self.actor]))

    @property
    def files(self) -> list[str]:
        """The files a reader opens: receiver and actor, the pure core apart, the client
        one file."""
        return list(dict.fromkeys(_stop(n) for n in self.distinct if not n.startswith(PURE)))

    @property
    def pure(self) -> list[str]:
        return [n for n in self.distinct if n.startswith(PURE)]

    @property
    def edges(self) -> list[tuple[str, str]]:
        """Distinct calls from one file a reader opens into another (the reading tree)."""
        out = []
        for caller, callee in self.calls:
            if callee.startswith(PURE):
                continue
            a, b = _stop(caller), _stop(callee)
            if a != b and (a, b) not in out:
                out.append((a, b))
        return out

    @property
    def reached_twice(self) -> list[str]:
        """Files reached from more than one other file, or calling back into a file that
        called them: a reader who met the file once meets it again elsewhere. The client,
        the path's end, is not counted."""
        callers: dict[str, set[str]] = {}
        for a, b in self.edges:
            callers.setdefault(b, set()).add(a)
        twice = {b for b, found in callers.items() if len(found) > 1}
        twice |= {b for a, b in self.edges if (b, a) in self.edges}
        return [n for n in self.files if n in twice and n != "worker/forum/*"]

    # --- the figures before #20 round 2 (every call in order, kept to compare) ---

    @property
    def edge(self) -> list[str]:
        """The actor's path through the edge layer (the client as one stop)."""
        out: list[str] = []
        for name in self.actor:
            if name.startswith(PURE):
                continue
            name = _stop(name)
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


def _ours(filename: str) -> bool:
    return filename.startswith(WORKER) and not filename.startswith(SKIP)


def traced(into: list[str], run: Callable[[], Any], calls: list[tuple[str, str]]) -> Any:
    def hook(frame: Any, what: str, _arg: Any) -> None:
        if what != "call":
            return
        filename = frame.f_code.co_filename
        if _ours(filename):
            name = _short(filename)
            if not into or into[-1] != name:
                into.append(name)
            # The nearest worker file up the stack called it (a library in between, e.g.
            # dramatiq or redis-py calling back, is looked through).
            caller = frame.f_back
            while caller is not None and not _ours(caller.f_code.co_filename):
                caller = caller.f_back
            if caller is not None and caller.f_code.co_filename != filename:
                calls.append((_short(caller.f_code.co_filename), name))

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
    response = traced(trace.receiver, lambda: receiver.handle(request), trace.calls)
    if response.status_code != 202:
        raise RuntimeError(f"{delivery.event}: receiver answered {response.status_code}")
    for queue in list(broker.queues):
        q = broker.queues[queue]
        while not q.empty():
            message = Message.decode(q.get_nowait())
            actor = broker.get_actor(message.actor_name)
            traced(
                trace.actor,
                lambda: actor(*message.args, **message.kwargs),  # noqa: B023
                trace.calls,
            )
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
        runtime.process()  # set up at worker boot (worker.pipeline.boot), not per event
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
            print(f"{path.event}: the files a reader opens, in order")
            for n, name in enumerate(path.files, 1):
                callers = sorted({a for a, b in path.edges if b == name})
                print(f"  {n:2}. {name}  ← {', '.join(callers) or '(the event)'}")
            print(f"  pure core, counted apart: {', '.join(path.pure)}")
            print(f"  reached twice: {', '.join(path.reached_twice) or 'none'}")
            print(f"  every call in order (the old figures): {' → '.join(path.edge)}")
        e = path.event
        figures += [
            Figure(f"{e}: files a reader opens (pure core apart)", len(path.files), "files"),
            Figure(f"{e}: pure core files, counted apart", len(path.pure), "files"),
            Figure(f"{e}: calls between files (distinct)", len(path.edges), "calls"),
            Figure(f"{e}: files reached twice", len(path.reached_twice), "modules"),
            Figure(f"{e}: distinct worker files (all, pure core too)", len(path.distinct), "files"),
            Figure(f"{e}: actor's bounces (every call in order)", path.bounces, "bounces"),
            Figure(f"{e}: re-entered (every call in order)", len(path.revisited), "modules"),
        ]
    emit(figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
