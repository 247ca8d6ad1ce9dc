"""Drawing a compiled graph as a PNG offline, with matplotlib (LangGraph's own PNG drawing
needs a web service or graphviz): nodes in layers by distance from the start, dashed
arrows for conditional edges."""

from __future__ import annotations

from collections import deque
from pathlib import Path
from typing import Any

from agentlab.cli._figure import pyplot, save_png

__all__ = ["draw_png"]


def _layers(nodes: list[str], edges: list[tuple[str, str]]) -> dict[str, int]:
    depth = {"__start__": 0}
    queue = deque(["__start__"])
    while queue:
        node = queue.popleft()
        for source, target in edges:
            if source == node and target not in depth:
                depth[target] = depth[node] + 1
                queue.append(target)
    deepest = max(depth.values(), default=0)
    for node in nodes:  # unreachable nodes go last; the end node always at the bottom
        depth.setdefault(node, deepest + 1)
    if "__end__" in depth:
        depth["__end__"] = max(depth.values()) + (
            0 if depth["__end__"] == max(depth.values()) else 1
        )
    return depth


def draw_png(graph: Any, path: Path) -> None:
    """Write ``graph.get_graph()`` as a PNG at ``path`` (atomically: temp file, then rename)."""
    plt = pyplot()
    drawable = graph.get_graph()
    nodes = list(drawable.nodes)
    edges = [(e.source, e.target, e.conditional) for e in drawable.edges]
    depth = _layers(nodes, [(s, t) for s, t, _ in edges])
    rows: dict[int, list[str]] = {}
    for node in nodes:
        rows.setdefault(depth[node], []).append(node)
    where = {
        node: ((i + 1) / (len(row) + 1), -level)
        for level, row in rows.items()
        for i, node in enumerate(row)
    }
    height = max(depth.values(), default=0) + 1
    fig, ax = plt.subplots(figsize=(6, 1.2 * height + 0.5))
    for source, target, conditional in edges:
        ax.annotate(
            "", xy=where[target], xytext=where[source],
            arrowprops={"arrowstyle": "->", "linestyle": "--" if conditional else "-",
                        "shrinkA": 14, "shrinkB": 14, "color": "#555",
                        "connectionstyle": "arc3,rad=0.15" if depth[target] <= depth[source]
                        else "arc3"},
        )  # fmt: skip
    for node, (x, y) in where.items():
        label = node.strip("_") if node in ("__start__", "__end__") else node
        ax.text(x, y, label, ha="center", va="center", fontsize=10,
                bbox={"boxstyle": "round", "fc": "#f2f0ff", "ec": "#7a6fd6"})  # fmt: skip
    ax.set_xlim(0, 1)
    ax.set_ylim(-height + 0.5, 0.5)
    ax.axis("off")
    save_png(fig, path)
