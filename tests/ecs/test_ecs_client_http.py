"""EcsClient over real HTTP against small scripted servers (precise error shapes and faults)."""

from __future__ import annotations

import asyncio
import json
import shutil
import ssl
import subprocess
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import structlog
from aiohttp import web

from tests.ecs.ecs_testkit import RecordingObserver, Serve
from tests.support.ecs_client import layered_client
from tests.support.timing import loop_lag
from worker.ecs.auth import AkSkAuth, TokenAuth, iam_tokens_url
from worker.ecs.client import EcsClient
from worker.ecs.credentials import Credential
from worker.ecs.endpoints import default_endpoint
from worker.ecs.errors import CallFailure, EcsApiError, is_not_found
from worker.ecs.retry import RetryConfig
from worker.ecs.signing import canonical_request, compute_signature, parse_authorization
from worker.ecs.transport import HttpSettings, make_session, make_ssl_context

AK, SK = "TESTAK0000000000", "test-secret-key"
PROJECT = "0123456789abcdef0123456789abcdef"
TOKEN = "46436810-d999-454c-bd85-e515fd258600"
BODY = {"server": {"name": "vm-ü", "count": 2, "adminPass": "S3cret!pass"}}
CREATED = {"job_id": "ff808082739334d80173943ec9b42130", "serverIds": ["s-1", "s-2"]}

Reply = Callable[[web.Request], Awaitable[web.StreamResponse]]


def json_reply(status: int, document: object, headers: dict[str, str] | None = None) -> Reply:
    async def reply(request: web.Request) -> web.StreamResponse:
        return web.json_response(document, status=status, headers=headers)

    return reply


def raw_reply(status: int, body: bytes) -> Reply:
    async def reply(request: web.Request) -> web.StreamResponse:
        return web.Response(status=status, body=body)

    return reply


async def drop(request: web.Request) -> web.StreamResponse:
    assert request.transport is not None
    request.transport.close()
    return web.Response()


def slow(seconds: float) -> Reply:
    async def reply(request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(seconds)
        return web.json_response(CREATED)

    return reply


@dataclass
class Seen:
    method: str
    raw_path: str
    headers: dict[str, str]
    body: bytes
    signature_ok: bool


@dataclass
class Script:
    """A fake ECS endpoint answering with the scripted replies in order (the last one repeats)."""

    replies: list[Reply]
    seen: list[Seen] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        self.seen.append(
            Seen(
                request.method,
                request.raw_path,
                dict(request.headers),
                body,
                _verify(request, body),
            )
        )
        reply = self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]
        return await reply(request)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.handle)
        return app


def _verify(request: web.Request, body: bytes) -> bool:
    parsed = parse_authorization(request.headers.get("Authorization", ""))
    if parsed is None or parsed.access_key != AK:
        return False
    canonical = canonical_request(
        request.method,
        request.rel_url.raw_path,
        list(request.rel_url.query.items()),
        request.headers,
        list(parsed.signed_headers),
        body,
    )
    expected = compute_signature(SK, request.headers["X-Sdk-Date"], canonical)
    return expected == parsed.signature


def make_client(
    session: aiohttp.ClientSession,
    endpoint: str,
    *,
    retry: RetryConfig | None = None,
    auth: AkSkAuth | TokenAuth | None = None,
    observer: RecordingObserver | None = None,
    sleeps: list[float] | None = None,
    request_timeout: float = 5.0,
) -> EcsClient:
    async def record_sleep(seconds: float) -> None:
        if sleeps is not None:
            sleeps.append(seconds)

    return layered_client(
        session,
        endpoint,
        auth or AkSkAuth(Credential(AK, SK)),
        retry=retry or RetryConfig(max_attempts=4, base_delay=0.01, max_delay=0.05, deadline=10),
        observer=observer,
        http=HttpSettings(request_timeout=request_timeout),
        sleep=record_sleep if sleeps is not None else asyncio.sleep,
        rand=lambda: 1.0,
    )


async def test_create_sends_signed_compact_body_with_token_and_project(
    serve: Serve, session: aiohttp.ClientSession
) -> None:
    script = Script([json_reply(200, {**CREATED, "order_id": "CS1"}, {"X-Request-Id": "rq"})])
    observer = RecordingObserver()
    client = make_client(session, await serve(script.app()), observer=observer)
    result = await client.create_servers(BODY, TOKEN, PROJECT)
    assert (result.job_id, result.order_id, result.server_ids) == (
        CREATED["job_id"],
        "CS1",
        ("s-1", "s-2"),
    )
    assert (result.dry_run, result.request_id, result.attempts) == (False, "rq", 1)
    (seen,) = script.seen
    assert seen.signature_ok
    assert (seen.method, seen.raw_path) == ("POST", f"/v1.1/{PROJECT}/cloudservers")
    assert seen.body == json.dumps(BODY, separators=(",", ":"), ensure_ascii=False).encode()
    assert seen.headers["Content-Type"] == "application/json;charset=utf-8"
    assert seen.headers["X-Client-Token"] == TOKEN
    assert seen.headers["X-Project-Id"] == PROJECT
    parsed = parse_authorization(seen.headers["Authorization"])
    assert parsed is not None
    assert {"content-type", "host", "x-client-token", "x-project-id", "x-sdk-date"} <= set(
        parsed.signed_headers
    )
    assert observer.calls == [("create", "ok")]


async def test_dry_run_202(serve: Serve, session: aiohttp.ClientSession) -> None:
    script = Script([raw_reply(202, b"")])
    client = make_client(session, await serve(script.app()))
    result = await client.create_servers({**BODY, "dry_run": True}, TOKEN, PROJECT)
    assert result.dry_run
    assert (result.job_id, result.server_ids) == (None, ())


async def test_security_token_is_sent_and_signed(
    serve: Serve, session: aiohttp.ClientSession
) -> None:
    script = Script([json_reply(200, CREATED)])
    auth = AkSkAuth(Credential(AK, SK, security_token="temp-security-token"))
    client = make_client(session, await serve(script.app()), auth=auth)
    await client.create_servers(BODY, TOKEN, PROJECT)
    (seen,) = script.seen
    assert seen.signature_ok
    assert seen.headers["X-Security-Token"] == "temp-security-token"
    parsed = parse_authorization(seen.headers["Authorization"])
    assert parsed is not None
    assert "x-security-token" in parsed.signed_headers
    assert "temp-security-token" not in repr(auth)
    assert SK not in repr(auth)


async def test_no_retry_on_400_and_error_fields(
    serve: Serve, session: aiohttp.ClientSession
) -> None:
    error = {"error": {"code": "Ecs.0005", "message": "bad", "details": [{"code": "Ecs.0039"}]}}
    script = Script([json_reply(400, error, {"X-Request-Id": "rq-400"})])
    observer = RecordingObserver()
    client = make_client(session, await serve(script.app()), observer=observer, sleeps=[])
    with pytest.raises(EcsApiError) as caught:
        await client.create_servers(BODY, TOKEN, PROJECT)
    err = caught.value
    assert (err.code, err.http_status, err.request_id, err.retryable) == (
        "Ecs.0005",
        400,
        "rq-400",
        False,
    )
    assert err.details == [{"code": "Ecs.0039"}]
    assert len(script.seen) == 1
    assert observer.calls == [("create", "client_error")]
    assert observer.retries == []


@pytest.mark.parametrize(
    ("status", "document", "code"),
    [
        (400, {"error": {"code": "Ecs.0122", "message": "token reused"}}, "Ecs.0122"),
        (400, {"error": {"code": "Ecs.0123", "message": "bad token"}}, "Ecs.0123"),
        (400, {"error": {"code": "Ecs.0124", "message": "token expired"}}, "Ecs.0124"),
        (400, {"error": {"code": "Ecs.0001", "message": "quota"}}, "Ecs.0001"),
        (403, {"error": {"code": "Ecs.0003", "message": "frozen"}}, "Ecs.0003"),
        (401, {"error_code": "APIG.0301", "error_msg": "verify aksk signature fail"}, "APIG.0301"),
    ],
)
async def test_permanent_errors_are_raised_once(
    serve: Serve, session: aiohttp.ClientSession, status: int, document: object, code: str
) -> None:
    script = Script([json_reply(status, document)])
    client = make_client(session, await serve(script.app()), sleeps=[])
    with pytest.raises(EcsApiError) as caught:
        await client.create_servers(BODY, TOKEN, PROJECT)
    assert (caught.value.code, caught.value.http_status) == (code, status)
    assert not caught.value.retryable
    assert len(script.seen) == 1


async def test_retry_on_429_honours_retry_after_and_resends_the_same_request(
    serve: Serve, session: aiohttp.ClientSession
) -> None:
    throttled = {"error_code": "APIG.0308", "error_msg": "over ratelimit", "request_id": "t"}
    script = Script([json_reply(429, throttled, {"Retry-After": "2"}), json_reply(200, CREATED)])
    observer, sleeps = RecordingObserver(), list[float]()
    client = make_client(session, await serve(script.app()), observer=observer, sleeps=sleeps)
    result = await client.create_servers(BODY, TOKEN, PROJECT)
    assert result.attempts == 2
    assert sleeps == [2.0]  # Retry-After beats the (smaller) jittered backoff
    first, second = script.seen
    assert first.body == second.body
    assert first.headers["X-Client-Token"] == second.headers["X-Client-Token"] == TOKEN
    assert second.signature_ok
    assert observer.calls == [("create", "throttled"), ("create", "ok")]
    assert observer.retries == [("create", "throttled")]


async def test_retry_on_5xx_then_success(serve: Serve, session: aiohttp.ClientSession) -> None:
    script = Script(
        [
            raw_reply(502, b"<html>bad gateway</html>"),
            json_reply(500, {"error": {"code": "Ecs.0002", "message": "try again later"}}),
            json_reply(200, CREATED),
        ]
    )
    observer, sleeps = RecordingObserver(), list[float]()
    client = make_client(session, await serve(script.app()), observer=observer, sleeps=sleeps)
    result = await client.create_servers(BODY, TOKEN, PROJECT)
    assert result.attempts == 3
    assert sleeps == [0.01, 0.02]
    assert [o for _, o in observer.calls] == ["server_error", "server_error", "ok"]


async def test_garbled_200_is_retried(serve: Serve, session: aiohttp.ClientSession) -> None:
    script = Script([raw_reply(200, b"<html>"), json_reply(200, CREATED)])
    client = make_client(session, await serve(script.app()), sleeps=[])
    assert (await client.create_servers(BODY, TOKEN, PROJECT)).attempts == 2


async def test_dropped_connection_is_a_retryable_network_error(
    serve: Serve, session: aiohttp.ClientSession
) -> None:
    script = Script([drop, json_reply(200, CREATED)])
    observer = RecordingObserver()
    client = make_client(session, await serve(script.app()), observer=observer, sleeps=[])
    result = await client.create_servers(BODY, TOKEN, PROJECT)
    assert result.attempts == 2
    assert observer.calls == [("create", "network_error"), ("create", "ok")]


async def test_timeout_then_gives_up_after_max_attempts(
    serve: Serve, session: aiohttp.ClientSession
) -> None:
    script = Script([slow(2.0)])
    retry = RetryConfig(max_attempts=2, base_delay=0.0, max_delay=0.0, deadline=10)
    client = make_client(
        session, await serve(script.app()), retry=retry, sleeps=[], request_timeout=0.2
    )
    with pytest.raises(EcsApiError) as caught:
        await client.create_servers(BODY, TOKEN, PROJECT)
    assert (caught.value.code, caught.value.http_status, caught.value.attempts) == (
        "timeout",
        None,
        2,
    )


async def test_deadline_exhaustion_raises_the_last_error(
    serve: Serve, session: aiohttp.ClientSession
) -> None:
    script = Script([json_reply(503, {"error": {"code": "Ecs.0000", "message": "busy"}})])
    retry = RetryConfig(max_attempts=1000, base_delay=0.05, max_delay=0.05, deadline=0.5)
    client = make_client(session, await serve(script.app()), retry=retry)
    loop = asyncio.get_running_loop()
    async with loop_lag() as lag:
        started = loop.time()
        with pytest.raises(EcsApiError) as caught:
            await client.create_servers(BODY, TOKEN, PROJECT)
        elapsed = loop.time() - started
    # the last error: the server's 503, or a timeout when the deadline cut the last attempt short
    assert caught.value.http_status == 503 or caught.value.code == "timeout"
    assert caught.value.retryable
    assert 1 < caught.value.attempts < 1000
    assert elapsed < 0.5 + 0.3 + lag.seconds


async def test_deadline_also_bounds_a_slow_attempt(
    serve: Serve, session: aiohttp.ClientSession
) -> None:
    script = Script([slow(5.0)])
    retry = RetryConfig(max_attempts=5, base_delay=0.0, max_delay=0.0, deadline=0.3)
    client = make_client(session, await serve(script.app()), retry=retry, request_timeout=30)
    loop = asyncio.get_running_loop()
    async with loop_lag() as lag:
        started = loop.time()
        with pytest.raises(EcsApiError) as caught:
            await client.create_servers(BODY, TOKEN, PROJECT)
        elapsed = loop.time() - started
    assert caught.value.code == "timeout"
    assert elapsed < 1.0 + lag.seconds


async def test_get_job_and_purged_job(serve: Serve, session: aiohttp.ClientSession) -> None:
    job = {"job_id": "j1", "status": "SUCCESS", "entities": {"sub_jobs": [
        {"status": "SUCCESS", "entities": {"server_id": "s-1"}}]}}  # fmt: skip
    script = Script(
        [
            json_reply(200, job, {"X-Request-Id": "rj"}),
            json_reply(404, {"error": {"code": "Ecs.0616", "message": "job not found"}}),
        ]
    )
    client = make_client(session, await serve(script.app()), sleeps=[])
    status = await client.get_job("j1", PROJECT)
    assert (status.status, status.server_ids, status.request_id) == ("SUCCESS", ("s-1",), "rj")
    assert script.seen[0].raw_path == f"/v1/{PROJECT}/jobs/j1"
    assert script.seen[0].signature_ok
    assert script.seen[0].body == b""
    with pytest.raises(EcsApiError) as caught:
        await client.get_job("j1", PROJECT)
    assert is_not_found(caught.value)
    assert caught.value.code == "Ecs.0616"
    assert len(script.seen) == 2


async def test_path_segments_are_escaped(serve: Serve, session: aiohttp.ClientSession) -> None:
    script = Script([json_reply(200, {"status": "RUNNING"})])
    client = make_client(session, await serve(script.app()))
    await client.get_job("../../x y", PROJECT)
    assert script.seen[0].raw_path == f"/v1/{PROJECT}/jobs/..%2F..%2Fx%20y"
    assert script.seen[0].signature_ok


async def test_retry_logs_carry_no_secrets(serve: Serve, session: aiohttp.ClientSession) -> None:
    script = Script([json_reply(503, {"error": {"code": "Ecs.0000", "message": "m"}}),
                     json_reply(200, CREATED)])  # fmt: skip
    client = make_client(session, await serve(script.app()), sleeps=[])
    with structlog.testing.capture_logs() as logs:
        await client.create_servers(BODY, TOKEN, PROJECT)
    assert [entry["event"] for entry in logs] == ["ecs_api_retry"]
    text = json.dumps(logs)
    for secret in (SK, "S3cret!pass", "Authorization", "SDK-HMAC-SHA256"):
        assert secret not in text


# --- IAM token auth ---


@dataclass
class Iam:
    """A fake IAM issuing numbered tokens, and an ECS that accepts only the current one."""

    issued: int = 0
    requests: list[dict[str, Any]] = field(default_factory=list)
    valid: set[str] = field(default_factory=set)
    expires_at: str = "2099-01-01T00:00:00.000000Z"
    delay: float = 0.0
    ecs_rejects_all: bool = False

    async def tokens(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(await request.json())
        await asyncio.sleep(self.delay)
        body = self.requests[-1]["auth"]["identity"]["password"]["user"]
        if body["password"] != "pw":
            return web.json_response(
                {"error": {"code": 401, "message": "The username or password is wrong.",
                           "title": "Unauthorized"}}, status=401)  # fmt: skip
        self.issued += 1
        token = f"token-{self.issued}"
        self.valid.add(token)
        return web.json_response(
            {"token": {"expires_at": self.expires_at}},
            status=201,
            headers={"X-Subject-Token": token},
        )

    async def ecs(self, request: web.Request) -> web.StreamResponse:
        if self.ecs_rejects_all or request.headers.get("X-Auth-Token") not in self.valid:
            return web.json_response(
                {"error_code": "APIG.1002", "error_msg": "The token must be updated."}, status=401
            )
        return web.json_response({"status": "RUNNING", "seen": request.headers["X-Auth-Token"]})

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v3/auth/tokens", self.tokens)
        app.router.add_get("/v1/{project}/jobs/{job}", self.ecs)
        return app


async def _token_client(
    serve: Serve,
    session: aiohttp.ClientSession,
    iam: Iam,
    *,
    password: str | Path = "pw",
    clock: Callable[[], float] | None = None,
    observer: RecordingObserver | None = None,
) -> tuple[EcsClient, TokenAuth]:
    base = await serve(iam.app())
    extra: dict[str, Any] = {"clock": clock} if clock else {}
    if observer is not None:
        extra["observer"] = observer
    auth = TokenAuth(session, base, "domain", "user", password, PROJECT, **extra)
    return make_client(session, base, auth=auth, observer=observer, sleeps=[]), auth


async def test_token_is_fetched_once_cached_and_scoped_to_the_project(
    serve: Serve, session: aiohttp.ClientSession
) -> None:
    iam = Iam(delay=0.05)
    observer = RecordingObserver()
    client, auth = await _token_client(serve, session, iam, observer=observer)
    await asyncio.gather(*(client.get_job("j", PROJECT) for _ in range(5)))
    await client.get_job("j", PROJECT)
    assert iam.issued == 1
    (request,) = iam.requests
    assert request["auth"]["scope"] == {"project": {"id": PROJECT}}
    assert request["auth"]["identity"]["methods"] == ["password"]
    assert observer.calls.count(("iam", "ok")) == 1
    await client.get_job("j", "other-project")
    assert iam.issued == 2
    assert "pw" not in repr(auth)


async def test_token_refreshed_once_on_401(serve: Serve, session: aiohttp.ClientSession) -> None:
    iam = Iam()
    observer = RecordingObserver()
    client, _ = await _token_client(serve, session, iam, observer=observer)
    await client.get_job("j", PROJECT)
    iam.valid.clear()  # e.g. the password changed: every issued token is dead
    job = await client.get_job("j", PROJECT)
    assert job.status == "RUNNING"
    assert iam.issued == 2
    assert ("job", "token_refresh") in observer.retries


async def test_a_password_file_is_read_again_for_every_token(
    serve: Serve, session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    secret = tmp_path / "iam-password"
    secret.write_text("old-password\n")
    client, _ = await _token_client(serve, session, Iam(), password=secret)
    with pytest.raises(EcsApiError) as caught:
        await client.get_job("j", PROJECT)
    assert caught.value.http_status == 401
    secret.write_text("pw\n")  # the mounted secret was rotated
    assert (await client.get_job("j", PROJECT)).status == "RUNNING"


async def test_second_401_after_refresh_is_raised(
    serve: Serve, session: aiohttp.ClientSession
) -> None:
    iam = Iam(ecs_rejects_all=True)
    client, _ = await _token_client(serve, session, iam)
    with pytest.raises(EcsApiError) as caught:
        await client.get_job("j", PROJECT)
    assert (caught.value.http_status, caught.value.code) == (401, "APIG.1002")
    assert iam.issued == 2  # one refresh, not a loop


async def test_token_refreshed_before_expiry(serve: Serve, session: aiohttp.ClientSession) -> None:
    iam = Iam(expires_at="2030-01-01T12:00:00.000000Z")
    now = [datetime(2030, 1, 1, 11, 0, tzinfo=UTC).timestamp()]
    client, _ = await _token_client(serve, session, iam, clock=lambda: now[0])
    await client.get_job("j", PROJECT)
    now[0] += 45 * 60  # 15 min before expiry: still outside the 10 min refresh margin
    await client.get_job("j", PROJECT)
    assert iam.issued == 1
    now[0] += 6 * 60  # 9 min before expiry: refreshed
    await client.get_job("j", PROJECT)
    assert iam.issued == 2


async def test_wrong_password_is_a_permanent_iam_error(
    serve: Serve, session: aiohttp.ClientSession
) -> None:
    iam = Iam()
    observer = RecordingObserver()
    client, _ = await _token_client(
        serve, session, iam, password="Pa55-not-right", observer=observer
    )
    with pytest.raises(EcsApiError) as caught:
        await client.get_job("j", PROJECT)
    assert (caught.value.http_status, caught.value.code, caught.value.retryable) == (
        401,
        "401",
        False,
    )
    assert "Pa55-not-right" not in str(caught.value)
    assert observer.calls == [("iam", "client_error")]


def test_iam_url_accepts_base_or_full_url() -> None:
    full = "https://iam.ap-southeast-1.myhuaweicloud.com/v3/auth/tokens"
    assert str(iam_tokens_url(full)) == full + "?nocatalog=true"
    assert (
        str(iam_tokens_url("https://iam.x.com/"))
        == "https://iam.x.com/v3/auth/tokens?nocatalog=true"
    )
    assert default_endpoint("ap-southeast-1") == "https://ecs.ap-southeast-1.myhuaweicloud.com"


# --- TLS ---


def test_tls_verification_is_on_by_default() -> None:
    context = make_ssl_context(HttpSettings())
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname
    assert make_ssl_context(HttpSettings(verify_tls=False)) is False


@pytest.fixture(scope="module")
def self_signed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl not installed")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


async def test_tls_rejects_an_unknown_ca_and_trusts_a_configured_ca_file(
    self_signed: tuple[Path, Path],
) -> None:
    cert, key = self_signed
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert, key)
    script = Script([json_reply(200, CREATED)])
    runner = web.AppRunner(script.app())
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=server_context)
    await site.start()
    port = runner.addresses[0][1]
    endpoint = f"https://127.0.0.1:{port}"
    retry = RetryConfig(max_attempts=3, base_delay=0.0, max_delay=0.0, deadline=5)
    try:
        untrusted = HttpSettings()
        async with make_session(untrusted) as tls_session:
            auth = AkSkAuth(Credential(AK, SK))
            client = layered_client(tls_session, endpoint, auth, retry=retry, http=untrusted)
            with pytest.raises(EcsApiError) as caught:
                await client.create_servers(BODY, TOKEN, PROJECT)
        assert (caught.value.failure, caught.value.retryable) == (
            CallFailure.TLS_CERTIFICATE,
            False,
        )
        assert script.seen == []
        trusted = HttpSettings(ca_file=str(cert))
        async with make_session(trusted) as tls_session:
            auth = AkSkAuth(Credential(AK, SK))
            client = layered_client(tls_session, endpoint, auth, retry=retry, http=trusted)
            result = await client.create_servers(BODY, TOKEN, PROJECT)
        assert result.job_id == CREATED["job_id"]
        assert script.seen[0].signature_ok  # Host carries the port, as signed
    finally:
        await runner.cleanup()
