"""The worker's verdict on a request value, for `validate` and `publish`.

`check_value` runs the bytes through the worker's own decode step
(`worker.pipeline.decode.decode_value`: size, UTF-8, a byte order mark, JSON, an object, depth,
integer size, lone surrogate escapes) and then the contract's `check_body`, so both commands
refuse exactly the values the worker would answer with a `failed` event at stage `decode` or
`validate` (what depends on the record rather than its value, such as the key, the project
header and `$NAME` secrets, aside).
"""

from __future__ import annotations

from ecsp_contract.extensions import ExtraField
from ecsp_contract.verdict import CheckedBody, InvalidBody, check_body
from worker.pipeline.decode import decode_value
from worker.pipeline.failure import StageFailure


class Refused(Exception):
    """The worker would refuse the value: one line per problem.

    `undecodable` values (not a JSON object of UTF-8 text, out of bounds) get one
    `message (ECSP.Code)` line; invalid bodies a `path: message` line per problem.
    """

    def __init__(self, lines: list[str], *, undecodable: bool) -> None:
        super().__init__("; ".join(lines))
        self.lines = lines
        self.undecodable = undecodable


def check_value(raw: bytes, *, extra_fields: tuple[ExtraField, ...], max_bytes: int) -> CheckedBody:
    """The accepted body of the request value `raw`; Refused with the worker's reasons."""
    try:
        document = decode_value(raw, max_bytes=max_bytes)
    except StageFailure as failure:
        raise Refused([f"{failure.message} ({failure.code})"], undecodable=True) from None
    try:
        return check_body(document, extra_fields)
    except InvalidBody as exc:
        raise Refused([str(problem) for problem in exc.problems], undecodable=False) from None
