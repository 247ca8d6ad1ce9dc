"""Filling in a ReWOO step's references (``#E1``) with earlier steps' results.

A result that already is the value the argument needs goes in as it is, with no model call: a
bare number, or the only number a sentence holds where a number is needed, or a short name. A
longer result holds the value somewhere inside: then ``extract`` is asked for it, typed by the
argument's schema. The graph makes that a short grammar-constrained model call in which a number
can only be one of those the result holds, and a value the result does not hold is refused.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Annotated, Any, Literal

from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage
from pydantic import BaseModel, Field, WithJsonSchema, create_model

from agentlab.graphs._rewoo_plan import REFERENCE, call_text, without_examples
from agentlab.graphs._steps import Steps

__all__ = [
    "Ask",
    "Extract",
    "Kind",
    "Value",
    "as_number",
    "bind_args",
    "checked",
    "extraction_prompt",
    "is_short",
    "model_extractor",
    "number_text",
    "numbers_in",
    "sole_number",
    "value_model",
]

Kind = Literal["number", "integer", "string", "boolean"]
Ask = Callable[[type[BaseModel], list[BaseMessage]], Steps[tuple[Any, str]]]
"""``ask(schema, prompt)``: the steps of one model call for a structured output, giving it
parsed (``None`` if it did not parse) and why not."""
Extract = Callable[[str, str, Kind], Steps[Any]]
"""``extract(argument, step_id, kind)``: the steps giving the value of ``kind`` that the
argument needs out of the step's result; raises ``ValueError`` when there is none."""

_NUMBER_TEXT = r"-?(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.[0-9]+)?"
_NUMBER = re.compile(f"^{_NUMBER_TEXT}$")
_NUMBERS = re.compile(f"(?<![0-9A-Za-z.]){_NUMBER_TEXT}(?![0-9])")
_ARITHMETIC = re.compile(r"^[0-9\s.,+\-*/%()^]*$")
_SHORT_CHARS = 40
_SHORT_WORDS = 4


def as_number(text: str) -> int | float | None:
    """``text`` as a number if it is nothing else ("1,275", "-3.5"), or ``None``."""
    cleaned = text.strip()
    if not _NUMBER.match(cleaned):
        return None
    value = float(cleaned.replace(",", ""))
    return int(value) if value.is_integer() and "." not in cleaned else value


def numbers_in(text: str) -> list[int | float]:
    """The distinct numbers written in ``text``, in order."""
    found = (as_number(match) for match in _NUMBERS.findall(text))
    return list(dict.fromkeys(n for n in found if n is not None))


def sole_number(text: str) -> int | float | None:
    """``text`` as a number, or the only number it holds, or ``None``."""
    number = as_number(text)
    if number is not None:
        return number
    found = numbers_in(text)
    return found[0] if len(found) == 1 else None


def number_text(value: float) -> str:
    """A number as an argument's text: ``1275``, not ``1275.0``."""
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def is_short(text: str) -> bool:
    """A result short enough to be the value itself: one line, a few words."""
    cleaned = text.strip()
    return (
        bool(cleaned)
        and "\n" not in cleaned
        and len(cleaned) <= _SHORT_CHARS
        and (len(cleaned.split()) <= _SHORT_WORDS)
    )


class Value(BaseModel):
    """The value the next tool call needs, taken from an earlier result."""

    value: Any


_TYPES: dict[str, Any] = {
    "number": (float, "the number only, as the result writes it"),
    "integer": (int, "the whole number only, as the result writes it"),
    "boolean": (bool, "true or false"),
    "string": (Annotated[str, Field(min_length=1, max_length=80)], "the value only, copied"),
}


def value_model(kind: Kind, result: str) -> type[Value]:
    """:class:`Value` with ``value`` of ``kind`` out of ``result``: a number is one of those the
    result holds (an enum in the schema, so a grammar-bound model cannot make one up). Bound as
    a tool its schema is named ``Value``. Raises ``ValueError`` if ``result`` has no number."""
    annotation, description = _TYPES[kind]
    if kind in ("number", "integer"):
        choices = [n for n in numbers_in(result) if kind == "number" or float(n).is_integer()]
        if not choices:
            raise ValueError(f"the result holds no {'whole ' * (kind == 'integer')}number")
        annotation = Annotated[annotation, WithJsonSchema({"type": kind, "enum": choices})]
    return create_model(
        "Value", __base__=Value, __doc__=Value.__doc__,
        value=(annotation, Field(description=description)),
    )  # fmt: skip


def checked(value: Any, result: str, kind: Kind) -> Any:
    """``value`` if ``result`` holds it; ``ValueError`` if the model made it up."""
    shown = repr(value)
    if kind in ("number", "integer"):
        held = any(float(value) == float(n) for n in numbers_in(result))
        shown = number_text(value)
    elif kind == "string":
        held = " ".join(str(value).split()).casefold() in " ".join(result.split()).casefold()
    else:
        held = True
    if not held:
        raise ValueError(f"the value {shown} is not in the result")
    return value


def _kind(schema: Mapping[str, Any]) -> Kind:
    kind = schema.get("type")
    return kind if kind in ("number", "integer", "boolean") else "string"


def _whole(name: str, ref: str, result: str, kind: Kind, extract: Extract) -> Steps[Any]:
    """The value of an argument that is exactly one reference."""
    if kind in ("number", "integer"):
        number = sole_number(result)
        if number is not None and (kind == "number" or float(number).is_integer()):
            return int(number) if kind == "integer" else number
    elif kind == "boolean" and result.strip().lower() in ("true", "false"):
        return result.strip().lower() == "true"
    elif kind == "string" and is_short(result):
        return result.strip()
    return (yield from extract(name, ref, kind))


def _inside(name: str, text: str, results: Mapping[str, str], extract: Extract) -> Steps[str]:
    """A text argument with references among other text: each replaced by its value."""
    arithmetic = _ARITHMETIC.match(REFERENCE.sub("", text)) is not None
    values: dict[str, str] = {}
    for ref in dict.fromkeys(REFERENCE.findall(text)):
        result = results[ref]
        if arithmetic:
            number = sole_number(result)
            found = number if number is not None else (yield from extract(name, ref, "number"))
            values[ref] = number_text(found)
        elif is_short(result):
            values[ref] = result.strip()
        else:
            values[ref] = str((yield from extract(name, ref, "string")))
    return REFERENCE.sub(lambda match: values[match.group(1)], text)


def bind_args(
    args: Mapping[str, Any],
    properties: Mapping[str, Any],
    results: Mapping[str, str],
    extract: Extract,
) -> Steps[dict[str, Any]]:
    """``args`` with every reference replaced (``results`` by step id; the plan was checked, so
    each reference names a finished step)."""
    bound: dict[str, Any] = {}
    for name, value in args.items():
        if not isinstance(value, str) or not REFERENCE.search(value):
            bound[name] = value
            continue
        exact = REFERENCE.fullmatch(value.strip())
        kind = _kind(properties.get(name, {}))
        if exact:
            result = results[exact.group(1)]
            bound[name] = yield from _whole(name, exact.group(1), result, kind, extract)
        else:
            bound[name] = yield from _inside(name, value, results, extract)
    return bound


_EXTRACT = """\
A later tool call refers to an earlier tool result with a reference such as #E1. Give the one \
value of that result the reference stands for, copied exactly as the result writes it: no \
units, no other words, nothing computed."""


def extraction_prompt(
    task: str, ref: str, result: str, calls: tuple[str, str], argument: str, described: str
) -> list[BaseMessage]:
    """The messages asking which value of ``result`` (of step ``ref``) the reference stands for
    in ``argument`` of the next call (``calls``: the earlier call and the next, as text)."""
    ask = (
        f"Task: {task}\nResult of #{ref} = {calls[0]}: «{result}»\nNext call: {calls[1]}\n"
        f"In its argument {argument} ({described}), which value of the result does #{ref} "
        "stand for?"
    )
    return [SystemMessage(_EXTRACT), HumanMessage(ask)]


def model_extractor(
    ask: Ask,
    task: str,
    step: Mapping[str, Any],
    plan: Sequence[Mapping[str, Any]],
    properties: Mapping[str, Any],
) -> Extract:
    """An :data:`Extract` for ``step`` that asks the model (through ``ask``) for each value,
    and refuses one the earlier result does not hold."""
    sources = {s["id"]: s for s in plan}

    def extract(name: str, ref: str, kind: Kind) -> Steps[Any]:
        source = sources[ref]
        result, made = source["result"], source.get("args_run") or source["args"]
        calls = (call_text(source["tool"], made), call_text(step["tool"], step["args"]))
        described = without_examples(properties.get(name, {}).get("description", kind))
        try:
            schema = value_model(kind, result)
        except ValueError as exc:
            raise ValueError(f"no value for {name!r} in the result of #{ref}: {exc}") from None
        parsed, why = yield from ask(
            schema, extraction_prompt(task, ref, result, calls, name, described)
        )
        if parsed is None:
            raise ValueError(f"no value for {name!r} found in #{ref}: {why or 'no answer'}")
        try:
            return checked(parsed.value, result, kind)
        except ValueError as exc:
            raise ValueError(f"{exc} of #{ref} (for {name!r})") from None

    return extract
