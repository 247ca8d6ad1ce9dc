"""ReWOO plans: the planner's structured output, the grammar it is decoded under, and the checks
a plan passes before any of its calls runs.

A plan is a list of tool calls written at once. Each has an id (``E1``, ``E2``, ...) and its
arguments may hold references to earlier steps' results (``#E1``), filled in when the step runs.
The parsed model is loose (any tool name, any arguments) so that :func:`plan_problems` can say
exactly what is wrong; the JSON schema the model sees, and so its grammar, is strict: one branch
per bound tool with that tool's own arguments, where an argument that is not text may also be one
reference alone. The planner's tool listing leaves out the tools' example values: the plan is
written before any result is seen, and a small model copies examples into its arguments.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Annotated, Any

from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import BaseModel, Field, ValidationError, WithJsonSchema, create_model

__all__ = [
    "REFERENCE",
    "Plan",
    "PlannedCall",
    "call_text",
    "evidence",
    "parameters",
    "plan_model",
    "plan_problems",
    "planner_prompt",
    "references",
    "tool_listing",
    "without_examples",
]

REFERENCE = re.compile(r"#(E[0-9]+)\b")
"""A reference to an earlier step's result inside an argument: ``#E1``."""

_EXAMPLE = re.compile(r',?\s*(?:e\.g\.|for example)[,:]?\s*"[^"]*"')
_ID = re.compile(r"^E[1-9][0-9]?$")
_EXACT_REFERENCE = {"type": "string", "pattern": "^#E[1-9][0-9]?$"}
_ARG_MAX_CHARS = 120  # bounded: a small model repeating itself ends the string, not the budget


class PlannedCall(BaseModel):
    """One step: a tool call whose arguments may refer to earlier steps' results."""

    id: str
    tool: str
    args: dict[str, Any] = Field(default_factory=dict)


class Plan(BaseModel):
    """The tool calls that solve the task, in order, all written before any of them runs."""

    steps: list[PlannedCall]


def parameters(tool: BaseTool) -> dict[str, Any]:
    """The JSON schema of ``tool``'s arguments, as a model sees it."""
    found: dict[str, Any] = convert_to_openai_tool(tool)["function"].get("parameters") or {}
    return {"type": "object", "properties": {}, **found}


def _argument_schema(schema: dict[str, Any]) -> dict[str, Any]:
    if schema.get("type") == "string":
        return {"maxLength": _ARG_MAX_CHARS, **schema}
    inner = {k: v for k, v in schema.items() if k != "description"}
    described = {"description": schema["description"]} if "description" in schema else {}
    return {**described, "anyOf": [inner, _EXACT_REFERENCE]}


def _step_schema(tool: BaseTool) -> dict[str, Any]:
    params = parameters(tool)
    args = {
        **params,
        "properties": {k: _argument_schema(v) for k, v in params["properties"].items()},
        "additionalProperties": False,
    }
    return {
        "type": "object",
        "properties": {
            "id": {"type": "string", "pattern": "^E[1-9][0-9]?$"},
            "tool": {"enum": [tool.name]},
            "args": args,
        },
        "required": ["id", "tool", "args"],
        "additionalProperties": False,
    }


def plan_model(tools: Sequence[BaseTool], max_steps: int) -> type[Plan]:
    """:class:`Plan` whose JSON schema allows 1 to ``max_steps`` calls of ``tools`` only, each
    with its own arguments. Bound as a tool its schema is named ``Plan``."""
    branches = [_step_schema(t) for t in tools]
    items = branches[0] if len(branches) == 1 else {"anyOf": branches}
    schema = {"type": "array", "items": items, "minItems": 1, "maxItems": max_steps}
    steps_type: Any = Annotated[list[PlannedCall], WithJsonSchema(schema)]
    description = 'the tool calls in order: {"id": "E1", "tool": ..., "args": {...}}, then E2, ...'
    return create_model(
        "Plan", __base__=Plan, __doc__=Plan.__doc__,
        steps=(steps_type, Field(description=description)),
    )  # fmt: skip


def references(value: Any) -> Iterator[str]:
    """The step ids referred to anywhere in an argument value, in order."""
    if isinstance(value, str):
        yield from REFERENCE.findall(value)
    elif isinstance(value, dict):
        for item in value.values():
            yield from references(item)
    elif isinstance(value, list):
        for item in value:
            yield from references(item)


def call_text(tool: str, args: Mapping[str, Any]) -> str:
    """``tool(name="value", ...)``: a call as prompts and errors show it."""
    shown = ", ".join(f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in args.items())
    return f"{tool}({shown})"


def evidence(steps: Sequence[Mapping[str, Any]]) -> str:
    """Each step as it ran, for prompts: ``E1 = tool(args) returned: «result»``."""
    lines = []
    for step in steps:
        call = call_text(step["tool"], step.get("args_run") or step["args"])
        outcome = {
            "done": f" returned: «{step['result']}»",
            "failed": f" failed: «{step['result']}»",
        }.get(step["status"], " (not run)")
        lines.append(f"{step['id']} = {call}{outcome}")
    return "\n".join(lines)


def without_examples(text: str) -> str:
    """A description without its example values (``, e.g. "..."``): a plan is written before
    any result is seen, and a small model copies an example into its arguments."""
    return _EXAMPLE.sub("", text)


def tool_listing(tools: Sequence[BaseTool]) -> str:
    """Each tool's signature and purpose, and its arguments' descriptions."""
    lines = []
    for tool in tools:
        properties: dict[str, Any] = parameters(tool)["properties"]
        signature = ", ".join(f"{k}: {v.get('type', 'any')}" for k, v in properties.items())
        lines.append(f"- {tool.name}({signature}): {tool.description.strip().splitlines()[0]}")
        for name, schema in properties.items():
            if schema.get("description"):
                lines.append(f"    {name}: {without_examples(schema['description'])}")
    return "\n".join(lines) or "(none)"


def _argument_problems(step: PlannedCall, tool: BaseTool) -> list[str]:
    params = parameters(tool)
    properties: dict[str, Any] = params["properties"]
    where = f"step {step.id} ({tool.name})"
    problems = [f"{where} has no argument {k!r}" for k in step.args if k not in properties]
    missing = [k for k in params.get("required", []) if k not in step.args]
    problems += [f"{where} is missing the argument {k!r}" for k in missing]
    deferred = set()  # filled in when the step runs: their type is checked then
    for name, value in step.args.items():
        if not any(True for _ in references(value)):
            continue
        deferred.add(name)
        exact = isinstance(value, str) and REFERENCE.fullmatch(value.strip()) is not None
        if properties.get(name, {}).get("type", "string") != "string" and not exact:
            problems.append(f"{where}: argument {name!r} must be a value or one reference alone")
    schema = tool.args_schema
    if isinstance(schema, type) and issubclass(schema, BaseModel):
        try:
            schema.model_validate({k: v for k, v in step.args.items() if k not in deferred})
        except ValidationError as exc:
            problems += [
                f"{where}: argument {e['loc'][0]!r}: {e['msg']}"
                for e in exc.errors()
                if e["loc"] and e["loc"][0] in properties
                and e["loc"][0] not in deferred and e["type"] != "missing"
            ]  # fmt: skip
    return problems


def plan_problems(
    steps: Sequence[PlannedCall], tools: Sequence[BaseTool], max_steps: int
) -> list[str]:
    """What makes the plan unusable (empty if nothing): too many or no steps, bad or duplicate
    ids, unknown tools, references to missing, later or the same step, invalid arguments."""
    if not steps:
        return ["the plan has no steps"]
    if len(steps) > max_steps:
        return [f"the plan has {len(steps)} steps, more than max_plan_steps={max_steps}"]
    by_name = {t.name: t for t in tools}
    ids = [s.id for s in steps]
    problems: list[str] = []
    seen: set[str] = set()
    for number, step in enumerate(steps, 1):
        if not _ID.match(step.id):
            problems.append(f"step {number} has the id {step.id!r}; ids are E1, E2, ...")
        elif step.id in seen:
            problems.append(f"two steps have the id {step.id}")
        for ref in dict.fromkeys(references(step.args)):
            if ref == step.id:
                problems.append(f"step {step.id} refers to itself (#{ref})")
            elif ref not in seen:
                where = "a later step" if ref in ids else "but there is no step with that id"
                problems.append(f"step {step.id} refers to #{ref}, {where}")
        tool = by_name.get(step.tool)
        if tool is None:
            known = ", ".join(sorted(by_name)) or "none"
            problems.append(f"step {step.id} uses the unknown tool {step.tool!r}; tools: {known}")
        else:
            problems += _argument_problems(step, tool)
        seen.add(step.id)
    return problems


_PLANNER = """\
You plan how to solve the user's task with these tools:
{tools}

Write every tool call the task needs at once, in order, before any of them runs. The steps \
have the ids E1, E2, ... A step that needs an earlier step's result writes its reference \
(#E1, #E2, ...) in place of that value; the value is filled in when the step runs. Take names \
and numbers from the task itself; never guess a value that a tool can give. Cover every part \
of the task with as few steps as it needs.
The shape of a plan (each <...> is a placeholder):
{{"steps": [{{"id": "E1", "tool": "<tool>", "args": {{"<argument>": "<a name from the task>"}}}}, \
{{"id": "E2", "tool": "<tool>", "args": {{"<argument>": "#E1"}}}}]}}
A reference can also stand inside other text, as in the expression "#E1 * <a number from the \
task>"."""

_REPLAN = """\
{task}

The previous plan could not be finished: {problem}.
The previous plan and what happened:
{evidence}

Write a new plan for the task that avoids this problem, with ids from E1. Calls that worked \
may be repeated: their results are reused, not run again."""


def planner_prompt(
    tools: Sequence[BaseTool], task: str, problem: str | None, steps: Sequence[Mapping[str, Any]]
) -> list[BaseMessage]:
    """The planner's messages: the task, or after a ``problem`` with the previous ``steps``,
    a request for a new plan."""
    ask = task
    if problem:
        ask = _REPLAN.format(task=task, problem=problem, evidence=evidence(steps))
    return [SystemMessage(_PLANNER.format(tools=tool_listing(tools))), HumanMessage(ask)]
