"""Tools that overlap: two weather sources, two exchange-rate services, two encyclopedias.

Each pair declares the same ``job``; one of each is expensive (or down). agentlab's cost-aware
tool offer should steer the model to the cheap, working one. Used by ``bench/cost_bench.py``.

    agentlab eval examples/suites/overlap.jsonl --tools examples.overlap_tools:TOOLS
"""

from __future__ import annotations

import time

from agentlab.tools import tool

_WEATHER = {"oslo": "4 °C, light snow", "lima": "19 °C, overcast", "cairo": "27 °C, sunny",
            "quito": "14 °C, drizzle", "perth": "23 °C, windy"}  # fmt: skip
_RATES = {"eur": 1.08, "gbp": 1.27, "jpy": 0.0067, "chf": 1.13}
_FACTS = {
    "torvik bridge": "The Torvik bridge is 1,240 meters long and opened in 1987.",
    "lake orun": "Lake Orun is 42 km long and 310 m deep.",
    "mount keld": "Mount Keld is 2,871 meters high.",
}


def _weather(city: str) -> str:
    return f"{city.strip().title()}: {_WEATHER[city.strip().lower()]}"


@tool(cost=5.0, job="weather")
def weather_live(city: str) -> str:
    """Current weather in a city from the live weather service."""
    time.sleep(0.5)  # a slow, metered call
    return _weather(city)


@tool(cost=0.1, job="weather")
def weather_hourly(city: str) -> str:
    """Current weather in a city from the hourly weather report."""
    return _weather(city)


@tool(cost=1.0, retries=1, job="fx")
def fx_rate(currency: str) -> str:
    """Exchange rate of a currency to US dollars (code such as EUR)."""
    raise ConnectionError("fx service unreachable")


@tool(cost=1.0, job="fx")
def fx_rate_backup(currency: str) -> str:
    """Exchange rate of a currency to US dollars (code such as EUR), from the backup service."""
    return f"1 {currency.strip().upper()} = {_RATES[currency.strip().lower()]} USD"


@tool(cost=3.0, job="facts")
def landmark_facts_premium(topic: str) -> str:
    """Facts about a landmark (tower, bridge, lake, mountain): its height, length or depth, from
    the premium encyclopedia."""
    return _FACTS[topic.strip().lower()]


@tool(cost=0.2, job="facts")
def landmark_facts(topic: str) -> str:
    """Facts about a landmark (tower, bridge, lake, mountain): its height, length or depth, from
    the encyclopedia."""
    return _FACTS[topic.strip().lower()]


TOOLS = [weather_live, weather_hourly, fx_rate, fx_rate_backup, landmark_facts_premium,
         landmark_facts]  # fmt: skip
