"""aiokafka at the edge: clients built from the settings, and the consumer adapted to the loop.

The producer is idempotent with acks=all, so an acknowledged event is durable and a producer
retry never duplicates it. The consumer never auto-commits: offsets move only when the worker
commits the finished prefix of a partition. `KafkaRequestConsumer` gives the consume loop the
`RequestConsumer` it is written against; it only translates partitions, listener and errors.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka import TopicPartition as KafkaTopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError
from aiokafka.helpers import create_ssl_context

from worker.consumer.committed_fetch import CommittedReader
from worker.consumer.ports import (
    BrokerError,
    CommitFailed,
    Position,
    RebalanceListener,
    Record,
    TopicPartition,
)
from worker.ops.settings import Settings

PRODUCER_BATCH_BYTES = 256 * 1024


def security_options(settings: Settings) -> dict[str, Any]:
    """aiokafka keyword arguments for the configured security protocol."""
    options: dict[str, Any] = {"security_protocol": settings.kafka_security_protocol}
    if settings.kafka_security_protocol in ("SSL", "SASL_SSL"):
        context: ssl.SSLContext = create_ssl_context(
            cafile=str(settings.kafka_ca_file) if settings.kafka_ca_file else None
        )
        options["ssl_context"] = context
    if settings.kafka_security_protocol.startswith("SASL"):
        password = settings.kafka_sasl_password
        options.update(
            sasl_mechanism=settings.kafka_sasl_mechanism,
            sasl_plain_username=settings.kafka_sasl_username,
            sasl_plain_password=password.get_secret_value() if password else None,
        )
    return options


def _producer_options(settings: Settings) -> dict[str, Any]:
    """What the process producer and the transactional ones share."""
    return dict(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        enable_idempotence=True,
        acks="all",
        linger_ms=5,
        # aiokafka's default (16 KiB) holds ~8 of our ~2 KB events per partition batch; every
        # further concurrent send then waits for that batch to drain, and all waiters wake and
        # retry on each drain (tests/bench/results/PROFILE.md). 256 KiB stays well under the
        # broker's 1 MiB message.max.bytes.
        max_batch_size=PRODUCER_BATCH_BYTES,
        # the events' size budget: `EventPublisher` fits every event within it
        max_request_size=settings.max_event_bytes,
        request_timeout_ms=30_000,
        **security_options(settings),
    )


def make_producer(settings: Settings) -> AIOKafkaProducer:
    return AIOKafkaProducer(
        client_id=f"{settings.deployment_name}-producer", **_producer_options(settings)
    )


def make_transactional_producer(settings: Settings, transactional_id: str) -> AIOKafkaProducer:
    """One input partition's producer under exactly-once (`worker.consumer.transactional`)."""
    return AIOKafkaProducer(
        client_id=f"{settings.deployment_name}-{transactional_id}",
        transactional_id=transactional_id,
        transaction_timeout_ms=int(settings.transaction_timeout_seconds * 1000),
        **_producer_options(settings),
    )


def make_consumer(settings: Settings) -> AIOKafkaConsumer:
    rebalance_ms = int(max(10.0, settings.revoke_grace_seconds + 10.0) * 1000)
    return AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        client_id=f"{settings.deployment_name}-consumer",
        group_id=settings.group_id,
        group_instance_id=settings.group_instance_id or None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        rebalance_timeout_ms=rebalance_ms,
        session_timeout_ms=int(settings.kafka_session_timeout_seconds * 1000),
        heartbeat_interval_ms=3_000,
        max_partition_fetch_bytes=max(1_048_576, settings.max_request_bytes),
        # exactly-once also on the way in: a publisher's aborted request is never processed
        isolation_level=(
            "read_committed" if settings.delivery == "exactly_once" else "read_uncommitted"
        ),
        **security_options(settings),
    )


def make_admin(settings: Settings) -> AIOKafkaAdminClient:
    """The admin client that reads committed positions with their metadata."""
    return AIOKafkaAdminClient(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        client_id=f"{settings.deployment_name}-offsets",
        request_timeout_ms=30_000,
        **security_options(settings),
    )


class KafkaRequestConsumer:
    """The `RequestConsumer` of the consume loop over a started `AIOKafkaConsumer`; committed
    positions (with metadata) come from `positions`."""

    def __init__(self, consumer: AIOKafkaConsumer, positions: CommittedReader) -> None:
        self._consumer = consumer
        self._positions = positions
        self._subscribed: tuple[tuple[str, ...], RebalanceListener] | None = None

    def subscribe(self, topics: Sequence[str], listener: RebalanceListener) -> None:
        self._subscribed = (tuple(topics), listener)
        self._consumer.subscribe(list(topics), listener=_Listener(listener))

    def rejoin(self) -> None:
        """Rejoins the group: subscribing again makes aiokafka revoke every partition and join
        anew (the transactional delivery gives up a partition it can no longer commit)."""
        if self._subscribed is not None:
            self.subscribe(*self._subscribed)

    async def getmany(
        self, *, timeout_ms: int, max_records: int
    ) -> Mapping[TopicPartition, Sequence[Record]]:
        batch = await self._consumer.getmany(timeout_ms=timeout_ms, max_records=max_records)
        return {TopicPartition(tp.topic, tp.partition): records for tp, records in batch.items()}

    def pause(self, *partitions: TopicPartition) -> None:
        self._consumer.pause(*(KafkaTopicPartition(*tp) for tp in partitions))

    def resume(self, *partitions: TopicPartition) -> None:
        self._consumer.resume(*(KafkaTopicPartition(*tp) for tp in partitions))

    async def commit(self, positions: Mapping[TopicPartition, Position]) -> None:
        try:
            await self._consumer.commit(
                {KafkaTopicPartition(*tp): (p.offset, p.metadata) for tp, p in positions.items()}
            )
        except KafkaError as exc:  # CommitFailedError (rebalance) is one
            raise CommitFailed(type(exc).__name__) from exc

    async def committed_position(self, partition: TopicPartition) -> Position | None:
        return await self._positions.read(partition)

    async def end_offsets(self, partitions: list[TopicPartition]) -> dict[TopicPartition, int]:
        try:
            ends = await self._consumer.end_offsets([KafkaTopicPartition(*tp) for tp in partitions])
        except KafkaError as exc:
            raise BrokerError(type(exc).__name__) from exc
        return {TopicPartition(*tp): offset for tp, offset in ends.items()}

    async def beginning_offsets(
        self, partitions: list[TopicPartition]
    ) -> dict[TopicPartition, int]:
        try:
            firsts = await self._consumer.beginning_offsets(
                [KafkaTopicPartition(*tp) for tp in partitions]
            )
        except KafkaError as exc:
            raise BrokerError(type(exc).__name__) from exc
        return {TopicPartition(*tp): offset for tp, offset in firsts.items()}

    async def committed(self, partition: TopicPartition) -> int | None:
        try:
            offset: int | None = await self._consumer.committed(KafkaTopicPartition(*partition))
        except KafkaError as exc:
            raise BrokerError(type(exc).__name__) from exc
        return offset


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, listener: RebalanceListener) -> None:
        self._listener = listener

    async def on_partitions_revoked(self, revoked: set[KafkaTopicPartition]) -> None:
        await self._listener.partitions_revoked([TopicPartition(*tp) for tp in revoked])

    async def on_partitions_assigned(self, assigned: set[KafkaTopicPartition]) -> None:
        self._listener.partitions_assigned([TopicPartition(*tp) for tp in assigned])
