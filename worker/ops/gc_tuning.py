"""The worker process's garbage-collector settings (owns `tune_garbage_collector`).

The worker allocates many short-lived container objects per request (parsed JSON, models,
events, HTTP requests and responses), and reference counting frees nearly all of them. With
CPython's default thresholds (700, 10, 10) the cyclic collector still ran ~1,900 young and 15
full collections per 5,000 requests, ~25 % of the worker's CPU: each young collection walks the
live containers of every request in flight (`tests/bench/results/PROFILE.md`).

The collector cannot be left to run only rarely, though: the worker's memory is flat only while
the older generations are collected now and then. With thresholds of (200000, 20, 100) no
collection ran at all and the resident size grew by ~3 KB per request (117 -> 463 MiB over
110,000 requests, linearly, while the traced Python heap stayed flat); with (20000, 10, 10) it
levels off at ~150 MiB, against ~120 MiB at the defaults.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 20_000
"""Net container allocations between young collections (CPython's default is 700)."""
MIDDLE_THRESHOLD = 10
"""Young collections per middle-generation collection (CPython's default)."""
OLD_THRESHOLD = 10
"""Middle collections per full collection (CPython's default; CPython also waits until the
objects that survived since the last full collection are a quarter of the old generation)."""


def tune_garbage_collector() -> None:
    """Collect young objects less often, and leave everything imported so far out of every
    later collection.

    Call once, after the worker's modules are imported and before it starts: `gc.freeze()`
    moves the start-up objects (modules, classes, settings) to the permanent generation, so a
    full collection no longer walks them.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, MIDDLE_THRESHOLD, OLD_THRESHOLD)
