"""Fixtures shared by every suite: the real Kafka broker, per-test topics, the secret-leak check.

Tests that need Kafka take the `kafka_bootstrap` fixture (they are marked `kafka`
automatically). When no broker is reachable they FAIL with a message saying how to start one;
they never skip silently.

Every log line of the suite (JSON, DEBUG level) is also written to
`.pytest-logs/<pid>-suite.log`, and every event the end-to-end tests consume to
`.pytest-logs/<pid>-events.jsonl`. When the session ends,
both are searched for the secret values the tests use (`tests.support.secrets.ALL`); a hit
fails the run, naming the file and line. Likewise every API operation the end-to-end simulators
served must be covered by the worker's IAM policy (`tests.support.iam`).
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from tests.support import iam, secrets
from tests.support.kafka import (
    TopicFactory,
    bootstrap_servers,
    broker_reachable,
    create_topics,
    delete_topics,
    unique_topic,
)
from worker.ops.logging import configure_logging

# Hypothesis' default 200 ms per-example deadline and its too_slow health check measure the
# machine, not the code: on a loaded box they fail at random.
settings.register_profile("suite", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("suite")

SUITE_LOG = Path(f".pytest-logs/{os.getpid()}-suite.log")
EVENT_LOG = Path(f".pytest-logs/{os.getpid()}-events.jsonl")


def pytest_configure(config: pytest.Config) -> None:
    del config
    configure_logging("DEBUG", "json")
    SUITE_LOG.parent.mkdir(exist_ok=True)
    SUITE_LOG.write_bytes(b"")
    EVENT_LOG.write_bytes(b"")
    os.environ["ECSP_TEST_EVENT_LOG"] = str(EVENT_LOG)
    root = logging.getLogger()
    to_file = logging.FileHandler(SUITE_LOG, encoding="utf-8")
    to_file.setFormatter(root.handlers[0].formatter)
    root.addHandler(to_file)


def find_leaks(paths: list[Path]) -> list[str]:
    """`file:line: secret #i` for every secret value found in the given files."""
    hits: list[str] = []
    for path in paths:
        if not path.exists():
            continue
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            hits.extend(
                f"{path}:{number}: secret #{i} leaked"
                for i, secret in enumerate(secrets.ALL)
                if secret in line
            )
    return hits


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    del exitstatus
    logging.getLogger().handlers[-1].flush()
    leaks = find_leaks([SUITE_LOG, EVENT_LOG])
    if leaks:
        print("\nSECRET LEAK CHECK FAILED:\n" + "\n".join(leaks[:20]))
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    else:
        size = sum(p.stat().st_size for p in (SUITE_LOG, EVENT_LOG) if p.exists())
        print(f"\nsecret leak check: {size} bytes of logs and events searched, no secret found")
    check_iam_coverage(session)


def check_iam_coverage(session: pytest.Session) -> None:
    """Every API operation the end-to-end simulators served is covered by the IAM policy."""
    if not iam.SERVED:
        return
    problems = iam.uncovered(iam.SERVED)
    if problems:
        print("\nIAM POLICY CHECK FAILED:\n" + "\n".join(problems))
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    else:
        print(
            f"IAM policy check: every API operation served is covered by {iam.POLICY_FILE.name}: "
            + ", ".join(f"{operation} ({count})" for operation, count in sorted(iam.SERVED.items()))
        )


@pytest.fixture
def suite_log() -> Path:
    """The file every log line of this session goes to (for tests searching their own logs)."""
    return SUITE_LOG


#: Tests here start brokers of their own (restarts, SASL/SSL, the start script): Kafka tests too.
OWN_BROKER_TESTS = Path(__file__).parent / "kafka"
DESELECTED: list[pytest.Item] = []


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "kafka_bootstrap" in getattr(item, "fixturenames", ()) or item.path.is_relative_to(
            OWN_BROKER_TESTS
        ):
            item.add_marker(pytest.mark.kafka)


def pytest_deselected(items: list[pytest.Item]) -> None:
    DESELECTED.extend(items)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Says what a `-m` selection (`make test-fast`) left out, by marker."""
    if not DESELECTED:
        return
    kafka = sum(1 for item in DESELECTED if item.get_closest_marker("kafka"))
    slow = sum(
        1
        for item in DESELECTED
        if item.get_closest_marker("slow") and not item.get_closest_marker("kafka")
    )
    other = len(DESELECTED) - kafka - slow
    terminalreporter.write_line(
        f"left out: {kafka} kafka (need a broker), {slow} slow, {other} other; "
        "`make test` runs them all"
    )


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
