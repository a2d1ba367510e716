"""The state topic: a copy of each request's latest event, keyed by its request key.

Owns `StateRecordingSink`, the `EventSink` the service uses when `ECSP_TOPIC_STATE` is set. It
publishes every event exactly as before, then writes a copy to the compacted state topic of the
event topic's tenant (`state_of`: each event topic → its state topic) under the same key, so the
topic's latest record of a key is that request's current state (progress or terminal): a KTable that
`ecs-provisioner status` finds in the key's partition alone.

Order and failure, as decided here:

- The event goes to its own topic first, with the publisher's guarantees unchanged (a terminal
  event is retried until the broker acknowledged it); only then the copy. The state never runs
  ahead of the answer, and the answer never waits for the state.
- The copy is awaited before `publish` returns, and the loop marks a request's offset finished
  only after that: a crash in between redelivers the request, and both are written again (same
  event id).
- A copy not acknowledged within `STATE_WRITE_SECONDS` (state topic missing, the broker refusing
  it) is given up and counted (`ecsp_state_writes_dropped_total`; the publisher logs it). The
  answer is already on its own topic, so nothing is lost, and a broken state topic cannot stop
  provisioning; the key's state stays behind until its next event. This is why `publish
  --wait` reads the answer from the results and failures topics, not from the state topic.
- Records without a key have no state (a compacted topic refuses records without one).

Under `ECSP_DELIVERY=exactly_once` the sink wrapped is the transactional delivery
(`worker.consumer.transactional`): `publish` and `publish_copy` only buffer, and the copy goes
into the same Kafka transaction as its event and the request's offset, so a read_committed
reader of the state topic sees a key's state exactly when its answer is committed. A copy that
cannot be sent is still left out and counted, never holding the answer back.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Protocol

from ecsp_contract.cloudevent import CloudEvent
from worker.consumer.ports import EventSink

#: How long the copy of one event may take before it is given up.
STATE_WRITE_SECONDS = 30.0


class CopySink(EventSink, Protocol):
    """An `EventSink` that can also send a copy of an event (`EventPublisher` is one)."""

    async def publish_copy(
        self, topic: str, key: bytes | None, event: CloudEvent, *, within: float
    ) -> bool: ...


class StateRecordingSink:
    """Publishes through `sink`, then records each keyed event as its key's state on the state
    topic of the topic it was published on (`state_of`; an event topic not in it has none: a
    tenant's state never lands on another's state topic)."""

    def __init__(
        self,
        sink: CopySink,
        state_of: Mapping[str, str],
        dropped: Callable[[], None],
        *,
        within: float = STATE_WRITE_SECONDS,
    ) -> None:
        self._sink = sink
        self._state_of = state_of
        self._dropped = dropped
        self._within = within

    async def publish(self, topic: str, key: bytes | None, event: CloudEvent) -> None:
        await self._sink.publish(topic, key, event)
        await self._record(topic, key, event)

    async def publish_best_effort(
        self, topic: str, key: bytes | None, event: CloudEvent, *, within: float
    ) -> bool:
        sent = await self._sink.publish_best_effort(topic, key, event, within=within)
        await self._record(topic, key, event)
        return sent

    async def _record(self, topic: str, key: bytes | None, event: CloudEvent) -> None:
        state = self._state_of.get(topic)
        if key is None or state is None:
            return
        if not await self._sink.publish_copy(state, key, event, within=self._within):
            self._dropped()
