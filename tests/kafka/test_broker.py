"""The real broker works the way the worker relies on: keys, headers, isolation between tests."""

from __future__ import annotations

from tests.support.kafka import TopicFactory, consume, end_offsets, produce


async def test_keyed_messages_with_headers_round_trip(
    kafka_bootstrap: str, new_topic: TopicFactory
) -> None:
    topic = await new_topic("roundtrip", partitions=3)
    sent = [
        (f"key-{i}".encode(), f'{{"n": {i}}}'.encode(), [("traceparent", f"tp-{i}".encode())])
        for i in range(20)
    ]
    await produce(kafka_bootstrap, topic, sent)

    records = await consume(kafka_bootstrap, [topic], count=20)

    assert sorted((r.key, r.value, r.headers) for r in records) == sorted(
        (k, v, tuple(h)) for k, v, h in sent
    )
    # the same key always lands in the same partition: per-key order relies on it
    partitions_by_key: dict[bytes | None, set[int]] = {}
    for r in records:
        partitions_by_key.setdefault(r.key, set()).add(r.partition)
    assert all(len(p) == 1 for p in partitions_by_key.values())


async def test_two_tests_topics_never_see_each_others_messages(
    kafka_bootstrap: str, new_topic: TopicFactory
) -> None:
    first, second = await new_topic("iso"), await new_topic("iso")
    assert first != second
    await produce(kafka_bootstrap, first, [(b"a", b"first", [])])
    await produce(kafka_bootstrap, second, [(b"b", b"second", [])])

    first_records = await consume(kafka_bootstrap, [first], count=1)
    second_records = await consume(kafka_bootstrap, [second], count=1)

    assert [r.value for r in first_records] == [b"first"]
    assert [r.value for r in second_records] == [b"second"]
    # and nothing else is in either topic (read the high-water marks, not "nothing came in 3 s")
    assert await end_offsets(kafka_bootstrap, first) == {0: 1}
    assert await end_offsets(kafka_bootstrap, second) == {0: 1}
