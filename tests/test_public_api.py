"""Each package's ``__all__`` is complete and exact; each module's lists what it defines."""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import types
from pathlib import Path

import pytest

PACKAGES = [
    "agentlab",
    "agentlab.llm",
    "agentlab.graphs",
    "agentlab.tools",
    "agentlab.memory",
    "agentlab.cli",
]


def _modules() -> list[str]:
    """Every library module (the CLI's command modules and child-process scripts excepted)."""
    found = []
    for package in PACKAGES:
        module = importlib.import_module(package)
        for info in pkgutil.iter_modules(module.__path__, prefix=f"{package}."):
            if not (info.ispkg or info.name in SCRIPTS or package == "agentlab.cli"):
                found.append(info.name)
    return sorted(found)


SCRIPTS = {"agentlab.__main__", "agentlab.tools._sandbox_child"}
MODULES = _modules()


def defined_names(path: Path) -> set[str]:
    """Public names a module binds at its top level (not the ones it imports)."""
    names: set[str] = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.FunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return {n for n in names if not n.startswith("_")}


@pytest.mark.parametrize("name", PACKAGES + MODULES)
def test_all_names_exist(name: str) -> None:
    module = importlib.import_module(name)
    assert [n for n in module.__all__ if not hasattr(module, n)] == []


@pytest.mark.parametrize("name", MODULES)
def test_module_all_lists_everything_it_defines(name: str) -> None:
    module = importlib.import_module(name)
    assert module.__file__ is not None
    assert sorted(defined_names(Path(module.__file__)) - set(module.__all__)) == []


@pytest.mark.parametrize("name", PACKAGES)
def test_package_all_lists_every_public_name(name: str) -> None:
    module = importlib.import_module(name)
    public = {
        n
        for n, value in vars(module).items()
        if not n.startswith("_")
        and not isinstance(value, types.ModuleType)
        and not (inspect.isclass(value) and value.__module__ == "typing")
        and n not in {"annotations", "TYPE_CHECKING"}
    }
    assert sorted(public - set(module.__all__)) == []
