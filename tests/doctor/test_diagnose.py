"""The ECS check reads the API's refusals plainly: the gateway's documented messages (and the
simulator's) each get their own reason and fix; nothing but the API's answer is shown."""

from __future__ import annotations

import pytest

from ecsp_contract.failures import WorkerErrorCode
from worker.doctor.checklist import Outcome
from worker.doctor.ecs import diagnose
from worker.ecs.errors import EcsApiError
from worker.ops.settings import Settings

SETTINGS = Settings(ecs_endpoint="https://ecs.example.test", ecs_project_id="p1")
PREFIX = "Incorrect IAM authentication information: "


def refused(status: int, code: str, message: str) -> EcsApiError:
    return EcsApiError(code, message, http_status=status, request_id="r-1")


@pytest.mark.parametrize(
    ("error", "reason", "fix"),
    [
        (  # the gateway, documented (APIG FAQ)
            refused(401, "APIG.0301", PREFIX + "calc ak sk signature fail:signature expired"),
            "clock skew: ",
            "synchronise this machine's clock",
        ),
        (  # the simulator
            refused(
                401,
                "APIG.0301",
                PREFIX + "the request time differs from the server time by more than 15 minutes",
            ),
            "clock skew: ",
            "synchronise this machine's clock",
        ),
        (
            refused(401, "APIG.0301", PREFIX + "verify aksk signature fail"),
            "wrong secret key",
            "ECSP_ECS_SK (or ECSP_ECS_SK_FILE) is not the secret key of ECSP_ECS_AK",
        ),
        (
            refused(401, "APIG.0301", PREFIX + "Get secretKey failed,ak:******,err:ak not exist"),
            "unknown access key",
            "ECSP_ECS_AK (or ECSP_ECS_AK_FILE) names no access key",
        ),
        (
            refused(401, "APIG.0301", PREFIX + "the access key does not exist"),
            "unknown access key",
            "ECSP_ECS_AK",
        ),
        (
            refused(401, "APIG.0301", PREFIX + "the security token has expired"),
            "temporary credentials refused",
            "ECSP_ECS_SECURITY_TOKEN",
        ),
        (
            refused(401, "APIG.0301", PREFIX + "AK access failed to reach the limit,forbidden."),
            "access key locked after repeated failures",
            "wait 5 minutes",
        ),
        (
            refused(401, "APIG.1002", "Incorrect token or token resolution failed"),
            "credentials refused (ECSP_AUTH_MODE=aksk)",
            "ECSP_IAM_PASSWORD",
        ),
        (
            refused(403, "Ecs.0003", "You do not have permission"),
            "credentials accepted, but this user may not list servers",
            "deploy/iam/ecs-provisioner-worker.json",
        ),
        (
            refused(404, "APIG.0101", "The API does not exist or has not been published"),
            "the API knows no such project or path",
            "ECSP_ECS_PROJECT_ID",
        ),
        (
            refused(503, "APIG.0202", "Backend unavailable"),
            "the API could not answer now",
            "run doctor again",
        ),
    ],
)
def test_each_refusal_gets_its_reason_and_fix(error: EcsApiError, reason: str, fix: str) -> None:
    endpoint, credentials = diagnose(SETTINGS, error)
    assert endpoint.outcome is Outcome.PASSED
    assert "(TLS certificate verified)" in endpoint.detail
    assert credentials.outcome is Outcome.FAILED
    assert credentials.detail.startswith(reason)
    assert f"the API said {error.code} (HTTP {error.http_status}): {error.message}" in (
        credentials.detail
    )
    assert "[request r-1]" in credentials.detail
    assert fix in credentials.fix


def test_no_answer_fails_the_endpoint_and_skips_the_credentials() -> None:
    tls = EcsApiError(
        WorkerErrorCode.TLS_CERTIFICATE, "ClientConnectorCertificateError: self-signed"
    )
    endpoint, credentials = diagnose(SETTINGS, tls)
    assert endpoint.outcome is Outcome.FAILED
    assert "ECSP_ECS_CA_FILE" in endpoint.fix
    assert credentials.outcome is Outcome.SKIPPED
    network = EcsApiError(WorkerErrorCode.NETWORK_ERROR, "ClientConnectorError: refused")
    endpoint, _ = diagnose(SETTINGS, network)
    assert (
        endpoint.detail
        == "https://ecs.example.test: ECSP.NetworkError: ClientConnectorError: refused"
    )
    assert "ECSP_ECS_ENDPOINT" in endpoint.fix


def test_tls_verification_off_is_said_even_when_the_endpoint_answers() -> None:
    unverified = SETTINGS.model_copy(update={"ecs_verify_tls": False})
    endpoint, _ = diagnose(
        unverified, refused(401, "APIG.0301", PREFIX + "verify aksk signature fail")
    )
    assert "TLS NOT verified: ECSP_ECS_VERIFY_TLS=false" in endpoint.detail
