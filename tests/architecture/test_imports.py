"""The layering rules, checked on what a fresh interpreter really loads.

Each check imports modules in a subprocess (this test process has loaded everything already) and
inspects `sys.modules`, so an indirect import through a third module is caught too.
"""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

import worker.consumer
import worker.ecs
import worker.ops
import worker.pipeline
from tests.support.imports import loaded_by, offending, package_modules
from worker.ops.metrics import Metrics

ROOT = Path(__file__).parents[2]


def test_the_pipeline_knows_no_kafka_no_process_settings_and_no_consumer() -> None:
    modules = package_modules(worker.pipeline)
    assert "worker.pipeline.compose" in modules
    loaded = loaded_by(*modules)
    assert offending(loaded, "worker.ops", "worker.consumer", "aiokafka", "kafka") == []


def test_loading_the_settings_does_not_load_the_http_client() -> None:
    loaded = loaded_by("worker.ops.settings")
    assert "worker.ops.settings" in loaded
    assert offending(loaded, "aiohttp", "worker.ecs.client") == []


def test_the_consumer_core_does_not_load_aiokafka() -> None:
    """The loop is written against `worker.consumer.ports`; only the adapter knows aiokafka."""
    core = (
        "worker.consumer.runner",
        "worker.consumer.offsets",
        "worker.consumer.keys",
        "worker.consumer.offset_map",
        "worker.consumer.answered_codec",
        "worker.consumer.delivery",
    )
    loaded = loaded_by(*core)
    assert set(core) <= loaded
    assert offending(loaded, "aiokafka", "worker.consumer.kafka", "worker.consumer.publisher") == []


def test_the_check_sees_indirect_imports() -> None:
    """The composition loads the request schema only through its steps: it is still seen."""
    assert offending(loaded_by("worker.pipeline.compose"), "ecsp_contract.request") != []


def test_the_consumer_core_knows_the_pipeline_only_through_its_port() -> None:
    """The loop hands a message to one callable and gets an outcome back
    (`worker.pipeline.port`); it takes a small config and an observer, not the settings."""
    core = [m for m in package_modules(worker.consumer) if m not in ADAPTERS]
    assert "worker.consumer.runner" in core
    loaded = loaded_by(*core)
    assert offending(loaded, "worker.pipeline") == ["worker.pipeline", "worker.pipeline.port"]
    assert offending(loaded, "worker.ops", "worker.ecs") == []


#: The consumer module that builds aiokafka clients from the settings (the adapter).
ADAPTERS = ("worker.consumer.kafka",)


def test_the_ecs_client_speaks_the_api_only() -> None:
    """`worker.ecs` knows no contract (the pipeline maps API errors to `ECSP.*` codes), no
    pipeline, no consumer and no process settings or metrics."""
    loaded = loaded_by(*package_modules(worker.ecs))
    assert "worker.ecs.layers" in loaded
    assert (
        offending(loaded, "ecsp_contract", "worker.pipeline", "worker.consumer", "worker.ops") == []
    )


def test_ops_knows_neither_the_pipeline_nor_the_client() -> None:
    """Metrics, health, logging and the settings load nothing of the pipeline or the client
    (the settings read the regions' endpoint templates, nothing else of `worker.ecs`)."""
    loaded = loaded_by(*package_modules(worker.ops))
    ecs = offending(loaded, "worker.ecs")
    assert offending(loaded, "worker.pipeline", "worker.consumer") == []
    assert ecs == ["worker.ecs", "worker.ecs.endpoints"]


def test_the_metrics_implement_the_observers_without_inheriting_them() -> None:
    protocols = [c for c in Metrics.__mro__ if getattr(c, "_is_protocol", False)]
    assert protocols == []


def test_the_contract_stands_alone_on_pydantic() -> None:
    """Publishers install `schemas/` alone: its modules load nothing of the worker, and the
    distribution requires pydantic only (PyYAML only for its exporter, an extra)."""
    import ecsp_contract

    modules = package_modules(ecsp_contract)
    assert "ecsp_contract.events" in modules
    loaded = loaded_by(*(name for name in modules if name != "ecsp_contract.export"))
    assert offending(loaded, "worker", "schemas", "yaml", "aiohttp", "aiokafka", "structlog") == []
    requires = metadata.requires("ecs-provisioner-contract") or []
    assert [r for r in requires if "extra ==" not in r] == ["pydantic<3,>=2.11"]
    assert "ecs-provisioner-contract==0.1.0" in (metadata.requires("ecs-provisioner") or [])
