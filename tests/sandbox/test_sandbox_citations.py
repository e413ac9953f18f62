"""Every routed sandbox view says which Discourse controller action it imitates.

Walks the sandbox app's own URL map (every view module), so a new route without a
citation fails here. A citation is a docstring line
``Imitates: app/controllers/<name>_controller.rb#<action> (<Serializer>)``; the check is
kept simple: the line is there, names a .rb file and an action; a cited controller is one
that Discourse's config/routes.rb routes to (a plugin's, e.g.
``plugins/chat/app/controllers/...``: the plugin's own config/routes.rb), and when its
source is in the reference copies, the action is named in it.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from typing import Any

from tests.conftest import DISCOURSE_REF
from worker.sandbox import build_sandbox

SOURCE = DISCOURSE_REF / "source"
CITATION = re.compile(r"^Imitates:\s*((?:app|lib|plugins)/[\w/]+\.rb)#(\w+)", re.MULTILINE)


def _routed_views() -> list[tuple[str, str, Callable[..., Any]]]:
    sandbox = build_sandbox()
    try:
        app = sandbox.app
        found = []
        for rule in app.url_map.iter_rules():
            methods = ",".join(sorted(set(rule.methods or ()) - {"HEAD", "OPTIONS"}))
            found.append((rule.endpoint, f"{methods} {rule.rule}", app.views[rule.endpoint]))
        return sorted(found, key=lambda f: (f[0], f[1]))
    finally:
        sandbox.webhooks.close()


def _controller_problem(path: str, action: str) -> str | None:
    match = re.fullmatch(r"(plugins/\w+/)?app/controllers/((?:\w+/)*)(\w+)_controller\.rb", path)
    if not match:
        return None  # a model, job or lib file: nothing more to check
    plugin, name = match.group(1), match.group(3)
    # A plugin's controllers are routed by the plugin's own config/routes.rb (its engine,
    # e.g. chat's mounted at /chat), not by Discourse's.
    routes_path = SOURCE / (plugin or "") / "config" / "routes.rb"
    if not routes_path.exists():
        return f"cites {path}, but there is no copy of {plugin}config/routes.rb"
    routes_rb = routes_path.read_text()
    routed = (
        f'"{name}#' in routes_rb
        or f"/{name}#" in routes_rb
        or f"resources :{name}" in routes_rb
        or f'controller: "{name}"' in routes_rb
    )
    if not routed:
        where = f"{plugin}config/routes.rb" if plugin else "config/routes.rb"
        return f"cites {path}, a controller {where} does not route to"
    copy = SOURCE / path
    if copy.exists() and not re.search(rf"\b{action}\b", copy.read_text()):
        return f"cites {path}#{action}, an action that file does not have"
    return None


def _problems(select: Callable[[str], bool]) -> list[str]:
    problems = []
    for endpoint, route, view in _routed_views():
        if not select(endpoint):
            continue
        citations = CITATION.findall(inspect.getdoc(view) or "")
        if not citations:
            problems.append(f"{endpoint} ({route}): no 'Imitates: <file>.rb#<action>' line")
            continue
        for path, action in citations:
            problem = _controller_problem(path, action)
            if problem:
                problems.append(f"{endpoint} ({route}): {problem}")
    return sorted(set(problems))


def test_every_routed_view_cites_the_discourse_action_it_imitates() -> None:
    problems = _problems(lambda endpoint: True)
    assert problems == [], "views without a citation:\n" + "\n".join(problems)


def test_a_view_without_a_citation_or_with_an_unrouted_controller_is_named() -> None:
    assert CITATION.findall("Imitates: app/controllers/groups_controller.rb#add_members (x)")
    assert not CITATION.findall("Imitates the group page.")
    assert _controller_problem("app/controllers/groups_controller.rb", "add_members") is None
    assert _controller_problem("app/controllers/no_such_controller.rb", "index")
    assert _controller_problem("app/controllers/groups_controller.rb", "no_such_action")


def test_a_plugin_view_is_checked_against_the_plugins_own_routes_and_controller_copy() -> None:
    chat = "plugins/chat/app/controllers/chat/api"
    assert _controller_problem(f"{chat}/channels_controller.rb", "create") is None
    assert _controller_problem(f"{chat}/channel_messages_controller.rb", "index") is None
    assert _controller_problem(f"{chat}/no_such_controller.rb", "index")
    assert _controller_problem(f"{chat}/channels_controller.rb", "no_such_action")
    assert _controller_problem("plugins/no_such_plugin/app/controllers/x_controller.rb", "index")
