"""The house's rules, read from the source with ast (every import counted, function-level ones too):

- layers: entry points (``transhades``'s command line, ``supervisor.py``, the devtools) -> the tree
  (``transhades.app.tree``) -> the actors (``transhades.actors``, the ``actors/`` folder) -> plain modules;
  nothing imports upward, so the devtools are imported by nothing in the product but the commands that run them;
- only the actor runtime imports pykka: the actors, the registry that addresses them, the tree that starts them;
- nothing installed imports the bare names ``supervisor`` or ``actors`` (PyPI packages own them);
- every package is listed in setup.cfg, and nothing imports in a circle."""

from __future__ import annotations

import ast
import configparser
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

ENTRY_POINTS = {"transhades.app.cli", "transhades.__main__", "supervisor"}
PYKKA_ALLOWED = {"transhades.supervision.registry", "transhades.app.tree"}


def modules() -> dict[str, Path]:
    found = {"supervisor": ROOT / "supervisor.py"}
    for folder, package in (("transhades", "transhades"), ("actors", "transhades.actors")):
        for path in (ROOT / folder).rglob("*.py"):
            parts = path.relative_to(ROOT / folder).with_suffix("").parts
            parts = parts[:-1] if parts[-1] == "__init__" else parts
            found[".".join((package, *parts))] = path
    return found


def raw_imports(path: Path) -> list[tuple[int, str, list[str]]]:
    """(level, module, names) of every import statement in the file."""
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out += [(0, alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            out.append((node.level, node.module or "", [alias.name for alias in node.names]))
    return out


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = set()
    for level, base, names in raw_imports(path):
        if level:
            anchor = package.split(".")[: len(package.split(".")) - (level - 1)]
            base = ".".join(anchor + ([base] if base else []))
        for target in [base] + [f"{base}.{n}" for n in names]:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                out.add(target)
    return out


def graph() -> dict[str, set[str]]:
    found = modules()
    return {name: imports_of(name, path, set(found)) for name, path in found.items()}


def layer(name: str) -> int:
    if name in ENTRY_POINTS or name.startswith("transhades.devtools"):
        return 3
    if name == "transhades.app.tree":
        return 2
    if name.startswith("transhades.actors"):
        return 1
    return 0


def test_no_module_imports_a_higher_layer():
    wrong = sorted(f"{a} -> {b}" for a, targets in graph().items() for b in targets
                   if layer(b) > layer(a) and not (layer(a) == 3 and layer(b) == 3))
    assert wrong == []


def test_the_product_imports_no_devtools_but_the_commands_that_run_them():
    users = sorted({a for a, targets in graph().items() for b in targets
                    if b.startswith("transhades.devtools") and not a.startswith("transhades.devtools")})
    assert users == ["transhades.app.cli"]


def test_only_the_actor_runtime_imports_pykka():
    found = modules()
    users = sorted(name for name, path in found.items()
                   if any(module.split(".")[0] == "pykka" for level, module, _ in raw_imports(path) if not level))
    assert [u for u in users if not (u.startswith(("transhades.actors", "transhades.devtools"))
                                     or u in PYKKA_ALLOWED)] == []


def test_nothing_installed_imports_the_bare_names_other_packages_own():
    wrong = sorted(f"{name}: {module}" for name, path in modules().items() if name != "supervisor"
                   for level, module, _ in raw_imports(path)
                   if not level and module.split(".")[0] in ("supervisor", "actors"))
    assert wrong == []


def test_every_package_is_listed_in_setup_cfg():
    parser = configparser.ConfigParser()
    parser.read(ROOT / "setup.cfg")
    listed = set(parser["options"]["packages"].split())
    folders = {name for name, path in modules().items() if path.name == "__init__.py"}
    assert listed == folders


def test_there_is_no_import_cycle():
    edges = graph()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(node: str) -> None:  # Tarjan's strongly connected components
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in edges.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    assert cycles == []


@pytest.mark.slow
def test_the_whole_package_type_checks():
    """Every module of the package and every actor ([tool.mypy] in pyproject.toml lists both folders, and no
    module is left out of it)."""
    import tomllib

    files = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mypy"]["files"]
    assert sorted(files) == ["actors", "transhades"], "mypy checks the whole package, not a chosen part"
    done = subprocess.run([sys.executable, "-m", "mypy", "--no-error-summary"], cwd=ROOT, capture_output=True,
                          text=True, timeout=240)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-1000:]


@pytest.mark.slow
def test_the_code_passes_ruff():
    """The rule set in pyproject.toml ([tool.ruff]): pyflakes, pycodestyle, sorted imports, bugbear, pyupgrade."""
    done = subprocess.run([sys.executable, "-m", "ruff", "check", "transhades", "actors", "supervisor.py", "tests"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-1000:]


def test_the_generic_supervisor_knows_nothing_of_the_application():
    """It speaks only supervision's messages (kept in the one message module, in their own section) and imports
    no feature package: the application is handed in as child specs and a listener."""
    path = modules()["transhades.actors.supervisor"]
    imported = {(module, name) for level, module, names in raw_imports(path) for name in names or [""]
                if module.startswith("transhades")}
    modules_used = {module for module, _ in imported}
    assert modules_used <= {"transhades.actors.base", "transhades.clock", "transhades.messages",
                            "transhades.supervision.policy", "transhades.supervision.registry"}
    messages = {name for module, name in imported if module == "transhades.messages"}
    assert messages <= {"ChildExited", "MemberView", "QuarantineGroup", "QuarantineOver", "RestartDue", "StopTree",
                        "TreeStatus"}
