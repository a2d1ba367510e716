"""One request's life through the pipeline, against a scripted API (no broker, no HTTP).

The end-to-end suite runs the same paths through the real broker and the simulator; here each
outcome is pinned precisely: stage, code, ids, what reaches the API and what reaches events.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from ecsp_contract.cloudevent import CloudEvent
from ecsp_contract.idempotency import client_token
from tests.support.events import expected_event_id
from tests.support.pipeline import (
    PROJECT,
    SECRET_VALUE,
    body,
    example,
    message,
    pipeline_for,
    settings,
)
from tests.support.scripted_api import ACCEPTED, ScriptedApi, job
from worker.ecs.errors import EcsApiError
from worker.ecs.models import CreateResult, JobStatus
from worker.ops.metrics import Metrics
from worker.pipeline.deadline import RequestDeadline
from worker.pipeline.port import InboundMessage
from worker.pipeline.secrets import SecretSource

Run = Callable[..., Any]


@pytest.fixture
def run() -> Run:
    async def _run(
        msg: InboundMessage, api: ScriptedApi, *, progress_events: bool = True, **overrides: Any
    ) -> tuple[CloudEvent, list[CloudEvent]]:
        progress: list[CloudEvent] = []

        async def sink(event: CloudEvent) -> None:
            progress.append(event)

        s = settings(**overrides)
        secrets = SecretSource(s.secret_env_prefix, s.secret_dir)
        pipeline = pipeline_for(s, api, secrets=secrets)
        return await pipeline.process(msg, sink if progress_events else None), progress

    return _run


async def test_success_publishes_submitted_then_succeeded_with_deterministic_ids(run: Run) -> None:
    api = ScriptedApi(
        ACCEPTED, [job("RUNNING"), job("SUCCESS", ("SUCCESS", ACCEPTED.server_ids[0]))]
    )

    event, progress = await run(message(body()), api)

    token = client_token("req-1")
    assert api.tokens == [token]
    assert [e.type for e in progress] == ["ecs.provisioning.submitted"]
    assert event.type == "ecs.provisioning.succeeded"
    assert event.id == expected_event_id(event, body())
    assert progress[0].id == expected_event_id(progress[0], body())
    assert uuid.UUID(event.id).version == 5
    assert event.subject == "req-1"
    data = event.data
    assert data["job_id"] == ACCEPTED.job_id
    assert data["server_ids"] == list(ACCEPTED.server_ids)
    assert data["client_token"] == token
    assert data["project_id"] == PROJECT
    assert data["origin"] == {"topic": "requests", "partition": 0, "offset": 7}
    assert data["sub_jobs"][0]["status"] == "SUCCESS"


async def test_dry_run_is_validated_without_following_a_job(run: Run) -> None:
    api = ScriptedApi(
        CreateResult(None, None, (), dry_run=True, request_id="r", attempts=1), [job("RUNNING")]
    )
    event, progress = await run(message(json.dumps(example("05-dry-run.json")).encode()), api)
    assert event.type == "ecs.provisioning.validated"
    assert progress == []
    assert api.job_reads == 0
    assert api.bodies[0]["dry_run"] is True


@pytest.mark.parametrize(
    ("value", "key", "stage", "code"),
    [
        (b"\xff\xfe not utf-8", b"k", "decode", "ECSP.NotUtf8"),
        (b"{not json", b"k", "decode", "ECSP.NotJson"),
        (b"[1, 2, 3]", b"k", "decode", "ECSP.NotObject"),
        (None, b"k", "decode", "ECSP.NotJson"),
        (b'{"server": {}}', b"k", "validate", "ECSP.InvalidRequest"),
        (body(), None, "validate", "ECSP.MissingKey"),
        (body(), b"", "validate", "ECSP.MissingKey"),
    ],
)
async def test_bad_messages_fail_with_stage_and_code_and_never_reach_the_api(
    run: Run, value: bytes | None, key: bytes | None, stage: str, code: str
) -> None:
    api = ScriptedApi(ACCEPTED, [job("SUCCESS")])
    event, _ = await run(message(value, key=key), api)
    assert event.type == "ecs.provisioning.failed"
    assert (event.data["stage"], event.data["error"]["code"]) == (stage, code)
    assert api.bodies == []


async def test_too_large_value_fails_before_parsing(run: Run) -> None:
    api = ScriptedApi(ACCEPTED, [job("SUCCESS")])
    event, _ = await run(message(b" " * 5_000_000), api)
    assert event.data["error"]["code"] == "ECSP.TooLarge"
    assert event.data["request"] is None


async def test_schema_problems_name_the_path(run: Run) -> None:
    api = ScriptedApi(ACCEPTED, [job("SUCCESS")])
    event, _ = await run(message(body(vpcid="not-a-uuid", nmae="typo")), api)
    paths = {d["path"] for d in event.data["error"]["details"]}
    assert {"server.vpcid", "server.nmae"} <= paths
    assert "server.vpcid" in event.data["error"]["message"]


async def test_project_header_must_be_allowed(run: Run) -> None:
    api = ScriptedApi(ACCEPTED, [job("SUCCESS")])
    msg = message(body(), headers=(("ecs-project-id", b"other-project"),))
    event, _ = await run(msg, api)
    assert event.data["error"]["code"] == "ECSP.ProjectNotAllowed"
    allowed, _ = await run(msg, api, ecs_project_allowlist="other-project")
    assert allowed.type == "ecs.provisioning.succeeded"
    assert allowed.data["project_id"] == "other-project"


async def test_secret_reference_is_resolved_for_the_api_and_never_in_events(
    run: Run, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "ADMIN_PASS").write_text(SECRET_VALUE + "\n")
    api = ScriptedApi(ACCEPTED, [job("SUCCESS", ("SUCCESS", "s1"))])
    event, progress = await run(
        message(json.dumps(example("02-prepaid-password.json")).encode()), api, secret_dir=tmp_path
    )
    assert api.bodies[0]["server"]["adminPass"] == SECRET_VALUE
    assert event.type == "ecs.provisioning.succeeded"
    for e in (event, *progress):
        assert SECRET_VALUE not in e.to_bytes().decode()
    assert event.data["request"]["server"]["adminPass"] == "***"


async def test_unknown_secret_reference_fails_validate(run: Run) -> None:
    api = ScriptedApi(ACCEPTED, [job("SUCCESS")])
    event, _ = await run(message(json.dumps(example("02-prepaid-password.json")).encode()), api)
    assert (event.data["stage"], event.data["error"]["code"]) == ("validate", "ECSP.UnknownSecret")
    assert "written $$NAME" in event.data["error"]["message"]  # the escape for a literal
    assert api.bodies == []


async def test_an_unusable_secret_is_answered_exactly_as_an_unknown_one(
    run: Run, monkeypatch: pytest.MonkeyPatch, suite_log: Path
) -> None:
    """Issue 25: `ECSP.UnknownSecret` vs `ECSP.InvalidSecret` told a requester which names
    exist. Now both get one answer; only the operator's log says which it was."""
    request = message(json.dumps(example("02-prepaid-password.json")).encode())
    unknown, _ = await run(request, ScriptedApi(ACCEPTED, [job("SUCCESS")]))
    monkeypatch.setenv("TEST_ECSP_SECRET_ADMIN_PASS", "short")
    api = ScriptedApi(ACCEPTED, [job("SUCCESS")])
    weak, _ = await run(request, api)

    def answer(event: CloudEvent) -> tuple[object, ...]:
        data = event.data
        return data["stage"], data["error"], data["retryable"]

    assert answer(weak) == answer(unknown)
    assert weak.data["error"]["code"] == "ECSP.UnknownSecret"
    assert "short" not in weak.to_bytes().decode()
    assert api.bodies == []
    log = suite_log.read_text()
    assert "secret reference unknown in its tenant's scope" in log
    assert "secret reference unusable: its value breaks the API's password rules" in log


@pytest.mark.parametrize(
    ("published", "sent"),
    [
        ("$$Welcome2024", "$Welcome2024"),  # the escape: a literal that looks like a reference
        ("$Welcome!2024", "$Welcome!2024"),  # not reference-shaped: literal as written
        ("$$Welcome!2024", "$$Welcome!2024"),  # not an escape either: literal as written
    ],
)
async def test_literal_passwords_starting_with_dollar(run: Run, published: str, sent: str) -> None:
    api = ScriptedApi(ACCEPTED, [job("SUCCESS", ("SUCCESS", "s1"))])
    event, _ = await run(message(body("02-prepaid-password.json", adminPass=published)), api)
    assert event.type == "ecs.provisioning.succeeded"
    assert api.bodies[0]["server"]["adminPass"] == sent


@pytest.mark.parametrize(
    ("code", "stage", "retryable"),
    [
        ("Ecs.0122", "conflict", False),
        ("Ecs.0124", "token_expired", False),
        ("Ecs.0005", "submit", False),
        ("APIG.0308", "submit", True),
    ],
)
async def test_api_errors_map_to_stages(run: Run, code: str, stage: str, retryable: bool) -> None:
    error = EcsApiError(code, "msg", http_status=400, request_id="rid", retryable=retryable)
    event, _ = await run(message(body()), ScriptedApi(error, []))
    data = event.data
    assert (data["stage"], data["error"]["code"], data["retryable"]) == (stage, code, retryable)
    assert data["error"]["request_id"] == "rid"


async def test_failed_job_reports_which_servers_succeeded(run: Run) -> None:
    created = CreateResult("ff8080828e1234560000000000000001", None, ("s1", "s2"), False, None, 1)
    failed = job("FAIL", ("SUCCESS", "s1"), ("FAIL", "s2"), code="Ecs.0319")
    event, _ = await run(message(body(count=2)), ScriptedApi(created, [job("RUNNING"), failed]))
    data = event.data
    assert (data["stage"], data["error"]["code"]) == ("job", "Ecs.0319")
    assert data["server_ids"] == ["s1", "s2"]
    assert [s["status"] for s in data["sub_jobs"]] == ["SUCCESS", "FAIL"]
    assert "1 of 2 servers succeeded" in data["error"]["message"]


async def test_transient_job_read_errors_do_not_fail_the_request(run: Run) -> None:
    flaky = EcsApiError("APIG.0308", "throttled", http_status=429, retryable=True)
    api = ScriptedApi(ACCEPTED, [flaky, flaky, job("SUCCESS", ("SUCCESS", "s1"))])
    event, _ = await run(message(body()), api)
    assert event.type == "ecs.provisioning.succeeded"
    assert api.job_reads == 3


async def test_deadline_fails_with_timeout_and_keeps_job_and_servers(run: Run) -> None:
    api = ScriptedApi(ACCEPTED, [job("RUNNING", ("RUNNING", "s1"))])
    event, _ = await run(message(body()), api, request_deadline_seconds=1.0)
    data = event.data
    assert (data["stage"], data["error"]["code"]) == ("timeout", "ECSP.DeadlineExceeded")
    assert data["job_id"] == ACCEPTED.job_id
    assert set(data["server_ids"]) >= {"s1", *ACCEPTED.server_ids}
    assert data["retryable"] is True


async def test_unpaid_order_announces_awaiting_payment_once_then_fails_payment(run: Run) -> None:
    created = CreateResult("ff8080828e1234560000000000000001", "CS123", ("s1",), False, None, 1)
    api = ScriptedApi(created, [job("PENDING_PAYMENT")])
    event, progress = await run(message(body()), api, request_deadline_seconds=1.0)
    assert [e.type for e in progress] == [
        "ecs.provisioning.submitted",
        "ecs.provisioning.awaiting_payment",
    ]
    assert progress[1].data["order_id"] == "CS123"
    assert (event.data["stage"], event.data["order_id"]) == ("payment", "CS123")


async def test_progress_off_without_a_sink(run: Run) -> None:
    api = ScriptedApi(ACCEPTED, [job("SUCCESS", ("SUCCESS", "s1"))])
    event, progress = await run(message(body()), api, progress_events=False)
    assert event.type == "ecs.provisioning.succeeded"
    assert progress == []


async def test_an_unexpected_bug_still_ends_in_one_failed_event(run: Run) -> None:
    class BrokenApi(ScriptedApi):
        async def get_job(self, job_id: str, project_id: str) -> JobStatus:
            raise RuntimeError("a parsing bug")

    event, _ = await run(message(body()), BrokenApi(ACCEPTED, []))
    data = event.data
    assert (data["error"]["code"], data["retryable"]) == ("ECSP.InternalError", True)
    assert "RuntimeError" in data["error"]["message"]


async def test_a_job_that_vanished_fails_with_job_not_found(run: Run) -> None:
    gone = EcsApiError("Ecs.0000", "job not found", http_status=404, retryable=False)
    event, _ = await run(message(body()), ScriptedApi(ACCEPTED, [gone]))
    data = event.data
    assert (data["stage"], data["error"]["code"]) == ("job", "ECSP.JobNotFound")
    assert data["job_id"] == ACCEPTED.job_id
    assert data["server_ids"] == list(ACCEPTED.server_ids)


class RecordingObserver:
    def __init__(self) -> None:
        self.failed: list[str] = []
        self.jobs: list[str] = []

    def request_failed(self, stage: str) -> None:
        self.failed.append(stage)

    def job_finished(self, outcome: str, seconds: float) -> None:
        assert seconds >= 0
        self.jobs.append(outcome)

    def servers_not_deleted(self, count: int) -> None:
        raise AssertionError("no compensation here")


async def test_outcomes_are_reported_to_the_observer() -> None:
    observer = RecordingObserver()
    api = ScriptedApi(ACCEPTED, [job("SUCCESS")])
    pipeline = pipeline_for(settings(), api, secrets=SecretSource("", None), observer=observer)
    await pipeline.process(message(body()), None)
    await pipeline.process(message(b"not json"), None)
    gone = EcsApiError("Ecs.0000", "job not found", http_status=404, retryable=False)
    job_gone = pipeline_for(settings(), ScriptedApi(ACCEPTED, [gone]), observer=observer)
    await job_gone.process(message(body()), None)
    assert observer.jobs == ["succeeded", "job"]
    assert observer.failed == ["decode", "job"]


def test_the_metrics_record_what_the_pipeline_reports() -> None:
    metrics = Metrics()
    metrics.request_failed("job")
    metrics.job_finished("succeeded", 3.0)
    assert metrics.registry.get_sample_value("ecsp_failures_total", {"stage": "job"}) == 1
    count = metrics.registry.get_sample_value(
        "ecsp_job_duration_seconds_count", {"outcome": "succeeded"}
    )
    assert count == 1


async def test_a_failed_event_carries_every_field_a_subscriber_cleans_up_with(run: Run) -> None:
    created = CreateResult(
        "ff8080828e1234560000000000000001", "CS77", ("s1", "s2"), False, "req-create", 2
    )
    failed = job("FAIL", ("SUCCESS", "s1"), ("FAIL", "s2"), code="Ecs.0319")
    published = message(body(count=2))
    event, _ = await run(published, ScriptedApi(created, [failed]))

    assert (event.type, event.subject, event.source) == (
        "ecs.provisioning.failed",
        "req-1",
        "ecs-provisioner/ecs-provisioner",
    )
    token = client_token("req-1")
    data = event.data
    request_copy = data.pop("request")
    assert request_copy["server"]["count"] == 2
    assert data == {
        "request_key": "req-1",
        "client_token": token,
        "project_id": PROJECT,
        "received_at": published.received_at.isoformat().replace("+00:00", "Z"),
        "origin": {"topic": "requests", "partition": 0, "offset": 7},
        "stage": "job",
        "error": {
            "code": "Ecs.0319",
            "message": "job ff8080828e1234560000000000000001 failed: flavor sold out "
            "(1 of 2 servers succeeded)",
            "http_status": None,
            "request_id": "req-job",
            "details": [
                {
                    "sub_job_id": "sub0",
                    "server_id": "s1",
                    "status": "SUCCESS",
                    "error_code": None,
                    "fail_reason": None,
                },
                {
                    "sub_job_id": "sub1",
                    "server_id": "s2",
                    "status": "FAIL",
                    "error_code": "Ecs.0319",
                    "fail_reason": "sold out",
                },
            ],
        },
        "retryable": False,
        "tagging": "tagged",
        "truncated": None,
        "compensation": None,
        "placement": None,
        "servers": [],
        "job_id": "ff8080828e1234560000000000000001",
        "order_id": "CS77",
        "server_ids": ["s1", "s2"],
        "sub_jobs": [
            {
                "job_id": "sub0",
                "status": "SUCCESS",
                "server_id": "s1",
                "error_code": None,
                "fail_reason": None,
                "begin_time": "2026-11-26T10:00:00.000Z",
                "end_time": "",
            },
            {
                "job_id": "sub1",
                "status": "FAIL",
                "server_id": "s2",
                "error_code": "Ecs.0319",
                "fail_reason": "sold out",
                "begin_time": "2026-11-26T10:00:00.000Z",
                "end_time": "",
            },
        ],
    }


def published(seconds_ago: float, **kw: Any) -> InboundMessage:
    stamp = int((time.time() - seconds_ago) * 1000)
    return InboundMessage("requests", 0, 7, b"req-1", body(), timestamp_ms=stamp, **kw)


async def test_while_the_api_is_down_the_request_waits_then_is_sent_again_with_its_token(
    run: Run,
) -> None:
    api = ScriptedApi(ACCEPTED, [job("SUCCESS", ("SUCCESS", "s1"))], unavailable_creates=3)
    event, _ = await run(message(body()), api)
    assert event.type == "ecs.provisioning.succeeded"
    assert len(api.tokens) == 4
    assert len(set(api.tokens)) == 1  # the same X-Client-Token each time
    assert len(api.waits) == 3  # waited for the API, no attempt spent
    assert all(0 < within <= 5.0 for within in api.waits)  # never past the deadline


async def test_a_deadline_that_passes_during_an_outage_fails_with_timeout_and_says_why(
    run: Run,
) -> None:
    api = ScriptedApi(ACCEPTED, [], unavailable_creates=10**9)
    event, _ = await run(message(body()), api, request_deadline_seconds=0.2)
    data = event.data
    assert (data["stage"], data["error"]["code"]) == ("timeout", "ECSP.DeadlineExceeded")
    assert data["retryable"] is True
    assert "ECS API was unavailable" in data["error"]["message"]
    assert "circuit breaker open" in data["error"]["message"]
    assert "0.2 s after publishing" in data["error"]["message"]
    assert api.job_reads == 0


async def test_the_deadline_counts_from_publishing_not_from_when_the_worker_got_it(
    run: Run,
) -> None:
    api = ScriptedApi(ACCEPTED, [job("SUCCESS")])
    event, _ = await run(published(3600), api, request_deadline_seconds=1800)
    data = event.data
    assert (data["stage"], data["error"]["code"]) == ("timeout", "ECSP.DeadlineExceeded")
    assert "passed before it could be submitted" in data["error"]["message"]
    assert api.bodies == []  # nothing was sent

    fresh = ScriptedApi(ACCEPTED, [job("SUCCESS")])
    event, _ = await run(published(600), fresh, request_deadline_seconds=1800)
    assert event.type == "ecs.provisioning.succeeded"


def test_once_a_create_may_reach_the_api_the_token_window_caps_the_deadline() -> None:
    now = [1000.0]
    wall = 1_800_000_000.0
    published_at = datetime.fromtimestamp(wall - 3600, UTC)  # waited an hour in Kafka
    deadline = RequestDeadline.starting(
        published_at, 24 * 3600, clock=lambda: now[0], wall=lambda: wall
    )
    assert deadline.remaining() == 23 * 3600
    now[0] += 600  # ten more minutes waiting for the API, then the first create
    deadline = deadline.before_token_expires(8 * 3600)
    assert deadline.remaining() == 8 * 3600 - 300
    assert "X-Client-Token" in deadline.describe()
    now[0] += 3600
    deadline = deadline.before_token_expires(8 * 3600)  # later creates do not extend it
    assert deadline.remaining() == 7 * 3600 - 300
    future = RequestDeadline.starting(  # a publisher's clock ahead of ours counts as now
        datetime.fromtimestamp(wall + 999, UTC), 60, clock=lambda: 0.0, wall=lambda: wall
    )
    assert future.remaining() == 60


async def test_the_raw_value_is_not_held_while_the_job_is_followed(run: Run) -> None:
    """A job may be followed for hours: 10,000 of them must not keep their records' bytes."""
    msg = message(body())
    seen_while_following: list[bytes | None] = []

    class Watching(ScriptedApi):
        async def get_job(self, job_id: str, project_id: str) -> JobStatus:
            seen_while_following.append(msg.value)
            return await super().get_job(job_id, project_id)

    api = Watching(ACCEPTED, [job("RUNNING"), job("SUCCESS", ("SUCCESS", ACCEPTED.server_ids[0]))])

    event, _ = await run(msg, api)

    assert event.type == "ecs.provisioning.succeeded"
    assert event.id == expected_event_id(event, body())  # the digest was taken before
    assert seen_while_following == [None, None]
