"""The harbour development suite: it loads, has the planned mix, and every answer is derivable.

Each task is solved here with the loaded tools, called directly in the order of its chain (no
model): a call may only use a value read from the previous observation, and every expected
string must be in the composed answer.
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from langchain_core.tools import BaseTool

from agentlab.cli._eval import SuiteTask, load_suite
from agentlab.tools import load_tools

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # examples/ is not installed; import it as `--tools` does
    sys.path.insert(0, str(REPO))

from examples.harbor_tools import calculate, captain_record, port_distance  # noqa: E402

SUITE = REPO / "examples" / "suites" / "dev_chains.jsonl"
TOOLS: dict[str, BaseTool] = {t.name: t for t in load_tools("examples.harbor_tools:TOOLS")}


def call(tool: str, /, **args: object) -> str:
    """One tool call as an agent makes it: by name, with keyword arguments; the observation."""
    return str(TOOLS[tool].invoke(args))


def read(observation: str, value: str) -> str:
    """``value`` as read from ``observation``: the next call of a chain may only use it if the
    previous tool really returned it."""
    assert value in observation, f"{value!r} not in {observation!r}"
    return value


# two-step chains


def _saltmere_captain_hometown() -> str:
    ship = call("ship_registry", ship="Saltmere Duchess")
    return call("captain_record", name=read(ship, "Tamsin Quarrow"))


def _tuesday_b4_captain() -> str:
    day = call("berth_schedule", day="Tuesday")
    read(day, "berth B4 - Korvenna Bright")
    return call("ship_registry", ship=read(day, "Korvenna Bright"))


def _lindqvarn_cargo() -> str:
    captain = call("captain_record", name="Ebbe Lindqvarn")
    return call("cargo_manifest", ship=read(captain, "Ilvaro Gannet"))


def _wren_warehouse_rate() -> str:
    manifest = call("cargo_manifest", ship="Thessly Wren")
    return call("storage_rate", warehouse=read(manifest, "Tollin Cold Store"))


def _saltmere_home_to_kelvaro() -> str:
    ship = call("ship_registry", ship="Saltmere Duchess")
    port = read(ship, "home port Brackwater").removeprefix("home port ")
    return f"{call('port_distance', from_port=port, to_port='Kelvaro')} nautical miles"


def _korvenna_length_feet() -> str:
    ship = call("ship_registry", ship="Korvenna Bright")
    metres = float(read(ship, "length 86 m").split()[1])
    return f"{call('convert_units', value=metres, from_unit='metres', to_unit='feet')} feet"


def _varsk_tollinsund_km() -> str:
    miles = call("port_distance", from_port="Varsk", to_port="Tollinsund")
    km = call("convert_units", value=float(read(miles, "210")), from_unit="nm", to_unit="km")
    return f"{km} km"


def _molloway_months() -> str:
    captain = call("captain_record", name="Hesper Molloway")
    years = read(captain, "12 years").split()[0]
    return f"{call('calculate', expression=f'{years} * 12')} months"


# three-step chains


def _saltmere_week_storage() -> str:
    manifest = call("cargo_manifest", ship="Saltmere Duchess")
    tonnes = read(manifest, "265 tonnes").split()[0]
    rate = read(call("storage_rate", warehouse=read(manifest, "Pier Nine Vault")), "0.4 euros")
    return f"{call('calculate', expression=f'{tonnes} * {rate.split()[0]} * 7')} euros"


def _friday_d7_captain_town() -> str:
    day = call("berth_schedule", day="Friday")
    read(day, "berth D7 - Marrowgate Star")
    ship = call("ship_registry", ship=read(day, "Marrowgate Star"))
    return call("captain_record", name=read(ship, "Riagan Stolt"))


def _penhallow_warehouse_rate() -> str:
    captain = call("captain_record", name="Yusra Penhallow")
    manifest = call("cargo_manifest", ship=read(captain, "Pelloque Dawn"))
    return call("storage_rate", warehouse=read(manifest, "Aldermoor Depot"))


def _gannet_port_to_captain_town() -> str:
    ship = call("ship_registry", ship="Ilvaro Gannet")
    port = read(ship, "home port Kelvaro").removeprefix("home port ")
    captain = call("captain_record", name=read(ship, "Ebbe Lindqvarn"))
    town = read(captain, "home town Ostrenmouth").removeprefix("home town ")
    return f"{call('port_distance', from_port=port, to_port=town)} nautical miles"


def _wren_captain_high_tide() -> str:
    ship = call("ship_registry", ship="Thessly Wren")
    captain = call("captain_record", name=read(ship, "Hesper Molloway"))
    town = read(captain, "home town Tollinsund").removeprefix("home town ")
    return call("tide_table", town=town)


def _wednesday_b4_per_container() -> str:
    day = call("berth_schedule", day="Wednesday")
    read(day, "berth B4 - Thessly Wren")
    manifest = call("cargo_manifest", ship=read(day, "Thessly Wren"))
    tonnes = read(manifest, "150 tonnes").split()[0]
    containers = read(manifest, "6 containers").split()[0]
    return f"{call('calculate', expression=f'{tonnes} / {containers}')} tonnes per container"


def _marrowgate_hours_to_varsk() -> str:
    ship = call("ship_registry", ship="Marrowgate Star")
    port = read(ship, "home port Duneholt").removeprefix("home port ")
    speed = read(ship, "service speed 14 knots").split()[2]
    miles = read(call("port_distance", from_port=port, to_port="Varsk"), "119")
    return f"{call('calculate', expression=f'{miles} / {speed}')} hours"


def _pelloque_home_wind_kmh() -> str:
    ship = call("ship_registry", ship="Pelloque Dawn")
    tides = call("tide_table", town=read(ship, "home port Varsk").removeprefix("home port "))
    knots = float(read(tides, "wind 18 knots").split()[1])
    return f"{call('convert_units', value=knots, from_unit='knots', to_unit='km/h')} km/h"


SOLVERS: dict[str, Callable[[], str]] = {
    "saltmere-captain-hometown": _saltmere_captain_hometown,
    "tuesday-b4-captain": _tuesday_b4_captain,
    "lindqvarn-cargo": _lindqvarn_cargo,
    "wren-warehouse-rate": _wren_warehouse_rate,
    "saltmere-home-to-kelvaro": _saltmere_home_to_kelvaro,
    "korvenna-length-feet": _korvenna_length_feet,
    "varsk-tollinsund-km": _varsk_tollinsund_km,
    "molloway-months": _molloway_months,
    "saltmere-week-storage": _saltmere_week_storage,
    "friday-d7-captain-town": _friday_d7_captain_town,
    "penhallow-warehouse-rate": _penhallow_warehouse_rate,
    "gannet-port-to-captain-town": _gannet_port_to_captain_town,
    "wren-captain-high-tide": _wren_captain_high_tide,
    "wednesday-b4-per-container": _wednesday_b4_per_container,
    "marrowgate-hours-to-varsk": _marrowgate_hours_to_varsk,
    "pelloque-home-wind-kmh": _pelloque_home_wind_kmh,
}


def test_the_suite_has_sixteen_unique_tasks_half_two_step_half_three_step() -> None:
    tasks = load_suite(SUITE)
    assert len(tasks) == 16 and len({t.id for t in tasks}) == 16
    assert Counter(t.kind for t in tasks) == {"two-step": 8, "three-step": 8}
    assert all(t.expect for t in tasks)
    assert len({t.task.lower() for t in tasks}) == 16


def test_every_task_has_a_solver() -> None:
    assert set(SOLVERS) == {t.id for t in load_suite(SUITE)}


def test_the_tools_load_with_their_names() -> None:
    assert sorted(TOOLS) == sorted(
        [
            "ship_registry",
            "captain_record",
            "berth_schedule",
            "cargo_manifest",
            "storage_rate",
            "port_distance",
            "tide_table",
            "convert_units",
            "calculate",
        ]
    )
    assert all(t.description for t in TOOLS.values())


@pytest.mark.parametrize("task", load_suite(SUITE), ids=lambda t: t.id)
def test_every_task_is_solved_by_its_chain(task: SuiteTask) -> None:
    answer = SOLVERS[task.id]().lower()
    for expected in task.expect:
        assert expected.lower() in answer, f"{task.id}: {expected!r} not in {answer!r}"


def test_lookups_ignore_case_and_spaces_and_unknown_names_list_the_known_ones() -> None:
    assert captain_record("  captain ODILE  vrask ") == captain_record("Odile Vrask")
    assert port_distance(" kelvaro", "TOLLINSUND ") == port_distance("Tollinsund", "Kelvaro")
    with pytest.raises(ValueError, match="known: Odile Vrask"):
        captain_record("Odile Vrasc")
    with pytest.raises(ValueError, match=r"known routes: .*Duneholt - Varsk"):
        port_distance("Varsk", "Brackwater")


def test_calculate_does_arithmetic_and_nothing_else() -> None:
    assert calculate("(420 * 0.25) * 7") == 735
    assert calculate("2 ** 3 - -1") == 9
    assert calculate("119 / 14") == 8.5
    for bad in ("__import__('os')", "len('x')", "2 ** 1000", "1 / 0", "(-8) ** 0.5", "1 +"):
        with pytest.raises(ValueError):
            calculate(bad)
