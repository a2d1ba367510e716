"""A request task cannot die silently: a pipeline that raises (it promises not to) still gets its
record one `failed` event (ECSP.InternalError) published, and the record's offset finishes."""

from __future__ import annotations

from typing import Any

from aiokafka import TopicPartition

from ecsp_contract.cloudevent import CloudEvent
from worker.assembly import worker_config
from worker.consumer.offsets import PartitionOffsets
from worker.consumer.runner import Worker
from worker.ops.metrics import Metrics
from worker.ops.settings import Settings
from worker.pipeline.port import InboundMessage, Outcome
from worker.tenancy.model import TenantsDocument

TP = TopicPartition("requests", 0)


class RaisingPipeline:
    async def __call__(self, message: InboundMessage, progress: Any) -> Outcome:
        raise KeyError("a stage that raises")


class RecordingPublisher:
    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes | None, CloudEvent]] = []

    async def publish(self, topic: str, key: bytes | None, event: CloudEvent) -> None:
        self.sent.append((topic, key, event))


async def test_a_raising_pipeline_still_publishes_one_failed_event_and_finishes_the_offset() -> (
    None
):
    settings = Settings(ecs_project_id="p")
    publisher = RecordingPublisher()
    config = worker_config(settings, TenantsDocument())
    worker = Worker(config, None, publisher, RaisingPipeline(), Metrics())  # type: ignore[arg-type]
    offsets = PartitionOffsets()
    offsets.started(41)
    message = InboundMessage("requests", 0, 41, b"k" * 5000, b"{}", (), 1_700_000_000_000)

    await worker._handle(TP, offsets, message)

    [(topic, key, event)] = publisher.sent
    assert topic == settings.topic_failures
    assert key == b"k" * 1024  # the event's Kafka key is the request key, bounded
    assert event.data["error"]["code"] == "ECSP.InternalError"
    assert "KeyError" in event.data["error"]["message"]
    assert event.data["origin"]["offset"] == 41
    assert offsets.committable() == 42
