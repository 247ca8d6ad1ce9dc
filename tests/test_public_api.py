"""Each package's ``__all__`` is complete and exact."""

from __future__ import annotations

import importlib
import inspect
import types

import pytest

PACKAGES = ["agentlab", "agentlab.llm", "agentlab.graphs", "agentlab.tools", "agentlab.cli"]
MODULES = [
    "agentlab.config", "agentlab.errors", "agentlab.models", "agentlab.gguf_info",
    "agentlab.tracing", "agentlab.testing", "agentlab.llm.protocol", "agentlab.llm.chat_model",
    "agentlab.graphs.react", "agentlab.tools.demo",
]  # fmt: skip


@pytest.mark.parametrize("name", PACKAGES + MODULES)
def test_all_lists_exactly_the_public_names(name: str) -> None:
    module = importlib.import_module(name)
    declared = set(module.__all__)
    missing = [n for n in declared if not hasattr(module, n)]
    assert missing == [], f"{name}.__all__ names what does not exist"
    public = {
        n
        for n, value in vars(module).items()
        if not n.startswith("_")
        and not isinstance(value, types.ModuleType)
        and n not in {"annotations", "TYPE_CHECKING"}
        and (name in PACKAGES or getattr(value, "__module__", name) == name)
        and not (inspect.isclass(value) and value.__module__ == "typing")
    }
    if name in PACKAGES:
        public = {n for n in public if n != "__version__"}
    else:
        public = {n for n in public if callable(vars(module)[n]) or n.isupper()}
    assert sorted(public - declared) == [], f"{name} exports names missing from __all__"
