"""Reading one key's records out of the partitions that hold it, never a whole topic.

`latest_record` reads a partition backwards from its end in chunks that double in size (from
`FIRST_CHUNK` offsets) and stops at the first chunk that holds the key, returning the key's last
record: a key written recently is found in the first chunk, an unknown key costs one pass over
the partition (in a compacted topic, about one record per key). `key_records` returns the key's
records among those fetched next from the assigned partitions, for callers that follow them.
Keys are compared as bytes; values are returned untouched. The consumer reads without a group
and is positioned by these functions.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from worker.cli.kafka_command import KafkaCommandError

#: Offsets read in the first chunk from the end; every next chunk is twice as long.
FIRST_CHUNK = 2_000
#: A read that brings nothing for this long fails: the broker stopped answering.
STALL_MS = 15_000
#: Records handed over per fetch call (a chunk is read in few calls).
MAX_RECORDS = 10_000


@dataclass(frozen=True)
class Lookup:
    """The last record with the key (a tombstone too) or None, and the partition's end offset
    when the lookup began: records from there on are newer than the answer."""

    record: Any
    end: int


async def latest_record(consumer: AIOKafkaConsumer, tp: TopicPartition, key: bytes) -> Lookup:
    """The last record with `key` in `tp`. Leaves `tp` assigned."""
    # Paused until the first chunk is chosen: a fetch at a reset position would go out meanwhile,
    # and the first chunk's fetch would wait for it (up to the consumer's fetch_max_wait_ms).
    consumer.assign([tp])
    consumer.pause(tp)
    begin = (await consumer.beginning_offsets([tp]))[tp]
    end = (await consumer.end_offsets([tp]))[tp]
    consumer.resume(tp)
    high, chunk = end, FIRST_CHUNK
    while high > begin:
        low = max(begin, high - chunk)
        consumer.seek(tp, low)
        found = await _last_between(consumer, tp, key, low, high)
        if found is not None:
            return Lookup(found, end)
        high, chunk = low, chunk * 2
    return Lookup(None, end)


async def _last_between(
    consumer: AIOKafkaConsumer, tp: TopicPartition, key: bytes, low: int, high: int
) -> Any:
    """The last record with `key` at offsets low..high-1, the consumer positioned at `low`
    (records exist at `high - 1` or later: the reads end there)."""
    found = None
    while await consumer.position(tp) < high:
        batch = await consumer.getmany(tp, timeout_ms=STALL_MS, max_records=MAX_RECORDS)
        records = batch.get(tp)
        if not records:
            raise KafkaCommandError(
                f"{tp.topic} partition {tp.partition}: no records within {STALL_MS // 1000}s "
                f"reading offsets {low}..{high - 1}"
            )
        for record in records:
            if record.offset < high and record.key == key:
                found = record
    return found


def key_records(batch: dict[TopicPartition, list[Any]], key: bytes) -> Iterable[Any]:
    """The records of a fetched batch (`getmany`) that carry `key`."""
    return (record for records in batch.values() for record in records if record.key == key)
