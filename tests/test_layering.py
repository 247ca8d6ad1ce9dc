"""Imports point one way: core -> (tools, memory) -> graphs -> cli."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FOLDERS = {
    "agentlab": "agentlab",
    "graphs": "agentlab.graphs",
    "tools": "agentlab.tools",
    "memory": "agentlab.memory",
}
ALLOWED = {
    "core": {"core"},
    "tools": {"core", "tools"},
    "memory": {"core", "memory"},
    "graphs": {"core", "tools", "memory", "graphs"},
    "cli": {"core", "tools", "memory", "graphs", "cli"},
}


def layer(module: str) -> str:
    if module == "agentlab.__main__":  # `python -m agentlab` is the command line
        return "cli"
    parts = module.split(".")
    if len(parts) > 1 and parts[1] in {"tools", "memory", "graphs", "cli"}:
        return parts[1]
    return "core"


def modules() -> list[tuple[str, Path]]:
    found = []
    for folder, package in FOLDERS.items():
        for path in sorted((REPO / folder).rglob("*.py")):
            rel = path.relative_to(REPO / folder).with_suffix("")
            parts = [p for p in rel.parts if p != "__init__"]
            found.append((".".join([package, *parts]), path))
    return found


def imported(path: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return [n for n in names if n == "agentlab" or n.startswith("agentlab.")]


# The package's front door re-exports ``build_agent`` from the graphs on first use (a module
# ``__getattr__``), the one import that points up; nothing else in the core may.
FRONT_DOOR = ("agentlab", "agentlab.graphs")


def test_every_import_follows_the_layers() -> None:
    wrong = []
    for module, path in modules():
        own = layer(module)
        for target in imported(path):
            if (module, target) == FRONT_DOOR:
                continue
            if target != "agentlab" and layer(target) not in ALLOWED[own]:
                wrong.append(f"{module} ({own}) imports {target} ({layer(target)})")
    assert wrong == []


def test_the_walk_sees_all_layers() -> None:
    layers = {layer(module) for module, _ in modules()}
    assert {"core", "tools", "memory", "graphs", "cli"} <= layers
