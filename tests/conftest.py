"""Fixtures shared by every suite: the real Kafka broker and per-test topics.

Tests that need Kafka take the `kafka_bootstrap` fixture (they are marked `kafka`
automatically). When no broker is reachable they FAIL with a message saying how to start one;
they never skip silently.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.support.kafka import (
    TopicFactory,
    bootstrap_servers,
    broker_reachable,
    create_topics,
    delete_topics,
    unique_topic,
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "kafka_bootstrap" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.kafka)


@pytest.fixture(scope="session")
def kafka_bootstrap() -> str:
    bootstrap = bootstrap_servers()
    if not broker_reachable(bootstrap):
        pytest.fail(
            f"no Kafka broker at {bootstrap}: start one with `deploy/local/kafka.sh start` "
            "(or run the whole suite with `make test`, which starts it), or point "
            "ECSP_TEST_KAFKA_BOOTSTRAP at a broker",
            pytrace=False,
        )
    return bootstrap


@pytest.fixture
async def new_topic(kafka_bootstrap: str) -> AsyncIterator[TopicFactory]:
    """Creates uniquely named topics for one test and deletes them afterwards."""
    created: list[str] = []

    async def factory(prefix: str = "t", partitions: int = 1) -> str:
        name = unique_topic(prefix)
        await create_topics(kafka_bootstrap, [name], partitions)
        created.append(name)
        return name

    yield factory
    if created:
        await delete_topics(kafka_bootstrap, created)
