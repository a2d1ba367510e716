"""The one verdict on a create body, shared by `validate`, `publish`, the worker and the simulator.

Owns `check_body`: the operator's allowed extra fields are set aside
(`ecsp_contract.extensions`), the rest is validated by the models, and the body to send is the
wire form with the extras put back. Every caller gets the same problems
(`ecsp_contract.problems.Problem`, a JSON path and a message) or the same accepted body, so no
view of the contract can disagree with another. The worker's own rules (reserved tag keys,
`ecsp_contract.reserved`) come on top, raised as `ReservedTags`; the simulator, which answers as
the API does, asks without them (`worker_rules=False`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from ecsp_contract.extensions import ExtraField, split_extras, with_extras
from ecsp_contract.problems import Problem, problems_from
from ecsp_contract.request import CreateServersBody, to_wire
from ecsp_contract.reserved import reserved_tag_problems


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


class ReservedTags(InvalidBody):
    """The body is one the API accepts, but it uses tag keys the worker reserves for itself."""


def check_body(
    document: Any, extra_fields: tuple[ExtraField, ...] = (), *, worker_rules: bool = True
) -> CheckedBody:
    """Validate a parsed JSON document; raise InvalidBody with every problem found (the schema's
    and, with `worker_rules`, the reserved tags'), or ReservedTags when only those are wrong."""
    reserved = reserved_tag_problems(document) if worker_rules else []
    stripped, extras = split_extras(document, extra_fields)
    try:
        body = CreateServersBody.model_validate(stripped)
    except ValidationError as exc:
        raise InvalidBody(problems_from(exc, CreateServersBody) + reserved) from None
    if reserved:
        raise ReservedTags(reserved)
    return CheckedBody(body=body, wire=with_extras(to_wire(body), extras))
