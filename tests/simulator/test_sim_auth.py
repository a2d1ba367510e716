"""AK/SK signatures and IAM tokens are checked as the API gateway checks them."""

from __future__ import annotations

import json

from tests.simulator.simkit import AK, PROJECT, SK, START, Api, Reply, config, new_token, simulator
from tests.support.bodies import server_body
from tests.support.clock import FakeClock


def _no_secret_in(raw: bytes, *secrets: str) -> None:
    text = raw.decode()
    for secret in secrets:
        assert secret not in text


async def test_signed_create_is_accepted_and_tagged_with_a_request_id() -> None:
    async with simulator(config(FakeClock(START))) as api:
        reply = await api.create(server_body(), new_token())
        assert reply.status == 200
        assert len(reply.headers["X-Request-Id"]) == 32


async def test_wrong_secret_key_is_apig_0301_without_echoing_credentials() -> None:
    async with simulator(config(FakeClock(START))) as api:
        api.sk = "not-the-secret"
        reply = await api.create(server_body(), new_token())
        assert reply.status == 401
        body = reply.json
        assert body["error_code"] == "APIG.0301"
        assert "verify aksk signature fail" in body["error_msg"]
        assert body["request_id"] == reply.headers["X-Request-Id"]
        authorization_signature = "Signature="
        _no_secret_in(reply.raw, AK, SK, "not-the-secret", authorization_signature)


async def test_body_changed_after_signing_is_rejected() -> None:
    async with simulator(config(FakeClock(START))) as api:
        body = json.dumps(server_body()).encode()
        reply = await api.request(
            "POST",
            f"/v1.1/{PROJECT}/cloudservers",
            body,
            {"X-Client-Token": new_token()},
            tamper=lambda sent: sent.replace(b'"count": 1', b'"count": 2'),
        )
        assert reply.status == 401
        assert reply.json["error_code"] == "APIG.0301"
        assert (await api.stats())["creates"] == 0


async def test_signed_header_changed_after_signing_is_rejected() -> None:
    async with simulator(config(FakeClock(START))) as api:

        def other_token(headers: dict[str, str]) -> dict[str, str]:
            return {**headers, "X-Client-Token": new_token()}

        reply = await api.request(
            "POST",
            f"/v1.1/{PROJECT}/cloudservers",
            json.dumps(server_body()).encode(),
            {"X-Client-Token": new_token()},
            tamper_headers=other_token,
        )
        assert reply.status == 401
        assert reply.json["error_code"] == "APIG.0301"


async def test_clock_skew_over_15_minutes_is_rejected_within_is_accepted() -> None:
    clock = FakeClock(START)
    path = f"/v1.1/{PROJECT}/cloudservers"
    body = json.dumps(server_body()).encode()
    async with simulator(config(clock)) as api:
        for offset in (-16 * 60, 16 * 60):
            reply = await api.request("POST", path, body, signed_at=clock.now + offset)
            assert reply.status == 401
            assert reply.json["error_code"] == "APIG.0301"
            assert "15 minutes" in reply.json["error_msg"]
        for offset in (-14 * 60, 14 * 60):
            reply = await api.request("POST", path, body, signed_at=clock.now + offset)
            assert reply.status == 200


async def test_unknown_access_key_is_rejected_without_naming_it() -> None:
    async with simulator(config(FakeClock(START))) as api:
        api.ak = "UNKNOWNAK12345"
        reply = await api.create(server_body(), new_token())
        assert reply.status == 401
        assert reply.json["error_code"] == "APIG.0301"
        _no_secret_in(reply.raw, "UNKNOWNAK12345", SK)


async def test_unsigned_request_is_rejected() -> None:
    async with simulator(config(FakeClock(START))) as api:
        reply = await api.request(
            "POST", f"/v1.1/{PROJECT}/cloudservers", json.dumps(server_body()).encode(), sign=False
        )
        assert reply.status == 401
        assert reply.json["error_code"] == "APIG.0301"


def _iam_body(user: str, password: str, project: dict[str, str] | None = None) -> bytes:
    auth: dict[str, object] = {
        "identity": {
            "methods": ["password"],
            "password": {"user": {"name": user, "password": password, "domain": {"name": "acme"}}},
        }
    }
    if project is not None:
        auth["scope"] = {"project": project}
    return json.dumps({"auth": auth}).encode()


async def _issue(api: Api, body: bytes) -> Reply:
    return await api.request("POST", "/v3/auth/tokens", body, sign=False)


async def test_iam_token_is_issued_and_accepted_until_it_expires() -> None:
    clock = FakeClock(START)
    async with simulator(config(clock)) as api:
        issued = await _issue(api, _iam_body("alice", "alice-password-1", {"id": PROJECT}))
        assert issued.status == 201
        token = issued.headers["X-Subject-Token"]
        assert token.startswith("MII")
        assert issued.json["token"]["expires_at"].endswith("Z")
        assert issued.json["token"]["project"]["id"] == PROJECT
        _no_secret_in(issued.raw, "alice-password-1")

        headers = {"X-Auth-Token": token, "X-Client-Token": new_token()}
        created = await api.request(
            "POST",
            f"/v1.1/{PROJECT}/cloudservers",
            json.dumps(server_body()).encode(),
            headers,
            sign=False,
        )
        assert created.status == 200
        job = await api.request(
            "GET",
            f"/v1/{PROJECT}/jobs/{created.json['job_id']}",
            headers={"X-Auth-Token": token},
            sign=False,
        )
        assert job.status == 200

        clock.advance(24 * 3600 + 1)
        expired = await api.request(
            "GET",
            f"/v1/{PROJECT}/jobs/{created.json['job_id']}",
            headers={"X-Auth-Token": token},
            sign=False,
        )
        assert expired.status == 401
        assert expired.json["error_code"] == "APIG.1002"
        _no_secret_in(expired.raw, token)


async def test_iam_wrong_password_and_unknown_token_are_401() -> None:
    async with simulator(config(FakeClock(START))) as api:
        wrong = await _issue(api, _iam_body("alice", "guess"))
        assert wrong.status == 401
        assert "X-Subject-Token" not in wrong.headers
        _no_secret_in(wrong.raw, "guess", "alice-password-1")
        malformed = await _issue(api, b'{"auth": {}}')
        assert malformed.status == 400
        unknown = await api.request(
            "GET",
            f"/v1/{PROJECT}/jobs/{'0' * 32}",
            headers={"X-Auth-Token": "MIIbogus"},
            sign=False,
        )
        assert unknown.status == 401
        assert unknown.json["error_code"] == "APIG.1002"


async def test_token_scoped_to_another_project_is_ecs_0023() -> None:
    async with simulator(config(FakeClock(START))) as api:
        issued = await _issue(api, _iam_body("alice", "alice-password-1", {"id": "f" * 32}))
        reply = await api.request(
            "GET",
            f"/v1/{PROJECT}/jobs/{'0' * 32}",
            headers={"X-Auth-Token": issued.headers["X-Subject-Token"]},
            sign=False,
        )
        assert reply.status == 400
        assert reply.json["error"]["code"] == "Ecs.0023"
