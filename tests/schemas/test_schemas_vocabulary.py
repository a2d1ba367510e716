"""The contract's vocabulary is defined once: channels and routing, stages, worker error codes."""

from __future__ import annotations

import re
from pathlib import Path

from ecsp_contract.channels import CHANNELS, Channel, channel_of
from ecsp_contract.events import EventType
from ecsp_contract.failures import FailureStage, WorkerErrorCode
from tests.schemas.conftest import schema_validator
from worker.ops.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def test_every_event_type_is_routed_to_exactly_one_output_channel() -> None:
    routes = [spec for spec in CHANNELS.values() if not spec.compacted]
    routed = [event for spec in routes for event in spec.event_types]
    assert sorted(routed) == sorted(EventType)
    assert [c for c, spec in CHANNELS.items() if spec.compacted] == [Channel.STATE]
    assert CHANNELS[Channel.STATE].event_types == tuple(EventType)  # copies of every type
    assert [channel for channel, spec in CHANNELS.items() if spec.inbound] == [Channel.REQUESTS]
    assert channel_of(EventType.FAILED) is Channel.FAILURES
    assert channel_of(EventType.VALIDATED) is Channel.RESULTS
    assert channel_of(EventType.AWAITING_PAYMENT) is Channel.PROGRESS


def test_settings_take_every_channels_topic_from_the_table_and_can_override_it() -> None:
    defaults = Settings()
    for channel, spec in CHANNELS.items():
        assert defaults.topic(channel) == spec.default_topic
    custom = Settings(topic_failures="team.failures", topic_progress="")
    assert custom.topic_of(EventType.FAILED) == "team.failures"
    assert custom.topic_of(EventType.SUBMITTED) == ""
    assert custom.topic_of(EventType.SUCCEEDED) == "ecs.provisioning.results"


def test_the_failed_schema_describes_every_stage() -> None:
    stage_schema = schema_validator(EventType.FAILED.value).schema["$defs"]["FailureStage"]
    described = {item["const"]: item["description"] for item in stage_schema["oneOf"]}
    assert described == {stage.value: stage.meaning for stage in FailureStage}
    assert all(stage.meaning and stage.remedy for stage in FailureStage)


def test_every_worker_error_code_has_a_meaning_and_a_stage() -> None:
    for code in WorkerErrorCode:
        assert code.value.startswith("ECSP.")
        assert code.meaning.endswith(".")
        assert code.stages or code.remedy, f"{code}: a code of any stage needs its remedy"
        assert all(isinstance(stage, FailureStage) for stage in code.stages)
    assert len({code.value for code in WorkerErrorCode}) == len(WorkerErrorCode)


def test_every_ecsp_code_in_the_code_is_defined_in_the_table() -> None:
    """A literal `"ECSP.Something"` anywhere in the worker bypasses the table: forbidden."""
    literal = re.compile(r"[\"']ECSP\.[A-Za-z]+[\"']")
    table = ROOT / "schemas" / "ecsp_contract" / "failures.py"
    for path in [*ROOT.glob("worker/**/*.py"), *ROOT.glob("schemas/**/*.py")]:
        if path != table:
            found = literal.findall(path.read_text(encoding="utf-8"))
            assert not found, f"{path.relative_to(ROOT)} spells {found}; use WorkerErrorCode"
