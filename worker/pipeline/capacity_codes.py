"""Which API answers mean "sold out" and which mean "quota": the facts placement acts on.

Owns `CAPACITY_CODES` and `QUOTA_CODES` (each code with its meaning and its source), and
`classify`, which sorts a failed create or a failed job into `capacity` (try the next
alternative), `quota` (fail at once: another flavor or zone will not raise a quota) or `other`.

Where the codes appear (the API reference's error table: "Most ECS APIs are asynchronous. Some
error codes are displayed in the returned messages for task viewing requests"):
- at create time, as `error.code`, or as a sub-code in `error.details[].code` under a generic
  `Ecs.0005` (the create reference's own example: `{"code": "Ecs.0005", "details": [{"code":
  "Ecs.0039"}]}`, /work/shared/seed/creating-an-ecs-v1.1.txt);
- in a FAIL job, as the job's `error_code` and each failed sub-job's `error_code`
  (ShowJob, https://support.huaweicloud.com/intl/en-us/api-ecs/ecs_02_0901.html).
`fail_reason` and `errorcode_message` are free text and are not read.

Looked at and left out (another flavor or zone is not what fixes them, or they are not about
capacity): Ecs.0012 subnet out of IP addresses (the subnet is the body's), Ecs.0015 / Ecs.0909
disk type unfit for the flavor, Ecs.0029 flavor missing, Ecs.0707 product not registered, Ecs.0050
/ Ecs.0104 per-server NIC and disk limits, Ecs.0067 / Ecs.0070 balance and budget (403),
Ecs.0302 / Ecs.0308 quota query failed (a system error, retried as such), Ecs.0204 / Ecs.0219
"failed to create the ECS" (unspecific). The API reference documents no other capacity code.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

from ecsp_contract.failures import FailureStage
from worker.pipeline.failure import StageFailure

Answer = Literal["capacity", "quota", "other"]

_ERROR_TABLE = "https://support.huaweicloud.com/intl/en-us/api-ecs/ecs_07_0002.html"
_OTC_TABLE = (
    "opentelekomcloud-docs/elastic-cloud-server api-ref/source/appendix/error_codes.rst "
    "(the same platform's table)"
)
_OTC_MESSAGES = (
    "opentelekomcloud/docs doc/source/ecs/api-reference/error-code-description.md "
    "(the table with the API's error messages)"
)


@dataclass(frozen=True)
class ApiCode:
    """What an API error code means, and where that is written."""

    meaning: str
    source: str


CAPACITY_CODES: Mapping[str, ApiCode] = MappingProxyType(
    {
        "Ecs.0319": ApiCode(
            'Insufficient flavor capacity: "Insufficient resources for this flavor. Try another '
            'flavor." (API message "Check capacity: Capacity is not enough."); the flavor is '
            "sold out where it was asked for, at create time or in the job",
            f"{_ERROR_TABLE}; {_OTC_TABLE}; {_OTC_MESSAGES}",
        ),
        "Ecs.0044": ApiCode(
            'The disk type has been sold out: "Disk type [%s] has been sold out in AZ [%s]." '
            "(sold out per zone: another zone may have it; another flavor in the same zone "
            "does not help, and the capacity memory, keyed by flavor and zone, does not keep it)",
            f"{_ERROR_TABLE}; {_OTC_TABLE}; {_OTC_MESSAGES}",
        ),
    }
)
"""Sold out: the next alternative may get it."""

QUOTA_CODES: Mapping[str, ApiCode] = MappingProxyType(
    {
        "Ecs.0001": ApiCode(
            "Insufficient ECS quota: servers, vCPUs or memory of the project ('The number of "
            "ECSs is beyond the quota limit.')",
            f"{_ERROR_TABLE}; {_OTC_MESSAGES}",
        ),
        "Ecs.0013": ApiCode("Insufficient EIP quota", f"{_ERROR_TABLE}; {_OTC_TABLE}"),
        "Ecs.0021": ApiCode(
            "Insufficient EVS disk quota ('Failed to check the Cinder quota: The number of "
            "volumes is beyond the quota limit.')",
            f"{_ERROR_TABLE}; {_OTC_MESSAGES}",
        ),
        "Ecs.0022": ApiCode(
            "Insufficient ECS group quota: the server group is full",
            f"{_ERROR_TABLE}; {_OTC_TABLE}",
        ),
    }
)
"""Quota: the project's limits; no placement changes them, so the request fails at once."""

REMEMBERED_CODES = frozenset({"Ecs.0319"})
"""Capacity codes about the flavor in the zone: the capacity memory keeps these offerings."""


def classify(codes: Iterable[str]) -> Answer:
    """`quota` if any code is a quota code; `capacity` if there is at least one code and every
    one is a capacity code; `other` otherwise (a failure that is not only about capacity would
    come back in the next placement too)."""
    seen = set(codes)
    if seen & QUOTA_CODES.keys():
        return "quota"
    if seen and seen <= CAPACITY_CODES.keys():
        return "capacity"
    return "other"


def answer_codes(failure: StageFailure) -> tuple[str, ...]:
    """The specific codes of a failed create or job: the failed sub-jobs' codes (else the
    job's), or the create's `details[].code` sub-codes (else its `error.code`)."""
    sub_codes = tuple(s.error_code for s in failure.sub_jobs if s.status == "FAIL" and s.error_code)
    if sub_codes:
        return sub_codes
    details = tuple(
        d["code"] for d in failure.details or () if isinstance(d.get("code"), str) and d["code"]
    )
    return details or (failure.code,)


def classify_failure(failure: StageFailure) -> Answer:
    """What a request's failure at `submit` or `job` says about its placement."""
    if failure.stage not in {FailureStage.SUBMIT, FailureStage.JOB}:
        return "other"
    return classify(answer_codes(failure))
