"""How the pipeline names an ECS client error in its events: the API's code, or an `ECSP.*` code.

The client (`worker.ecs`) speaks the API only: an error the API answered carries the API's code;
a call that got no usable answer carries a `CallFailure`. This module owns the one mapping from
those failures to the contract's worker codes (`ecsp_contract.failures.WorkerErrorCode`).
"""

from __future__ import annotations

from ecsp_contract.failures import WorkerErrorCode
from worker.ecs.errors import CallFailure, EcsApiError

WORKER_CODE_OF_FAILURE: dict[CallFailure, WorkerErrorCode] = {
    CallFailure.NETWORK: WorkerErrorCode.NETWORK_ERROR,
    CallFailure.TIMEOUT: WorkerErrorCode.TIMEOUT,
    CallFailure.TLS_CERTIFICATE: WorkerErrorCode.TLS_CERTIFICATE,
    CallFailure.BAD_RESPONSE: WorkerErrorCode.BAD_RESPONSE,
    CallFailure.UNAVAILABLE: WorkerErrorCode.API_UNAVAILABLE,
}


def error_code(err: EcsApiError) -> str:
    """The code a failure event names for `err`."""
    return err.code if err.failure is None else WORKER_CODE_OF_FAILURE[err.failure]
