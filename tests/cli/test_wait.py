"""`publish --wait` waits for the event answering the record it published: an event of the same
key answering another record (an earlier or a later request with that key) never counts, and the
answer topics are read from where they ended before the publish."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient

from tests.support.kafka import TopicFactory, produce
from worker.cli import wait
from worker.cli.kafka_command import KafkaCommandError
from worker.cli.wait import Origin
from worker.ops.settings import Settings

REQUESTS = "requests-topic"


def event(kind: str, offset: int, **data: object) -> bytes:
    origin = {"topic": REQUESTS, "partition": 0, "offset": offset}
    body = {"type": f"ecs.provisioning.{kind}", "data": {"origin": origin, **data}}
    return json.dumps(body).encode()


@dataclass
class Answers:
    settings: Settings
    admin: AIOKafkaAdminClient
    consumer: AIOKafkaConsumer


@pytest.fixture
async def answers(kafka_bootstrap: str, new_topic: TopicFactory) -> AsyncIterator[Answers]:
    settings = Settings(
        kafka_bootstrap_servers=kafka_bootstrap,
        topic_results=await new_topic("results", partitions=3),
        topic_failures=await new_topic("failures", partitions=3),
        topic_progress=await new_topic("progress", partitions=3),
    )
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka_bootstrap, enable_auto_commit=False)
    await admin.start()
    await consumer.start()
    yield Answers(settings, admin, consumer)
    await consumer.stop()
    await admin.close()


async def test_only_the_event_answering_the_published_record_ends_the_wait(
    kafka_bootstrap: str, answers: Answers, capsys: pytest.CaptureFixture[str]
) -> None:
    s = answers.settings
    # before the watch: an answer to this very record would not be seen (nor is anything older)
    await produce(kafka_bootstrap, s.topic_results, [(b"k", event("validated", 9), [])])
    await wait.watch(answers.admin, answers.consumer, s, b"k")  # from here on
    await produce(kafka_bootstrap, s.topic_progress, [(b"k", event("submitted", 9), [])])
    await produce(
        kafka_bootstrap,
        s.topic_results,  # in this order, in k's partition: the wrong answers come first
        [
            (b"k", event("validated", 3), []),  # the key's earlier request
            (b"k", event("validated", 12), []),  # a later request of the same key
            (b"other", event("validated", 9), []),  # another key (its partition may be k's)
            (b"k", event("succeeded", 9, server_ids=["s1"]), []),
        ],
    )
    code = await wait.answer(
        answers.consumer, "k", b"k", Origin(REQUESTS, 0, 9), within=30, as_json=False
    )
    assert code == 0
    assert capsys.readouterr().out == "k: succeeded: servers s1 (no job)\n"


async def test_a_failed_answer_exits_1_and_json_prints_the_event(
    kafka_bootstrap: str, answers: Answers, capsys: pytest.CaptureFixture[str]
) -> None:
    s = answers.settings
    await wait.watch(answers.admin, answers.consumer, s, b"k")
    failed = event("failed", 4, stage="job", error={"code": "ECSP.JobFailed", "message": "m"})
    await produce(kafka_bootstrap, s.topic_failures, [(b"k", failed, [])])
    code = await wait.answer(
        answers.consumer, "k", b"k", Origin(REQUESTS, 0, 4), within=30, as_json=True
    )
    assert code == 1
    assert json.loads(capsys.readouterr().out) == json.loads(failed)


async def test_no_answer_within_the_time_is_exit_3(
    kafka_bootstrap: str, answers: Answers, capsys: pytest.CaptureFixture[str]
) -> None:
    s = answers.settings
    await wait.watch(answers.admin, answers.consumer, s, b"k")
    await produce(kafka_bootstrap, s.topic_progress, [(b"k", event("submitted", 1), [])])
    code = await wait.answer(
        answers.consumer, "k", b"k", Origin(REQUESTS, 0, 1), within=1.0, as_json=False
    )
    assert code == 3
    captured = capsys.readouterr()
    assert captured.out == ""  # no terminal: no progress line either
    assert f"no outcome for k within 1s (published to {REQUESTS} partition 0 offset 1)" in (
        captured.err
    )


async def test_watching_needs_the_answer_topics_but_not_the_progress_topic(
    answers: Answers,
) -> None:
    no_progress = answers.settings.model_copy(update={"topic_progress": "no.such.progress"})
    await wait.watch(answers.admin, answers.consumer, no_progress, b"k")
    assert {tp.topic for tp in answers.consumer.assignment()} == {
        no_progress.topic_results,
        no_progress.topic_failures,
    }
    no_failures = answers.settings.model_copy(update={"topic_failures": "no.such.failures"})
    with pytest.raises(KafkaCommandError, match=r"no topic no\.such\.failures"):
        await wait.watch(answers.admin, answers.consumer, no_failures, b"k")
