"""Building aiokafka clients from the settings: security (TLS, SASL) and the delivery guarantees.

The producer is idempotent with acks=all, so an acknowledged event is durable and a producer
retry never duplicates it. The consumer never auto-commits: offsets move only when the worker
commits the finished prefix of a partition.
"""

from __future__ import annotations

import ssl
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.helpers import create_ssl_context

from worker.ops.config import Settings

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


def make_producer(settings: Settings) -> AIOKafkaProducer:
    return AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        client_id=f"{settings.deployment_name}-producer",
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
        **security_options(settings),
    )
