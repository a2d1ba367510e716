"""The one mutable object of a simulator app: its stores, generators and current faults.

Owns how a `SimulatorConfig` becomes running state: one seeded `random.Random` per concern
(faults, job plans, identifiers), so that e.g. the fault sequence does not shift when a test
creates one more server. Everything runs on the event loop; no locks are needed because no
handler awaits between reading and updating the stores.
"""

from __future__ import annotations

import dataclasses
import math
import random
from dataclasses import dataclass, field

from aiohttp import web

from worker.simulator.auth import Authenticator, TokenRegistry
from worker.simulator.idempotency import IdempotencyStore
from worker.simulator.keys import KeyStore, TemporaryKey
from worker.simulator.knobs import Faults, SimulatorConfig
from worker.simulator.lifecycle import DeleteStore
from worker.simulator.registry import Registry, Retention
from worker.simulator.stats import Stats
from worker.simulator.wire import IdSource


def _rng(seed: int | None, purpose: str) -> random.Random:
    return random.Random(None if seed is None else f"{seed}:{purpose}")


@dataclass
class SimState:
    """Config, current faults, generators and stores of one app."""

    config: SimulatorConfig
    faults: Faults
    fault_rng: random.Random
    job_rng: random.Random
    capacity_rng: random.Random  # sold out at create time, or in the job
    ids: IdSource
    iam_tokens: TokenRegistry
    auth: Authenticator
    idempotency: IdempotencyStore
    registry: Registry
    deletes: DeleteStore
    stats: Stats
    metadata_key: TemporaryKey | None = None
    metadata_tokens: dict[str, float] = field(default_factory=dict)  # token -> expiry
    sell_policy_ids: dict[tuple[str, str], int] = field(default_factory=dict)  # (flavor, zone)
    quota_second: int = -1  # the clock second `quota_calls` counts
    quota_calls: int = field(default=0)

    def over_quota(self) -> bool:
        """Count one ECS API call against ``quota_per_second``; True if it is past the quota."""
        quota = self.faults.quota_per_second
        if not quota:
            return False
        second = math.floor(self.now())
        if second != self.quota_second:
            self.quota_second, self.quota_calls = second, 0
        self.quota_calls += 1
        return self.quota_calls > quota

    def now(self) -> float:
        """The current time from the configured clock."""
        return self.config.clock()

    @property
    def job_seconds(self) -> tuple[float, float]:
        """The job duration range in force."""
        return self.faults.job_seconds or self.config.job_seconds


def build_state(config: SimulatorConfig) -> SimState:
    """Fresh state for an app started with ``config``."""
    faults = config.faults
    if faults.job_seconds is None:
        faults = dataclasses.replace(faults, job_seconds=config.job_seconds)
    iam_tokens = TokenRegistry()
    return SimState(
        config=config,
        faults=faults,
        fault_rng=_rng(config.seed, "faults"),
        job_rng=_rng(config.seed, "jobs"),
        capacity_rng=_rng(config.seed, "capacity"),
        ids=IdSource(_rng(config.seed, "ids")),
        iam_tokens=iam_tokens,
        auth=Authenticator(
            keys=KeyStore(dict(config.credentials)),
            tokens=iam_tokens,
            clock=config.clock,
            skew_seconds=config.skew_seconds,
        ),
        idempotency=IdempotencyStore(config.token_ttl_seconds),
        registry=Registry(
            Retention(
                finished_seconds=config.job_retention_seconds,
                pending_payment_seconds=config.pending_payment_retention_seconds,
            )
        ),
        deletes=DeleteStore(),
        stats=Stats(),
    )


STATE: web.AppKey[SimState] = web.AppKey("simulator_state", SimState)
REQUEST_ID: web.RequestKey[str] = web.RequestKey("simulator_request_id", str)
