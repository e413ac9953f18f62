"""The layers import downward only, and modules import each other without a cycle.

Read from the source (``ast``), so an import hidden inside a function counts as much as
one at the top; imports under ``if TYPE_CHECKING:`` are type names only and do not.

    jobs, pipeline, commands  (the edges: actors, receiver, scheduler, CLI)
        ↓
    steps                     (one module per job)
        ↓
    apply                     (the one door for writes)   reads   (the one read side)
        ↓                                                    ↓
    state, forum client       (Redis stores, HTTP)
        ↓
    engine, actions, rules    (pure)
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WORKER = ROOT / "worker"

# What each layer must never import (module-name prefixes), and why.
FORBIDDEN: dict[str, tuple[str, ...]] = {
    # Pure: plain values in and out, no I/O.
    "worker.engine": (
        "worker.forum",
        "worker.state",
        "worker.reads",
        "worker.apply",
        "worker.steps",
        "worker.jobs",
        "worker.pipeline",
        "worker.commands",
        "worker.clock",
    ),
    "worker.actions": ("worker.forum", "worker.state", "worker.reads", "worker.apply"),
    # The stores know keys and codecs, not how facts are read or what a step does.
    "worker.state": (
        "worker.apply",
        "worker.steps",
        "worker.jobs",
        "worker.pipeline",
        "worker.commands",
    ),
    "worker.reads": (
        "worker.apply",
        "worker.steps",
        "worker.jobs",
        "worker.pipeline",
        "worker.commands",
    ),
    # The Applier writes; it never reaches up into the read side (#20: it called the
    # roster cache's forget_roster), nor into steps, actors or commands.
    "worker.apply": ("worker.reads", "worker.steps", "worker.jobs", "worker.commands"),
    "worker.steps": ("worker.jobs", "worker.commands", "worker.pipeline"),
    # Commands build a step; they never import actors.
    "worker.commands": ("worker.jobs",),
}

# Edges that predate this test, each named so no new one joins them unnoticed.
KNOWN = {
    # ActionBusy (a claim held by another run) lives with the idempotency claims.
    ("worker.apply", "worker.pipeline.idempotency"),
    # The audit step plans the scheduled runs of the week; the camp check reads the
    # posts an actor could not record (both Redis records kept by the pipeline).
    ("worker.steps", "worker.pipeline.scheduler"),
    ("worker.steps", "worker.pipeline.missing"),
}


def _modules() -> dict[str, Path]:
    out = {}
    for path in WORKER.rglob("*.py"):
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


MODULES = _modules()


def _resolve(name: str) -> str:
    """The worker module ``name`` is (or lies in: ``from pkg import thing``)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name


def _type_checking_lines(tree: ast.AST) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                lines.update(range(child.lineno, (child.end_lineno or child.lineno) + 1))
    return lines


def imports(module: str) -> list[tuple[str, bool]]:
    """(worker module imported, at the top level?) for every import in ``module``."""
    return list(_imports(module))


@functools.cache
def _imports(module: str) -> tuple[tuple[str, bool], ...]:
    return tuple(_walk(module))


def _walk(module: str) -> Iterator[tuple[str, bool]]:
    path = MODULES[module]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    typing_only = _type_checking_lines(tree)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    top = {id(node) for node in tree.body}
    for node in ast.walk(tree):
        if getattr(node, "lineno", None) in typing_only:
            continue
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            names = [f"{base}.{alias.name}" for alias in node.names]
        for name in names:
            if name.startswith("worker"):
                yield _resolve(name), id(node) in top


def _graph(*, top_level_only: bool) -> dict[str, set[str]]:
    return {
        m: {t for t, at_top in imports(m) if t != m and (at_top or not top_level_only)}
        for m in MODULES
    }


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1:
                    found.append(sorted(group))
    return found


def test_no_layer_imports_upward() -> None:
    offenders = sorted(
        f"{module} imports {target}"
        for module in MODULES
        for layer, banned in FORBIDDEN.items()
        if module == layer or module.startswith(layer + ".")
        for target, _ in imports(module)
        if target.startswith(banned) and (layer, target) not in KNOWN
    )
    assert offenders == []


def test_the_applier_does_not_import_the_read_side() -> None:
    """The Applier tells the read side that squads changed through Redis state only."""
    assert not [t for t, _ in imports("worker.apply") if t.startswith("worker.reads")]


def test_the_modules_import_each_other_without_a_cycle_at_load() -> None:
    """Top-level imports form no cycle (outside the sandbox, which imitates the forum)."""
    graph = {
        m: deps
        for m, deps in _graph(top_level_only=True).items()
        if not m.startswith("worker.sandbox")
    }
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
