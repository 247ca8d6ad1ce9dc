"""agentlab memory behind LangGraph's ``BaseStore``: use it where ``InMemoryStore`` goes
(``graph.compile(store=...)``), with persistence and hybrid search.

Items live in the memory store as kind ``"item"``; a namespace tuple is stored joined by
``/`` (so labels cannot contain ``/``). The text searched is the value's ``"text"`` or
``"content"`` field, else the whole value as JSON.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from langgraph.store.base import (
    BaseStore,
    GetOp,
    Item,
    ListNamespacesOp,
    Op,
    PutOp,
    Result,
    SearchItem,
    SearchOp,
)

from agentlab.errors import UsageError
from agentlab.memory._records import Memory
from agentlab.memory._store import MemoryFilter, MemoryStore

__all__ = ["ITEM", "MemoryBaseStore"]

ITEM = "item"


def _joined(namespace: tuple[str, ...]) -> str:
    for label in namespace:
        if "/" in label:
            raise UsageError(f"namespace labels cannot contain '/': {label!r}")
    return "/".join(namespace)


def _item_id(namespace: tuple[str, ...], key: str) -> str:
    return "item:" + json.dumps([*namespace, key])


def _text_of(value: Mapping[str, Any]) -> str:
    for field in ("text", "content"):
        if isinstance(value.get(field), str) and value[field].strip():
            return str(value[field])
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _matches(value: dict[str, Any], wanted: dict[str, Any] | None) -> bool:
    return all(value.get(key) == expected for key, expected in (wanted or {}).items())


class MemoryBaseStore(BaseStore):
    """A LangGraph ``BaseStore`` over a :class:`MemoryStore`."""

    def __init__(self, store: MemoryStore) -> None:
        self.store = store

    def _item(self, memory: Memory, score: float | None = None) -> SearchItem:
        meta = memory.metadata
        stamp = datetime.fromtimestamp(memory.created, tz=UTC)
        updated = datetime.fromtimestamp(meta.get("updated", memory.created), tz=UTC)
        return SearchItem(
            tuple(meta["namespace"]), meta["key"], meta["value"], stamp, updated, score
        )

    def batch(self, ops: Iterable[Op]) -> list[Result]:
        return [self._one(op) for op in ops]

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        return await asyncio.to_thread(self.batch, list(ops))

    def _one(self, op: Op) -> Result:
        if isinstance(op, GetOp):
            memory = self.store.get(_item_id(op.namespace, op.key))
            if memory is None:
                return None
            found = self._item(memory)
            return Item(
                value=found.value, key=found.key, namespace=found.namespace,
                created_at=found.created_at, updated_at=found.updated_at,
            )  # fmt: skip
        if isinstance(op, PutOp):
            self._put(op)
            return None
        if isinstance(op, SearchOp):
            return self._search(op)
        if isinstance(op, ListNamespacesOp):
            return self._namespaces(op)
        raise UsageError(f"unsupported store operation {type(op).__name__}")

    def _put(self, op: PutOp) -> None:
        memory_id = _item_id(op.namespace, op.key)
        if op.value is None:
            self.store.forget([memory_id])
            return
        previous = self.store.get(memory_id)
        now = self.store.clock()
        self.store.add(
            _text_of(op.value),
            id=memory_id,
            namespace=_joined(op.namespace),
            kind=ITEM,
            created=previous.created if previous else now,
            metadata={
                "namespace": list(op.namespace), "key": op.key, "value": op.value, "updated": now,
            },
        )  # fmt: skip

    def _search(self, op: SearchOp) -> list[SearchItem]:
        scope = MemoryFilter(
            namespace=_joined(op.namespace_prefix) if op.namespace_prefix else None,
            prefix=True,
            kind=ITEM,
        )
        wanted = op.offset + op.limit
        if op.query:
            hits = self.store.search(op.query, k=max(wanted * 3, 10), scope=scope)
            found = [self._item(h.memory, h.score) for h in hits]
        else:
            found = [self._item(m) for m in self.store.list(scope, limit=None)]
        kept = [item for item in found if _matches(item.value, op.filter)]
        return kept[op.offset : wanted]

    def _namespaces(self, op: ListNamespacesOp) -> list[tuple[str, ...]]:
        spaces = []
        for joined in self.store.namespaces():
            if not self.store.count(MemoryFilter(joined, kind=ITEM)):
                continue
            namespace = tuple(joined.split("/"))
            if all(_condition(namespace, c.match_type, c.path) for c in op.match_conditions or ()):
                spaces.append(namespace[: op.max_depth] if op.max_depth else namespace)
        unique = sorted(set(spaces))
        return unique[op.offset : op.offset + op.limit]


def _condition(namespace: tuple[str, ...], kind: str, path: tuple[str, ...]) -> bool:
    part = namespace[: len(path)] if kind == "prefix" else namespace[-len(path) :]
    return len(namespace) >= len(path) and all(
        p in ("*", n) for p, n in zip(path, part, strict=True)
    )
