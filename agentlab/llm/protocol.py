"""The turn protocol that makes a small model call tools reliably.

Every model turn is one JSON object, forced by a llama.cpp grammar built from the bound tools'
JSON schemas: ``{"thought", "tool", "args"}`` to call a tool or ``{"thought", "answer"}`` to
finish. The prompt is ChatML (the Qwen2 template) with a stable head: the rules, the tool list
and three short worked examples. The head never changes within a run, and history is only
appended, so llama.cpp's prefix cache serves everything but the newest turn.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)

__all__ = [
    "ToolSpec",
    "action_schema",
    "parse_turn",
    "render_prompt",
    "system_prompt",
]

THOUGHT_MAX_CHARS = 160

Mode = Literal["auto", "required", "answer"] | str
"""``auto``: a tool or the answer; ``required``: some tool; ``answer``: only the answer;
any other string: that one tool."""


@dataclass(frozen=True)
class ToolSpec:
    """What the model needs to know of a tool: its name, purpose and argument schema."""

    name: str
    description: str
    parameters: dict[str, Any]

    @classmethod
    def from_openai(cls, tool: dict[str, Any]) -> ToolSpec:
        function = tool["function"]
        parameters = function.get("parameters") or {"type": "object", "properties": {}}
        return cls(function["name"], function.get("description", ""), parameters)

    def signature(self) -> str:
        properties: dict[str, Any] = self.parameters.get("properties", {})
        args = ", ".join(f"{name}: {_type_name(schema)}" for name, schema in properties.items())
        lines = [f"- {self.name}({args}): {_first_paragraph(self.description)}"]
        for name, schema in properties.items():
            if schema.get("description"):
                lines.append(f"    {name}: {schema['description']}")
        return "\n".join(lines)


def _type_name(schema: dict[str, Any]) -> str:
    if "enum" in schema:
        return " | ".join(json.dumps(v) for v in schema["enum"])
    if "anyOf" in schema:
        return " | ".join(_type_name(s) for s in schema["anyOf"])
    kind = schema.get("type", "any")
    if kind == "array":
        return f"list[{_type_name(schema.get('items', {}))}]"
    return {"integer": "int", "number": "number", "boolean": "bool"}.get(str(kind), str(kind))


def _first_paragraph(text: str) -> str:
    return " ".join(text.strip().split("\n\n")[0].split())


RULES = """\
You are a careful assistant. You solve the user's task with the tools listed below.
Every reply is exactly one JSON object, either a tool call:
{"thought": "<short reason>", "tool": "<tool name>", "args": {<arguments>}}
or the final answer:
{"thought": "<short reason>", "answer": "<the answer for the user>"}

Rules:
1. Never guess facts a tool can give: look up people, places, records, prices, weather and \
anything specific; compute every calculation and unit conversion with a tool.
2. Arguments hold only the value itself: "Paris", not "the weather in Paris"; "3 * 4", not \
"three times four".
3. One tool call per reply. Use what a tool returned as the input of the next call when the \
task has several steps.
4. When the results answer the task, give the final answer as a full sentence that repeats the \
exact values from the results.
5. Only answer directly when no tool fits the task (greetings, general knowledge, writing)."""

EXAMPLES = """\
Examples (their tools only illustrate the format):

User: What is 12 times 7 plus 5?
Assistant: {"thought": "This is arithmetic, so I use the calculator.", "tool": "calculator", \
"args": {"expression": "12 * 7 + 5"}}
User: Result of calculator: 89
Assistant: {"thought": "The calculator returned 89.", "answer": "12 times 7 plus 5 is 89."}

User: How old is the manager of the Oslo office?
Assistant: {"thought": "First I find who manages the Oslo office.", "tool": "lookup", \
"args": {"query": "Oslo office manager"}}
User: Result of lookup: The Oslo office is managed by Ingrid Berg.
Assistant: {"thought": "Now I look up the age of Ingrid Berg.", "tool": "lookup", \
"args": {"query": "Ingrid Berg"}}
User: Result of lookup: Ingrid Berg, 47 years old, joined in 2015.
Assistant: {"thought": "I have the age.", "answer": "Ingrid Berg manages the Oslo office and \
is 47 years old."}

User: Say thank you in Spanish.
Assistant: {"thought": "No tool is needed to translate this.", "answer": "Gracias."}"""

HINT_OK = "Use this result: call the next tool if the task needs another step, else answer."
HINT_ERROR = "The call failed. Fix the arguments, try another tool, or answer."


def system_prompt(tools: Sequence[ToolSpec], extra: str = "") -> str:
    listing = "\n".join(t.signature() for t in tools) or "(no tools: answer directly)"
    parts = [RULES, f"Tools:\n{listing}", EXAMPLES]
    if extra:
        parts.append(extra)
    return "\n\n".join(parts)


def _turn(role: str, content: str) -> str:
    return f"<|im_start|>{role}\n{content}<|im_end|>\n"


def render_prompt(messages: Sequence[BaseMessage], tools: Sequence[ToolSpec]) -> str:
    """ChatML prompt for ``messages``, ending where the assistant's next turn begins."""
    extra = "\n\n".join(m.text for m in messages if isinstance(m, SystemMessage))
    parts = [_turn("system", system_prompt(tools, extra))]
    for message in messages:
        if isinstance(message, HumanMessage):
            parts.append(_turn("user", message.text))
        elif isinstance(message, AIMessage):
            parts.append(_turn("assistant", turn_text(message)))
        elif isinstance(message, ToolMessage):
            parts.append(_turn("user", observation(message)))
    parts.append("<|im_start|>assistant\n")
    return "".join(parts)


def observation(message: ToolMessage) -> str:
    name = message.name or "tool"
    if message.status == "error":
        return f"Error from {name}: {message.text}\n{HINT_ERROR}"
    return f"Result of {name}: {message.text}\n{HINT_OK}"


def turn_text(message: AIMessage) -> str:
    """The JSON the model wrote (verbatim, for the prefix cache), or its canonical form."""
    raw = message.additional_kwargs.get("raw")
    if isinstance(raw, str):
        return raw
    thought = message.additional_kwargs.get("thought", "")
    if message.tool_calls:
        call = message.tool_calls[0]
        return json.dumps({"thought": thought, "tool": call["name"], "args": call["args"]})
    return json.dumps({"thought": thought, "answer": message.text})


def action_schema(tools: Sequence[ToolSpec], mode: Mode = "auto") -> dict[str, Any]:
    """JSON schema of one turn; llama.cpp turns it into the grammar that constrains decoding."""
    thought = {"type": "string", "maxLength": THOUGHT_MAX_CHARS}
    answer = {
        "type": "object",
        "properties": {"thought": thought, "answer": {"type": "string", "minLength": 1}},
        "required": ["thought", "answer"],
        "additionalProperties": False,
    }
    if mode == "answer" or not tools:
        return answer
    chosen = [t for t in tools if mode in ("auto", "required") or t.name == mode]
    calls = [
        {
            "type": "object",
            "properties": {"thought": thought, "tool": {"const": t.name}, "args": t.parameters},
            "required": ["thought", "tool", "args"],
            "additionalProperties": False,
        }
        for t in chosen
    ]
    branches = [*calls, answer] if mode == "auto" else calls
    return branches[0] if len(branches) == 1 else {"oneOf": branches}


def parse_turn(text: str) -> AIMessage:
    """Turn the model's JSON into an AIMessage with ``tool_calls`` (or plain text if not JSON)."""
    kwargs: dict[str, Any] = {"raw": text}
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return AIMessage(content=text.strip(), additional_kwargs=kwargs)
    if not isinstance(data, dict):
        return AIMessage(content=text.strip(), additional_kwargs=kwargs)
    kwargs["thought"] = str(data.get("thought", ""))
    if "tool" in data:
        args = data.get("args") if isinstance(data.get("args"), dict) else {}
        call = {"name": str(data["tool"]), "args": args, "id": f"call_{uuid.uuid4().hex[:12]}"}
        return AIMessage(content="", additional_kwargs=kwargs, tool_calls=[call])
    return AIMessage(content=str(data.get("answer", "")), additional_kwargs=kwargs)
