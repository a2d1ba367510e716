"""The decode step: a record's bounds, then its value as a JSON object of UTF-8 text.

Every way a record can be unusable here ends in a `decode` StageFailure with a machine-readable
code (`ecsp_contract.failures.WorkerErrorCode`): out of bounds (key, header, value size, JSON
depth, object keys, integer size), or a value that is not a JSON object of text UTF-8 can carry.
The bounds keep every later step (events, logs, serialisation) far from Python's and pydantic's
limits, and a record's CPU cost bounded.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from functools import partial
from typing import Any, ClassVar

from ecsp_contract.failures import FailureStage, WorkerErrorCode
from ecsp_contract.limits import (
    MAX_HEADER_BYTES,
    MAX_INT_DIGITS,
    MAX_JSON_DEPTH,
    MAX_KEY_BYTES,
    MAX_OBJECT_KEYS,
)
from worker.pipeline.failure import StageFailure
from worker.pipeline.identity import PROJECT_HEADER
from worker.pipeline.port import InboundMessage, Outcome
from worker.pipeline.state import Parsed, Received, Request, Step
from worker.pipeline.turns import CpuTurns


@dataclass(frozen=True)
class Decode:
    """Checks the record's bounds and parses its value (`max_request_bytes` at most), in the
    pipeline's CPU turns (`turns.CpuTurns`: no batch of costly records holds the loop)."""

    max_request_bytes: int
    turns: CpuTurns
    next_step: Step[Parsed]
    stage: ClassVar[FailureStage] = FailureStage.DECODE

    async def __call__(self, request: Request[Received]) -> Outcome:
        parsed = partial(self.parsed, request.state)
        return await self.next_step(request.advance(await self.turns.run(parsed)))

    def parsed(self, state: Received) -> Parsed:
        check_bounds(state.message)
        document = parse_json_object(state.message, max_bytes=self.max_request_bytes)
        return Parsed(state.ctx, state.message, document)


def check_bounds(message: InboundMessage) -> None:
    """A `decode` StageFailure when the key or the project header is longer than accepted."""
    if message.key is not None and len(message.key) > MAX_KEY_BYTES:
        raise _decode_failure(
            WorkerErrorCode.KEY_TOO_LARGE,
            f"message key is {len(message.key)} bytes, more than the limit of {MAX_KEY_BYTES}",
        )
    project = message.header(PROJECT_HEADER)
    if project is not None and len(project.encode()) > MAX_HEADER_BYTES:
        raise _decode_failure(
            WorkerErrorCode.HEADER_TOO_LARGE,
            f"header {PROJECT_HEADER} is longer than the limit of {MAX_HEADER_BYTES} bytes",
        )


def parse_json_object(message: InboundMessage, *, max_bytes: int) -> dict[str, Any]:
    """The record's value as a JSON object, or a `decode` StageFailure saying why not."""
    return decode_value(message.value, max_bytes=max_bytes)


def decode_value(value: bytes | None, *, max_bytes: int) -> dict[str, Any]:
    """A request value as a JSON object, or a `decode` StageFailure saying why not (the
    worker's verdict; `validate` and `publish` ask it about the bytes they read)."""
    if value is None:
        raise _decode_failure(WorkerErrorCode.NOT_JSON, "message has no value (tombstone)")
    if len(value) > max_bytes:
        raise _decode_failure(
            WorkerErrorCode.TOO_LARGE,
            f"message value is {len(value)} bytes, more than the limit of {max_bytes}",
        )
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _decode_failure(
            WorkerErrorCode.NOT_UTF8, f"message value is not UTF-8 (byte {exc.start})"
        ) from None
    try:
        if text.startswith("\ufeff"):  # json.loads checks this; a bare decoder does not
            raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", text, 0)
        parsed = _DECODER.decode(text)
    except json.JSONDecodeError as exc:
        raise _decode_failure(
            WorkerErrorCode.NOT_JSON,
            f"message value is not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
        ) from None
    except RecursionError:
        raise _too_deep() from None
    if not isinstance(parsed, dict):
        raise _decode_failure(
            WorkerErrorCode.NOT_OBJECT,
            f"message value is a JSON {type(parsed).__name__}, not an object",
        )
    # Decoded UTF-8 has no surrogates: only a \u escape can make one.
    _check_tree(parsed, texts="\\u" in text)
    return parsed


def _bounded_int(literal: str) -> int:
    if len(literal.lstrip("-")) > MAX_INT_DIGITS:
        raise _decode_failure(
            WorkerErrorCode.NUMBER_TOO_LARGE,
            f"message value has an integer of more than {MAX_INT_DIGITS} digits",
        )
    return int(literal)


_DECODER = json.JSONDecoder(parse_int=_bounded_int)
"""One decoder for every record: `json.loads(text, parse_int=...)` builds a new one per call
(~2 of its 8 us for the API reference's example)."""


def _check_tree(document: dict[str, Any], *, texts: bool) -> None:
    """Depth, key count (and, if `texts`, text) checks over the parsed value, without recursion
    (any depth is safe). Scalars are never deeper than their container, so only containers are
    queued. The key count stops a value before validation and redaction spend CPU per key."""
    pending: list[tuple[dict[str, Any] | list[Any], int]] = [(document, 1)]
    keys = 0
    while pending:
        node, depth = pending.pop()
        if depth > MAX_JSON_DEPTH:
            raise _too_deep()
        items: Iterable[Any] = node
        if isinstance(node, dict):
            keys += len(node)
            if keys > MAX_OBJECT_KEYS:
                raise _decode_failure(
                    WorkerErrorCode.TOO_MANY_KEYS,
                    f"message value has more than {MAX_OBJECT_KEYS} object keys",
                )
            items = node.values()
            if texts:
                for key in node:
                    _check_text(key)
        for item in items:
            if isinstance(item, dict | list):
                pending.append((item, depth + 1))
            elif texts and isinstance(item, str):
                _check_text(item)


def _check_text(text: str) -> None:
    """Lone surrogates (a `\\ud800` escape) are valid JSON but have no UTF-8 form."""
    if text.isascii():
        return
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise _decode_failure(
            WorkerErrorCode.NOT_UTF8,
            "message value has a string with a lone UTF-16 surrogate escape (no UTF-8 form)",
        ) from None


def _too_deep() -> StageFailure:
    return _decode_failure(
        WorkerErrorCode.TOO_DEEP, f"message value nests deeper than {MAX_JSON_DEPTH} levels"
    )


def _decode_failure(code: WorkerErrorCode, message: str) -> StageFailure:
    return StageFailure(stage=FailureStage.DECODE, code=code, message=message)
