"""What the Kafka checks conclude from what the broker reports (the real broker of the suite
has no authorizer and lets every user do everything; tests/cli/test_doctor.py runs against it)."""

from __future__ import annotations

from collections.abc import Mapping

from aiokafka.errors import GroupAuthorizationFailedError

from ecsp_contract.channels import Channel
from worker.doctor.checklist import Outcome
from worker.doctor.kafka import Topic, _permissions, _topic, topics_of
from worker.doctor.kafka_metadata import TopicMetadata
from worker.ops.settings import Settings

SETTINGS = Settings(topic_progress="")
READ = frozenset({"Read", "Describe"})
WRITE = frozenset({"Write", "Describe"})


class Admin:
    def __init__(self, error: Exception | None = None) -> None:
        self.error = error

    async def list_consumer_group_offsets(self, group: str) -> dict[str, object]:
        if self.error is not None:
            raise self.error
        return {}


def described(operations: Mapping[str, frozenset[str] | None]) -> dict[str, TopicMetadata]:
    return {name: TopicMetadata(name, 0, 3, ops) for name, ops in operations.items()}


def test_the_configured_topics_and_what_the_worker_does_with_them() -> None:
    topics = topics_of(SETTINGS)  # progress off: not checked
    assert [t.channel for t in topics] == [
        Channel.REQUESTS,
        Channel.RESULTS,
        Channel.FAILURES,
        Channel.STATE,
    ]
    assert [t.needs for t in topics] == [READ, WRITE, WRITE, WRITE]
    assert [t.compacted for t in topics] == [False, False, False, True]


async def test_missing_acls_on_topics_and_the_group_are_named() -> None:
    topics = topics_of(SETTINGS)
    ops = {
        t.name: (t.needs if t.channel != Channel.STATE else frozenset({"Describe"})) for t in topics
    }
    check = await _permissions(
        Admin(GroupAuthorizationFailedError()), SETTINGS, topics, described(ops)
    )
    assert check.outcome is Outcome.FAILED
    assert check.detail == (
        f"this user lacks Write on topic {SETTINGS.topic_state}; "
        f"Read+Describe on group {SETTINGS.group_id}"
    )
    assert "kafkauser.yaml" in check.fix


async def test_all_granted_or_not_reported_passes() -> None:
    topics = topics_of(SETTINGS)
    granted = await _permissions(
        Admin(), SETTINGS, topics, described({t.name: t.needs for t in topics})
    )
    assert granted.outcome is Outcome.PASSED
    assert "(as the broker reports them)" in granted.detail
    silent = await _permissions(
        Admin(), SETTINGS, topics, described({t.name: None for t in topics})
    )
    assert silent.outcome is Outcome.PASSED
    assert "(the broker reported none)" in silent.detail


def test_an_event_topic_too_small_for_the_events_and_an_unreadable_configuration() -> None:
    results = Topic(Channel.RESULTS, "r")
    metadata = TopicMetadata("r", 0, 3, None)
    small = _topic(SETTINGS, results, metadata, {"max.message.bytes": "65536"})
    assert small.outcome is Outcome.FAILED
    assert small.detail == (
        "r: 3 partitions, cleanup.policy=delete, max.message.bytes=65536 < "
        f"ECSP_MAX_EVENT_BYTES={SETTINGS.max_event_bytes}"
    )
    unreadable = _topic(SETTINGS, Topic(Channel.STATE, "s"), metadata, None)
    assert unreadable.outcome is Outcome.PASSED
    assert unreadable.detail == "s: 3 partitions; its configuration is not readable by this user"
    hidden = _topic(SETTINGS, results, TopicMetadata("r", 29, 0, None), None)
    assert (hidden.outcome, hidden.detail) == (
        Outcome.FAILED,
        "r: this user may not even describe it",
    )
