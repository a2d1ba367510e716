"""The ECS checks: one signed, read-only API call made exactly as the worker makes its calls.

The call is `GET /v1/{project_id}/cloudservers/detail?tags=ecsp-deployment=<name>&limit=1`, the
list the worker's bulk follower sends, so it needs no permission beyond the worker's IAM policy
(`ecs:cloudServers:list`, deploy/iam). It goes through the client the worker builds
(`worker.service.ecs_client`: its auth, AK/SK, IAM token or metadata credentials, and its
endpoint, CA file and TLS verification), one attempt, unthrottled, within `ECS_SECONDS`. Its
answer is read plainly: endpoint unreachable or its certificate refused, access key unknown,
secret key wrong, this machine's clock more than the gateway's 15 minutes off, credentials
locked or expired, permission or project wrong. Messages come from the API's answer (which
never echoes a credential), never from what was sent.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from ecsp_contract.failures import WorkerErrorCode
from worker.doctor.checklist import Check, failed, passed, skipped
from worker.ecs.breaker import BreakerConfig, CircuitBreaker
from worker.ecs.errors import EcsApiError
from worker.ecs.servers import ServerQuery
from worker.ops.metrics import Metrics
from worker.ops.settings import Settings
from worker.pipeline.tagging import DEPLOYMENT_TAG_KEY, deployment_tag_value
from worker.service import ecs_client

ECS_SECONDS = 20.0
ENDPOINT = "ECS endpoint"
CREDENTIALS = "ECS credentials"
_IAM_POLICY = "deploy/iam/ecs-provisioner-worker.json"


async def ecs_checks(settings: Settings) -> list[Check]:
    """Whether the endpoint answers (TLS included) and accepts the worker's credentials."""
    project = settings.ecs_project_id
    if not project:
        why = "no ECSP_ECS_PROJECT_ID to call the API for"
        return [skipped(ENDPOINT, why), skipped(CREDENTIALS, why)]
    once = settings.model_copy(
        update={
            "api_max_attempts": 1,
            "api_call_deadline_seconds": ECS_SECONDS,
            "api_timeout_seconds": min(settings.api_timeout_seconds, ECS_SECONDS),
            "api_rate_limit": 0.0,
        }
    )
    tag = f"{DEPLOYMENT_TAG_KEY}={deployment_tag_value(settings.deployment_name)}"
    try:
        async with (
            ecs_client(once, Metrics(), CircuitBreaker(BreakerConfig())) as client,
            asyncio.timeout(ECS_SECONDS),
        ):
            await client.list_servers(project, ServerQuery(tags=tag), limit=1)
    except EcsApiError as err:
        return diagnose(settings, err)
    except TimeoutError:
        return diagnose(settings, EcsApiError(WorkerErrorCode.TIMEOUT, f"{ECS_SECONDS:g}s"))
    return [
        passed(ENDPOINT, f"{settings.ecs_base_url} answered{_tls(settings)}"),
        passed(
            CREDENTIALS,
            f"a signed list of project {project}'s servers was answered "
            f"(ECSP_AUTH_MODE={settings.auth_mode})",
        ),
    ]


def _tls(settings: Settings) -> str:
    if not settings.ecs_base_url.startswith("https:"):
        return " (plain HTTP: no TLS)"
    if not settings.ecs_verify_tls:
        return " (TLS NOT verified: ECSP_ECS_VERIFY_TLS=false)"
    return " (TLS certificate verified)"


def diagnose(settings: Settings, err: EcsApiError) -> list[Check]:
    """The endpoint and credentials checks for a call that failed with `err`."""
    url = settings.ecs_base_url
    if err.http_status is None:
        if err.code == WorkerErrorCode.TLS_CERTIFICATE:
            fix = (
                "set ECSP_ECS_CA_FILE to the CA bundle that signed the endpoint's certificate "
                "(a TLS-inspecting proxy's, for one)"
            )
        else:
            fix = (
                "check ECSP_ECS_ENDPOINT / ECSP_ECS_REGION, DNS, proxies and the egress rules "
                "(deploy/k8s/base/networkpolicy.yaml)"
            )
        return [
            failed(ENDPOINT, f"{url}: {err.code}: {err.message}", fix),
            skipped(CREDENTIALS, "the endpoint did not answer"),
        ]
    answered = passed(ENDPOINT, f"{url} answered{_tls(settings)}")
    return [answered, _refused(settings, err)]


def _refused(settings: Settings, err: EcsApiError) -> Check:
    said = f"{err.code} (HTTP {err.http_status}): {err.message}"
    if err.request_id:
        said += f" [request {err.request_id}]"
    reason, fix = _reason(settings, err)
    return failed(CREDENTIALS, f"{reason}; the API said {said}", fix)


def _skewed(message: str) -> bool:
    """Whether a 401's message says the signature's date is too far from the gateway's clock
    (the simulator: "the request time differs…"; the gateway: "…signature expired")."""
    return (
        "time" in message
        or "signature expired" in message
        or ("x-sdk-date" in message and "expired" in message)
    )


#: A 401's cause by words in the gateway's message: (words, what went wrong, its fix).
_REFUSED_CREDENTIALS: tuple[tuple[tuple[str, ...], str, str], ...] = (
    (
        ("not exist", "not found"),
        "unknown access key",
        "ECSP_ECS_AK (or ECSP_ECS_AK_FILE) names no access key of this account: copy it "
        "again from IAM (My Credentials, Access Keys), without spaces or a line break",
    ),
    (
        ("security token",),
        "temporary credentials refused",
        "give ECSP_ECS_SECURITY_TOKEN with a temporary AK/SK (it must belong to that AK and "
        "not be expired), or permanent keys without it",
    ),
    (
        ("signature",),
        "wrong secret key",
        "ECSP_ECS_SK (or ECSP_ECS_SK_FILE) is not the secret key of ECSP_ECS_AK: copy the "
        "pair again from the credentials CSV, without spaces or a line break",
    ),
    (
        ("forbidden", "lock"),
        "access key locked after repeated failures",
        "wait 5 minutes (the gateway locks an AK after 5 failures in a row), then fix the "
        "secret key before trying again",
    ),
)


def _unauthorized(settings: Settings, message: str) -> tuple[str, str]:
    """Why the gateway refused the credentials (401), and the fix."""
    if _skewed(message):
        now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        return (
            f"clock skew: this machine's clock ({now}) is more than 15 minutes off the API's",
            "synchronise this machine's clock (NTP, chrony, timedatectl set-ntp true): the "
            "gateway refuses signatures dated more than 15 minutes from its own time",
        )
    for words, reason, fix in _REFUSED_CREDENTIALS:
        if any(word in message for word in words):
            return reason, fix
    return (
        f"credentials refused (ECSP_AUTH_MODE={settings.auth_mode})",
        "check ECSP_ECS_AK / ECSP_ECS_SK, or in token mode ECSP_IAM_DOMAIN, "
        "ECSP_IAM_USERNAME and ECSP_IAM_PASSWORD",
    )


def _reason(settings: Settings, err: EcsApiError) -> tuple[str, str]:
    """What went wrong, and its fix, from the status and the gateway's message."""
    status = err.http_status
    if status == 401:
        return _unauthorized(settings, err.message.lower())
    if status == 403:
        return (
            "credentials accepted, but this user may not list servers",
            f"attach the worker's IAM policy ({_IAM_POLICY}) to the user or agency, for "
            f"project {settings.ecs_project_id}",
        )
    if status == 404:
        return (
            "the API knows no such project or path",
            "check ECSP_ECS_PROJECT_ID (the project of the endpoint's region) and "
            "ECSP_ECS_ENDPOINT / ECSP_ECS_REGION",
        )
    if status is not None and (status == 429 or status >= 500):
        return (
            "the API could not answer now (throttled or unavailable)",
            "run doctor again in a minute; if it persists, check the region's service status",
        )
    return (
        "the API refused the call",
        "the error code above is the API's; check ECSP_ECS_PROJECT_ID and the credentials",
    )
