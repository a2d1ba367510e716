"""The worker process's garbage-collector settings (owns `tune_garbage_collector`).

The worker allocates many short-lived container objects per request (parsed JSON, models,
events, HTTP requests and responses) and almost no reference cycles: over a 5,000-request run
the cyclic collector freed ~2,200 objects, nearly all of them from start-up. With CPython's
default thresholds (700, 10, 10) it still ran ~1,900 young and 15 full collections in that run,
~25 % of the worker's CPU (`tests/bench/results/PROFILE.md`). Reference counting frees the
garbage either way; the collector only needs to run now and then to catch the rare cycle.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 200_000
"""Net container allocations between young collections (CPython's default is 700). A young
collection walks every young container still alive, and a worker holds many (its requests in
flight), so each one costs tens of milliseconds: 5,000 requests spent ~0.5 s of 6.5 CPU
seconds in them at 50,000, ~0.08 s at 200,000 (that run: 1.06 -> 0.95 ms per request)."""
MIDDLE_THRESHOLD = 20
"""Young collections per middle-generation collection (default 10)."""
OLD_THRESHOLD = 100
"""Middle collections per full collection (default 10; CPython also waits until the objects
that survived since the last full collection are a quarter of the old generation)."""


def tune_garbage_collector() -> None:
    """Collect rarely, and leave everything imported so far out of every later collection.

    Call once, after the worker's modules are imported and before it starts: `gc.freeze()`
    moves the start-up objects (modules, classes, settings) to the permanent generation, so a
    full collection no longer walks them.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, MIDDLE_THRESHOLD, OLD_THRESHOLD)
