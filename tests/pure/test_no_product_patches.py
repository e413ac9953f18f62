"""No test steers the product by patching its module globals (issue #20).

A test that needs the product to wait less, fail somewhere or tell someone else uses a
declared seam instead: a ``Settings`` field or environment variable, a constructor or
function argument (``sleep=``, ``read_retry=``, ``tell_staff=``, ``commands=``...),
``runtime.configure(...)``, or a fake forum. This scans ``tests/`` for
``monkeypatch.setattr``/``setitem``/``delattr``, ``mock.patch``/``patch.object`` and plain
assignments aimed at something imported from ``worker`` (a module, a class, a function),
and fails naming each. Patching a test's own helper, a fake, an object the test built,
the standard library or the environment is not the product's global and is not flagged.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
PRODUCT = "worker"
PATCHERS = {"setattr", "delattr", "setitem", "delitem"}  # monkeypatch's, on any name
MOCK_PATCHERS = {"patch", "object", "dict"}  # unittest.mock.patch(...), patch.object/.dict

# (file under tests/, what it patches) -> why no seam is wanted. Keep it empty if you can.
ALLOWED: dict[tuple[str, str], str] = {}


def _imports(tree: ast.Module) -> dict[str, str]:
    """Local name -> the dotted path it was imported as (any scope of the file)."""
    names: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    names[alias.asname] = alias.name
                else:
                    names[alias.name.split(".")[0]] = alias.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                names[alias.asname or alias.name] = f"{node.module}.{alias.name}"
        elif _imported_module(node) is not None:  # jobs = importlib.import_module("worker...")
            assert isinstance(node, ast.Assign)
            for target in node.targets:
                if isinstance(target, ast.Name):
                    names[target.id] = str(_imported_module(node))
    return names


def _imported_module(node: ast.AST) -> str | None:
    if not isinstance(node, ast.Assign) or not isinstance(node.value, ast.Call):
        return None
    call = node.value
    if not ast.unparse(call.func).endswith("import_module") or not call.args:
        return None
    first = call.args[0]
    return first.value if isinstance(first, ast.Constant) and isinstance(first.value, str) else None


def _dotted(node: ast.expr, imports: dict[str, str]) -> str | None:
    """``a.b.c`` as the dotted path it names, if it starts from an imported name."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name) or node.id not in imports:
        return None
    return ".".join([imports[node.id], *reversed(parts)])


def _is_product(path: str | None) -> bool:
    return path is not None and (path == PRODUCT or path.startswith(PRODUCT + "."))


def _target(call: ast.Call, imports: dict[str, str]) -> str | None:
    """What a patching call aims at (a dotted path), or None if it is no patching call."""
    func = call.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
    patching = (isinstance(func, ast.Attribute) and name in PATCHERS) or name == "setattr"
    patching = (
        patching or name == "patch" or (name in MOCK_PATCHERS and "patch" in ast.unparse(func))
    )
    if not patching or not call.args:
        return None
    first = call.args[0]
    if isinstance(first, ast.Constant) and isinstance(first.value, str):
        return first.value  # monkeypatch.setattr("worker.x.y", value), patch("worker.x.y")
    base = _dotted(first, imports)
    attr = call.args[1] if len(call.args) > 1 else None
    if base is not None and isinstance(attr, ast.Constant) and isinstance(attr.value, str):
        return f"{base}.{attr.value}"  # setattr(module, "name", value), patch.object(...)
    return base


def product_patches(path: Path) -> list[tuple[int, str]]:
    """(line, dotted target) of every product global the file patches or assigns."""
    return sorted(_patches(path))


def _patches(path: Path) -> Iterator[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    imports = _imports(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            target = _target(node, imports)
            if _is_product(target):
                yield node.lineno, str(target)
        elif isinstance(node, ast.Assign | ast.AugAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for assigned in targets:
                if isinstance(assigned, ast.Attribute):
                    dotted = _dotted(assigned, imports)
                    if _is_product(dotted):
                        yield node.lineno, str(dotted)


def test_no_test_patches_a_product_global() -> None:
    found = []
    for path in sorted(TESTS.rglob("*.py")):
        name = path.relative_to(TESTS).as_posix()
        for line, target in product_patches(path):
            if (name, target) not in ALLOWED:
                found.append(f"tests/{name}:{line}: patches {target}")
    assert found == [], "give the product a seam instead (see this module's docstring)"


def test_the_guard_sees_each_way_of_patching(tmp_path: Path) -> None:
    sample = tmp_path / "test_sample.py"
    sample.write_text(
        "from unittest import mock\n"
        "from worker import cli\n"
        "import worker.forum.client as client_module\n"
        "from worker.rules import Rules\n"
        "import importlib\n"
        "def test(monkeypatch, fake):\n"
        "    jobs = importlib.import_module('worker.jobs.obligations')\n"
        "    monkeypatch.setattr(cli, '_sleep', print)\n"
        "    monkeypatch.setattr('worker.commands.plan.make_client', print)\n"
        "    monkeypatch.setattr(Rules, 'render', print)\n"
        "    client_module.READ_RETRY_BASE_WAIT = 0.01\n"
        "    mock.patch.object(cli, 'main')\n"
        "    mock.patch('worker.clock.now')\n"
        "    monkeypatch.setattr(jobs.audit, 'run', print)\n"
        "    monkeypatch.setattr(fake, 'render', print)\n"  # a test's own object: fine
        "    monkeypatch.setattr('time.sleep', print)\n"  # the standard library: fine
        "    monkeypatch.setenv('DIAMOND_MODE', 'live')\n"  # a setting: fine
    )
    assert product_patches(sample) == [
        (8, "worker.cli._sleep"),
        (9, "worker.commands.plan.make_client"),
        (10, "worker.rules.Rules.render"),
        (11, "worker.forum.client.READ_RETRY_BASE_WAIT"),
        (12, "worker.cli.main"),
        (13, "worker.clock.now"),
        (14, "worker.jobs.obligations.audit.run"),
    ]
