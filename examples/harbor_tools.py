"""A user's own tool module for the Brannock Sound harbour company, used by development suites.

    agentlab run react "Who captains the ship at berth B4 on Tuesday?" \\
        --tools examples.harbor_tools:TOOLS --json

Lookups ignore case and surrounding spaces; an unknown name raises ValueError listing the known
ones.
"""

from __future__ import annotations

import ast
import operator
import re
from collections.abc import Callable, Mapping
from typing import TypeVar

_V = TypeVar("_V")

_SHIPS = {
    "korvenna bright": ("Korvenna Bright", "Odile Vrask", "Tollinsund", "Merovia", 86, 12),
    "saltmere duchess": ("Saltmere Duchess", "Tamsin Quarrow", "Brackwater", "Caldrene", 74, 11),
    "ilvaro gannet": ("Ilvaro Gannet", "Ebbe Lindqvarn", "Kelvaro", "Istrel", 95, 13),
    "thessly wren": ("Thessly Wren", "Hesper Molloway", "Ostrenmouth", "Caldrene", 61, 10),
    "marrowgate star": ("Marrowgate Star", "Riagan Stolt", "Duneholt", "Merovia", 112, 14),
    "pelloque dawn": ("Pelloque Dawn", "Yusra Penhallow", "Varsk", "Istrel", 68, 12),
}

_CAPTAINS = {
    "odile vrask": ("Odile Vrask", 17, "Kelvaro", "Korvenna Bright", "A"),
    "tamsin quarrow": ("Tamsin Quarrow", 9, "Varsk", "Saltmere Duchess", "B"),
    "ebbe lindqvarn": ("Ebbe Lindqvarn", 23, "Ostrenmouth", "Ilvaro Gannet", "A"),
    "hesper molloway": ("Hesper Molloway", 12, "Tollinsund", "Thessly Wren", "B"),
    "riagan stolt": ("Riagan Stolt", 31, "Brackwater", "Marrowgate Star", "A"),
    "yusra penhallow": ("Yusra Penhallow", 6, "Duneholt", "Pelloque Dawn", "C"),
}

_BERTHS: dict[str, list[tuple[str, str, str]]] = {
    "monday": [("B1", "Saltmere Duchess", "05:30"), ("C2", "Pelloque Dawn", "13:10")],
    "tuesday": [
        ("B4", "Korvenna Bright", "06:40"),
        ("C2", "Marrowgate Star", "11:15"),
        ("D7", "Ilvaro Gannet", "19:05"),
    ],
    "wednesday": [("B4", "Thessly Wren", "08:20"), ("D7", "Saltmere Duchess", "15:50")],
    "thursday": [("B1", "Ilvaro Gannet", "04:45"), ("C2", "Korvenna Bright", "10:30")],
    "friday": [("B4", "Pelloque Dawn", "07:55"), ("D7", "Marrowgate Star", "16:25")],
    "saturday": [("B1", "Thessly Wren", "09:10")],
    "sunday": [],
}

_MANIFESTS = {
    "korvenna bright": (420, "copper ingots", 14, "Greyhollow Sheds"),
    "saltmere duchess": (265, "dried kelp", 11, "Pier Nine Vault"),
    "ilvaro gannet": (380, "slate tiles", 19, "Fennick Yard"),
    "thessly wren": (150, "frozen herring", 6, "Tollin Cold Store"),
    "marrowgate star": (512, "timber beams", 32, "Greyhollow Sheds"),
    "pelloque dawn": (96, "glassware", 8, "Aldermoor Depot"),
}

_WAREHOUSES = {
    "greyhollow sheds": ("Greyhollow Sheds", "Duneholt", 0.25, 900),
    "tollin cold store": ("Tollin Cold Store", "Tollinsund", 0.6, 400),
    "pier nine vault": ("Pier Nine Vault", "Varsk", 0.4, 650),
    "aldermoor depot": ("Aldermoor Depot", "Kelvaro", 0.15, 1200),
    "fennick yard": ("Fennick Yard", "Brackwater", 0.3, 700),
}

_DISTANCE_NM = {
    frozenset({"tollinsund", "kelvaro"}): 135,
    frozenset({"kelvaro", "ostrenmouth"}): 88,
    frozenset({"brackwater", "duneholt"}): 64,
    frozenset({"varsk", "tollinsund"}): 210,
    frozenset({"duneholt", "ostrenmouth"}): 47,
    frozenset({"brackwater", "kelvaro"}): 152,
    frozenset({"varsk", "duneholt"}): 119,
    frozenset({"ostrenmouth", "tollinsund"}): 73,
    frozenset({"kelvaro", "varsk"}): 166,
}

_TIDES = {
    "tollinsund": ("Tollinsund", "11:40 and 23:58", "17:45", "22 knots from the NW", "moderate"),
    "kelvaro": ("Kelvaro", "04:12 and 16:37", "10:25", "14 knots from the W", "slight"),
    "duneholt": ("Duneholt", "05:48 and 18:10", "12:02", "9 knots from the SW", "calm"),
    "varsk": ("Varsk", "07:20 and 19:44", "13:31", "18 knots from the N", "rough"),
    "ostrenmouth": ("Ostrenmouth", "02:05 and 14:29", "08:16", "11 knots from the E", "slight"),
    "brackwater": ("Brackwater", "09:33 and 21:56", "15:40", "26 knots from the NE", "rough"),
}

# factor from the first unit to the second; the reverse direction divides
_FACTORS = {
    ("tonnes", "pounds"): 2204.62,
    ("nautical miles", "km"): 1.852,
    ("knots", "km/h"): 1.852,
    ("metres", "feet"): 3.28084,
}
_UNIT_ALIASES = {
    "t": "tonnes", "tonne": "tonnes", "tonnes": "tonnes", "ton": "tonnes", "tons": "tonnes",
    "lb": "pounds", "lbs": "pounds", "pound": "pounds", "pounds": "pounds",
    "nm": "nautical miles", "nmi": "nautical miles", "nautical mile": "nautical miles",
    "nautical miles": "nautical miles",
    "km": "km", "kilometre": "km", "kilometres": "km", "kilometer": "km", "kilometers": "km",
    "kn": "knots", "knot": "knots", "knots": "knots",
    "km/h": "km/h", "kmh": "km/h", "kph": "km/h",
    "m": "metres", "metre": "metres", "metres": "metres", "meter": "metres", "meters": "metres",
    "ft": "feet", "foot": "feet", "feet": "feet",
}  # fmt: skip

_OPERATORS: dict[type, Callable[[float, float], float]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Pow: operator.pow,
}


def _key(name: str) -> str:
    return " ".join(name.split()).lower()


def _find(table: Mapping[str, _V], name: str, what: str, known: list[str]) -> _V:
    try:
        return table[_key(name)]
    except KeyError:
        raise ValueError(f"unknown {what} {name!r}; known: {', '.join(known)}") from None


def ship_registry(ship: str) -> str:
    """Registry entry of a ship: captain, home port, flag, length and service speed."""
    known = [entry[0] for entry in _SHIPS.values()]
    name, captain, port, flag, length, speed = _find(_SHIPS, ship, "ship", known)
    return (
        f"Ship {name}: captain {captain}, home port {port}, flag {flag}, "
        f"length {length} m, service speed {speed} knots"
    )


def captain_record(name: str) -> str:
    """Service record of a captain: years of service, home town and the ship they command."""
    person = re.sub(r"(?i)^\s*captain\s+", "", name)
    known = [entry[0] for entry in _CAPTAINS.values()]
    full, years, town, ship, licence = _find(_CAPTAINS, person, "captain", known)
    return (
        f"Captain {full}: {years} years of service, home town {town}, "
        f"commands {ship}, licence class {licence}"
    )


def berth_schedule(day: str) -> str:
    """Ships arriving on a weekday, with their berth and arrival time."""
    known = [d.capitalize() for d in _BERTHS]
    arrivals = _find(_BERTHS, day, "day", known)
    label = _key(day).capitalize()
    if not arrivals:
        return f"{label}: no arrivals scheduled"
    rows = "; ".join(f"berth {berth} - {ship} at {time}" for berth, ship, time in arrivals)
    return f"{label} arrivals: {rows}"


def cargo_manifest(ship: str) -> str:
    """Cargo a ship carries: tonnage, kind of goods, containers and the receiving warehouse."""
    known = [entry[0] for entry in _SHIPS.values()]
    tonnes, goods, containers, warehouse = _find(_MANIFESTS, ship, "ship", known)
    name = _SHIPS[_key(ship)][0]
    return (
        f"Manifest for {name}: {tonnes} tonnes of {goods} in {containers} containers, "
        f"consigned to {warehouse}"
    )


def storage_rate(warehouse: str) -> str:
    """Storage price of a warehouse in euros per tonne per day, with its town and capacity."""
    known = [entry[0] for entry in _WAREHOUSES.values()]
    name, town, rate, capacity = _find(_WAREHOUSES, warehouse, "warehouse", known)
    return f"{name} ({town}): {rate} euros per tonne per day, capacity {capacity} tonnes"


def port_distance(from_port: str, to_port: str) -> int:
    """Sea distance between two ports in nautical miles."""
    route = frozenset({_key(from_port), _key(to_port)})
    if route not in _DISTANCE_NM:
        known = sorted(" - ".join(sorted(p.capitalize() for p in pair)) for pair in _DISTANCE_NM)
        raise ValueError(
            f"no route between {from_port!r} and {to_port!r}; known routes: {', '.join(known)}"
        )
    return _DISTANCE_NM[route]


def tide_table(town: str) -> str:
    """Today's tides and wind in a harbour town."""
    known = [entry[0] for entry in _TIDES.values()]
    name, high, low, wind, sea = _find(_TIDES, town, "town", known)
    return f"{name}: high tide {high}, low tide {low}, wind {wind}, sea {sea}"


def convert_units(value: float, from_unit: str, to_unit: str) -> float:
    """Convert between tonnes/pounds, nautical miles/km, knots/km/h and metres/feet."""
    units = sorted(set(_UNIT_ALIASES.values()))
    source = _find(_UNIT_ALIASES, from_unit, "unit", units)
    target = _find(_UNIT_ALIASES, to_unit, "unit", units)
    if source == target:
        return round(value, 2)
    if (source, target) in _FACTORS:
        return round(value * _FACTORS[source, target], 2)
    if (target, source) in _FACTORS:
        return round(value / _FACTORS[target, source], 2)
    pairs = ", ".join(f"{a} <-> {b}" for a, b in _FACTORS)
    raise ValueError(f"cannot convert {source} to {target}; supported: {pairs}")


def _evaluate(node: ast.expr) -> float:
    value = node.value if isinstance(node, ast.Constant) else None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        operand = _evaluate(node.operand)
        return -operand if isinstance(node.op, ast.USub) else operand
    if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
        left, right = _evaluate(node.left), _evaluate(node.right)
        if isinstance(node.op, ast.Pow) and abs(right) > 100:
            raise ValueError("exponent too large")
        result = _OPERATORS[type(node.op)](left, right)
        if not isinstance(result, float):  # e.g. a negative number to a fractional power
            raise ValueError(f"no real result for {ast.unparse(node)!r}")
        return result
    raise ValueError(f"unsupported expression: {ast.unparse(node)!r}")


def calculate(expression: str) -> float | int:
    """Evaluate arithmetic with + - * / ** and parentheses, e.g. "(420 * 0.25) * 7"."""
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except SyntaxError:
        raise ValueError(f"not an arithmetic expression: {expression!r}") from None
    try:
        result = round(_evaluate(tree.body), 6)
    except ZeroDivisionError:
        raise ValueError("division by zero") from None
    except OverflowError:
        raise ValueError(f"result too large: {expression!r}") from None
    return int(result) if result.is_integer() else result


TOOLS = [
    ship_registry,
    captain_record,
    berth_schedule,
    cargo_manifest,
    storage_rate,
    port_distance,
    tide_table,
    convert_units,
    calculate,
]
