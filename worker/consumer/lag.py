"""Consumer lag as the broker sees it, for the partitions this member owns right now.

Owns `report_lag`: every interval it asks the brokers for the current end offsets (high-water
marks) of the owned partitions and sets ``ecsp_consumer_lag`` to end offset minus committed
offset, so a partition stuck behind a long job shows its backlog growing (the end offset of
the last fetch would freeze with a paused partition). The committed offset is the one this
member committed, else the group's (a previous owner's), else the partition's first offset.
Gauges of partitions this member no longer owns are removed by the worker on revocation
(`LagGauges.forget`), so a partition's lag is exported by exactly one member.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Protocol

import structlog

from worker.consumer.ports import BrokerError, OffsetsClient, TopicPartition

log = structlog.get_logger("worker.consumer.lag")


class LagGauges(Protocol):
    """Where lag goes (the metrics module implements it)."""

    def set_lag(self, topic: str, partition: int, lag: int) -> None: ...

    def forget(self, topic: str, partition: int) -> None: ...


async def _committed_offsets(
    client: OffsetsClient, owned: Mapping[TopicPartition, int | None]
) -> dict[TopicPartition, int]:
    known = {tp: offset for tp, offset in owned.items() if offset is not None}
    unknown = [tp for tp in owned if tp not in known]
    missing: list[TopicPartition] = []
    for tp in unknown:
        offset = await client.committed(tp)
        if offset is None or offset < 0:
            missing.append(tp)
        else:
            known[tp] = offset
    if missing:
        known.update(await client.beginning_offsets(missing))
    return known


async def measure_once(
    client: OffsetsClient,
    owned: Callable[[], Mapping[TopicPartition, int | None]],
    gauges: LagGauges,
) -> None:
    """One measurement: end offsets and committed offsets of what is owned now."""
    partitions = dict(owned())
    if not partitions:
        return
    ends = await client.end_offsets(list(partitions))
    committed = await _committed_offsets(client, partitions)
    still_owned = owned()
    for tp, end in ends.items():
        if tp in still_owned and tp in committed:  # not revoked while we asked
            latest = still_owned[tp]
            base = committed[tp] if latest is None else latest
            gauges.set_lag(tp.topic, tp.partition, max(0, end - base))


async def report_lag(
    client: OffsetsClient,
    owned: Callable[[], Mapping[TopicPartition, int | None]],
    gauges: LagGauges,
    interval: float,
) -> None:
    """Measures every `interval` seconds until cancelled; broker errors skip one round."""
    while True:
        try:
            async with asyncio.timeout(max(interval, 10.0)):
                await measure_once(client, owned, gauges)
        except (BrokerError, TimeoutError) as exc:
            log.warning("lag measurement skipped", error=type(exc).__name__)
        await asyncio.sleep(interval)
