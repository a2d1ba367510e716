"""Why a request failed: every failure `stage` and every worker error code, with their meaning.

This module is the one place to add a stage or an `ECSP.*` code: one member each, carrying its
meaning (and, for a stage, what the publisher should do). The exported JSON Schema, the AsyncAPI
document and the tables of docs/failures.md (`python -m tools.docgen.failure_table`) are
generated from these members, and the pipeline can only raise the stages listed here (mypy
checks it).

- `FailureStage`: the `stage` of a `failed` event.
- `WorkerErrorCode`: the `error.code` values the worker (or its API client) detects itself; the
  API's own codes (`Ecs.xxxx`, `APIG.xxxx`) pass through unchanged.
- `STAGE_OF_API_CODE`: the API codes that end a request at a stage other than `submit`.
- `API_ERROR_CODES`: every API code the documentation names, with what it means for a request
  (tests/docs checks that the docs name no other code, of the API or the worker, and list all).
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from pydantic import GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from ecsp_contract.limits import (
    MAX_HEADER_BYTES,
    MAX_INT_DIGITS,
    MAX_JSON_DEPTH,
    MAX_KEY_BYTES,
    MAX_OBJECT_KEYS,
)


class FailureStage(StrEnum):
    """Where a request failed. Each member: (value, meaning, what to do, typical API codes)."""

    meaning: str
    remedy: str
    api_codes: str

    def __new__(cls, value: str, meaning: str, remedy: str, api_codes: str = "") -> FailureStage:
        member = str.__new__(cls, value)
        member._value_ = value
        member.meaning = meaning
        member.remedy = remedy
        member.api_codes = api_codes
        return member

    DECODE = (
        "decode",
        "the record is out of bounds or its value is not a JSON object of UTF-8 text: value over "
        f"`ECSP_MAX_REQUEST_BYTES`, key over {MAX_KEY_BYTES} bytes, `ecs-project-id` header over "
        f"{MAX_HEADER_BYTES} bytes, nesting deeper than {MAX_JSON_DEPTH}, more than "
        f"{MAX_OBJECT_KEYS:,} object keys, an integer of more than {MAX_INT_DIGITS} digits, a "
        'lone surrogate escape (`"\\ud800"`)',
        "fix the publisher; publish again (any key)",
    )
    VALIDATE = (
        "validate",
        "no key, a schema violation (`details` lists `{path, message}`), a tag key of the "
        "worker's own (`ecsp-`), an unknown or unusable `$NAME` secret, a project not the "
        "topic's tenant's",
        "fix the request or the worker's secrets/allow-list; re-publish (same key is fine: "
        "nothing was created)",
    )
    POLICY = (
        "policy",
        "the request breaks the platform team's policy file (`details` lists "
        "`{rule, path, message}` per broken rule); nothing was sent to the API",
        "`retryable: false`: change the request (check it with `ecs-provisioner validate "
        "--policy FILE`) or ask the platform team for a policy change",
    )
    SUBMIT = (
        "submit",
        "the create call was rejected or kept failing",
        "`retryable: true` (throttling, 5xx or network errors exhausted): re-publish with the "
        "same key, safe; otherwise fix the request",
        "the API's `Ecs.xxxx` / `APIG.xxxx`",
    )
    JOB = (
        "job",
        "the job ended FAIL (`sub_jobs` says which servers did succeed), or could not be read",
        "clean up `server_ids` that succeeded if needed (or publish with header "
        "`ecs-on-partial-failure: delete`: `compensation` then says what was deleted); retry "
        "with a **new key** (the same key returns the same failed job for 8 h)",
        "the job's `error_code`, e.g. `Ecs.0319` sold out, `Ecs.0001` quota",
    )
    TIMEOUT = (
        "timeout",
        "the request's deadline (`ECSP_REQUEST_DEADLINE_SECONDS` from publishing) passed: its "
        "job did not end, or it still waited for the ECS API (outage) or for its project's "
        "hourly budget",
        "`retryable: true`: re-publish with the same key to keep following the same job "
        "(within 8 h)",
    )
    PAYMENT = (
        "payment",
        "a prePaid order was not paid before the deadline",
        "pay `order_id`, then re-publish with the same key",
    )
    CONFLICT = (
        "conflict",
        "the key was used before with a different body (within the API's 8 h token memory, or "
        "after it, as the servers' request tag shows)",
        "the publisher reused a key: use a new key for a new request",
    )
    TOKEN_EXPIRED = (
        "token_expired",
        "the key's token is older than the API's 8 h memory and not all requested servers were "
        "found by their tags (`servers` lists what was found, including servers of an earlier "
        "release without a request tag; none when the create went out untagged)",
        "the worker created nothing: delete or keep the servers listed, then publish with a new "
        "key (or run with `ECSP_AFTER_TOKEN_WINDOW=recreate`)",
    )

    @classmethod
    def __get_pydantic_json_schema__(
        cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        """The exported schema lists each stage with its meaning (`oneOf` of `const`s)."""
        schema = handler.resolve_ref_schema(handler(core_schema))
        schema["description"] = "Where the request failed."
        schema["oneOf"] = [{"const": stage.value, "description": stage.meaning} for stage in cls]
        return schema


_S = FailureStage

ANY_STAGE: tuple[FailureStage, ...] = ()
"""The `stages` of a code that can end a request at whichever stage it had reached."""


class WorkerErrorCode(StrEnum):
    """`error.code` of failures the worker detects itself: (value, stages, meaning[, remedy]).

    `remedy` is only needed for codes of `ANY_STAGE` (the stage's own remedy covers the rest).
    """

    stages: tuple[FailureStage, ...]
    meaning: str
    remedy: str

    def __new__(
        cls, value: str, stages: tuple[FailureStage, ...], meaning: str, remedy: str = ""
    ) -> Any:
        member = str.__new__(cls, value)
        member._value_ = value
        member.stages = stages
        member.meaning = meaning
        member.remedy = remedy
        return member

    NOT_UTF8 = (
        "ECSP.NotUtf8",
        (_S.DECODE,),
        "The message value is not valid UTF-8, or a JSON string in it escapes a lone UTF-16 "
        "surrogate (such as \\ud800), which has no UTF-8 form.",
    )
    NOT_JSON = "ECSP.NotJson", (_S.DECODE,), "The message value is not JSON (or is empty)."
    NOT_OBJECT = "ECSP.NotObject", (_S.DECODE,), "The message value is JSON but not an object."
    TOO_LARGE = "ECSP.TooLarge", (_S.DECODE,), "The message value exceeds ECSP_MAX_REQUEST_BYTES."
    TOO_DEEP = (
        "ECSP.TooDeep",
        (_S.DECODE,),
        f"The message value nests objects/arrays deeper than {MAX_JSON_DEPTH} levels.",
    )
    TOO_MANY_KEYS = (
        "ECSP.TooManyKeys",
        (_S.DECODE,),
        f"The message value has more than {MAX_OBJECT_KEYS:,} object keys (all objects "
        "together); the largest create body has about 1,300.",
    )
    NUMBER_TOO_LARGE = (
        "ECSP.NumberTooLarge",
        (_S.DECODE,),
        f"The message value has an integer of more than {MAX_INT_DIGITS} digits.",
    )
    KEY_TOO_LARGE = (
        "ECSP.KeyTooLarge",
        (_S.DECODE,),
        f"The message key is longer than {MAX_KEY_BYTES} bytes.",
    )
    HEADER_TOO_LARGE = (
        "ECSP.HeaderTooLarge",
        (_S.DECODE,),
        f"The ecs-project-id header is longer than {MAX_HEADER_BYTES} bytes.",
    )
    MISSING_KEY = "ECSP.MissingKey", (_S.VALIDATE,), "The message has no (or an empty) Kafka key."
    INVALID_REQUEST = (
        "ECSP.InvalidRequest",
        (_S.VALIDATE,),
        "The body breaks the request schema; error.details lists {path, message} per problem.",
    )
    UNKNOWN_SECRET = (
        "ECSP.UnknownSecret",
        (_S.VALIDATE,),
        "adminPass names a $NAME secret that is not usable for the request's topic: unknown in "
        "its tenant's scope (names reaching the worker's own settings included), or its value "
        "is not an acceptable password. One answer for both, so it tells nothing of which names "
        "exist; the worker's log says which (never the value).",
    )
    RESERVED_TAG = (
        "ECSP.ReservedTag",
        (_S.VALIDATE,),
        "A tag key (server_tags, or a legacy tags entry) starts with ecsp-, in any case: those "
        "are the worker's own tags, which it trusts to find and to delete a request's servers; "
        "error.details lists {path, message} per tag. The API itself would accept them.",
    )
    PROJECT_NOT_ALLOWED = (
        "ECSP.ProjectNotAllowed",
        (_S.VALIDATE,),
        "The ecs-project-id header names a project that is not one of the request topic's "
        "tenant's (for the shared topic: neither the default project nor in the allow-list).",
    )
    POLICY_VIOLATION = (
        "ECSP.PolicyViolation",
        (_S.POLICY,),
        "The request breaks the platform's policy; error.details lists {rule, path, message} "
        "per broken rule. Not retryable.",
    )
    NETWORK_ERROR = (
        "ECSP.NetworkError",
        (_S.SUBMIT,),
        "The API could not be reached or the connection broke (retried until the deadline).",
    )
    TIMEOUT = (
        "ECSP.Timeout",
        (_S.SUBMIT,),
        "An API call (or the wait for the rate limiter) ran out of time; retryable.",
    )
    TLS_CERTIFICATE = (
        "ECSP.TlsCertificate",
        (_S.SUBMIT, _S.JOB),
        "The API's TLS certificate failed verification (ECSP_ECS_CA_FILE?); not retried.",
    )
    BAD_RESPONSE = (
        "ECSP.BadResponse",
        (_S.SUBMIT,),
        "The API answered 2xx with a body it does not document; retryable.",
    )
    API_UNAVAILABLE = (
        "ECSP.ApiUnavailable",
        (_S.SUBMIT,),
        "No call was made: the ECS API is considered down (circuit breaker open after 5xx, "
        "refused connections or timeouts). Requests wait for it rather than fail; this code "
        "shows only where nothing waits, e.g. in the reason of a compensating delete.",
    )
    CAPACITY_EXHAUSTED = (
        "ECSP.CapacityExhausted",
        (_S.SUBMIT, _S.JOB),
        "Every placement the request allowed (the body's own and the ecs-fallbacks header's "
        "alternatives) was sold out (Ecs.0319 flavor capacity, Ecs.0044 disk type, at create "
        "time or in the job) or skipped; data.placement lists each attempt with the API's code "
        "and each skipped alternative with its reason. Retryable: capacity comes back; the "
        "same key re-sends the same placements with the same tokens (never a duplicate), but "
        "the API replays an alternative whose job failed for 8 h, so a new key retries sooner.",
    )
    JOB_FAILED = "ECSP.JobFailed", (_S.JOB,), "The job ended FAIL without an error_code of its own."
    JOB_VANISHED = (
        "ECSP.JobNotFound",
        (_S.SUBMIT, _S.JOB),
        "The create returned no job_id, or the job could not be found any more (purged).",
    )
    DEADLINE_EXCEEDED = (
        "ECSP.DeadlineExceeded",
        (_S.TIMEOUT, _S.PAYMENT),
        "The job did not finish (or the order was not paid, or the request still waited for the "
        "ECS API during an outage or for its project's hourly budget) before the request's "
        "deadline; the message says which.",
    )
    TOKEN_WINDOW_PASSED = (
        "ECSP.TokenWindowPassed",
        (_S.TOKEN_EXPIRED,),
        "The record is older than the API's token window and only some of its servers were "
        "found by their client-token tag (listed in `servers`); nothing was created.",
    )
    OTHER_BODY = (
        "ECSP.OtherBody",
        (_S.CONFLICT,),
        "After the token window: the servers found by the key's client-token tag carry another "
        "request's digest (their ecsp-request tag), so the key was used before with a different "
        "body, which Ecs.0122 says within the window; nothing was created.",
    )
    INTERNAL_ERROR = (
        "ECSP.InternalError",
        ANY_STAGE,
        "An unexpected error in the worker at that stage (a bug); the log names the exception's "
        "type and place, never its text.",
        "`retryable: true`: re-publish with the same key once the worker is fixed (same token: "
        "no duplicate)",
    )


STAGE_OF_API_CODE: Mapping[str, FailureStage] = MappingProxyType(
    {
        "Ecs.0122": FailureStage.CONFLICT,  # the token was used before with another body
        "Ecs.0124": FailureStage.TOKEN_EXPIRED,  # the token is older than the API's 8 h memory
    }
)
"""API error codes that end a request at their own stage (not `submit`), never retried."""

API_ERROR_CODES: Mapping[str, str] = MappingProxyType(
    {
        "APIG.0101": "the gateway knows no such API path (HTTP 404)",
        "APIG.0202": "the API's backend is unavailable (HTTP 502): retried, an outage signal",
        "APIG.0203": "the API's backend timed out (HTTP 504): retried, an outage signal",
        "APIG.0301": "the signature was refused: a wrong AK/SK, or more than 15 min of clock "
        "skew (HTTP 401); the credentials are read again once, then the request fails",
        "APIG.0308": "throttled (HTTP 429): retried after Retry-After, and the pod's adaptive "
        "rate goes down",
        "APIG.1002": "the IAM token is unknown or expired (HTTP 401): a new one is fetched once",
        "Ecs.0000": "request error; for a job read, the job is gone (finished jobs are deleted "
        "after about a day), which fails as ECSP.JobNotFound",
        "Ecs.0001": "not enough ECS quota (usually a job's error_code)",
        "Ecs.0002": "the API failed to submit the task (HTTP 500): retried",
        "Ecs.0005": "invalid parameters: the API refused the body",
        "Ecs.0011": "the password does not meet the API's complexity rules",
        "Ecs.0012": "not enough free IP addresses in the subnet (a job's error_code)",
        "Ecs.0013": "not enough EIP quota: a quota answer, never a reason to try another placement",
        "Ecs.0014": "invalid VPC parameters, e.g. a subnet of another VPC",
        "Ecs.0021": "not enough EVS disk quota (a job's error_code)",
        "Ecs.0022": "not enough server group quota: a quota answer, never a reason to try "
        "another placement",
        "Ecs.0023": "the project of the IAM token is not the project in the URL",
        "Ecs.0029": "the flavor does not exist or was withdrawn",
        "Ecs.0031": "the image does not exist",
        "Ecs.0044": "the disk type is sold out in the zone: a capacity answer; with ecs-fallbacks "
        "the next placement is tried",
        "Ecs.0114": "the server does not exist (any more): a compensating delete counts it as "
        "deleted",
        "Ecs.0122": "the X-Client-Token was used before with another body: the publisher reused a "
        "key (stage conflict; never retried)",
        "Ecs.0123": "the X-Client-Token is malformed; the worker always sends a UUID, so something "
        "on the way changed it (stage submit; never retried)",
        "Ecs.0124": "the X-Client-Token is older than the API's 8 h memory: the worker looks the "
        "servers up by their token tag (stage token_expired unless all are found)",
        "Ecs.0319": "sold out: not enough capacity for the flavor in the zone (at create time or "
        "a job's error_code); with ecs-fallbacks the next placement is tried",
    }
)
"""The API's codes that the documentation names: (code -> what it means for a request). The
API may answer others; they pass through to `error.code` unchanged all the same."""


def error_code_description() -> str:
    """The `error.code` description of the exported schema: every worker code and its meaning."""
    lines = [f"- {code.value}: {code.meaning}" for code in WorkerErrorCode]
    return (
        "Machine-readable code. API codes (Ecs.xxxx, APIG.xxxx) pass through unchanged; "
        "codes the worker detects itself:\n" + "\n".join(lines)
    )
