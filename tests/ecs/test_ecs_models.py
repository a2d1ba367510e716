"""Parsing create answers and job states as the API really sends them."""

from __future__ import annotations

import json

from worker.ecs.models import parse_create, parse_job

# A real RUNNING answer (terraform-provider-huaweicloud issue 1944): no error keys, "" end_time.
RUNNING = json.loads(
    '{"begin_time":"2022-02-17T05:41:55.441Z","end_time":"","entities":{"sub_jobs":'
    '[{"begin_time":"2022-02-17T05:41:55.554Z","end_time":"","entities":{"server_id":'
    '"1c74e090-0000-4000-8000-000000000001"},"job_id":"ff80808288d41e1b017f0578c4d2132c",'
    '"job_type":"createSingleServer","status":"RUNNING"}],"sub_jobs_total":1},'
    '"job_id":"ff80808288d41e1b017f0578c4d21328","job_type":"createServer","status":"RUNNING"}'
)


def test_running_job_with_missing_keys_and_empty_end_time() -> None:
    job = parse_job(RUNNING, job_id="asked", request_id="r")
    assert job.job_id == "ff80808288d41e1b017f0578c4d21328"
    assert job.status == "RUNNING"
    assert (job.end_time, job.error_code, job.fail_reason) == (None, None, None)
    assert job.begin_time == "2022-02-17T05:41:55.441Z"
    assert job.server_ids == ("1c74e090-0000-4000-8000-000000000001",)
    (sub,) = job.sub_jobs
    assert (sub.status, sub.end_time, sub.job_id) == (
        "RUNNING",
        None,
        "ff80808288d41e1b017f0578c4d2132c",
    )


def test_failed_job_with_errors_and_top_level_server() -> None:
    document = {
        "status": "FAIL",
        "error_code": "Ecs.0319",
        "fail_reason": "sold out",
        "entities": {
            "server_id": "top",
            "sub_jobs": [
                {"status": "FAIL", "entities": {"server_id": "a"}, "error_code": "Ecs.0319"},
                {"status": "SUCCESS", "entities": {"server_id": "top"}},
                {"status": "INIT", "entities": {}},
                "garbage",
            ],
        },
    }
    job = parse_job(document, job_id="asked", request_id=None)
    assert job.job_id == "asked"
    assert job.status == "FAIL"
    assert (job.error_code, job.fail_reason) == ("Ecs.0319", "sold out")
    assert job.server_ids == ("a", "top")
    assert [s.status for s in job.sub_jobs] == ["FAIL", "SUCCESS", "INIT"]
    assert job.sub_jobs[0].error_code == "Ecs.0319"


def test_empty_job_body_is_tolerated() -> None:
    job = parse_job({}, job_id="j", request_id=None)
    assert (job.job_id, job.status, job.sub_jobs, job.server_ids) == ("j", "UNKNOWN", (), ())
    assert parse_job({"status": "PENDING_PAYMENT"}, job_id="j", request_id=None).status == (
        "PENDING_PAYMENT"
    )


def test_create_answers() -> None:
    prepaid = parse_create(
        {"job_id": "j1", "order_id": "CS1", "serverIds": ["s1", "s2"]},
        dry_run=False,
        request_id="r",
        attempts=2,
    )
    assert (prepaid.job_id, prepaid.order_id, prepaid.server_ids) == ("j1", "CS1", ("s1", "s2"))
    assert (prepaid.dry_run, prepaid.request_id, prepaid.attempts) == (False, "r", 2)
    postpaid = parse_create({"job_id": "j2"}, dry_run=False, request_id=None, attempts=1)
    assert (postpaid.order_id, postpaid.server_ids) == (None, ())
    dry = parse_create({}, dry_run=True, request_id=None, attempts=1)
    assert (dry.dry_run, dry.job_id) == (True, None)
