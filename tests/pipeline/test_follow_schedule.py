"""The default job-polling schedule: cheap for long jobs, quick to notice their end."""

from __future__ import annotations

import random
from itertools import accumulate

from worker.ops.settings import Settings
from worker.pipeline.schedule import PollSchedule


def default_schedule() -> PollSchedule:
    s = Settings()
    return PollSchedule(s.job_poll_initial_seconds, s.job_poll_factor, s.job_poll_max_seconds)


def checks_until(duration: float, schedule: PollSchedule, seed: int) -> list[float]:
    """Times of the job checks up to and including the first one at or after `duration`."""
    checks: list[float] = []
    for moment in accumulate(schedule.delays(random.Random(seed))):
        checks.append(moment)
        if moment >= duration:
            return checks
    raise AssertionError("unreachable: the schedule is endless")


def test_a_four_minute_job_costs_about_seventeen_calls_and_is_seen_within_the_cap() -> None:
    """240 s / 15 s = 16 checks is the floor for a 15 s notice; the ramp and jitter add 1-2."""
    schedule = default_schedule()
    counts = []
    for seed in range(50):
        checks = checks_until(240.0, schedule, seed)
        counts.append(len(checks))
        assert len(checks) <= 19, len(checks)
        assert checks[-1] - 240.0 <= schedule.cap * 1.1  # end noticed within the cap (+jitter)
        assert checks[0] <= schedule.initial * 1.1  # the first check comes soon
    assert sum(counts) / len(counts) <= 18.0


def test_intervals_grow_to_the_cap_and_stay_there() -> None:
    delays = [
        d for d, _ in zip(default_schedule().delays(random.Random(1)), range(10), strict=False)
    ]
    assert delays[0] < delays[1] < delays[2]
    assert all(13.5 <= d <= 16.5 for d in delays[3:])
