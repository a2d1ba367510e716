"""The worker's view of the fidelity corpus, end to end: Kafka -> worker -> simulator -> event.

A sample of the corpus (every fourth body, both verdicts) is published as dry runs: an accepted
body must end `validated` (the simulator, i.e. the API, passed it too), a refused one `failed` at
stage `validate` naming the path, before any API call. The two bodies built with the official
SDK that together set every attribute it has are published as real creates and must succeed
(validate -> worker -> simulator -> job).
"""

from __future__ import annotations

from typing import Any

from tests.schemas.corpus import CASES
from tests.support.sdk_bodies import every_attribute_requests, wire_body
from tests.support.stack import stack

SAMPLE = CASES[::4]


async def test_the_worker_agrees_with_the_corpus_and_creates_every_sdk_attribute(
    kafka_bootstrap: str,
) -> None:
    assert {case.verdict for case in SAMPLE} == {"accept", "reject"}
    published: list[tuple[str | None, Any]] = [
        (f"corpus-{case.name}", {**case.body(), "dry_run": True}) for case in SAMPLE
    ]
    published += [
        (f"sdk-every-attribute-{n}", wire_body(body))
        for n, body in enumerate(every_attribute_requests())
    ]
    async with stack(kafka_bootstrap) as s:
        await s.publish(published)
        records = await s.outcomes(len(published))
        stats = await s.sim("GET", "/_sim/stats")

    events = {r.key.decode(): r.json() for r in records if r.key}
    assert len(events) == len(published)
    disagreements = []
    for case in SAMPLE:
        event = events[f"corpus-{case.name}"]
        data = event["data"]
        if case.verdict == "accept":
            ok = event["type"] == "ecs.provisioning.validated"
        else:
            paths = [detail["path"] for detail in data.get("error", {}).get("details") or []]
            ok = data.get("stage") == "validate" and case.path in paths
        if not ok:
            disagreements.append(f"{case.name}: {event['type']} {data.get('error')}")
    assert disagreements == []
    for n in range(2):
        event = events[f"sdk-every-attribute-{n}"]
        assert event["type"] == "ecs.provisioning.succeeded", event["data"].get("error")
        assert len(event["data"]["server_ids"]) == 2
    assert stats["creates"] == 2
    assert stats["dry_runs"] == sum(case.verdict == "accept" for case in SAMPLE)
