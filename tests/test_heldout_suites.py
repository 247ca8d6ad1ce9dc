"""The held-out suites: they load, have the planned mix, and every answer key is derivable.

Each task is solved here with direct tool calls (no model): a chain passes the value it read
from one observation to the next call, and every expected string must be in the composed answer.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from agentlab.cli._eval import load_suite
from agentlab.tools import load_tools

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # examples/ is not installed; import it as `--tools` does
    sys.path.insert(0, str(REPO))

from examples.heldout.office_tools import (  # noqa: E402
    calculate,
    convert_currency,
    find_person,
    meeting_lookup,
    pet_registry,
    product_price,
    project_info,
    unit_convert,
    weather_forecast,
)

HELDOUT = REPO / "examples" / "heldout"
SUITES = ("suite24.jsonl", "suite8.jsonl", "multipart.jsonl")


def read(observation: str, value: str) -> str:
    """``value`` as read from ``observation``: the next call of a chain may only use it if the
    previous tool really returned it."""
    assert value in observation, f"{value!r} not in {observation!r}"
    return value


def _lamp_usd() -> str:
    price = product_price("Tidewell desk lamp")
    return convert_currency(price, "EUR", "USD")


def _juniper_weight() -> str:
    pet = pet_registry("Juniper")
    return f"{pet}; {unit_convert(float(read(pet, '31.0')), 'kg', 'lb')} lb"


def _bramblewire_city() -> str:
    return find_person(read(project_info("Bramblewire"), "Tobin Achterberg"))


def _dario_age_calc() -> str:
    person = find_person("Dario Menck")
    age = read(person, "33")
    return f"{person}; {calculate(f'({age} - 8) * 4')}"


def _kickoff_team() -> str:
    return find_person(read(meeting_lookup("quarterly kickoff"), "Priya Castellane"))


def _chair_gbp() -> str:
    return convert_currency(product_price("Quorra ergonomic chair"), "EUR", "GBP")


def _wen_weather() -> str:
    return weather_forecast(read(find_person("Wen Halloway"), "Tessaly Bay"))


def _biscotti_squared() -> str:
    pet = pet_registry("Biscotti")
    return f"{pet}; {calculate(read(pet, '23') + '^2 - 100')}"


def _copperfinch_forecast() -> str:
    manager = read(project_info("Copperfinch"), "Selma Quist")
    return weather_forecast(read(find_person(manager), "Korvahn"), days_ahead=1)


def _pickle_owner_weather() -> str:
    owner = read(pet_registry("Pickle"), "Oren Baptiste-Wulf")
    return weather_forecast(read(find_person(owner), "Marrowick"))


def _hubs_usd() -> str:
    total = calculate(f"6 * {product_price('Glint')}")
    return convert_currency(float(total), "EUR", "USD")


def _ambergate_age_calc() -> str:
    manager = read(project_info("Ambergate"), "Wen Halloway")
    age = read(find_person(manager), "48")
    return f"{manager}; {calculate(f'({age} - 20) ** 2')}"


def _nightjar_team() -> str:
    return find_person(read(project_info("Project Nightjar"), "Dario Menck"))


def _lamp_headset_total() -> str:
    lamp, headset = product_price("Tidewell"), product_price("Hushpod headset")
    return f"{lamp}; {headset}; {calculate(f'{lamp} + {headset}')}"


def _tobin_biscotti() -> str:
    person, pet = find_person("Tobin Achterberg"), pet_registry("Biscotti")
    difference = calculate(f"{read(person, 'age 52')[4:]} - {read(pet, 'age 23')[4:]}")
    return f"{person}; {pet}; {difference}"


SOLUTIONS: dict[str, Callable[[], str]] = {
    # suite24: single
    "h24-ilse-office": lambda: find_person("Ilse Varnou"),
    "h24-pickle-owner": lambda: pet_registry("Pickle"),
    "h24-saltmarsh-manager": lambda: project_info("Saltmarsh"),
    "h24-paren-arith": lambda: calculate("(250 - 47) * 3"),
    "h24-power-caret": lambda: calculate("17^2 + 3"),
    "h24-eur-usd": lambda: convert_currency(129, "EUR", "USD"),
    "h24-kg-lb": lambda: str(unit_convert(55, "kilograms", "pounds")),
    "h24-marrowick-tomorrow": lambda: weather_forecast("Marrowick", days_ahead=1),
    # suite24: two-step
    "h24-lamp-usd": _lamp_usd,
    "h24-juniper-weight": _juniper_weight,
    "h24-bramblewire-city": _bramblewire_city,
    "h24-dario-age-calc": _dario_age_calc,
    "h24-kickoff-team": _kickoff_team,
    "h24-chair-gbp": _chair_gbp,
    "h24-wen-weather": _wen_weather,
    "h24-biscotti-squared": _biscotti_squared,
    # suite24: three-step
    "h24-copperfinch-forecast": _copperfinch_forecast,
    "h24-pickle-owner-weather": _pickle_owner_weather,
    "h24-hubs-usd": _hubs_usd,
    "h24-ambergate-age-calc": _ambergate_age_calc,
    # suite24: no tool (a reference answer)
    "h24-thanks-french": lambda: "Merci.",
    "h24-hours-two-days": lambda: "There are 48 hours in two days.",
    "h24-goodnight-spanish": lambda: "Buenas noches.",
    "h24-lantern-sentence": lambda: "A paper lantern glowed among the falling autumn leaves.",
    # suite8
    "h8-nested-arith": lambda: calculate("2 * (15 + 3 ** 2) - 7"),
    "h8-cubed": lambda: calculate("6^3 - (40 / 8)"),
    "h8-budget-review": lambda: meeting_lookup("budget review"),
    "h8-mochi": lambda: pet_registry("Mochi"),
    "h8-gbp-usd": lambda: convert_currency(76, "GBP", "USD"),
    "h8-drumlin-snow": lambda: weather_forecast("Drumlin Falls", days_ahead=2),
    "h8-nightjar-team": _nightjar_team,
    "h8-capital-japan": lambda: "The capital of Japan is Tokyo.",
    # multipart
    "mp-lamp-headset-total": _lamp_headset_total,
    "mp-two-cities": lambda: (
        f"{weather_forecast('Korvahn')}; {weather_forecast('Easterbrook Quay')}"
    ),
    "mp-tobin-biscotti": _tobin_biscotti,
}


def _kinds(name: str) -> dict[str, str]:
    lines = (HELDOUT / name).read_text(encoding="utf-8").splitlines()
    rows = [json.loads(line) for line in lines if line.strip()]
    return {row["id"]: row["kind"] for row in rows}


def test_the_suites_load_with_unique_ids_and_the_planned_mix_of_kinds() -> None:
    ids = [t.id for name in SUITES for t in load_suite(HELDOUT / name)]
    assert len(ids) == len(set(ids)) == 35
    assert set(ids) == set(SOLUTIONS)
    kinds = {name: Counter(_kinds(name).values()) for name in SUITES}
    assert kinds["suite24.jsonl"] == {"single": 8, "two-step": 8, "three-step": 4, "no-tool": 4}
    assert kinds["suite8.jsonl"] == {"single": 6, "two-step": 1, "no-tool": 1}
    assert all(k in {"single", "two-step", "three-step"} for k in kinds["multipart.jsonl"])
    texts = [t.task for name in SUITES for t in load_suite(HELDOUT / name)]
    assert len(texts) == len(set(texts))


@pytest.mark.parametrize("name", SUITES)
def test_every_answer_key_is_derivable_from_the_tools(name: str) -> None:
    for task in load_suite(HELDOUT / name):
        answer = SOLUTIONS[task.id]().lower()
        missing = [e for e in task.expect if e.lower() not in answer]
        assert task.expect and not missing, f"{task.id}: {missing} not in {answer!r}"


def test_the_multipart_tasks_each_need_at_least_two_values() -> None:
    assert all(len(t.expect) >= 2 for t in load_suite(HELDOUT / "multipart.jsonl"))


def test_the_tools_load_as_agentlab_tools() -> None:
    tools = load_tools("examples.heldout.office_tools:TOOLS")
    assert len(tools) == 9
    assert all(t.description for t in tools)


@pytest.mark.parametrize(
    "call",
    [
        lambda: find_person("Nobody Here"),
        lambda: project_info("Project Unknown"),
        lambda: pet_registry("Rex"),
        lambda: product_price("Acme anvil"),
        lambda: convert_currency(10, "EUR", "XYZ"),
        lambda: unit_convert(1, "kg", "furlongs"),
        lambda: unit_convert(1, "kg", "km"),
        lambda: weather_forecast("Atlantis"),
        lambda: weather_forecast("Korvahn", days_ahead=5),
        lambda: meeting_lookup("standup"),
        lambda: calculate("__import__('os')"),
        lambda: calculate("1 / 0"),
        lambda: calculate("2 ** 1000"),
        lambda: calculate("two plus two"),
        lambda: calculate("1e308 * 10"),
    ],
)
def test_tools_raise_value_error_on_bad_input(call: Callable[[], object]) -> None:
    with pytest.raises(ValueError):
        call()


def test_lookups_ignore_case_and_surrounding_whitespace() -> None:
    assert find_person("  ilse VARNOU ") == find_person("Ilse Varnou")
    assert project_info(" project saltmarsh") == project_info("Saltmarsh")
    assert pet_registry("PICKLE ") == pet_registry("Pickle")
    assert weather_forecast(" tessaly  bay") == weather_forecast("Tessaly Bay")
    assert convert_currency(10, " eur", "usd ") == convert_currency(10, "EUR", "USD")


def test_the_calculator_respects_parentheses_and_powers() -> None:
    assert calculate("(250 - 47) * 3") == "609"
    assert calculate("250 - 47 * 3") == "109"
    assert calculate("17^2 + 3") == calculate("17 ** 2 + 3") == "292"
    assert calculate("2 ^ 3 ^ 2") == "512"  # right-associative, like **
    assert calculate("-(3 - 5) ** 2") == "-4"
    assert calculate("7 / 2") == "3.5"
