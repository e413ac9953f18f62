"""Every routed sandbox view says which Discourse controller action it imitates.

Walks the sandbox app's own URL map (every view module), so a new route without a
citation fails here. A citation is a docstring line
``Imitates: app/controllers/<name>_controller.rb#<action> (<Serializer>)``; the check is
kept simple: the line is there, names a .rb file and an action; a cited controller is one
that Discourse's config/routes.rb routes to, and when its source is in the reference
copies, the action is named in it.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from typing import Any

from tests.conftest import DISCOURSE_REF
from worker.sandbox import build_sandbox

SOURCE = DISCOURSE_REF / "source"
ROUTES_RB = (SOURCE / "config" / "routes.rb").read_text()
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
    match = re.fullmatch(r"app/controllers/((?:\w+/)*)(\w+)_controller\.rb", path)
    if not match:
        return None  # a model, job or lib file: nothing more to check
    name = match.group(2)
    routed = (
        f'"{name}#' in ROUTES_RB
        or f"resources :{name}" in ROUTES_RB
        or f'controller: "{name}"' in ROUTES_RB
    )
    if not routed:
        return f"cites {path}, a controller config/routes.rb does not route to"
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
