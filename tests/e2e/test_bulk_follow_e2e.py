"""Issue 15 end to end, real broker and worker: tagged jobs are followed by the server list.

With an eventually consistent list (a new server is missing for 0.5 s) and a safety net far
beyond the test, every job is still seen to its end, each with exactly one job read (when its
servers left BUILD); with bulk following off, the same requests cost several reads each.
"""

from __future__ import annotations

from typing import Any

from tests.support.bodies import server_body
from tests.support.stack import stack

REQUESTS = 12
JOB_READ = "GET /v1/{project_id}/jobs/{job_id}"
LIST = "GET /v1/{project_id}/cloudservers/detail"


async def _run(kafka_bootstrap: str, *, bulk: bool) -> tuple[list[Any], dict[str, Any]]:
    async with stack(
        kafka_bootstrap,
        job_seconds=(2.0, 3.0),
        list_lag_seconds=0.5,
        ECSP_BULK_FOLLOW_INTERVAL_SECONDS="0.25",
        ECSP_BULK_FOLLOW_UNSEEN_SECONDS="60",
        ECSP_BULK_FOLLOW_SAFETY_NET_SECONDS="60",
        ECSP_BULK_FOLLOW=str(bulk).lower(),
    ) as s:
        items = [(f"bulk-{i}", server_body(count=1 + i % 2)) for i in range(REQUESTS)]
        await s.publish(items)
        records = await s.outcomes(REQUESTS, timeout=90)
        stats: dict[str, Any] = await s.sim("GET", "/_sim/stats")
    return records, stats


async def test_tagged_jobs_are_read_once_each_when_the_list_shows_them_built(
    kafka_bootstrap: str,
) -> None:
    records, stats = await _run(kafka_bootstrap, bulk=True)
    events = [record.json() for record in records]
    assert [e["type"] for e in events] == ["ecs.provisioning.succeeded"] * REQUESTS
    assert {e["data"]["tagging"] for e in events} == {"tagged"}
    operations = stats["requests_by_operation"]
    assert operations[JOB_READ] == REQUESTS  # one read per job, none before its end
    assert operations[LIST] >= 2


async def test_with_bulk_following_off_each_job_is_polled(kafka_bootstrap: str) -> None:
    records, stats = await _run(kafka_bootstrap, bulk=False)
    assert [r.json()["type"] for r in records] == ["ecs.provisioning.succeeded"] * REQUESTS
    operations = stats["requests_by_operation"]
    assert LIST not in operations
    assert operations[JOB_READ] > 2 * REQUESTS  # 0.2 s, then up to 0.5 s apart, for 2-3 s jobs
