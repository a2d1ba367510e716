"""Error parsing (every body shape) and retry classification."""

from __future__ import annotations

import json
from email.utils import formatdate

import pytest

from worker.ecs.errors import (
    EcsApiError,
    is_not_found,
    network_error,
    outcome,
    parse_error,
    parse_retry_after,
    timeout_error,
)


def _body(document: object) -> bytes:
    return json.dumps(document).encode()


def test_ecs_shape_with_details_and_request_id_header() -> None:
    body = _body(
        {
            "error": {
                "message": "privateIp [10.0.0.9] is not in this subnet [s]",
                "code": "Ecs.0005",
                "details": [{"code": "Ecs.0039"}],
            }
        }
    )
    err = parse_error(400, {"x-request-id": "req-1"}, body)
    assert (err.code, err.http_status, err.request_id) == ("Ecs.0005", 400, "req-1")
    assert err.message.startswith("privateIp")
    assert err.details == [{"code": "Ecs.0039"}]
    assert not err.retryable


def test_gateway_throttling_shape_takes_request_id_from_body() -> None:
    body = _body(
        {
            "error_msg": "The throttling threshold has been reached: policy user over ratelimit",
            "error_code": "APIG.0308",
            "request_id": "body-req",
        }
    )
    err = parse_error(429, {"Retry-After": "3"}, body)
    assert (err.code, err.request_id, err.retry_after) == ("APIG.0308", "body-req", 3.0)
    assert err.retryable
    assert outcome(err) == "throttled"


def test_header_request_id_wins_over_body() -> None:
    body = _body({"error_code": "X", "error_msg": "m", "request_id": "body"})
    assert parse_error(400, {"X-Request-Id": "header"}, body).request_id == "header"


@pytest.mark.parametrize(
    ("document", "code", "message"),
    [
        ({"errorCode": "IAM.0001", "errorMsg": "camel"}, "IAM.0001", "camel"),
        ({"code": "Ecs.0616", "message": "job not found"}, "Ecs.0616", "job not found"),
        ({"itemNotFound": {"message": "Instance could not be found", "code": 404}}, "404",
         "Instance could not be found"),
        ({"error": {"code": 401, "message": "The request you have made requires authentication.",
                    "title": "Unauthorized"}}, "401",
         "The request you have made requires authentication."),
        ({"error": {"message": "only a message"}}, "HTTP.404", "only a message"),
        ({"something": "else"}, "HTTP.404", "HTTP 404"),
        ([1, 2], "HTTP.404", "[1, 2]"),
    ],
)  # fmt: skip
def test_other_shapes(document: object, code: str, message: str) -> None:
    err = parse_error(404, {}, _body(document))
    assert (err.code, err.message, err.http_status) == (code, message, 404)
    assert is_not_found(err)


def test_non_json_and_empty_bodies() -> None:
    html = parse_error(502, {}, b"<html>Bad Gateway</html>")
    assert (html.code, html.message, html.retryable) == (
        "HTTP.502",
        "<html>Bad Gateway</html>",
        True,
    )
    empty = parse_error(503, {}, b"")
    assert (empty.code, empty.message) == ("HTTP.503", "HTTP 503")
    binary = parse_error(400, {}, b"\xff\xfe\x00")
    assert binary.code == "HTTP.400"


def test_long_messages_are_truncated() -> None:
    err = parse_error(400, {}, _body({"error": {"code": "Ecs.0005", "message": "x" * 5000}}))
    assert len(err.message) == 500


@pytest.mark.parametrize(
    ("status", "code", "retryable", "label"),
    [
        (429, "APIG.0308", True, "throttled"),
        (429, "HTTP.429", True, "throttled"),
        (400, "APIGW.0308", True, "throttled"),
        (500, "Ecs.0000", True, "server_error"),
        (503, "HTTP.503", True, "server_error"),
        (400, "Ecs.0002", True, "client_error"),
        (400, "Ecs.0005", False, "client_error"),
        (400, "Ecs.0001", False, "client_error"),
        (400, "Ecs.0122", False, "client_error"),
        (400, "Ecs.0123", False, "client_error"),
        (400, "Ecs.0124", False, "client_error"),
        (400, "Ecs.0319", False, "client_error"),
        (401, "APIG.0301", False, "client_error"),
        (403, "Ecs.0003", False, "client_error"),
        (404, "Ecs.0616", False, "client_error"),
    ],
)
def test_classification(status: int, code: str, retryable: bool, label: str) -> None:
    err = parse_error(status, {}, _body({"error": {"code": code, "message": "m"}}))
    assert err.code == code
    assert err.retryable is retryable
    assert outcome(err) == label


def test_no_response_errors_are_retryable_network_errors() -> None:
    for err in (network_error(ConnectionResetError("peer reset")), timeout_error("create call")):
        assert err.http_status is None
        assert err.retryable
        assert outcome(err) == "network_error"
    assert network_error(ConnectionResetError()).code == "network"
    assert timeout_error("x").code == "timeout"


def test_str_is_code_status_message_and_request_id() -> None:
    err = EcsApiError("Ecs.0005", "bad body", http_status=400, request_id="r1")
    assert str(err) == "Ecs.0005 (HTTP 400): bad body [request r1]"
    assert str(timeout_error("job call")) == "timeout (no response): timed out: job call"
    assert "retryable=False" in repr(err)


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, None), ("", None), ("2", 2.0), (" 1.5 ", 1.5), ("-3", 0.0), ("soon", None),
     ("nan", None), ("inf", None)],
)  # fmt: skip
def test_retry_after_seconds(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value) == expected


def test_retry_after_http_date() -> None:
    now = 1_700_000_000.0
    assert parse_retry_after(formatdate(now + 30, usegmt=True), now=now) == pytest.approx(30)
    assert parse_retry_after(formatdate(now - 30, usegmt=True), now=now) == 0.0
