"""The state topic's copy: after the event's own publish, awaited, never in its way."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from ecsp_contract.cloudevent import CloudEvent, build_event
from ecsp_contract.events import EventType, KafkaOrigin, ValidatedData
from worker.consumer.state import StateRecordingSink


def validated() -> CloudEvent:
    data = ValidatedData(
        request_key="k",
        client_token="6e024162-9183-52c0-ba95-b90fee1b06a0",
        project_id="p",
        received_at=datetime.now(UTC),
        origin=KafkaOrigin(topic="requests", partition=0, offset=7),
        attempts=1,
    )
    return build_event(data, EventType.VALIDATED, source="test")


class Sink:
    """Records every send in order; copies succeed unless `copies_fail`, and may be held."""

    def __init__(self, *, copies_fail: bool = False, progress_fails: bool = False) -> None:
        self.sent: list[tuple[str, str, bytes | None, str]] = []
        self.copies_fail = copies_fail
        self.progress_fails = progress_fails
        self.copy_gate = asyncio.Event()
        self.copy_gate.set()
        self.copy_started = asyncio.Event()
        self.within: list[float] = []

    async def publish(self, topic: str, key: bytes | None, event: CloudEvent) -> None:
        self.sent.append(("publish", topic, key, event.id))

    async def publish_best_effort(
        self, topic: str, key: bytes | None, event: CloudEvent, *, within: float
    ) -> bool:
        self.sent.append(("best_effort", topic, key, event.id))
        return not self.progress_fails

    async def publish_copy(
        self, topic: str, key: bytes | None, event: CloudEvent, *, within: float
    ) -> bool:
        self.copy_started.set()
        await self.copy_gate.wait()
        self.sent.append(("copy", topic, key, event.id))
        self.within.append(within)
        return not self.copies_fail


STATE_OF = {"results": "state", "failures": "state", "progress": "state"}


class Dropped:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self) -> None:
        self.count += 1


async def test_the_event_is_published_first_then_copied_under_the_same_key() -> None:
    sink, dropped, event = Sink(), Dropped(), validated()
    state = StateRecordingSink(sink, STATE_OF, dropped, within=12.0)
    await state.publish("results", b"k", event)
    assert sink.sent == [("publish", "results", b"k", event.id), ("copy", "state", b"k", event.id)]
    assert sink.within == [12.0]
    assert dropped.count == 0


async def test_publish_returns_only_once_the_copy_is_done() -> None:
    """The loop marks the offset finished when `publish` returns: not before the copy."""
    sink, event = Sink(), validated()
    sink.copy_gate.clear()
    state = StateRecordingSink(sink, STATE_OF, Dropped())
    publishing = asyncio.create_task(state.publish("results", b"k", event))
    async with asyncio.timeout(5):
        await sink.copy_started.wait()
    assert sink.sent == [("publish", "results", b"k", event.id)]
    assert not publishing.done()
    sink.copy_gate.set()
    async with asyncio.timeout(5):
        await publishing
    assert [s[0] for s in sink.sent] == ["publish", "copy"]


async def test_a_copy_given_up_is_counted_and_the_answer_stands() -> None:
    sink, dropped, event = Sink(copies_fail=True), Dropped(), validated()
    state = StateRecordingSink(sink, STATE_OF, dropped)
    await state.publish("results", b"k", event)  # returns: the request is answered
    assert [s[0] for s in sink.sent] == ["publish", "copy"]
    assert dropped.count == 1


async def test_progress_is_recorded_even_when_its_own_topic_dropped_it() -> None:
    sink, event = Sink(progress_fails=True), validated()
    state = StateRecordingSink(sink, STATE_OF, Dropped())
    sent = await state.publish_best_effort("progress", b"k", event, within=3.0)
    assert sent is False  # what the progress topic said, unchanged
    assert [s[:2] for s in sink.sent] == [("best_effort", "progress"), ("copy", "state")]


async def test_an_event_without_a_key_has_no_state() -> None:
    sink, dropped, event = Sink(), Dropped(), validated()
    state = StateRecordingSink(sink, STATE_OF, dropped)
    await state.publish("failures", None, event)
    await state.publish_best_effort("progress", None, event, within=1.0)
    assert [s[0] for s in sink.sent] == ["publish", "best_effort"]
    assert dropped.count == 0


async def test_each_tenants_events_are_recorded_on_its_own_state_topic_only() -> None:
    sink, event = Sink(), validated()
    state_of = {**STATE_OF, "results.team-a": "state.team-a"}
    state = StateRecordingSink(sink, state_of, Dropped())
    await state.publish("results.team-a", b"k", event)
    await state.publish("results.unknown", b"k", event)  # no state topic of its own: no copy
    assert [s[:2] for s in sink.sent] == [
        ("publish", "results.team-a"),
        ("copy", "state.team-a"),
        ("publish", "results.unknown"),
    ]
