"""adminPass rules for literals, `$NAME` references, and problems that never echo a secret."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from pydantic import ValidationError

from ecsp_contract.password import literal_password
from ecsp_contract.problems import problems_from
from ecsp_contract.request import CreateServersBody, admin_password_problems, secret_reference_name


@pytest.mark.parametrize("password", ["Str0ng!Pass", "abcDEF123", "abc-def-12", "A1.b2.c3.d4"])
def test_acceptable_passwords(password: str) -> None:
    assert admin_password_problems(password) == []


@pytest.mark.parametrize(
    ("password", "fragment"),
    [
        ("Ab1!", "8 to 26 characters"),
        ("Ab1!" * 7, "8 to 26 characters"),
        ("abcdefgh1", "at least three of"),
        ("Abc 1234!", "may contain only"),
        ("Abc#1234", "may contain only"),
        ("Xroot123!", '"root"'),
        ("Xtoor123!", '"root"'),
        ("MyAdministrator1", '"administrator"'),
        ("1rotartsinimda!", '"administrator"'),
        ("ROOT-Pass1", '"root"'),
    ],
)
def test_password_rules(password: str, fragment: str) -> None:
    problems = admin_password_problems(password)

    assert any(fragment in problem for problem in problems)
    assert all(password not in problem for problem in problems)


@pytest.mark.parametrize("password", ["Ab1!", "Ab1!xyz", "Ab1!" * 7])
def test_a_length_problem_does_not_say_how_long_the_password_is(password: str) -> None:
    """Failed events reach other teams: a length would narrow a guess of the literal."""
    problems = admin_password_problems(password)

    assert problems
    assert all(str(len(password)) not in problem for problem in problems)


@pytest.mark.parametrize(
    ("value", "name"),
    [("$ADMIN_PASS", "ADMIN_PASS"), ("$_x1", "_x1"), ("$1abc", None), ("$", None), ("a$B", None)],
)
def test_secret_reference_syntax(value: str, name: str | None) -> None:
    assert secret_reference_name(value) == name


def test_reference_is_not_checked_against_password_rules(
    example: Callable[[str], dict[str, Any]],
) -> None:
    raw = example("05-dry-run.json")
    raw["server"]["adminPass"] = "$X"

    assert CreateServersBody.model_validate(raw).server.admin_pass_reference == "X"


@pytest.mark.parametrize(
    ("field", "secret"),
    [
        ("adminPass", "hunter2root"),
        ("adminPass", 123456789),
        ("user_data", "not base64 but secret"),
        ("user_data", ["secret-in-a-list"]),
    ],
)
def test_problems_never_echo_secret_values(
    example: Callable[[str], dict[str, Any]], field: str, secret: Any
) -> None:
    raw = example("05-dry-run.json")
    raw["server"][field] = secret

    with pytest.raises(ValidationError) as caught:
        CreateServersBody.model_validate(raw)

    problems = problems_from(caught.value)
    assert [problem.path for problem in problems] == [f"server.{field}"]
    text = "\n".join(str(problem) for problem in problems)
    assert str(secret) not in text
    assert "secret" not in text
    assert "hunter2" not in text


@pytest.mark.parametrize(
    ("value", "literal"),
    [
        ("$ADMIN_PASS", None),  # a reference: the worker resolves it
        ("$$Welcome2024", "$Welcome2024"),  # the documented escape
        ("$$$Welcome2024", "$$$Welcome2024"),  # not reference-shaped after one $: as written
        ("$Welcome!2024", "$Welcome!2024"),  # not reference-shaped: as written
        ("Str0ng!Pass", "Str0ng!Pass"),
    ],
)
def test_literal_password_unescapes_only_reference_shaped_values(
    value: str, literal: str | None
) -> None:
    assert literal_password(value) == literal


def test_an_escaped_literal_is_checked_as_the_literal(
    example: Callable[[str], dict[str, Any]],
) -> None:
    raw = example("02-prepaid-password.json")
    raw["server"]["adminPass"] = "$$Welcome2024"
    assert CreateServersBody.model_validate(raw).server.admin_pass_reference is None
    raw["server"]["adminPass"] = "$$Welcome"  # the literal $Welcome is 8 characters, 3 classes
    CreateServersBody.model_validate(raw)
    raw["server"]["adminPass"] = "$$welcome"  # $welcome: only 2 classes
    with pytest.raises(ValidationError) as caught:
        CreateServersBody.model_validate(raw)
    assert [problem.path for problem in problems_from(caught.value)] == ["server.adminPass"]
