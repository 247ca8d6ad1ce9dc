"""``agentlab memory list|search|add|forget|facts|stats|reindex``: what the agents remember."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Annotated, Any, cast, get_args

import typer
from rich.console import Console
from rich.table import Table

from agentlab.cli._options import JsonOpt
from agentlab.config import Retrieval, load_settings
from agentlab.errors import UsageError
from agentlab.memory import AgentMemory, Memory, MemoryFilter

__all__ = ["memory_app"]

memory_app = typer.Typer(
    help="Long-term memory under AGENTLAB_HOME: memories, episodes and facts.",
    no_args_is_help=True,
)
out = Console(highlight=False)

NamespaceOpt = Annotated[
    str | None, typer.Option("--namespace", help="only this namespace (and those below it)")
]
KindOpt = Annotated[str | None, typer.Option("--kind", help="only this kind (note, episode, ...)")]


@contextmanager
def _memory(**overrides: Any) -> Iterator[AgentMemory]:
    memory = AgentMemory.from_settings(load_settings(**overrides))
    try:
        yield memory
    finally:
        memory.close()


def _scope(namespace: str | None, kind: str | None) -> MemoryFilter:
    return MemoryFilter(namespace=namespace, prefix=True, kind=kind)


def _row(memory: Memory) -> dict[str, Any]:
    return asdict(memory)


def _when(stamp: float) -> str:
    return datetime.fromtimestamp(stamp, tz=UTC).strftime("%Y-%m-%d %H:%M")


def _table(title: str, memories: list[Memory], scores: list[float] | None = None) -> None:
    table = Table(title=title)
    for column in ("id", "kind", "namespace", "created", "text", *(["score"] if scores else [])):
        table.add_column(column)
    for number, memory in enumerate(memories):
        text = " ".join(memory.text.split())
        cells = [memory.id[:12], memory.kind, memory.namespace, _when(memory.created), text[:90]]
        table.add_row(*cells, *([f"{scores[number]:.3f}"] if scores else []))
    out.print(table)


@memory_app.command("list")
def list_(
    namespace: NamespaceOpt = None,
    kind: KindOpt = None,
    limit: Annotated[int, typer.Option("--limit", min=1)] = 20,
    as_json: JsonOpt = False,
) -> None:
    """The newest memories."""
    with _memory() as memory:
        found = memory.store.list(_scope(namespace, kind), limit=limit)
    if as_json:
        sys.stdout.write(json.dumps({"memories": [_row(m) for m in found]}) + "\n")
    else:
        _table(f"{len(found)} memories", found)


@memory_app.command()
def search(
    query: Annotated[str, typer.Argument(help="what to look for")],
    k: Annotated[int, typer.Option("--k", min=1, help="how many results")] = 5,
    mode: Annotated[str, typer.Option("--mode", help="hybrid, dense or sparse")] = "hybrid",
    namespace: NamespaceOpt = None,
    kind: KindOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The memories most relevant to QUERY."""
    if mode not in get_args(Retrieval):
        raise UsageError(f"--mode is one of {', '.join(get_args(Retrieval))}, not {mode!r}")
    retrieval = cast(Retrieval, mode)
    with _memory() as memory:
        hits = memory.store.search(query, k=k, mode=retrieval, scope=_scope(namespace, kind))
    if as_json:
        rows = [{**_row(h.memory), "score": h.score, "dense_rank": h.dense_rank,
                 "sparse_rank": h.sparse_rank} for h in hits]  # fmt: skip
        sys.stdout.write(json.dumps({"query": query, "mode": mode, "hits": rows}) + "\n")
    else:
        _table(f"{mode} search: {query}", [h.memory for h in hits], [h.score for h in hits])


@memory_app.command()
def add(
    text: Annotated[str, typer.Argument(help="the memory")],
    kind: Annotated[str, typer.Option("--kind")] = "note",
    namespace: Annotated[str | None, typer.Option("--namespace")] = None,
    importance: Annotated[float, typer.Option("--importance", min=0.0, max=1.0)] = 0.5,
    as_json: JsonOpt = False,
) -> None:
    """Store TEXT as a memory."""
    with _memory() as memory:
        stored = memory.store.add(text, kind=kind, importance=importance,
                                  namespace=namespace or memory.namespace)  # fmt: skip
    if as_json:
        sys.stdout.write(json.dumps(_row(stored)) + "\n")
    else:
        out.print(f"stored {stored.id}")


@memory_app.command()
def forget(
    ids: Annotated[list[str] | None, typer.Argument(help="memory ids (or unique prefixes)")] = None,
    namespace: NamespaceOpt = None,
    kind: KindOpt = None,
    every: Annotated[
        bool, typer.Option("--all", help="forget everything matching --namespace/--kind")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Delete memories by id, or all of a namespace or kind with --all."""
    if bool(ids) == every:
        raise UsageError("name memory ids, or pass --all (with --namespace/--kind to narrow it)")
    with _memory() as memory:
        if every:
            removed = memory.store.forget_where(_scope(namespace, kind))
        else:
            removed = memory.store.forget(_resolve(memory, ids or []))
    if as_json:
        sys.stdout.write(json.dumps({"forgotten": removed}) + "\n")
    else:
        out.print(f"forgot {removed} memories")


def _resolve(memory: AgentMemory, prefixes: list[str]) -> list[str]:
    """Full ids for the given ids or prefixes (as ``list`` shows them)."""
    known = [m.id for m in memory.store.list(limit=None)]
    resolved = []
    for prefix in prefixes:
        matches = [i for i in known if i.startswith(prefix)]
        if len(matches) != 1:
            what = "no memory" if not matches else f"{len(matches)} memories"
            raise UsageError(f"{what} with id {prefix!r}; see agentlab memory list")
        resolved.append(matches[0])
    return resolved


@memory_app.command()
def facts(
    subject: Annotated[str, typer.Argument(help="what the facts are about")],
    history: Annotated[bool, typer.Option("--history", help="superseded facts too")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Facts about SUBJECT (exact, case-insensitive)."""
    with _memory() as memory:
        found = memory.facts.history(subject) if history else memory.facts.lookup(subject)
    if as_json:
        sys.stdout.write(json.dumps({"facts": [asdict(f) for f in found]}) + "\n")
        return
    for fact in found:
        mark = "" if fact.current else f"  (superseded {_when(fact.valid_to or 0)})"
        out.print(f"{fact.sentence()}{mark}")


@memory_app.command()
def stats(as_json: JsonOpt = False) -> None:
    """How many memories of each kind and namespace, and where they are stored."""
    with _memory() as memory:
        figures = memory.store.stats()
    if as_json:
        sys.stdout.write(json.dumps(figures) + "\n")
        return
    out.print(f"{figures['memories']} memories in {figures['path']} "
              f"(vectors: {figures['vector_store']}, embedder {figures['embedder']})")  # fmt: skip
    for label, counts in (("kind", figures["by_kind"]), ("namespace", figures["by_namespace"])):
        for name, count in sorted(counts.items()):
            out.print(f"  {label} {name}: {count}")
    if figures["unindexed"]:
        out.print(f"  {figures['unindexed']} not yet in the vector index (the next open adds them)")


@memory_app.command()
def reindex(
    reembed: Annotated[
        bool, typer.Option("--reembed", help="embed every memory again (after changing embedder)")
    ] = False,
) -> None:
    """Rebuild the vector index from the memory database (after damage or an embedder change)."""
    settings = load_settings()
    from agentlab.memory import MemoryStore, embeddings_from_settings

    store = MemoryStore(settings.memory_path, embeddings_from_settings(settings),
                        chroma_url=settings.memory_url, check_embedder=not reembed)  # fmt: skip
    try:
        count = store.reindex(reembed=reembed)
    finally:
        store.close()
    out.print(f"indexed {count} memories")
