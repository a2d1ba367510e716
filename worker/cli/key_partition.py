"""Which partition of a topic holds a key's records: the producer's own partitioner.

The worker publishes every event keyed by its request key with aiokafka's producer and its
`DefaultPartitioner`: partition = (murmur2(key) & 0x7fffffff) % the topic's partition count, the
same hash and arithmetic as the Java client's default partitioner for keyed records. A reader
asks the same partitioner, so it reads one partition instead of the whole topic. (Adding
partitions to a topic later moves where new records of a key go; the records already written
stay where they were.)
"""

from __future__ import annotations

from collections.abc import Collection

from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.partitioner import DefaultPartitioner

from ecsp_contract.limits import MAX_KEY_BYTES
from worker.cli.kafka_command import KafkaCommandError

_PARTITIONER = DefaultPartitioner()


def events_key(request_key: str) -> bytes:
    """The Kafka key of the events (and states) answering requests with `request_key`: the
    worker cuts a longer key to the contract's bound (such a request fails `decode`)."""
    return request_key.encode()[:MAX_KEY_BYTES]


def partition_of(key: bytes, partition_count: int) -> int:
    """The partition the producer puts a record with `key` on, among `partition_count`."""
    partitions = list(range(partition_count))
    partition: int = _PARTITIONER(key, partitions, partitions)
    return partition


async def partition_counts(admin: AIOKafkaAdminClient, topics: Collection[str]) -> dict[str, int]:
    """The partition count of each of `topics` that exists. Asks for every topic's metadata:
    naming a topic in a metadata request would create it on a broker that auto-creates topics."""
    described = await admin.describe_topics()
    return {
        str(t["topic"]): len(t["partitions"])
        for t in described
        if t["topic"] in topics and t["error_code"] == 0
    }


async def key_partitions(
    admin: AIOKafkaAdminClient, topics: Collection[str], key: bytes
) -> list[TopicPartition]:
    """`key`'s partition of each of `topics`; KafkaCommandError naming those that do not exist."""
    counts = await partition_counts(admin, topics)
    missing = sorted(set(topics) - set(counts))
    if missing:
        raise KafkaCommandError(f"no topic {', '.join(missing)}")
    return [TopicPartition(topic, partition_of(key, counts[topic])) for topic in topics]
