"""Problem paths: dotted keys, [index] for list items, wire names kept."""

from __future__ import annotations

import pytest

from ecsp_contract.problems import ROOT_PATH, Problem, format_path


@pytest.mark.parametrize(
    ("loc", "path"),
    [
        ((), ROOT_PATH),
        (("server",), "server"),
        (("server", "nics", 0, "subnet_id"), "server.nics[0].subnet_id"),
        (("server", "os:scheduler_hints", "group"), "server.os:scheduler_hints.group"),
        (("server", "data_volumes", 12), "server.data_volumes[12]"),
        ((0, "a"), "[0].a"),
    ],
)
def test_format_path(loc: tuple[int | str, ...], path: str) -> None:
    assert format_path(loc) == path


def test_problem_prints_as_path_colon_message() -> None:
    assert str(Problem("server.name", "required field is missing")) == (
        "server.name: required field is missing"
    )
