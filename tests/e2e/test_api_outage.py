"""An ECS API outage delays requests, it does not fail them: the reliability scenarios of
`tests/reliability/outage.py`, with seconds-long outages and small counts.

Real broker, a simulator process on a reserved port, the worker in-process with its default
breaker settings. The multi-minute versions run with `make reliability-outage`.
"""

from __future__ import annotations

from tests.reliability import outage


def passed(result: outage.Outcome) -> None:
    print(result.line())
    assert not result.problems, result.line()


async def test_a_5xx_outage_delays_requests_and_all_succeed_once_the_api_is_back(
    kafka_bootstrap: str,
) -> None:
    result = await outage.outage(
        kafka_bootstrap, mode="5xx", requests=20, outage_seconds=6, publish_within=3
    )
    passed(result)
    assert result.figures["breaker_opened"] >= 1
    assert result.figures["share_of_outage_paused"] > 0  # intake was held while it was open


async def test_refused_connections_delay_requests_and_all_succeed_after_a_restart(
    kafka_bootstrap: str,
) -> None:
    result = await outage.outage(
        kafka_bootstrap, mode="refused", requests=20, outage_seconds=6, publish_within=3
    )
    passed(result)


async def test_under_a_hard_quota_the_rate_comes_down_and_every_request_succeeds(
    kafka_bootstrap: str,
) -> None:
    result = await outage.throttle(
        kafka_bootstrap, requests=30, quota=10, ceiling=50, job_seconds="0:0", must_settle=False
    )
    passed(result)
    assert result.figures["throttled_share"] > 0  # the quota did bite


async def test_a_deadline_that_passes_during_an_outage_fails_at_timeout_and_says_why(
    kafka_bootstrap: str,
) -> None:
    result = await outage.deadline(kafka_bootstrap, deadline_seconds=3, requests=2)
    passed(result)
