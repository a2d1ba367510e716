"""Prometheus metrics of the worker, on a registry of their own (one per worker instance).

The names are part of the operator contract: the alerts and dashboard under deploy/monitoring
use them (table in docs/architecture.md). Labels carry only bounded, non-secret values: topic,
partition, event type, stage, endpoint, outcome, circuit state, and the flavor and zone of an
offering, which publishers choose: `OfferingLabels` keeps the first few dozen of each per pod
and calls every later one `other`.
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

from ecsp_contract.events import EventType, SkipReason
from ecsp_contract.failures import FailureStage
from worker.ops.version import package_version

#: Label values created at start (value 0), so the first increment of a pod's life is a rate
#: change Prometheus can see (a series born at 1 has no increase) and alerts can fire on it.
PRECREATED_ENDPOINTS = ("create", "job")
API_OUTCOMES = ("ok", "throttled", "server_error", "client_error", "network_error")

#: Gauge value of each circuit breaker state (``ecsp_api_circuit_state``).
CIRCUIT_STATE_VALUE = {"closed": 0, "half_open": 1, "open": 2}

MAX_FLAVOR_LABELS = 40
MAX_ZONE_LABELS = 12
MAX_LABEL_CHARS = 64
OTHER = "other"

_API_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
_JOB_BUCKETS = (1, 5, 15, 30, 60, 120, 240, 480, 900, 1800, 3600)


@dataclass
class _BoundedValues:
    """The first `limit` distinct values (of at most MAX_LABEL_CHARS) as themselves, any later
    one as `other`: a label publishers choose cannot grow the series without bound."""

    limit: int
    seen: set[str] = field(default_factory=set)

    def __call__(self, value: str) -> str:
        if value in self.seen:
            return value
        if len(self.seen) >= self.limit or len(value) > MAX_LABEL_CHARS:
            return OTHER
        self.seen.add(value)
        return value


@dataclass
class OfferingLabels:
    """(flavor, zone) label values of an offering, bounded; a zone left to the cloud is `none`."""

    flavors: _BoundedValues = field(default_factory=lambda: _BoundedValues(MAX_FLAVOR_LABELS))
    zones: _BoundedValues = field(default_factory=lambda: _BoundedValues(MAX_ZONE_LABELS))

    def __call__(self, flavor_ref: str, availability_zone: str | None) -> tuple[str, str]:
        return self.flavors(flavor_ref), self.zones(availability_zone or "none")


@dataclass
class Metrics:
    """All metrics of one worker. It implements (structurally) the observers of the parts: the
    ECS client's `ApiObserver`, the pipeline's `PipelineObserver` and `GuardrailsObserver`, the
    consume loop's `WorkerObserver`, the exactly-once delivery's `DeliveryObserver`, the policy
    source's `PolicyObserver`."""

    registry: CollectorRegistry = field(
        default_factory=lambda: CollectorRegistry(auto_describe=True)
    )

    def __post_init__(self) -> None:
        r = self.registry
        ProcessCollector(registry=r)
        self._define_request_metrics(r)
        self._define_partition_metrics(r)
        self._define_api_metrics(r)
        self._define_policy_metrics(r)
        self._define_placement_metrics(r)
        self.build_info = Gauge(
            "ecsp_build_info", "Always 1; the version running.", ["version", "python"], registry=r
        )
        self.build_info.labels(package_version(), platform.python_version()).set(1)
        self._offering = OfferingLabels()
        self._precreate()
        # labels() validates and locks (~1 us); the series every request touches (a bounded
        # set: topics, event types, endpoints x outcomes) are looked up once.
        self._consumed = functools.cache(self.messages_consumed.labels)
        self._published = functools.cache(self.events_published.labels)
        self._calls = functools.cache(self.api_calls.labels)
        self._latency = functools.cache(self.api_latency.labels)
        self._job_duration = functools.cache(self.job_duration.labels)

    def _define_request_metrics(self, r: CollectorRegistry) -> None:
        """Messages in, events out, requests held and how they ended."""
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
        self.state_writes_dropped = Counter(
            "ecsp_state_writes_dropped",
            "Copies of events to the state topic given up (the event itself was published).",
            registry=r,
        )
        self.failures = Counter(
            "ecsp_failures", "Requests that ended in a failed event.", ["stage"], registry=r
        )
        self.in_flight_gauge = Gauge(
            "ecsp_requests_in_flight", "Requests held, not done.", registry=r
        )
        self.job_duration = Histogram(
            "ecsp_job_duration_seconds",
            "From create to the job's end as seen by the worker.",
            ["outcome"],
            buckets=_JOB_BUCKETS,
            registry=r,
        )
        self.servers_not_deleted_total = Counter(
            "ecsp_compensation_not_deleted",
            "Servers a compensation was to delete (on-partial-failure: delete) and could not: "
            "they still run and are billed.",
            registry=r,
        )

    def _define_partition_metrics(self, r: CollectorRegistry) -> None:
        """Partitions: assignment, pauses, commits, lag, rebalances, the answered-offsets map
        and the exactly-once transactions."""
        self.assigned_gauge = Gauge(
            "ecsp_partitions_assigned", "Request partitions assigned.", registry=r
        )
        self.paused_gauge = Gauge(
            "ecsp_partitions_paused", "Partitions paused by backpressure.", registry=r
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
        self.rebalances_counter = Counter("ecsp_rebalances", "Partition revocations.", registry=r)
        self.records_skipped = Counter(
            "ecsp_records_skipped",
            "Records read again that an earlier commit named answered: skipped, no call, no event.",
            ["topic"],
            registry=r,
        )
        self.offset_metadata_bytes = Gauge(
            "ecsp_offset_metadata_bytes",
            "Size of the answered-offsets map in the partition's last commit.",
            ["topic", "partition"],
            registry=r,
        )
        self.offset_map_overflows = Counter(
            "ecsp_offset_map_overflows",
            "Commits whose answered-offsets map exceeded the metadata limit and was left out.",
            ["topic"],
            registry=r,
        )
        self.offset_map_unreadable = Counter(
            "ecsp_offset_map_unreadable",
            "Committed answered-offsets maps ignored on assignment (another version, corrupt).",
            ["topic"],
            registry=r,
        )
        self.transactions = Counter(
            "ecsp_transactions",
            "exactly_once: Kafka transactions by outcome (committed, aborted).",
            ["outcome"],
            registry=r,
        )
        self.producers_fenced = Counter(
            "ecsp_producers_fenced",
            "exactly_once: partition producers fenced by a newer owner of their partition.",
            registry=r,
        )

    def _define_api_metrics(self, r: CollectorRegistry) -> None:
        """ECS API calls, latency, retries, the circuit breaker and the adaptive rate."""
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

    def _define_policy_metrics(self, r: CollectorRegistry) -> None:
        """The guardrails policy file, its violations and the hourly budget."""
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
        self.budget_parked_gauge = Gauge(
            "ecsp_policy_budget_parked",
            "Of the requests waiting for their project's hourly budget, those parked: their "
            "partition keeps moving (their offsets stay uncommitted: lag).",
            registry=r,
        )

    def _define_placement_metrics(self, r: CollectorRegistry) -> None:
        """Offerings tried, found sold out and skipped (labels bounded by OfferingLabels)."""
        offering = ["flavor", "zone"]
        self.placement_tries = Counter(
            "ecsp_placement_tried",
            "Creates sent per offering (a request's own placement or an ecs-fallbacks one).",
            offering,
            registry=r,
        )
        self.placement_sold_outs = Counter(
            "ecsp_placement_sold_out",
            "Sold-out answers (Ecs.0319, Ecs.0044; at create time or in the job) per offering.",
            offering,
            registry=r,
        )
        self.placement_skips = Counter(
            "ecsp_placement_skipped",
            "Placements not tried, per offering: sold_out_recently (capacity memory) or policy.",
            [*offering, "reason"],
            registry=r,
        )

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
        for state in CIRCUIT_STATE_VALUE:
            self.api_circuit_transitions.labels(state)
        for outcome in ("committed", "aborted"):
            self.transactions.labels(outcome)

    def message_consumed(self, topic: str) -> None:
        self._consumed(topic).inc()

    def event_published(self, event_type: str) -> None:
        self._published(event_type).inc()

    def state_write_dropped(self) -> None:
        self.state_writes_dropped.inc()

    # ApiObserver protocol of worker.ecs.client
    def api_call(self, endpoint: str, outcome: str, seconds: float) -> None:
        self._calls(endpoint, outcome).inc()
        self._latency(endpoint).observe(seconds)

    def api_retry(self, endpoint: str, reason: str) -> None:
        del reason  # free text is not a label: unbounded cardinality
        self.api_retries.labels(endpoint).inc()

    # WorkerObserver protocol of worker.consumer.observer (with LagGauges)
    def requests_in_flight(self, count: int) -> None:
        self.in_flight_gauge.set(count)

    def partitions_assigned(self, count: int) -> None:
        self.assigned_gauge.set(count)

    def partitions_paused(self, count: int) -> None:
        self.paused_gauge.set(count)

    def offset_committed(self, topic: str, partition: int, offset: int) -> None:
        self.committed_offset.labels(topic, str(partition)).set(offset)

    def rebalanced(self) -> None:
        self.rebalances_counter.inc()

    # the answered-offsets map (WorkerObserver)
    def record_skipped(self, topic: str) -> None:
        self.records_skipped.labels(topic).inc()

    def offset_map_committed(self, topic: str, partition: int, size: int) -> None:
        self.offset_metadata_bytes.labels(topic, str(partition)).set(size)

    def offset_map_overflow(self, topic: str) -> None:
        self.offset_map_overflows.labels(topic).inc()

    def offset_map_ignored(self, topic: str) -> None:
        self.offset_map_unreadable.labels(topic).inc()

    # DeliveryObserver protocol of worker.consumer.observer (the transactional delivery)
    def event_unpublishable(self, event_type: str) -> None:
        self.events_unpublishable.labels(event_type).inc()

    def transaction_ended(self, outcome: str) -> None:
        self.transactions.labels(outcome).inc()

    def producer_fenced(self) -> None:
        self.producers_fenced.inc()

    # LagGauges protocol of worker.consumer.lag
    def set_lag(self, topic: str, partition: int, lag: int) -> None:
        self.consumer_lag.labels(topic, str(partition)).set(lag)

    def forget(self, topic: str, partition: int) -> None:
        """Drop a partition's gauges once this member no longer owns it."""
        for gauge in (self.consumer_lag, self.committed_offset, self.offset_metadata_bytes):
            with contextlib.suppress(KeyError):
                gauge.remove(topic, str(partition))

    # PipelineObserver protocol of worker.pipeline.observer
    def request_failed(self, stage: str) -> None:
        self.failures.labels(stage).inc()

    def job_finished(self, outcome: str, seconds: float) -> None:
        self._job_duration(outcome).observe(seconds)

    # PlacementObserver protocol of worker.pipeline.observer
    def placement_tried(self, flavor_ref: str, availability_zone: str | None) -> None:
        self.placement_tries.labels(*self._offering(flavor_ref, availability_zone)).inc()

    def placement_sold_out(self, flavor_ref: str, availability_zone: str | None) -> None:
        self.placement_sold_outs.labels(*self._offering(flavor_ref, availability_zone)).inc()

    def placement_skipped(
        self, flavor_ref: str, availability_zone: str | None, reason: SkipReason
    ) -> None:
        self.placement_skips.labels(*self._offering(flavor_ref, availability_zone), reason).inc()

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

    def budget_parked(self, delta: int) -> None:
        self.budget_parked_gauge.inc(delta)

    def circuit_changed(self, state: str) -> None:
        self.api_circuit_state.set(CIRCUIT_STATE_VALUE[state])
        self.api_circuit_transitions.labels(state).inc()

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
