"""Held-out test world: the tools of Brackenfold Systems, a made-up company.

Everything here is invented (people, projects, office pets, products, cities, exchange rates,
forecasts, meetings), so a model cannot answer from memory. The tasks in this folder were
written without tuning the agent on them; keep it that way.

    agentlab eval examples/heldout/suite24.jsonl --pattern react \\
        --tools examples.heldout.office_tools:TOOLS --json
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable


def _key(text: str) -> str:
    """Case-insensitive, whitespace-normalised lookup key."""
    return " ".join(text.lower().split())


def _unknown(kind: str, given: str, known: list[str]) -> ValueError:
    return ValueError(f"unknown {kind} {given!r}; known: {', '.join(sorted(known))}")


# --- people and projects -------------------------------------------------------------------

# name: (role, team, office city, age)
_PEOPLE = {
    "Ilse Varnou": ("data engineer", "Kestrel", "Marrowick", 37),
    "Tobin Achterberg": ("engineering manager", "Heron", "Tessaly Bay", 52),
    "Priya Castellane": ("product lead", "Kestrel", "Drumlin Falls", 44),
    "Oren Baptiste-Wulf": ("product designer", "Lark", "Marrowick", 29),
    "Selma Quist": ("finance analyst", "Ledger", "Korvahn", 61),
    "Dario Menck": ("support lead", "Heron", "Easterbrook Quay", 33),
    "Wen Halloway": ("QA lead", "Lark", "Tessaly Bay", 48),
}

# project: (manager, team size, status, deadline)
_PROJECTS = {
    "Bramblewire": ("Tobin Achterberg", 7, "on track", "14 March"),
    "Saltmarsh": ("Priya Castellane", 11, "in review", "2 June"),
    "Copperfinch": ("Selma Quist", 4, "blocked", "30 April"),
    "Nightjar": ("Dario Menck", 6, "on track", "9 September"),
    "Ambergate": ("Wen Halloway", 9, "at risk", "21 July"),
}


def find_person(name: str) -> str:
    """Look up an employee in the company directory: role, team, office city and age.

    Args:
        name: full name, or a first or last name, e.g. "Ilse Varnou" or "Varnou"
    """
    wanted = _key(name)
    for full, (role, team, city, age) in _PEOPLE.items():
        if wanted == _key(full) or wanted in _key(full).split():
            return f"{full}: {role}, team {team}, office in {city}, age {age}"
    raise _unknown("person", name, list(_PEOPLE))


def project_info(project: str) -> str:
    """Manager, team size, status and deadline of an internal project."""
    wanted = _key(project).removeprefix("project ")
    for title, (manager, size, status, deadline) in _PROJECTS.items():
        if wanted == _key(title):
            return (
                f"Project {title}: managed by {manager}, team of {size}, "
                f"status {status}, deadline {deadline}"
            )
    raise _unknown("project", project, list(_PROJECTS))


# --- office pets ---------------------------------------------------------------------------

# pet: (species and breed, owner, age in years, weight in kg)
_PETS = {
    "Pickle": ("dog (dachshund)", "Oren Baptiste-Wulf", 6, 9.4),
    "Admiral": ("cat (Maine Coon)", "Selma Quist", 11, 7.8),
    "Biscotti": ("tortoise", "Tobin Achterberg", 23, 3.1),
    "Juniper": ("dog (greyhound)", "Ilse Varnou", 4, 31.0),
    "Mochi": ("rabbit", "Wen Halloway", 2, 1.6),
}


def pet_registry(pet_name: str) -> str:
    """Registered office pets: species, owner, age in years and weight in kilograms.

    Args:
        pet_name: the pet's name, e.g. "Pickle"
    """
    for pet, (species, owner, age, weight) in _PETS.items():
        if _key(pet_name) == _key(pet):
            return f"{pet}: {species}, owner {owner}, age {age} years, weight {weight} kg"
    raise _unknown("pet", pet_name, list(_PETS))


# --- products and money --------------------------------------------------------------------

# brand: (product name, price in EUR)
_PRODUCTS = {
    "tidewell": ("Tidewell desk lamp", 48.0),
    "quorra": ("Quorra ergonomic chair", 389.0),
    "fennick": ("Fennick standing desk", 612.0),
    "lumo": ("Lumo webcam", 74.5),
    "hushpod": ("Hushpod headset", 129.0),
    "glint": ("Glint USB hub", 23.6),
}


def product_price(product: str) -> float:
    """Catalogue price of an office product, in euros (EUR).

    Args:
        product: the product name or its brand, e.g. "Tidewell desk lamp" or "Tidewell"
    """
    wanted = _key(product)
    for brand, (name, price) in _PRODUCTS.items():
        if wanted == _key(name) or brand in wanted.split():
            return price
    raise _unknown("product", product, [name for name, _ in _PRODUCTS.values()])


# Units of each currency per 1 EUR: the finance team's fixed quarterly rates, not market rates.
_RATES = {"EUR": 1.0, "USD": 1.25, "GBP": 0.8, "JPY": 160.0, "CHF": 0.95, "VEL": 8.0}
_CURRENCY_NAMES = {
    "euro": "EUR", "euros": "EUR", "€": "EUR",
    "dollar": "USD", "dollars": "USD", "us dollars": "USD", "$": "USD",
    "pound": "GBP", "pounds": "GBP", "british pounds": "GBP", "£": "GBP",
    "yen": "JPY", "swiss francs": "CHF", "francs": "CHF",
    "vellish crown": "VEL", "vellish crowns": "VEL", "crowns": "VEL",
}  # fmt: skip


def _currency(code: str) -> str:
    wanted = _key(code)
    found = _CURRENCY_NAMES.get(wanted, wanted.upper())
    if found not in _RATES:
        raise _unknown("currency", code, list(_RATES))
    return found


def convert_currency(amount: float, from_currency: str, to_currency: str) -> str:
    """Convert money between currencies at the company's fixed internal exchange rates.

    Args:
        amount: the amount of money to convert
        from_currency: currency code of the amount, e.g. "EUR"
        to_currency: currency code wanted, e.g. "USD" (EUR, USD, GBP, JPY, CHF, VEL)
    """
    source, target = _currency(from_currency), _currency(to_currency)
    converted = round(amount / _RATES[source] * _RATES[target], 2)
    return f"{amount:.2f} {source} = {converted:.2f} {target}"


# --- units and arithmetic ------------------------------------------------------------------

# unit: (quantity, size in the quantity's base unit: meters, kilograms or liters)
_UNITS = {
    "m": ("length", 1.0), "km": ("length", 1000.0), "mi": ("length", 1609.344),
    "ft": ("length", 0.3048), "cm": ("length", 0.01), "in": ("length", 0.0254),
    "kg": ("mass", 1.0), "g": ("mass", 0.001), "lb": ("mass", 0.45359237),
    "l": ("volume", 1.0), "ml": ("volume", 0.001), "gal": ("volume", 3.785411784),
    "c": ("temperature", 1.0), "f": ("temperature", 1.0),
}  # fmt: skip
_UNIT_NAMES = {
    "meter": "m", "meters": "m", "metre": "m", "metres": "m",
    "kilometer": "km", "kilometers": "km", "kilometre": "km", "kilometres": "km",
    "mile": "mi", "miles": "mi", "foot": "ft", "feet": "ft", "inch": "in", "inches": "in",
    "kilogram": "kg", "kilograms": "kg", "gram": "g", "grams": "g",
    "pound": "lb", "pounds": "lb", "lbs": "lb",
    "liter": "l", "liters": "l", "litre": "l", "litres": "l", "gallon": "gal", "gallons": "gal",
    "celsius": "c", "°c": "c", "fahrenheit": "f", "°f": "f",
}  # fmt: skip


def _unit(name: str) -> str:
    wanted = _key(name)
    found = _UNIT_NAMES.get(wanted, wanted)
    if found not in _UNITS:
        raise _unknown("unit", name, list(_UNITS))
    return found


def unit_convert(value: float, from_unit: str, to_unit: str) -> float:
    """Convert a value between units of length, mass, volume or temperature (rounded to 0.01).

    Args:
        value: the number to convert
        from_unit: e.g. "km", "mi", "kg", "lb", "l", "gal", "C", "F"
        to_unit: the unit wanted, of the same kind as from_unit
    """
    source, target = _unit(from_unit), _unit(to_unit)
    kind, size = _UNITS[source]
    if kind != _UNITS[target][0]:
        raise ValueError(f"cannot convert {kind} ({from_unit}) to {_UNITS[target][0]} ({to_unit})")
    if kind == "temperature":
        celsius = value if source == "c" else (value - 32) / 1.8
        return round(celsius if target == "c" else celsius * 1.8 + 32, 2)
    return round(value * size / _UNITS[target][1], 2)


_OPS: dict[type[ast.AST], Callable[..., float]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
    ast.Div: operator.truediv, ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod,
    ast.Pow: operator.pow, ast.USub: operator.neg, ast.UAdd: operator.pos,
}  # fmt: skip


def _eval(node: ast.AST) -> float:  # ints stay exact ints
    value = node.value if isinstance(node, ast.Constant) else None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    if isinstance(node, ast.UnaryOp) and type(node.op) in _OPS:
        return _OPS[type(node.op)](_eval(node.operand))
    if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
        left, right = _eval(node.left), _eval(node.right)
        if isinstance(node.op, ast.Pow) and abs(right) > 64:
            raise ValueError("exponent too large (at most 64)")
        if isinstance(node.op, ast.Pow) and left < 0 and right != int(right):
            raise ValueError("a negative number has no real fractional power")
        if isinstance(node.op, ast.Div | ast.FloorDiv | ast.Mod) and right == 0:
            raise ValueError("division by zero")
        return _OPS[type(node.op)](left, right)
    raise ValueError(
        f"only numbers, + - * / // % ** ^ and parentheses are allowed, not {ast.unparse(node)!r}"
    )


def calculate(expression: str) -> str:
    """Evaluate an arithmetic expression; supports parentheses and powers (** or ^).

    Args:
        expression: the expression only, e.g. "(12 + 8) / 5" or "2^10 - 1"
    """
    text = expression.replace("^", "**").replace("\u00d7", "*").replace("\u00f7", "/")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError:
        raise ValueError(f"not an arithmetic expression: {expression!r}") from None
    result = round(_eval(tree.body), 4)
    if not math.isfinite(result):
        raise ValueError(f"the result is too large: {expression!r}")
    return str(int(result)) if result == int(result) else str(result)


# --- weather and calendar ------------------------------------------------------------------

# city: (condition, high in °C) for today, tomorrow and the day after
_FORECAST = {
    "Marrowick": (("light rain", 12), ("cloudy", 14), ("sunny", 17)),
    "Tessaly Bay": (("sunny", 26), ("sunny", 28), ("thunderstorms", 22)),
    "Drumlin Falls": (("snow", -3), ("snow", -5), ("overcast", 0)),
    "Korvahn": (("fog", 8), ("drizzle", 9), ("clear", 11)),
    "Easterbrook Quay": (("windy", 15), ("showers", 13), ("sunny", 19)),
}
_DAYS = ("today", "tomorrow", "the day after tomorrow")


def weather_forecast(city: str, days_ahead: int = 0) -> str:
    """Weather forecast for one of the company's office cities.

    Args:
        city: the city, e.g. "Korvahn"
        days_ahead: 0 for today, 1 for tomorrow, 2 for the day after tomorrow
    """
    if not 0 <= days_ahead <= 2:
        raise ValueError(f"days_ahead must be 0, 1 or 2, not {days_ahead}")
    for name, days in _FORECAST.items():
        if _key(city) == _key(name):
            condition, high = days[days_ahead]
            return f"{name}, {_DAYS[days_ahead]}: {condition}, high {high} °C"
    raise _unknown("city", city, list(_FORECAST))


# title: (weekday, start time, room, organizer, minutes)
_MEETINGS = {
    "Quarterly kickoff": ("Tuesday", "09:30", "Osprey", "Priya Castellane", 90),
    "Design crit": ("Thursday", "14:00", "Lantern", "Oren Baptiste-Wulf", 45),
    "Budget review": ("Monday", "11:15", "Vault", "Selma Quist", 60),
    "Incident retro": ("Friday", "16:00", "Osprey", "Dario Menck", 30),
}


def meeting_lookup(title: str) -> str:
    """When and where a recurring meeting happens, who organizes it, and how long it lasts."""
    wanted = _key(title).removeprefix("the ").removesuffix(" meeting")
    for name, (day, start, room, organizer, minutes) in _MEETINGS.items():
        if wanted == _key(name):
            return (
                f"{name}: every {day} at {start} in room {room}, "
                f"organized by {organizer}, {minutes} minutes"
            )
    raise _unknown("meeting", title, list(_MEETINGS))


TOOLS = [
    find_person,
    project_info,
    pet_registry,
    product_price,
    convert_currency,
    unit_convert,
    calculate,
    weather_forecast,
    meeting_lookup,
]
