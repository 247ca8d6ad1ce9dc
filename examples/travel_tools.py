"""A user's own tools, outside the agentlab package: plain typed functions with docstrings.

    agentlab run react "How many miles is it from Springfield to Rivertown?" \\
        --tools examples.travel_tools:TOOLS --json
"""

from __future__ import annotations

_POPULATION = {"springfield": 58210, "rivertown": 12045, "lakeside": 7730}
_TEMPERATURE_C = {"springfield": 13, "rivertown": 21, "lakeside": 8}
_DISTANCE_KM = {
    frozenset({"springfield", "rivertown"}): 84,
    frozenset({"rivertown", "lakeside"}): 37,
}


def add(a: float, b: float) -> float:
    """Add two numbers."""
    return a + b


def multiply(a: float, b: float) -> float:
    """Multiply two numbers."""
    return a * b


def city_population(city: str) -> int:
    """Number of inhabitants of a city."""
    return _POPULATION[city.strip().lower()]


def get_temperature(city: str) -> str:
    """Current temperature in a city, in degrees Celsius."""
    return f"{_TEMPERATURE_C[city.strip().lower()]} °C"


def distance_km(from_city: str, to_city: str) -> int:
    """Road distance between two cities in kilometers."""
    return _DISTANCE_KM[frozenset({from_city.strip().lower(), to_city.strip().lower()})]


def km_to_miles(km: float) -> float:
    """Convert kilometers to miles."""
    return round(km * 0.621371, 2)


TOOLS = [add, multiply, city_population, get_temperature, distance_km, km_to_miles]
