"""The lag KEDA's Kafka scaler computes for a consumer group, with the scaler's own algorithm:
per partition of the topic, the latest offset minus the group's committed offset; a partition
without a committed offset counts in full with offsetResetPolicy "earliest" (its log starts at
0 here). It connects with the same security settings as the worker (the TriggerAuthentication
uses the worker's Secret), so it proves those credentials work for the scaler's queries too."""

from __future__ import annotations

from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient


async def keda_lag(bootstrap: str, security: dict[str, Any], group: str, topic: str) -> int:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **security)
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, **security)
    await admin.start()
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        latest = await consumer.end_offsets(partitions)
        committed = await admin.list_consumer_group_offsets(group, partitions=partitions)
    finally:
        await consumer.stop()
        await admin.close()
    total = 0
    for tp, end in latest.items():
        meta = committed.get(tp)
        total += end - (meta.offset if meta is not None and meta.offset >= 0 else 0)
    return total
