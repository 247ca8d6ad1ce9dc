"""The ``agentlab`` command line (contract in the README)."""

from __future__ import annotations

import json
import sys
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from langchain_core.tools import BaseTool
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Command
from rich.console import Console
from rich.table import Table

from agentlab.cli._approve import ask_decision, decision_from_flags, describe_pending
from agentlab.cli._compare import compare_reports
from agentlab.cli._console import ConsoleTrace
from agentlab.cli._doctor import doctor
from agentlab.cli._eval import SuiteTask, load_suite, run_suite, suite_checker
from agentlab.cli._graph_png import draw_png
from agentlab.cli._grounding import grounding_cells, percent, settings_judge
from agentlab.cli._knowledge import knowledge_app
from agentlab.cli._memory import memory_app
from agentlab.cli._models import models_app
from agentlab.cli._options import (
    BackendOpt,
    CtxOpt,
    ExpectOpt,
    GpuOpt,
    JsonOpt,
    KnowledgeOpt,
    KvOpt,
    ModelOpt,
    NoMemoryOpt,
    PolicyOpt,
    StepsOpt,
    TeamOpt,
    ToolsOpt,
    TraceOpt,
)
from agentlab.cli._patterns import pattern_options
from agentlab.cli._run import RunResult, pending_call, run_task
from agentlab.cli._serve import serve
from agentlab.cli._serve_model import serve_model
from agentlab.cli._threads import (
    ThreadRecord,
    list_threads,
    load_thread,
    note_run,
    records_place,
    save_thread,
)
from agentlab.cli._tools import tools_app
from agentlab.config import Settings, load_settings
from agentlab.errors import RunError, UsageError
from agentlab.graphs import PATTERNS, AgentSpec, build_agent, check_pattern
from agentlab.llm import LlamaChatModel
from agentlab.testing import ScriptedChatModel
from agentlab.tools import load_tools
from agentlab.tracing import Tracer

__all__ = ["app"]

app = typer.Typer(
    help="Local-first agents: LangGraph graphs over an embedded llama.cpp model.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(models_app, name="models")
app.add_typer(tools_app, name="tools")
app.add_typer(memory_app, name="memory")
app.add_typer(knowledge_app, name="knowledge")
app.command()(doctor)
app.command("serve-model")(serve_model)
app.command()(serve)
threads_app = typer.Typer(
    help="Conversation threads run from the command line.", no_args_is_help=True
)
app.add_typer(threads_app, name="threads")

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)


def _overrides(model: str | None, max_steps: int | None, n_ctx: int | None,
               kv_type: str | None, gpu_layers: int | None,
               context_policy: str | None, no_memory: bool = False,
               knowledge: str | None = None, backend: str | None = None,
               ) -> dict[str, Any]:  # fmt: skip
    """The settings given as flags (kept with a thread, so a resume uses them again)."""
    given = {
        "model": model, "max_steps": max_steps, "n_ctx": n_ctx, "kv_type_k": kv_type,
        "kv_type_v": kv_type, "n_gpu_layers": gpu_layers, "context_policy": context_policy,
        "memory": False if no_memory else None, "knowledge": knowledge, "backend": backend,
    }  # fmt: skip
    return {key: value for key, value in given.items() if value is not None}


@contextmanager
def _agent(
    settings: Settings, pattern: str, tools: list[BaseTool], options: dict[str, Any]
) -> Iterator[CompiledStateGraph[Any, Any, Any, Any]]:
    """The pattern's graph as :func:`agentlab.build_agent` builds it from the settings; its
    files are closed when the command ends."""
    own = pattern_options(pattern, tools, **options)  # before the model loads: usage errors
    with ExitStack() as resources:
        yield build_agent(pattern, tools, settings=settings, resources=resources, **own)


def _drive(
    graph: CompiledStateGraph[Any, Any, Any, Any],
    payload: str | Command[Any] | None,
    *,
    thread_id: str,
    settings: Settings,
    tools: list[BaseTool],
    tracer: Tracer,
    as_json: bool,
) -> RunResult:
    """Run until done, failed or waiting; on a terminal, ask about each pending call."""
    live = [] if as_json else [ConsoleTrace(err)]
    try:
        result = run_task(graph, payload, thread_id=thread_id, tracer=tracer,
                          max_steps=settings.max_steps, callbacks=live)  # fmt: skip
        while result.status == "interrupted" and not as_json and result.pending:
            decision = ask_decision(err, result.pending, tools)
            if decision is None:
                break
            result = run_task(
                graph, Command(resume=decision), thread_id=thread_id, tracer=tracer,
                max_steps=settings.max_steps, callbacks=live,
            )  # fmt: skip
    except KeyboardInterrupt:
        err.print(
            f"\ncancelled; the checkpoint is intact: finish this run with agentlab resume "
            f"{thread_id}, or continue the conversation with --thread {thread_id}"
        )
        raise typer.Exit(130) from None
    return result


@app.command()
def run(
    pattern: Annotated[str, typer.Argument(help="agent pattern: " + ", ".join(PATTERNS))],
    task: Annotated[str, typer.Argument(help="what the agent should do")],
    tools: ToolsOpt = None,
    model: ModelOpt = None,
    thread: Annotated[str | None, typer.Option("--thread", help="continue this thread")] = None,
    max_steps: StepsOpt = None,
    as_json: JsonOpt = False,
    trace: TraceOpt = None,
    n_ctx: CtxOpt = None,
    kv_type: KvOpt = None,
    gpu_layers: GpuOpt = None,
    context_policy: PolicyOpt = None,
    expect: ExpectOpt = None,
    team: TeamOpt = None,
    no_memory: NoMemoryOpt = False,
    knowledge: KnowledgeOpt = None,
    backend: BackendOpt = None,
) -> None:
    """Run an agent on TASK and print its answer (or the JSON result with --json)."""
    if not task.strip():
        raise UsageError("the task is empty; say what the agent should do")
    check_pattern(pattern)
    overrides = _overrides(model, max_steps, n_ctx, kv_type, gpu_layers, context_policy,
                           no_memory, knowledge, backend)  # fmt: skip
    settings = load_settings(**overrides)
    loaded = load_tools(tools) if tools else []
    options = {"expect": expect or [], "team": team}
    thread_id = thread or uuid.uuid4().hex[:12]
    tracer = Tracer(trace or settings.trace_dir / f"{thread_id}.jsonl", thread_id=thread_id,
                    pattern=pattern)  # fmt: skip
    try:
        with _agent(settings, pattern, loaded, options) as graph:
            waiting = pending_call(graph, thread_id) if thread else None
            if waiting is not None:
                raise UsageError(
                    f"thread {thread_id} waits for approval of {describe_pending(waiting)}; "
                    f"answer it first: agentlab resume {thread_id} --approve | --reject REASON "
                    "| --edit JSON"
                )
            save_thread(settings, thread_id, ThreadRecord(pattern, tools, overrides, options))
            result = _drive(graph, task, thread_id=thread_id, settings=settings, tools=loaded,
                            tracer=tracer, as_json=as_json)  # fmt: skip
            _note_run(settings, thread_id, graph, result)
    finally:
        tracer.close()
    _print_result(result, as_json)
    raise typer.Exit(1 if result.status == "failed" else 0)


@app.command()
def resume(
    thread_id: Annotated[str, typer.Argument(help="the thread to continue")],
    approve: Annotated[bool, typer.Option("--approve", help="run the pending call")] = False,
    reject: Annotated[
        str | None, typer.Option("--reject", help="do not run it; the model reads REASON")
    ] = None,
    edit: Annotated[
        str | None, typer.Option("--edit", help="run it with these JSON arguments instead")
    ] = None,
    as_json: JsonOpt = False,
    trace: TraceOpt = None,
) -> None:
    """Continue a thread: answer its pending approval, or finish a run that was cut off."""
    home_settings = load_settings()
    record = load_thread(home_settings, thread_id)
    if record is None:
        raise UsageError(f"no thread {thread_id!r} in {records_place(home_settings)}; "
                         "see agentlab threads list")  # fmt: skip
    settings = load_settings(**record.overrides)
    loaded = load_tools(record.tools) if record.tools else []
    tracer = Tracer(trace or settings.trace_dir / f"{thread_id}.jsonl", thread_id=thread_id,
                    pattern=record.pattern)  # fmt: skip
    try:
        with _agent(settings, record.pattern, loaded, record.options) as graph:
            payload = _resume_payload(graph, thread_id, approve, reject, edit, loaded, as_json)
            result = _drive(graph, payload, thread_id=thread_id, settings=settings,
                            tools=loaded, tracer=tracer, as_json=as_json)  # fmt: skip
            _note_run(settings, thread_id, graph, result)
    finally:
        tracer.close()
    _print_result(result, as_json)
    raise typer.Exit(1 if result.status == "failed" else 0)


def _note_run(
    settings: Settings, thread_id: str, graph: CompiledStateGraph[Any, Any, Any, Any],
    result: RunResult,
) -> None:  # fmt: skip
    """Record how the run ended; a run that failed because its store went away is still
    reported (the record waits for the next run or resume)."""
    try:
        note_run(settings, thread_id, graph, result)
    except RunError:
        if result.status != "failed":
            raise


def _resume_payload(
    graph: CompiledStateGraph[Any, Any, Any, Any], thread_id: str, approve: bool,
    reject: str | None, edit: str | None, tools: list[BaseTool], as_json: bool,
) -> Command[Any] | None:  # fmt: skip
    pending = pending_call(graph, thread_id)
    if pending is None:
        if approve or reject is not None or edit is not None:
            raise UsageError(f"thread {thread_id} has no call waiting for approval")
        if not graph.get_state({"configurable": {"thread_id": thread_id}}).next:
            raise UsageError(
                f"thread {thread_id} has nothing to resume; continue the conversation with "
                f"agentlab run PATTERN TASK --thread {thread_id}"
            )
        return None  # a run cut off mid-way: go on from the last checkpoint
    decision = decision_from_flags(approve, reject, edit, tools, pending["name"])
    if decision is None and as_json:
        raise UsageError(
            f"thread {thread_id} waits for approval of {describe_pending(pending)}: pass "
            "--approve, --reject REASON or --edit JSON"
        )
    if decision is None:
        decision = ask_decision(err, pending, tools)
        if decision is None:
            raise UsageError("no decision given; the call is still pending")
    return Command(resume=decision)


def _print_result(result: RunResult, as_json: bool) -> None:
    if as_json:
        sys.stdout.write(json.dumps(result.as_dict(), ensure_ascii=False) + "\n")
        return
    if result.status == "failed":
        err.print(f"[bold red]failed:[/] {result.error}")
    else:
        out.print(f"[bold]{result.answer}[/]")
    usage = result.usage
    err.print(
        f"[dim]thread {result.thread_id} · {result.steps} steps · "
        f"{usage['prompt_tokens']} prompt tokens ({usage['reused_prompt_tokens']} reused) · "
        f"{usage['completion_tokens']} completion tokens · {result.wall_s:.1f} s[/]"
    )


@app.command("eval")
def eval_(
    suite: Annotated[
        Path | None,
        typer.Argument(help="JSONL: {id, task, expect: [...], kind?} per line; not with --compare"),
    ] = None,
    pattern: Annotated[
        str | None, typer.Option("--pattern", help="agent pattern (default react)")
    ] = None,
    tools: ToolsOpt = None,
    model: ModelOpt = None,
    max_steps: StepsOpt = None,
    as_json: JsonOpt = False,
    trace: TraceOpt = None,
    n_ctx: CtxOpt = None,
    kv_type: KvOpt = None,
    gpu_layers: GpuOpt = None,
    context_policy: PolicyOpt = None,
    team: TeamOpt = None,
    with_memory: Annotated[
        bool,
        typer.Option(
            "--memory",
            help="recall from agent memory before each task and record each run (off: every "
            "task starts from nothing)",
        ),
    ] = False,
    repeat: Annotated[
        int | None,
        typer.Option("--repeat", min=1, help="run every task N times (default 1), each fresh"),
    ] = None,
    compare: Annotated[
        tuple[Path, Path] | None,
        typer.Option(
            "--compare",
            metavar="A.json B.json",
            help="compare two saved eval --json reports instead of running a suite",
        ),
    ] = None,
    png: Annotated[
        Path | None, typer.Option("--png", help="with --compare: success by kind, as a PNG")
    ] = None,
    knowledge: KnowledgeOpt = None,
    judge: Annotated[
        bool | None,
        typer.Option(
            "--judge/--no-judge",
            help="have a model judge whether answers are supported by the retrieved passages "
            "(default: on when the suite's tasks have sources)",
        ),
    ] = None,
    backend: BackendOpt = None,
) -> None:
    """Run every task of SUITE and report pass/fail, success rate, steps, tokens and time; or,
    with --compare, set two saved reports side by side (no model is loaded).

    Tasks with "sources" (the files that hold the answer) are scored on retrieval too: context
    recall and precision from the run's search_knowledge calls, and the answer's faithfulness
    to the retrieved passages (a word check, and a judge model unless --no-judge).

    With --pattern reflexion each task's expected strings are the checker of its trials; the
    feedback says how many are missing, never which. With --repeat N, passed and success_rate
    are means over the N repeats.
    """
    run_only = {"--pattern": pattern, "--tools": tools, "--model": model,
                "--max-steps": max_steps, "--trace": trace, "--ctx": n_ctx,
                "--kv-type": kv_type, "--gpu-layers": gpu_layers,
                "--context-policy": context_policy, "--team": team, "--repeat": repeat,
                "--memory": with_memory or None, "--knowledge": knowledge,
                "--judge/--no-judge": judge, "--backend": backend}  # fmt: skip
    if compare is not None:
        if suite is not None:
            raise UsageError("give either SUITE (run it) or --compare A.json B.json, not both")
        given = [flag for flag, value in run_only.items() if value is not None]
        if given:
            raise UsageError(f"--compare reads saved reports; {', '.join(given)} only apply "
                             "to running a suite")  # fmt: skip
        compare_reports(*compare, png=png, as_json=as_json, out=out, err=err)
        return
    if suite is None:
        raise UsageError("give a SUITE to run, or --compare A.json B.json to compare reports")
    if png is not None:
        raise UsageError("--png draws a comparison; use it with --compare A.json B.json")
    pattern = pattern or "react"
    check_pattern(pattern)
    settings = load_settings(**_overrides(model, max_steps, n_ctx, kv_type, gpu_layers,
                                          context_policy, knowledge=knowledge, backend=backend),
                             memory=with_memory)  # fmt: skip
    report = _run_suite(suite, pattern, tools, team, settings, trace=trace, repeats=repeat or 1,
                        as_json=as_json, judge=judge)  # fmt: skip
    if as_json:
        sys.stdout.write(json.dumps(report, ensure_ascii=False) + "\n")
        return
    _print_eval_report(report, f"{suite.name} · {pattern}")


def _run_suite(
    suite: Path, pattern: str, tools: str | None, team: str | None, settings: Settings, *,
    trace: Path | None, repeats: int, as_json: bool, judge: bool | None,
) -> dict[str, Any]:  # fmt: skip
    """Every task of ``suite`` through the agent ``build_agent`` makes, each on a fresh thread."""
    tasks = load_suite(suite)
    sourced = any(task.sources for task in tasks)
    if judge and not sourced:
        raise UsageError(f"--judge checks answers against retrieved passages; no task of {suite} "
                         'names its "sources"')  # fmt: skip
    judging = sourced if judge is None else judge
    if sourced and settings.knowledge is None:
        err.print("[yellow]warning:[/] the suite's tasks have sources but the agent searches "
                  "no documents; pass --knowledge COLLECTION")  # fmt: skip
    loaded = load_tools(tools) if tools else []
    own = pattern_options(pattern, loaded, team=team)
    if pattern == "reflexion":
        own["checker"] = suite_checker(tasks)
    trace_path = trace or settings.trace_dir / f"eval-{uuid.uuid4().hex[:8]}.jsonl"

    def progress(task: SuiteTask, result: RunResult, ok: bool, number: int) -> None:
        mark = "[green]pass[/]" if ok else "[red]FAIL[/]"
        which = f" [dim]({number}/{repeats})[/]" if repeats > 1 else ""
        err.print(f"{mark} {task.id}{which}: {result.answer[:80] or result.error}")

    with ExitStack() as resources:  # every task on a fresh thread: checkpoints in memory
        model = LlamaChatModel.from_settings(settings) if judging else None  # the judge's too
        graph = build_agent(pattern, loaded, settings=settings, checkpointer=InMemorySaver(),
                            model=model, resources=resources, **own)  # fmt: skip
        report = run_suite(
            graph, tasks, max_steps=settings.max_steps, trace_path=trace_path, repeat=repeats,
            on_result=None if as_json else progress,
            judge=settings_judge(settings, model) if judging else None,
        )  # fmt: skip
    return {"suite": str(suite), "pattern": pattern, **report}


def _print_eval_report(report: dict[str, Any], title: str) -> None:
    """The eval report as a table: passes per task (k/N over repeats), then the summary."""
    repeats = report["repeat"]
    grounding = report.get("grounding")
    scores = ("recall", "precision", "faithful", "supported") if grounding else ()
    table = Table(title=title)
    for column in ("task", "kind", "passed", *scores, "steps", "tokens", "wall s", "answer"):
        table.add_column(column)
    for row in report["tasks"]:
        passes = sum(run["passed"] for run in row["runs"])
        verdict = f"{passes}/{repeats}" if repeats > 1 else "pass" if passes else "FAIL"
        table.add_row(
            row["id"], row["kind"], verdict, *(grounding_cells(row) if grounding else ()),
            f"{row['steps']:g}", f"{row['tokens']:g}", f"{row['wall_s']:.1f}",
            (row["answer"] or row["error"] or "")[:60],
        )  # fmt: skip
    out.print(table)
    spread = report["repeats"]
    success = f"success {report['passed']:g}/{report['total']} ({report['success_rate']:.0%})"
    if repeats > 1:
        per_repeat = ", ".join(map(str, spread["passed"]))
        success += f" ± {spread['stdev']:.2g} over {repeats} repeats ({per_repeat})"
    groups = report["by_kind"]
    kinds = [f"{kind or '(none)'} {g['passed']:g}/{g['total']}" for kind, g in groups.items()
             if set(groups) != {""}]  # fmt: skip
    usage = report["usage"]
    out.print(
        f"{success}{' · ' + ', '.join(kinds) if kinds else ''}\n"
        f"mean steps {report['mean_steps']} · {report['model_calls']} model calls · "
        f"{usage['prompt_tokens']} prompt + {usage['completion_tokens']} completion tokens · "
        f"median task {report['median_wall_s']:.1f} s · {report['wall_s']:.0f} s in all"
    )
    if grounding:
        out.print(
            f"tasks with sources ({grounding['tasks']}): answer correctness "
            f"{percent(grounding['answer_correctness'])} · context recall "
            f"{percent(grounding['context_recall'])} · precision "
            f"{percent(grounding['context_precision'])} · faithfulness (words) "
            f"{percent(grounding['faithfulness'])} · judged supported "
            f"{percent(grounding['supported'])} of {grounding['judged']}"
        )


@app.command()
def graph(
    pattern: Annotated[str, typer.Argument(help="agent pattern: " + ", ".join(PATTERNS))],
    mermaid: Annotated[bool, typer.Option("--mermaid", help="print the Mermaid source")] = False,
    png: Annotated[Path | None, typer.Option("--png", help="write a PNG picture here")] = None,
    tools: ToolsOpt = None,
) -> None:
    """Show the shape of a pattern's graph (over the demo tools unless --tools is given)."""
    builder = check_pattern(pattern).build
    if png is not None and not png.parent.exists():
        raise UsageError(f"cannot write {png}: folder {png.parent} does not exist")
    loaded = load_tools(tools or "agentlab.tools.demo:TOOLS")
    stand_in = ScriptedChatModel(turns=[])  # the shape needs no model
    built = builder(AgentSpec(stand_in, loaded))
    if png is not None:
        draw_png(built, png)
        err.print(f"wrote {png}")
    if mermaid or png is None:
        sys.stdout.write(built.get_graph().draw_mermaid())


@threads_app.command("list")
def threads_list(as_json: JsonOpt = False) -> None:
    """List the threads the command line ran, newest first: pattern, messages, last update,
    and how the latest run ended (a call waiting for approval, a failure)."""
    threads = list_threads(load_settings())
    if as_json:
        rows = [{**asdict(thread), "state": thread.state} for thread in threads]
        sys.stdout.write(json.dumps({"threads": rows}) + "\n")
        return
    if not threads:
        out.print("no threads yet")
        return
    table = Table("thread", "pattern", "messages", "updated", "state")
    for thread in threads:
        updated = datetime.fromtimestamp(thread.updated).strftime("%Y-%m-%d %H:%M:%S")
        messages = "" if thread.messages is None else str(thread.messages)
        table.add_row(thread.thread_id, thread.pattern, messages, updated, thread.state)
    out.print(table)
