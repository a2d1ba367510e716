"""The ECS client's layers: transports that each wrap the next one, as httpx's transports do.

Owns `Signing` (drives the auth flow: signs each attempt, repeats it once after a 401 when the
credentials were renewed), `RateLimited` (the process's `CallLimiter`: waits for a call's token
within the attempt's deadline, tells it how the attempt went), `Guarded` (the circuit breaker:
refuses attempts while the API is considered down, judges each answer, and ends a call with
`unavailable` once an outage opened it), `Measured` (metrics: endpoint, outcome, seconds),
`Traced` (one `HttpAttempt` per attempt for spans) and `stack`, which composes them.

The service stacks them outermost first: Signing → RateLimited → Guarded → Measured → Traced →
`HttpTransport`. A concern that is off is simply not stacked (tracing off: no `Traced`, so no
`HttpAttempt` is even built); no layer knows which others exist, and the client knows none.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

from worker.ecs.auth import Auth
from worker.ecs.breaker import CircuitBreaker
from worker.ecs.errors import EcsApiError, is_outage, outcome, timeout_error, unavailable_error
from worker.ecs.observer import ApiObserver, CallObserver, HttpAttempt, HttpTracer
from worker.ecs.ratelimit import CallLimiter
from worker.ecs.transport import ApiRequest, ApiResponse, Transport

Layer = Callable[[Transport], Transport]


def stack(innermost: Transport, *layers: Layer) -> Transport:
    """`innermost` wrapped in `layers`, the first of them outermost."""
    transport = innermost
    for layer in reversed(layers):
        transport = layer(transport)
    return transport


@dataclass(frozen=True)
class Signing:
    """Runs each attempt through the auth flow; a repeat after a 401 is reported as a retry."""

    inner: Transport
    auth: Auth
    observer: ApiObserver

    async def send(self, request: ApiRequest) -> ApiResponse:
        flow = self.auth.auth_flow(request)
        try:
            signed = await anext(flow)
            while True:
                response = await self.inner.send(signed)
                try:
                    signed = await flow.asend(response)
                except StopAsyncIteration:
                    return response
                self.observer.api_retry(request.endpoint, signed.renewal or "renewal")
        finally:
            await flow.aclose()


@dataclass(frozen=True)
class RateLimited:
    """Paces attempts by the process's limiter; throttled answers slow it, others speed it up."""

    inner: Transport
    limiter: CallLimiter

    async def send(self, request: ApiRequest) -> ApiResponse:
        if not self.limiter.try_acquire():  # no timer for an attempt that need not wait
            try:
                async with asyncio.timeout(max(0.0, request.deadline - time.monotonic())):
                    await self.limiter.acquire()
            except TimeoutError:
                raise timeout_error("deadline reached waiting for the rate limiter") from None
        try:
            response = await self.inner.send(request)
        except EcsApiError as err:
            self._judge(err)
            raise
        self._judge(response.error)
        return response

    def _judge(self, error: EcsApiError | None) -> None:
        if error is None:
            self.limiter.answered()
        elif is_outage(error):
            return  # the breaker's business, not the rate's
        elif outcome(error) == "throttled":
            self.limiter.throttled()
        elif error.http_status is not None:
            self.limiter.answered()


@dataclass(frozen=True)
class Guarded:
    """Admits attempts through the circuit breaker and tells it how each one went.

    While the breaker is open an attempt is refused at once (`unavailable`, no call made); an
    outage signal that leaves the breaker open ends the call as `unavailable` too, so the caller
    waits for the API (`CircuitBreaker.wait_available`) instead of spending its retries.
    """

    inner: Transport
    breaker: CircuitBreaker

    async def send(self, request: ApiRequest) -> ApiResponse:
        if not self.breaker.admit():
            raise unavailable_error(self.breaker.reason)
        try:
            response = await self.inner.send(request)
        except EcsApiError as err:
            raise self._judged(err) from None
        except BaseException:
            self.breaker.abandoned()  # cancelled: no answer to judge (a probe may go again)
            raise
        if response.error is None:
            self.breaker.succeeded()
            return response
        held = self._judged(response.error)
        if held is not response.error:
            raise held
        return response

    def _judged(self, error: EcsApiError) -> EcsApiError:
        """Tells the breaker about a failed attempt; the error the attempt ends with."""
        breaker = self.breaker
        if is_outage(error):
            breaker.outage()
            if breaker.state != "closed":
                return unavailable_error(breaker.reason, last=error)
        elif outcome(error) == "throttled":
            breaker.throttled()
        elif error.http_status is not None:
            breaker.succeeded()
        else:
            breaker.abandoned()  # a TLS certificate failure says nothing of an outage
        return error


@dataclass(frozen=True)
class Measured:
    """Reports each attempt's outcome and duration (no attempt is reported for a held call)."""

    inner: Transport
    observer: CallObserver

    async def send(self, request: ApiRequest) -> ApiResponse:
        started = time.monotonic()
        try:
            response = await self.inner.send(request)
        except EcsApiError as err:
            self.observer.api_call(request.endpoint, outcome(err), time.monotonic() - started)
            raise
        result = "ok" if response.error is None else outcome(response.error)
        self.observer.api_call(request.endpoint, result, time.monotonic() - started)
        return response


@dataclass(frozen=True)
class Traced:
    """Tells the tracer of each attempt once it ended, with its real start and duration."""

    inner: Transport
    tracer: HttpTracer

    async def send(self, request: ApiRequest) -> ApiResponse:
        started, started_ns = time.monotonic(), time.time_ns()
        try:
            response = await self.inner.send(request)
        except EcsApiError as err:
            self._tell(request, started, started_ns, None, err, None)
            raise
        self._tell(
            request, started, started_ns, response.status, response.error, response.request_id
        )
        return response

    def _tell(  # noqa: PLR0917 - the parts of one attempt
        self,
        request: ApiRequest,
        started: float,
        started_ns: int,
        status: int | None,
        error: EcsApiError | None,
        request_id: str | None,
    ) -> None:
        self.tracer.http_attempt(
            HttpAttempt(
                endpoint=request.endpoint,
                method=request.method,
                route=request.route,
                url=request.url,
                started_ns=started_ns,
                seconds=time.monotonic() - started,
                status=status,
                outcome="ok" if error is None else outcome(error),
                error_code=None if error is None else error.code,
                request_id=request_id,
                job_id=request.job_id,
            )
        )
