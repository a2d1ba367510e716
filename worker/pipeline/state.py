"""A request on its way through the steps: the `Request` every step is handed, the states it
passes, and the `Step` protocol.

A state is an immutable value: `Received` (identity and context) → `Parsed` (the JSON object)
→ `Validated` (the checked model and wire body) → `Resolved` (the body to send, with the
password) → `Created` (what following the job needs, nothing of the body). `Request` holds the
current one; a step moves it on with `advance`, which drops the earlier state for every step, so
no step keeps the parsed document or the body with its password alive while later steps follow
a job for minutes (`tests/pipeline/test_steps_memory.py` holds them to it). A step reads
`request.state` and never keeps it in a variable across its `await` of the next step.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar, cast

from ecsp_contract.events import Tagging
from ecsp_contract.placement import Fallback
from ecsp_contract.request import CreateServersBody
from worker.ecs.models import CreateResult
from worker.pipeline.context import RequestContext
from worker.pipeline.port import InboundMessage, Outcome
from worker.pipeline.tagging import OnPartialFailure, RequestTag

S = TypeVar("S")
T = TypeVar("T")


class Request(Generic[S]):
    """The one request moving through the steps, in its current state."""

    __slots__ = ("_state",)

    def __init__(self, state: S) -> None:
        self._state: Any = state

    @property
    def state(self) -> S:
        return cast(S, self._state)

    @property
    def ctx(self) -> RequestContext:
        """The context of the current state (every state carries one)."""
        ctx: RequestContext = self._state.ctx
        return ctx

    def advance(self, state: T) -> Request[T]:
        """Moves on to `state`; the state before is no longer held here."""
        self._state = state
        return cast(Request[T], self)


class Step(Protocol[S]):
    """One step of a request's life: does its part, then hands the request to its next step
    (or ends it); raises `StageFailure` when the request ends failed here."""

    async def __call__(self, request: Request[S]) -> Outcome: ...


@dataclass(frozen=True, slots=True)
class DecodedRequest:
    """A request that passed every local check and may be sent to the API."""

    key: str
    token: str
    project_id: str
    tenant: str  # the name of the tenant whose topic it came from
    body: CreateServersBody
    wire: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Received:
    ctx: RequestContext
    message: InboundMessage


@dataclass(frozen=True, slots=True)
class Parsed:
    ctx: RequestContext
    message: InboundMessage
    document: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Validated:
    ctx: RequestContext
    message: InboundMessage
    request: DecodedRequest
    on_partial_failure: OnPartialFailure
    fallbacks: tuple[Fallback, ...] = ()  # the `ecs-fallbacks` header's placements


@dataclass(frozen=True, slots=True)
class Resolved:
    ctx: RequestContext
    message: InboundMessage
    request: DecodedRequest
    on_partial_failure: OnPartialFailure
    body: dict[str, Any]  # the wire body with the password a `$NAME` stands for
    fallbacks: tuple[Fallback, ...] = ()


@dataclass(frozen=True, slots=True)
class Created:
    """A create the API accepted: what following its job (and compensating) needs."""

    ctx: RequestContext
    project_id: str
    token: str  # the token the servers carry (a re-create's differs from the request's)
    tagging: Tagging
    created: CreateResult
    job_id: str
    on_partial_failure: OnPartialFailure  # what this message asked (the first create decides)
    delete_flags: tuple[bool, bool]  # (delete_publicip, delete_volume) of a compensation
    may_await_payment: bool
    request_tag: RequestTag | None  # what the servers record (None: the accepted body had none)
