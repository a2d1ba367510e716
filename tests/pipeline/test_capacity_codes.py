"""The capacity and quota code table: what triggers a fallback, what fails at once."""

from __future__ import annotations

from typing import Any

import pytest

from ecsp_contract.events import SubJobInfo
from ecsp_contract.failures import FailureStage, WorkerErrorCode
from worker.pipeline.capacity_codes import (
    CAPACITY_CODES,
    QUOTA_CODES,
    REMEMBERED_CODES,
    answer_codes,
    classify,
    classify_failure,
)
from worker.pipeline.failure import StageFailure


def test_every_code_has_a_meaning_and_a_source_and_no_code_is_both() -> None:
    for table in (CAPACITY_CODES, QUOTA_CODES):
        for code, fact in table.items():
            assert code.startswith("Ecs.")
            assert len(code) == 8
            assert fact.meaning
            assert "huaweicloud.com" in fact.source
    assert not CAPACITY_CODES.keys() & QUOTA_CODES.keys()
    assert CAPACITY_CODES.keys() >= REMEMBERED_CODES


@pytest.mark.parametrize(
    ("codes", "answer"),
    [
        (["Ecs.0319"], "capacity"),
        (["Ecs.0044"], "capacity"),
        (["Ecs.0319", "Ecs.0044", "Ecs.0319"], "capacity"),
        (["Ecs.0001"], "quota"),
        (["Ecs.0013"], "quota"),
        (["Ecs.0021"], "quota"),
        (["Ecs.0022"], "quota"),
        (["Ecs.0319", "Ecs.0001"], "quota"),  # quota wins: the next placement hits it too
        (["Ecs.0319", "Ecs.0012"], "other"),  # out of IPs comes back in any placement
        (["Ecs.0012"], "other"),
        (["Ecs.0005"], "other"),
        (["APIG.0308"], "other"),
        ([WorkerErrorCode.JOB_FAILED], "other"),
        ([], "other"),
    ],
)
def test_classify(codes: list[str], answer: str) -> None:
    assert classify(codes) == answer


def _failure(stage: FailureStage, code: str, **fields: Any) -> StageFailure:
    return StageFailure(stage=stage, code=code, message="m", **fields)


def _sub(status: str, code: str | None) -> SubJobInfo:
    return SubJobInfo(status=status, error_code=code)


def test_a_create_answer_is_read_from_its_details_sub_codes_when_it_has_them() -> None:
    generic = _failure(FailureStage.SUBMIT, "Ecs.0005", details=[{"code": "Ecs.0319"}])
    assert answer_codes(generic) == ("Ecs.0319",)
    assert classify_failure(generic) == "capacity"
    plain = _failure(FailureStage.SUBMIT, "Ecs.0319", details=None)
    assert classify_failure(plain) == "capacity"
    odd = _failure(FailureStage.SUBMIT, "Ecs.0319", details=[{"code": 319}, {"what": "x"}])
    assert answer_codes(odd) == ("Ecs.0319",)


def test_a_job_is_read_from_its_failed_sub_jobs_else_from_its_own_code() -> None:
    subs = (_sub("SUCCESS", None), _sub("FAIL", "Ecs.0319"), _sub("FAIL", "Ecs.0319"))
    sold_out = _failure(FailureStage.JOB, "Ecs.0319", sub_jobs=subs)
    assert answer_codes(sold_out) == ("Ecs.0319", "Ecs.0319")
    assert classify_failure(sold_out) == "capacity"
    mixed = _failure(FailureStage.JOB, "Ecs.0319", sub_jobs=(*subs, _sub("FAIL", "Ecs.0021")))
    assert classify_failure(mixed) == "quota"
    silent_subs = (_sub("FAIL", None),)
    assert classify_failure(_failure(FailureStage.JOB, "Ecs.0001", sub_jobs=silent_subs)) == "quota"


@pytest.mark.parametrize(
    "stage",
    [FailureStage.TIMEOUT, FailureStage.CONFLICT, FailureStage.POLICY, FailureStage.VALIDATE],
)
def test_only_a_create_or_a_job_speaks_about_capacity(stage: FailureStage) -> None:
    assert classify_failure(_failure(stage, "Ecs.0319")) == "other"
