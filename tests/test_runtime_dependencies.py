"""The server runs on a plain ``pip install .``: it imports only what that installs.

Test-only packages (the ``test`` extra) may be imported by tests, never at module level
by ``server/`` or ``manage.py`` — otherwise the Quickstart's first command breaks.
"""

from __future__ import annotations

import ast
import sys
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent


def _runtime_distributions() -> set[str]:
    """The declared dependencies and everything they pull in (with their chosen extras)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pending = [Requirement(r) for r in project["dependencies"]]
    seen: set[str] = set()
    while pending:
        req = pending.pop()
        name = req.name.lower().replace("_", "-")
        if name in seen:
            continue
        seen.add(name)
        try:
            requires = metadata.requires(req.name) or []
        except metadata.PackageNotFoundError:
            continue
        for line in requires:
            sub = Requirement(line)
            if sub.marker is None or any(
                sub.marker.evaluate({"extra": extra}) for extra in (req.extras or {""})
            ):
                pending.append(sub)
    return seen


def _module_level_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in tree.body:  # module level only: imports inside functions run on demand
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_server_imports_only_runtime_dependencies():
    runtime = _runtime_distributions()
    providers = metadata.packages_distributions()
    problems = []
    for path in [ROOT / "manage.py", *sorted((ROOT / "server").rglob("*.py"))]:
        for module in _module_level_imports(path):
            if module in sys.stdlib_module_names or module in {"server", "__future__"}:
                continue
            dists = {d.lower().replace("_", "-") for d in providers.get(module, [])}
            if not dists & runtime:
                problems.append(f"{path.relative_to(ROOT)} imports {module} ({dists or 'unknown'})")
    assert problems == []
