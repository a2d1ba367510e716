"""Reading the worker's Prometheus metrics in tests."""

from __future__ import annotations

from worker.ops.metrics import Metrics


def sample(metrics: Metrics | None, name: str, **labels: str) -> float:
    """The current value of the sample `name` with `labels` (0 when it has not been observed)."""
    assert metrics is not None, "the stack runs no in-process worker"
    return metrics.registry.get_sample_value(name, labels or None) or 0.0
