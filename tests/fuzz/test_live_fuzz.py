"""2,000 malformed records through a live worker (real broker, simulator, in-process worker):
each gets exactly one `failed` event at decode/validate, nothing reaches the API, and the worker
is still consuming afterwards (a valid request published last succeeds)."""

from __future__ import annotations

from collections import Counter

from tests.fuzz.malformed import failing_batch
from tests.reliability.checks import Event
from tests.support.kafka import read_all
from tests.support.stack import example, stack

COUNT = 2000


async def test_a_live_worker_answers_every_malformed_record_once_and_stays_up(
    kafka_bootstrap: str,
) -> None:
    batch = failing_batch(seed=7, count=COUNT)
    async with stack(kafka_bootstrap) as s:
        await s.publish([*batch, ("fuzz-valid-after", example("05-dry-run.json"))])
        await s.outcomes(COUNT + 1, timeout=90)
        records = await read_all(
            kafka_bootstrap, {s.settings.topic_results: 1, s.settings.topic_failures: 1}
        )
        stats = await s.sim("GET", "/_sim/stats")

    events = [Event.parse(r.key, r.value) for r in records if r.value is not None]
    per_offset = Counter(e.origin[1] for e in events)
    assert sorted(per_offset) == list(range(COUNT + 1))
    assert set(per_offset.values()) == {1}  # exactly one terminal event per record
    by_offset = {e.origin[1]: e for e in events}
    stages = Counter(by_offset[o].outcome for o in range(COUNT))
    assert set(stages) <= {("failed", "decode"), ("failed", "validate")}, stages
    assert by_offset[COUNT].outcome == ("validated", None)
    assert stats["requests_total"] == 1  # only the valid request reached the API
