"""Deterministic demo tools over a small made-up world, for the demo and the bundled eval suite.

The facts are invented on purpose: a model cannot know them, so a right answer proves a lookup.
"""

from __future__ import annotations

import ast
import operator
import re
from collections.abc import Callable

from langchain_core.tools import BaseTool

from agentlab.tools._wrap import as_tool

__all__ = ["TOOLS", "calculator", "convert_units", "get_weather", "lookup"]

_OPERATORS: dict[type, Callable[..., float]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
    ast.USub: operator.neg,
    ast.UAdd: operator.pos,
}


def _number(value: float) -> str:
    rounded = round(value, 4)
    return str(int(rounded)) if float(rounded).is_integer() else f"{rounded:g}"


def _evaluate(node: ast.AST) -> float:
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
        return node.value
    if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
        left, right = _evaluate(node.left), _evaluate(node.right)
        if isinstance(node.op, ast.Pow) and abs(right) > 100:
            raise ValueError("exponent too large")
        return _OPERATORS[type(node.op)](left, right)
    if isinstance(node, ast.UnaryOp) and type(node.op) in _OPERATORS:
        return _OPERATORS[type(node.op)](_evaluate(node.operand))
    raise ValueError(f"unsupported expression element: {ast.dump(node)[:40]}")


def calculator(expression: str) -> str:
    """Evaluate an arithmetic expression with + - * / // % ** and parentheses.

    Args:
        expression: the expression only, e.g. "(12 + 3) * 4"
    """
    cleaned = expression.replace("^", "**").replace("\u00d7", "*").replace(",", "")
    try:
        tree = ast.parse(cleaned, mode="eval")
    except SyntaxError:
        raise ValueError(f"not an arithmetic expression: {expression!r}") from None
    return _number(_evaluate(tree.body))


_KNOWLEDGE = [
    "Norwind Labs is a robotics company founded in 1998, headquartered in Oslo, "
    "with 340 employees.",
    "Zephyr Dynamics is a drone maker founded in 2011, headquartered in Lisbon, "
    "with 1275 employees.",
    "Project Falcon is led by Maya Okafor and has a budget of 2.4 million dollars.",
    "Project Tundra is led by Lars Henriksen and ships in March 2027.",
    "Maya Okafor is 41 years old and works at Zephyr Dynamics.",
    "Lars Henriksen is 56 years old and works at Norwind Labs.",
    "The Orbit service is written in Rust and is owned by the platform team.",
    "The Helix trail is 18 kilometers long and starts in Nairobi.",
    "The Quill app has 52000 daily users and was released in 2019.",
    "Basil Corp is headquartered in Chicago and sells kitchen robots.",
]

_WORD = re.compile(r"[a-z0-9]+")
_STOP = {"the", "a", "an", "of", "is", "in", "who", "what", "when", "where", "how", "many",
         "does", "do", "was", "and", "for", "to", "by", "at", "which"}  # fmt: skip


def lookup(query: str) -> str:
    """Look up a company, person, project, product or place in the knowledge base.

    Args:
        query: a name or short phrase, e.g. "Project Falcon"
    """
    words = {w for w in _WORD.findall(query.lower()) if w not in _STOP}
    scored = [(len(words & set(_WORD.findall(fact.lower()))), fact) for fact in _KNOWLEDGE]
    best, fact = max(scored, key=lambda pair: pair[0])
    if best == 0:
        return f"No entry found for {query!r}."
    return fact


_WEATHER = {
    "oslo": (4, "light snow", 12),
    "lisbon": (19, "rain", 20),
    "nairobi": (24, "sunny", 9),
    "chicago": (-3, "cloudy", 31),
    "tokyo": (16, "clear", 7),
    "paris": (11, "overcast", 14),
    "sydney": (27, "sunny", 22),
    "cairo": (30, "clear", 11),
}


def get_weather(city: str) -> str:
    """Get the current weather in a city: temperature in Celsius, conditions and wind.

    Args:
        city: the city name only, e.g. "Paris"
    """
    key = city.strip().lower().split(",")[0]
    if key not in _WEATHER:
        known = ", ".join(name.title() for name in _WEATHER)
        raise ValueError(f"unknown city {city!r}; known cities: {known}")
    celsius, sky, wind = _WEATHER[key]
    return f"{city.strip().title()}: {celsius} °C, {sky}, wind {wind} km/h"


_LINEAR = {  # unit -> (dimension, value of one unit in the base unit)
    "km": ("length", 1000.0), "m": ("length", 1.0), "cm": ("length", 0.01),
    "mi": ("length", 1609.344), "ft": ("length", 0.3048), "in": ("length", 0.0254),
    "kg": ("mass", 1.0), "g": ("mass", 0.001), "lb": ("mass", 0.45359237),
    "oz": ("mass", 0.028349523125), "l": ("volume", 1.0), "gal": ("volume", 3.785411784),
}  # fmt: skip
_ALIASES = {
    "kilometer": "km", "kilometers": "km", "kilometres": "km", "meter": "m", "meters": "m",
    "metres": "m", "centimeters": "cm", "mile": "mi", "miles": "mi", "foot": "ft", "feet": "ft",
    "inch": "in", "inches": "in", "kilogram": "kg", "kilograms": "kg", "kgs": "kg",
    "gram": "g", "grams": "g", "pound": "lb", "pounds": "lb", "lbs": "lb", "ounce": "oz",
    "ounces": "oz", "liter": "l", "liters": "l", "litres": "l", "gallon": "gal",
    "gallons": "gal", "celsius": "c", "°c": "c", "fahrenheit": "f", "°f": "f", "kelvin": "k",
}  # fmt: skip


def _unit(name: str) -> str:
    key = name.strip().lower()
    return _ALIASES.get(key, key)


def _temperature(value: float, source: str, target: str) -> float:
    celsius = {"c": value, "f": (value - 32) * 5 / 9, "k": value - 273.15}[source]
    return {"c": celsius, "f": celsius * 9 / 5 + 32, "k": celsius + 273.15}[target]


def convert_units(value: float, from_unit: str, to_unit: str) -> str:
    """Convert a value between units of length, mass, volume or temperature.

    Args:
        value: the number to convert
        from_unit: unit of the value: km, m, cm, mi, ft, in, kg, g, lb, oz, l, gal, C, F or K
        to_unit: unit to convert to, same choices
    """
    source, target = _unit(from_unit), _unit(to_unit)
    if {source, target} <= {"c", "f", "k"}:
        result = _temperature(value, source, target)
    elif source in _LINEAR and target in _LINEAR and _LINEAR[source][0] == _LINEAR[target][0]:
        result = value * _LINEAR[source][1] / _LINEAR[target][1]
    else:
        raise ValueError(f"cannot convert {from_unit!r} to {to_unit!r}")
    return f"{_number(value)} {from_unit} = {round(result, 2):g} {to_unit}"


TOOLS: list[BaseTool] = [as_tool(f) for f in (calculator, lookup, get_weather, convert_units)]
