"""How many generated examples a property test runs: its full count in `make test`, a quarter
(at least 25) in `make test-fast`, which sets ECSP_TEST_FAST=1 for the edit-test loop."""

from __future__ import annotations

import os


def examples(full: int) -> int:
    if os.environ.get("ECSP_TEST_FAST") == "1":
        return max(25, full // 4)
    return full
