"""Hostile records through a live worker (real broker, simulator, in-process worker), each one
followed by a valid request on the same partition. Every record gets exactly one terminal event;
every valid request succeeds; every published event record fits the size budget (set low here so
cutting really happens); no planted secret appears in any event (log lines: the suite's leak
check); and the group's committed offset reaches the end of the partition. A valid request
published behind 60 records of 10,000 made-up keys each is answered within seconds."""

from __future__ import annotations

import json
import random
from collections import Counter
from datetime import UTC, datetime

from aiokafka.record.default_records import DefaultRecordBatchBuilder

from tests.fuzz.hostile import SHAPES, hostile_batch, many_keys
from tests.support import secrets
from tests.support.kafka import committed_offsets, end_offsets, produce, wait_for
from tests.support.stack import example, in_process, stack

HOSTILE = 6 * len(SHAPES)
BUDGET = 64 * 1024


async def test_hostile_records_each_followed_by_a_valid_request(kafka_bootstrap: str) -> None:
    valid = example("05-dry-run.json")
    valid.pop("dry_run")
    records = []
    for index, hostile_record in enumerate(hostile_batch(seed=11, count=HOSTILE)):
        records.append(hostile_record)
        valid["server"]["name"] = f"after-hostile-{index}"
        records.append((f"valid-{index}".encode(), _json(valid), ()))

    async with stack(
        kafka_bootstrap, job_seconds=(0.05, 0.2), ECSP_MAX_EVENT_BYTES=str(BUDGET)
    ) as s:
        topic = s.settings.topic_requests
        await produce(kafka_bootstrap, topic, records)
        outcomes = await s.outcomes(len(records), timeout=120)

        async def committed_to_the_end() -> bool:
            ends = await end_offsets(kafka_bootstrap, topic)
            return await committed_offsets(kafka_bootstrap, s.settings.group_id, topic) == ends

        await wait_for(committed_to_the_end, timeout=30)
        stats = await s.sim("GET", "/_sim/stats")

    per_offset = Counter(r.json()["data"]["origin"]["offset"] for r in outcomes)
    assert sorted(per_offset) == list(range(len(records)))
    assert set(per_offset.values()) == {1}  # exactly one terminal event per record
    by_offset = {r.json()["data"]["origin"]["offset"]: r for r in outcomes}
    for offset in range(1, len(records), 2):  # every valid request after a hostile one
        assert by_offset[offset].json()["type"] == "ecs.provisioning.succeeded", offset
    hostile = [by_offset[offset].json() for offset in range(0, len(records), 2)]
    hostile_outcomes = Counter((e["type"], e["data"].get("stage")) for e in hostile)
    assert set(hostile_outcomes) <= {
        ("ecs.provisioning.failed", "decode"),
        ("ecs.provisioning.failed", "validate"),
        # hostile but valid dry runs: a long traceparent (ignored), a secret-looking metadata
        # key (masked in the copy)
        ("ecs.provisioning.validated", None),
    }, hostile_outcomes
    for record in outcomes:
        size = DefaultRecordBatchBuilder.estimate_size_in_bytes(
            record.key, record.value, list(record.headers)
        )
        assert size <= BUDGET
        assert secrets.PLANTED.encode() not in (record.value or b"")
    assert any(r.json()["data"]["truncated"] for r in outcomes)  # the budget was exercised
    assert stats["requests_total"] >= HOSTILE  # every valid request reached the API


async def test_a_valid_request_behind_60_many_key_records_is_answered_within_seconds(
    kafka_bootstrap: str,
) -> None:
    """Once each of these records held the worker's loop for ~0.5 s: the request behind them
    waited ~30 s, and 100 of them outlasted the session timeout and the liveness probe."""
    rng = random.Random(25)
    records = [(f"many-{i}".encode(), many_keys(rng), ()) for i in range(60)]
    valid = example("05-dry-run.json")
    valid.pop("dry_run")
    records.append((b"behind-the-keys", _json(valid), ()))

    async with stack(kafka_bootstrap, job_seconds=(0.05, 0.1), in_process_worker=False) as s:
        await produce(kafka_bootstrap, s.settings.topic_requests, records)
        started = datetime.now(UTC)  # the backlog is there before the worker
        async with in_process(s.settings):
            outcomes = await s.outcomes(len(records), timeout=120)

    events = [record.json() for record in outcomes]
    answer = events[60]
    assert answer["type"] == "ecs.provisioning.succeeded"
    waited = (datetime.fromisoformat(answer["time"]) - started).total_seconds()
    assert waited < 10, f"answered {waited:.1f} s after the worker started"
    assert {(e["data"]["stage"], e["data"]["error"]["code"]) for e in events[:60]} == {
        ("decode", "ECSP.TooManyKeys")
    }


def _json(document: object) -> bytes:
    return json.dumps(document).encode()
