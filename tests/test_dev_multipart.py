"""The harbour multi-part development suite: it loads, and every answer is derivable.

Each task asks two or three things; here each part is solved with the loaded tools, called
directly (no model), and every expected string must be in the joined answers.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from test_dev_chains import REPO, call  # one harbour tool call, as an agent makes it

from agentlab.cli._eval import SuiteTask, load_suite

SUITE = REPO / "examples" / "suites" / "dev_multipart.jsonl"


def _years(captain: str) -> str:
    return call("captain_record", name=captain).split(": ")[1].split()[0]


SOLVERS: dict[str, Callable[[], list[str]]] = {
    "marrowgate-captain-calc": lambda: [
        call("ship_registry", ship="Marrowgate Star"),
        call("calculate", expression="14 * 6"),
    ],
    "kelvaro-tides-fennick-rate": lambda: [
        call("tide_table", town="Kelvaro"),
        call("storage_rate", warehouse="Fennick Yard"),
    ],
    "gannet-length-feet": lambda: [
        call("ship_registry", ship="Ilvaro Gannet"),
        call("convert_units", value=95, from_unit="metres", to_unit="feet"),
    ],
    "korvenna-cargo-varsk-distance": lambda: [
        call("cargo_manifest", ship="Korvenna Bright"),
        call("port_distance", from_port="Varsk", to_port="Duneholt"),
    ],
    "vrask-lindqvarn-years": lambda: [
        call("captain_record", name="Odile Vrask"),
        call("captain_record", name="Ebbe Lindqvarn"),
        call("calculate", expression=f"{_years('Odile Vrask')} + {_years('Ebbe Lindqvarn')}"),
    ],
    "friday-ships-division": lambda: [
        call("berth_schedule", day="Friday"),
        call("calculate", expression="512 / 4"),
    ],
}


def test_the_suite_has_six_unique_multi_part_tasks_each_with_a_solver() -> None:
    tasks = load_suite(SUITE)
    assert len({t.id for t in tasks}) == len(tasks) == 6
    assert {t.kind for t in tasks} == {"multi-part"}
    assert set(SOLVERS) == {t.id for t in tasks}
    assert all(len(t.expect) >= 2 for t in tasks)


@pytest.mark.parametrize("task", load_suite(SUITE), ids=lambda t: t.id)
def test_every_part_is_found_by_the_tools(task: SuiteTask) -> None:
    answers = " ".join(SOLVERS[task.id]()).lower()
    for expected in task.expect:
        assert expected.lower() in answers, f"{task.id}: {expected!r} not in {answers!r}"
