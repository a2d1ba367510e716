"""Prometheus metrics of the worker, on a registry of their own (one per worker instance).

The names are part of the operator contract: the alerts and dashboard under deploy/monitoring
use them (table in docs/architecture.md). Labels carry only bounded, non-secret values: topic,
partition, event type, stage, endpoint, outcome and circuit state.
"""

from __future__ import annotations

import contextlib
import functools
import platform
from dataclasses import dataclass, field

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.process_collector import ProcessCollector

from ecsp_contract.events import EventType
from ecsp_contract.failures import FailureStage
from worker.ecs.breaker import STATE_VALUE, CircuitState
from worker.ops.version import package_version
from worker.pipeline.observer import PipelineObserver

#: Label values created at start (value 0), so the first increment of a pod's life is a rate
#: change Prometheus can see (a series born at 1 has no increase) and alerts can fire on it.
PRECREATED_ENDPOINTS = ("create", "job")
API_OUTCOMES = ("ok", "throttled", "server_error", "client_error", "network_error")

_API_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
_JOB_BUCKETS = (1, 5, 15, 30, 60, 120, 240, 480, 900, 1800, 3600)


@dataclass
class Metrics(PipelineObserver):
    """All metrics of one worker; the ECS client's `ApiObserver` and the `PipelineObserver`."""

    registry: CollectorRegistry = field(
        default_factory=lambda: CollectorRegistry(auto_describe=True)
    )

    def __post_init__(self) -> None:
        r = self.registry
        ProcessCollector(registry=r)
        self.messages_consumed = Counter(
            "ecsp_messages_consumed", "Request messages fetched.", ["topic"], registry=r
        )
        self.events_published = Counter(
            "ecsp_events_published", "Events acknowledged by the broker.", ["type"], registry=r
        )
        self.events_unpublishable = Counter(
            "ecsp_events_unpublishable",
            "Events dropped: even their minimal form exceeded the size budget or the broker's.",
            ["type"],
            registry=r,
        )
        self.failures = Counter(
            "ecsp_failures", "Requests that ended in a failed event.", ["stage"], registry=r
        )
        self.in_flight = Gauge("ecsp_requests_in_flight", "Requests held, not done.", registry=r)
        self.partitions_assigned = Gauge(
            "ecsp_partitions_assigned", "Request partitions assigned.", registry=r
        )
        self.partitions_paused = Gauge(
            "ecsp_partitions_paused", "Partitions paused by backpressure.", registry=r
        )
        self.api_calls = Counter(
            "ecsp_api_calls", "ECS/IAM API attempts.", ["endpoint", "outcome"], registry=r
        )
        self.api_latency = Histogram(
            "ecsp_api_latency_seconds",
            "Latency of one API attempt.",
            ["endpoint"],
            buckets=_API_BUCKETS,
            registry=r,
        )
        self.api_retries = Counter("ecsp_api_retries", "API retries.", ["endpoint"], registry=r)
        self.job_duration = Histogram(
            "ecsp_job_duration_seconds",
            "From create to the job's end as seen by the worker.",
            ["outcome"],
            buckets=_JOB_BUCKETS,
            registry=r,
        )
        self.committed_offset = Gauge(
            "ecsp_committed_offset", "Last committed offset.", ["topic", "partition"], registry=r
        )
        self.consumer_lag = Gauge(
            "ecsp_consumer_lag",
            "Current high-water mark minus committed offset, of the partitions this member owns.",
            ["topic", "partition"],
            registry=r,
        )
        self.rebalances = Counter("ecsp_rebalances", "Partition revocations.", registry=r)
        self.servers_not_deleted_total = Counter(
            "ecsp_compensation_not_deleted",
            "Servers a compensation was to delete (on-partial-failure: delete) and could not: "
            "they still run and are billed.",
            registry=r,
        )
        self.policy_reloads = Counter(
            "ecsp_policy_reloads",
            "Policy file reads by outcome: loaded, or invalid (the last good policy stays).",
            ["outcome"],
            registry=r,
        )
        self.policy_file_valid = Gauge(
            "ecsp_policy_file_valid",
            "0 while the policy file holds an invalid change (the last good policy stays), else 1.",
            registry=r,
        )
        self.policy_file_valid.set(1)
        self.policy_violations = Counter(
            "ecsp_policy_violations", "Broken policy rules, by rule.", ["rule"], registry=r
        )
        self.budget_waiters = Gauge(
            "ecsp_policy_budget_waiting",
            "Requests waiting for their project's hourly server budget.",
            registry=r,
        )
        self.build_info = Gauge(
            "ecsp_build_info", "Always 1; the version running.", ["version", "python"], registry=r
        )
        self.build_info.labels(package_version(), platform.python_version()).set(1)
        self.api_circuit_state = Gauge(
            "ecsp_api_circuit_state",
            "ECS API circuit breaker: 0 closed, 1 half-open (probing), 2 open (API down).",
            registry=r,
        )
        self.api_circuit_transitions = Counter(
            "ecsp_api_circuit_transitions",
            "Circuit breaker state changes, by the state entered.",
            ["to"],
            registry=r,
        )
        self.api_rate = Gauge(
            "ecsp_api_rate_limit",
            "Current API call rate limit (calls/s) after throttling adapted it; 0 = unlimited.",
            registry=r,
        )
        self._precreate()
        # labels() validates and locks (~1 us); the series every request touches (a bounded
        # set: topics, event types, endpoints x outcomes) are looked up once.
        self._consumed = functools.cache(self.messages_consumed.labels)
        self._published = functools.cache(self.events_published.labels)
        self._calls = functools.cache(self.api_calls.labels)
        self._latency = functools.cache(self.api_latency.labels)
        self._job_duration = functools.cache(self.job_duration.labels)

    def _precreate(self) -> None:
        for stage in FailureStage:
            self.failures.labels(stage.value)
        for event_type in EventType:
            self.events_published.labels(event_type.value)
        for endpoint in PRECREATED_ENDPOINTS:
            self.api_retries.labels(endpoint)
            for outcome in API_OUTCOMES:
                self.api_calls.labels(endpoint, outcome)
        for outcome in ("loaded", "invalid"):
            self.policy_reloads.labels(outcome)
        for state in STATE_VALUE:
            self.api_circuit_transitions.labels(state)

    def message_consumed(self, topic: str) -> None:
        self._consumed(topic).inc()

    def event_published(self, event_type: str) -> None:
        self._published(event_type).inc()

    # ApiObserver protocol of worker.ecs.client
    def api_call(self, endpoint: str, outcome: str, seconds: float) -> None:
        self._calls(endpoint, outcome).inc()
        self._latency(endpoint).observe(seconds)

    def api_retry(self, endpoint: str, reason: str) -> None:
        del reason  # free text is not a label: unbounded cardinality
        self.api_retries.labels(endpoint).inc()

    # LagGauges protocol of worker.consumer.lag
    def set_lag(self, topic: str, partition: int, lag: int) -> None:
        self.consumer_lag.labels(topic, str(partition)).set(lag)

    def forget(self, topic: str, partition: int) -> None:
        """Drop a partition's gauges once this member no longer owns it."""
        for gauge in (self.consumer_lag, self.committed_offset):
            with contextlib.suppress(KeyError):
                gauge.remove(topic, str(partition))

    # PipelineObserver protocol of worker.pipeline.observer
    def request_failed(self, stage: str) -> None:
        self.failures.labels(stage).inc()

    def job_finished(self, outcome: str, seconds: float) -> None:
        self._job_duration(outcome).observe(seconds)

    def servers_not_deleted(self, count: int) -> None:
        self.servers_not_deleted_total.inc(count)

    # PolicyObserver (worker.policy.source) and GuardrailsObserver (worker.pipeline.guardrails)
    def policy_loaded(self, valid: bool) -> None:
        self.policy_reloads.labels("loaded" if valid else "invalid").inc()
        self.policy_file_valid.set(1 if valid else 0)

    def policy_violation(self, rule: str) -> None:
        self.policy_violations.labels(rule).inc()

    def budget_waiting(self, delta: int) -> None:
        self.budget_waiters.inc(delta)

    def circuit_changed(self, state: CircuitState) -> None:
        self.api_circuit_state.set(STATE_VALUE[state])
        self.api_circuit_transitions.labels(state).inc()

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
