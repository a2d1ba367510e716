"""The one verdict on a create body, shared by `validate`, `publish`, the worker and the simulator.

Owns `check_body`: the operator's allowed extra fields are set aside
(`ecsp_contract.extensions`), the rest is validated by the models, and the body to send is the
wire form with the extras put back. Every caller gets the same problems
(`ecsp_contract.problems.Problem`, a JSON path and a message) or the same accepted body, so no
view of the contract can disagree with another.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from ecsp_contract.extensions import ExtraField, split_extras, with_extras
from ecsp_contract.problems import Problem, problems_from
from ecsp_contract.request import CreateServersBody, to_wire


@dataclass(frozen=True)
class CheckedBody:
    """An accepted body: the model and the exact JSON object to send (extras included)."""

    body: CreateServersBody
    wire: dict[str, Any]


class InvalidBody(Exception):
    """The body breaks the contract; `problems` names every broken rule by JSON path."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(str(problem) for problem in problems))
        self.problems = problems


def check_body(document: Any, extra_fields: tuple[ExtraField, ...] = ()) -> CheckedBody:
    """Validate a parsed JSON document; raise InvalidBody with every problem found."""
    stripped, extras = split_extras(document, extra_fields)
    try:
        body = CreateServersBody.model_validate(stripped)
    except ValidationError as exc:
        raise InvalidBody(problems_from(exc, CreateServersBody)) from None
    return CheckedBody(body=body, wire=with_extras(to_wire(body), extras))
