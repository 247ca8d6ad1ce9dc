"""``agentlab knowledge add|remove|list|stats|search|synth``: the user's own documents, chunked
and indexed under AGENTLAB_HOME, for agents to search (``run ... --knowledge COLLECTION``)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, cast, get_args

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from agentlab.cli._options import JsonOpt
from agentlab.cli._synth import collection_sections, draft_suite, write_suite
from agentlab.config import Retrieval, Settings, load_settings
from agentlab.errors import UsageError
from agentlab.memory import AddReport, KnowledgeBase, Passage, rewrite_query

__all__ = ["knowledge_app"]

knowledge_app = typer.Typer(
    help="Your own documents (Markdown, text, HTML, PDF), searchable by agents: "
    "agentlab run PATTERN TASK --knowledge COLLECTION.",
    no_args_is_help=True,
)
out = Console(highlight=False)
err = Console(stderr=True, highlight=False)

CollectionOpt = Annotated[
    str | None,
    typer.Option(
        "--collection", help="which collection (default: the knowledge setting, else 'default')"
    ),
]


@contextmanager
def _knowledge(settings: Settings) -> Iterator[KnowledgeBase]:
    kb = KnowledgeBase.from_settings(settings)
    try:
        yield kb
    finally:
        kb.close()


def _collection(given: str | None, settings: Settings) -> str:
    return given or settings.knowledge or "default"


def _emit(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False) + "\n")


@knowledge_app.command()
def add(
    paths: Annotated[list[Path], typer.Argument(help="files or folders (searched recursively)")],
    collection: CollectionOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Add documents to a collection: new files are chunked and indexed, changed ones replaced,
    unchanged ones left alone. Files that cannot be read are skipped with the reason."""
    missing = [str(path) for path in paths if not path.exists()]
    if missing:
        raise UsageError(f"no such file or folder: {', '.join(missing)}")
    settings = load_settings()
    name = _collection(collection, settings)
    try:
        with _knowledge(settings) as kb, _progress(quiet=as_json) as on_progress:
            report = kb.add(paths, name, on_progress=on_progress)
    except KeyboardInterrupt:
        err.print(
            f"interrupted: collection {name!r} holds whole documents only (the one being added "
            "was left out); run the same add again to finish, unchanged files are skipped"
        )
        raise typer.Exit(130) from None
    _print_report(report, name, as_json)
    if not (report.added or report.replaced or report.unchanged):
        raise typer.Exit(1)


@contextmanager
def _progress(*, quiet: bool) -> Iterator[Any]:
    """``on_progress(source, done, total)`` drawing a bar on stderr (nothing when ``quiet``)."""
    if quiet:
        yield None
        return
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn())  # fmt: skip
    with Progress(*columns, console=err, transient=True) as bar:
        task = bar.add_task("reading", total=None)

        def on_progress(source: str, done: int, total: int) -> None:
            bar.update(task, description=source[-40:], completed=done, total=total)

        yield on_progress


def _print_report(report: AddReport, collection: str, as_json: bool) -> None:
    if as_json:
        _emit({
            "collection": collection, "added": report.added, "replaced": report.replaced,
            "unchanged": report.unchanged,
            "skipped": [{"source": s, "reason": r} for s, r in report.skipped],
            "warnings": report.warnings,
        })  # fmt: skip
        return
    for warning in report.warnings:
        err.print(f"[yellow]warning:[/] {escape(warning)}")
    for source, reason in report.skipped:
        err.print(f"[red]skipped[/] {escape(source)}: {escape(reason)}")
    counts = (("added", report.added), ("replaced", report.replaced),
              ("unchanged", report.unchanged), ("skipped", report.skipped))  # fmt: skip
    summary = ", ".join(f"{len(items)} {label}" for label, items in counts if items)
    out.print(f"collection {collection}: {summary or 'no documents found'}")


@knowledge_app.command()
def remove(
    source: Annotated[str, typer.Argument(help="the document's name as list shows it")],
    collection: CollectionOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Remove a document (all its chunks) from a collection."""
    settings = load_settings()
    name = _collection(collection, settings)
    with _knowledge(settings) as kb:
        chunks = kb.remove(source, name)
    if as_json:
        _emit({"collection": name, "source": source, "chunks": chunks})
    else:
        out.print(f"removed {source} ({chunks} chunks) from collection {name}", markup=False)


@knowledge_app.command("list")
def list_(collection: CollectionOpt = None, as_json: JsonOpt = False) -> None:
    """The documents of every collection (or of one), with their chunks, size and when added."""
    with _knowledge(load_settings()) as kb:
        documents = kb.documents(collection)
    if as_json:
        _emit({"documents": [asdict(d) for d in documents]})
        return
    if not documents:
        where = f"collection {collection!r}" if collection else "any collection"
        out.print(f"no documents in {where}; add some with agentlab knowledge add PATH...",
                  markup=False)  # fmt: skip
        return
    table = Table("collection", "source", "chunks", "bytes", "added")
    for doc in documents:
        added = datetime.fromtimestamp(doc.added, tz=UTC).strftime("%Y-%m-%d %H:%M")
        table.add_row(doc.collection, escape(doc.source), str(doc.chunks), str(doc.bytes), added)
    out.print(table)


@knowledge_app.command()
def stats(as_json: JsonOpt = False) -> None:
    """Collections, documents, chunks and size on disk."""
    with _knowledge(load_settings()) as kb:
        figures = kb.stats()
    if as_json:
        _emit(figures)
        return
    collections = figures.get("by_collection", {})
    for key, value in figures.items():
        if key != "by_collection":
            out.print(f"{key.replace('_', ' ')}: {value}")
    for name, counts in sorted(collections.items()):
        shown = ", ".join(f"{count} {what}" for what, count in counts.items())
        out.print(f"  collection {name}: {shown}")


@knowledge_app.command()
def search(
    query: Annotated[str, typer.Argument(help="what to look for")],
    collection: CollectionOpt = None,
    k: Annotated[int, typer.Option("--k", min=1, help="how many passages")] = 4,
    mode: Annotated[str, typer.Option("--mode", help="hybrid, dense or sparse")] = "hybrid",
    source: Annotated[str | None, typer.Option("--source", help="only this document")] = None,
    heading: Annotated[
        str | None, typer.Option("--heading", help="only sections under this heading path")
    ] = None,
    multi_query: Annotated[
        bool,
        typer.Option("--multi-query", help="also search the model's rephrasings of QUERY"),
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """The passages of a collection most relevant to QUERY, best first, with where they are
    from (file and heading path)."""
    if not query.strip():
        raise UsageError("the query is empty; say what to look for")
    if mode not in get_args(Retrieval):
        raise UsageError(f"--mode is one of {', '.join(get_args(Retrieval))}, not {mode!r}")
    settings = load_settings()
    name = _collection(collection, settings)
    with _knowledge(settings) as kb:
        if name not in kb.collections():  # before loading a model for --multi-query
            known = ", ".join(kb.collections()) or "none yet"
            raise UsageError(
                f"no knowledge collection {name!r} (collections: {known}); add documents with "
                f"agentlab knowledge add PATH... --collection {name}"
            )
        rewrites = _rewrites(settings, query) if multi_query else []
        passages = kb.search(query, collection=name, k=k, mode=cast(Retrieval, mode),
                             source=source, heading=heading, rewrites=rewrites)  # fmt: skip
        unmentioned = kb.unmentioned(query, name)
    if unmentioned:  # passages may still come back: they are near misses, not answers
        err.print(f"no document in {name!r} mentions: {escape(', '.join(unmentioned))}")
    if as_json:  # a list of results, best first (the rewrites searched go to stderr)
        for rewrite in rewrites:
            err.print(f"also searched: {escape(rewrite)}")
        _emit([_result(p) for p in passages])
        return
    _print_passages(query, passages, rewrites)


def _rewrites(settings: Settings, query: str) -> list[str]:
    from agentlab.llm import LlamaChatModel

    return rewrite_query(LlamaChatModel.from_settings(settings), query)


def _result(passage: Passage) -> dict[str, Any]:
    return {
        "source": passage.source, "heading": passage.heading, "text": passage.text,
        "score": passage.score, "cite": passage.cite, "chunk": passage.chunk,
        "matched": passage.matched,
    }  # fmt: skip


def _print_passages(query: str, passages: list[Passage], rewrites: list[str]) -> None:
    for rewrite in rewrites:
        err.print(f"[dim]also searched: {escape(rewrite)}[/]")
    if not passages:
        out.print(f"nothing found for {query!r}", markup=False)
        return
    for number, passage in enumerate(passages, 1):
        where = passage.source + (f" > {passage.heading}" if passage.heading else "")
        keyword = "" if passage.matched else " [dim](no keyword match)[/]"
        out.print(f"[bold]{number}. {escape(where)}[/] [dim]score {passage.score:.3f}[/]{keyword}")
        text = " ".join(passage.text.split())
        out.print(f"   {text[:400]}{'…' if len(text) > 400 else ''}", markup=False)


@knowledge_app.command()
def synth(
    collection: Annotated[str, typer.Argument(help="the collection to draft questions from")],
    n: Annotated[int, typer.Option("-n", min=1, help="how many questions")] = 50,
    out_file: Annotated[
        Path | None,
        typer.Option("--out", help="write the suite here (JSON lines); default: stdout"),
    ] = None,
) -> None:
    """Draft an evaluation suite from a collection: the model writes a question, its answer
    and the source for sections spread over the documents. Review the lines before trusting
    them; run them with agentlab eval FILE --knowledge COLLECTION."""
    if out_file is not None and not out_file.parent.exists():
        raise UsageError(f"cannot write {out_file}: folder {out_file.parent} does not exist")
    settings = load_settings()
    with _knowledge(settings) as kb:
        if collection not in kb.collections():
            known = ", ".join(kb.collections()) or "none yet"
            raise UsageError(f"no knowledge collection {collection!r} (collections: {known})")
        from agentlab.llm import LlamaChatModel

        sections = collection_sections(kb, collection)
        model = LlamaChatModel.from_settings(settings)
        lines = draft_suite(sections, model, n, on_draft=_drafted)
    if out_file is None:
        for line in lines:
            _emit(line)
        return
    write_suite(out_file, lines)
    err.print(f"wrote {len(lines)} questions to {out_file}; review them before use")


def _drafted(done: int, wanted: int, line: dict[str, Any] | None) -> None:
    if line is None:
        err.print(f"[dim]{done}/{wanted}: no question from this section[/]")
    else:
        err.print(f"[dim]{done}/{wanted}: {escape(line['task'][:70])}[/]")
