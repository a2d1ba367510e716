"""A topic partition's end offset, for tests that read what was published after a point."""

from __future__ import annotations

from aiokafka import AIOKafkaConsumer, TopicPartition


async def end_offset(bootstrap: str, topic: str) -> int:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
    await consumer.start()
    try:
        tp = TopicPartition(topic, 0)
        return int((await consumer.end_offsets([tp]))[tp])
    finally:
        await consumer.stop()
