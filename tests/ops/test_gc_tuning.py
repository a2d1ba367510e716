"""`ecs-provisioner run` collects garbage rarely and leaves its start-up objects out of it (the
collector was ~25 % of the worker's CPU at CPython's defaults; see worker/ops/gc_tuning.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from worker.ops.gc_tuning import MIDDLE_THRESHOLD, OLD_THRESHOLD, YOUNG_THRESHOLD

_PROBE = """
import gc, json, worker.service
async def serve(settings, stop):
    print(json.dumps({"threshold": gc.get_threshold(), "frozen": gc.get_freeze_count()}))
worker.service.serve = serve
from worker.cli.main import main
raise SystemExit(main(["run"]))
"""


def test_the_worker_runs_with_rare_collections_and_its_start_up_objects_frozen() -> None:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("ECSP_")},
        "ECSP_KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1",
        "ECSP_ECS_PROJECT_ID": "p",
        "ECSP_ECS_AK": "ak",
        "ECSP_ECS_SK": "sk",
    }
    result = subprocess.run(
        [sys.executable, "-c", _PROBE],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout)
    assert seen["threshold"] == [YOUNG_THRESHOLD, MIDDLE_THRESHOLD, OLD_THRESHOLD]
    assert YOUNG_THRESHOLD > 700  # CPython's default
    # The older generations keep CPython's pace: collected rarely, memory grew ~3 KB a request.
    assert (MIDDLE_THRESHOLD, OLD_THRESHOLD) == (10, 10)
    assert seen["frozen"] > 10_000  # the imported modules, classes and functions
