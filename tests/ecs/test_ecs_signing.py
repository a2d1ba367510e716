"""Signer: the SDK's published vectors and equality with the official signer on random requests."""

from __future__ import annotations

import random
import string
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

import pytest
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.sdk_request import SdkRequest
from huaweicloudsdkcore.signer.signer import Signer

from worker.ecs.signing import (
    ALGORITHM,
    SDK_DATE_FORMAT,
    ParsedAuthorization,
    canonical_query,
    canonical_request,
    canonical_uri,
    compute_signature,
    parse_authorization,
    sign_request,
    signed_header_names,
)

VECTOR_HOST = "service.endpoint.myhuaweicloud.com"
VECTOR_HEADERS = {"X-Sdk-Date": "20200608T023900Z", "TEST_UNDERSCORE": "TEST_VALUE"}


# --- the SDK's own published test vectors (huaweicloud-sdk-core/tests/test_signer.py) ---


def test_vector_get_canonical_request_and_signature() -> None:
    names = signed_header_names({**VECTOR_HEADERS, "Host": VECTOR_HOST})
    assert names == ["host", "x-sdk-date"]
    canonical = canonical_request(
        "GET", "/resources", [("size", "1")], {**VECTOR_HEADERS, "Host": VECTOR_HOST}, names, b""
    )
    assert canonical == (
        "GET\n/resources/\nsize=1\nhost:service.endpoint.myhuaweicloud.com\n"
        "x-sdk-date:20200608T023900Z\n\nhost;x-sdk-date\n"
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    )
    headers = sign_request(
        "AccessKey", "SecretKey", "GET", VECTOR_HOST, "/resources", [("size", "1")],
        VECTOR_HEADERS, b"",
    )  # fmt: skip
    assert headers["Authorization"] == (
        "SDK-HMAC-SHA256 Access=AccessKey, SignedHeaders=host;x-sdk-date, "
        "Signature=cfb4171acec81de07d50e53d57eb77edd537414d66ddb1d7d780f128e12cd842"
    )
    assert headers["Host"] == VECTOR_HOST
    assert headers["TEST_UNDERSCORE"] == "TEST_VALUE"


def test_vector_post() -> None:
    body = b'{"name":"test","id":1}'
    headers = {**VECTOR_HEADERS, "Host": VECTOR_HOST}
    canonical = canonical_request(
        "POST", "/resources", [("size", "1")], headers, ["host", "x-sdk-date"], body
    )
    assert canonical.endswith("\n8ed555081b9961769014bc1182c629bb0fe68d7b01c1fc1caab4dc791f377e8c")
    assert compute_signature("SecretKey", "20200608T023900Z", canonical) == (
        "436b1ac0a1ae03705934bb70ef2f2e09f7bfed2117d731a38235053199323a1f"
    )


def test_vector_canonical_query() -> None:
    query = [
        ("limit", "1"), ("enable", "true"), ("test", "一 (&=?!#%.*)"), ("path", "/tmp/123"),
        ("multi", "3"), ("multi", "1"), ("multi", "2"),
    ]  # fmt: skip
    assert canonical_query(query) == (
        "enable=true&limit=1&multi=1&multi=2&multi=3&path=%2Ftmp%2F123"
        "&test=%E4%B8%80%20%28%26%3D%3F%21%23%25.%2A%29"
    )


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/", "/"),
        ("/v1.1/p/cloudservers", "/v1.1/p/cloudservers/"),
        ("/a b/ü", "/a%20b/%C3%BC/"),
        ("/already%2Fencoded", "/already/encoded/"),
        ("/x~y/", "/x~y/"),
    ],
)
def test_canonical_uri(path: str, expected: str) -> None:
    assert canonical_uri(path) == expected


def test_declared_payload_hash_is_used_only_for_a_non_empty_body() -> None:
    headers = {"X-Sdk-Content-Sha256": "UNSIGNED-PAYLOAD"}
    assert canonical_request("PUT", "/", [], headers, [], b"x").endswith("\nUNSIGNED-PAYLOAD")
    assert canonical_request("PUT", "/", [], headers, [], b"").endswith(
        "\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    )


def test_sign_request_adds_date_from_now_and_keeps_existing_host() -> None:
    now = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    out = sign_request("ak", "sk", "GET", "ignored:1", "/", [], {"host": "h:8443"}, b"", now=now)
    assert out["X-Sdk-Date"] == "20240102T030405Z"
    assert "Host" not in out
    assert out["host"] == "h:8443"
    parsed = parse_authorization(out["Authorization"])
    assert parsed == ParsedAuthorization(
        "ak", ("host", "x-sdk-date"), parsed.signature if parsed else ""
    )


def test_sign_request_converts_aware_now_to_utc() -> None:
    plus_two = datetime(2024, 1, 2, 7, 4, 5, tzinfo=timezone(timedelta(hours=2)))
    out = sign_request("ak", "sk", "GET", "h", "/", [], {}, b"", now=plus_two)
    assert out["X-Sdk-Date"] == "20240102T050405Z"


@pytest.fixture
def local_time_not_utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The process's local time zone is UTC+05:30 (no DST) for the test, then restored."""
    monkeypatch.setenv("TZ", "IST-5:30")
    time.tzset()
    assert time.localtime().tm_gmtoff == 5 * 3600 + 1800
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.usefixtures("local_time_not_utc")
def test_the_date_signed_is_utc_whatever_the_hosts_local_time() -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    out = sign_request("ak", "sk", "GET", "h", "/", [], {}, b"")
    after = datetime.now(UTC)
    signed = datetime.strptime(out["X-Sdk-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    assert before <= signed <= after


@pytest.mark.usefixtures("local_time_not_utc")
def test_a_naive_now_is_taken_as_utc_not_as_local_time() -> None:
    out = sign_request("ak", "sk", "GET", "h", "/", [], {}, b"", now=datetime(2024, 1, 2, 3, 4, 5))
    assert out["X-Sdk-Date"] == "20240102T030405Z"


def test_signature_changes_with_every_signed_input_only() -> None:
    headers = {"X-Sdk-Date": "20240102T030405Z", "X-Client-Token": "t"}

    def auth(
        method: str = "POST",
        path: str = "/p",
        query: tuple[tuple[str, str], ...] = (("a", "1"),),
        hdrs: dict[str, str] = headers,
        body: bytes = b"{}",
        sk: str = "sk",
    ) -> str:
        return sign_request("ak", sk, method, "h", path, query, hdrs, body)["Authorization"]

    reference = auth()
    variants = [
        auth(method="PUT"), auth(path="/q"), auth(query=(("a", "2"),)), auth(body=b"{ }"),
        auth(sk="other"), auth(hdrs={**headers, "X-Client-Token": "u"}),
    ]  # fmt: skip
    assert len({reference, *variants}) == len(variants) + 1
    assert auth(hdrs={**headers, "X_Unsigned": "anything"}) == reference


@pytest.mark.parametrize(
    "value",
    [
        "",
        "SDK-HMAC-SHA256",
        "AWS4-HMAC-SHA256 Access=a, SignedHeaders=h, Signature=s",
        "SDK-HMAC-SHA256 Access=a, SignedHeaders=h",
        "SDK-HMAC-SHA256 Access=, SignedHeaders=h, Signature=s",
        "SDK-HMAC-SHA256 Access=a, Access=b, SignedHeaders=h, Signature=s",
        "SDK-HMAC-SHA256 Access=a, SignedHeaders=h, Signature=s, Extra=x",
        "SDK-HMAC-SHA256 Access=a SignedHeaders=h Signature=s",
        "SDK-HMAC-SHA256 Access=a, SignedHeaders=, Signature=s",
        "SDK-HMAC-SHA256 Access=a, SignedHeaders=h, Signature=",
    ],
)
def test_parse_authorization_rejects_malformed(value: str) -> None:
    assert parse_authorization(value) is None


def test_parse_authorization_round_trip() -> None:
    parsed = parse_authorization(f"{ALGORITHM} Access=AK, SignedHeaders=a;b;c, Signature=ff00")
    assert parsed == ParsedAuthorization("AK", ("a", "b", "c"), "ff00")


def test_parse_authorization_splits_each_part_at_its_first_equals_sign() -> None:
    parsed = parse_authorization(f"{ALGORITHM} Access=AK==, SignedHeaders=host, Signature=ff")
    assert parsed == ParsedAuthorization("AK==", ("host",), "ff")


def test_a_signed_header_missing_from_the_request_is_canonicalised_empty() -> None:
    """The verifier (simulator) rebuilds the canonical request from the names the client says
    it signed; a name the request lacks contributes `name:` with an empty value."""
    canonical = canonical_request("GET", "/", [], {"host": "h"}, ["host", "x-missing"], b"")
    assert canonical.splitlines()[3:5] == ["host:h", "x-missing:"]


def test_a_date_header_already_present_in_any_case_is_signed_and_not_added_again() -> None:
    out = sign_request("ak", "sk", "GET", "h", "/", [], {"x-sdk-date": "20240102T030405Z"}, b"")
    assert out["x-sdk-date"] == "20240102T030405Z"
    assert "X-Sdk-Date" not in out


# --- randomized equality with the official signer ---

_UNICODE = "üé一二三🙂ß Ω"
_PUNCT = " !\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"


def _text(rng: random.Random, min_len: int = 0, max_len: int = 12) -> str:
    alphabet = string.ascii_letters + string.digits + _PUNCT + _UNICODE
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(min_len, max_len)))


def _header_name(rng: random.Random) -> str:
    alphabet = string.ascii_letters + string.digits + "-_"
    name = rng.choice(string.ascii_letters) + "".join(
        rng.choice(alphabet) for _ in range(rng.randint(0, 15))
    )
    return name


@dataclass(frozen=True)
class RandomRequest:
    method: str
    path: str
    query: list[tuple[str, str]]
    headers: dict[str, str]
    body: bytes


def _random_request(rng: random.Random) -> RandomRequest:
    method = rng.choice(["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "get", "post"])
    segments = [_text(rng, 0, 8).replace("/", "") for _ in range(rng.randint(0, 4))]
    path = "/" + "/".join(segments) + rng.choice(["", "/"])
    query = [(_text(rng, 1, 6), _text(rng, 0, 8)) for _ in range(rng.randint(0, 5))]
    if query and rng.random() < 0.4:  # repeated keys
        key = query[0][0]
        query += [(key, _text(rng, 0, 5)) for _ in range(rng.randint(1, 3))]
    headers: dict[str, str] = {}
    for _ in range(rng.randint(0, 6)):
        name = _header_name(rng)
        if name.lower() not in {k.lower() for k in headers} | {"host", "x-sdk-date"}:
            headers[name] = rng.choice(["", " padded ", _text(rng, 0, 20)])
    if rng.random() < 0.5:
        headers["X-Project-Id"] = f"{rng.getrandbits(128):032x}"
    if rng.random() < 0.3:
        headers["X-Security-Token"] = _text(rng, 10, 40)
    if rng.random() < 0.6:
        headers["Content-Type"] = rng.choice(
            ["application/json;charset=utf-8", "application/json", "text/plain", "application/bson"]
        )
    if rng.random() < 0.3:
        headers["Host"] = "override.example.com:8443"
    body = b"" if rng.random() < 0.35 else _text(rng, 1, 200).encode("utf-8")
    return RandomRequest(method, path, query, headers, body)


def _sdk_sign(ak: str, sk: str, host: str, req: RandomRequest, sdk_date: str) -> dict[str, str]:
    sdk_request = SdkRequest(
        method=req.method,
        schema="https",
        host=host,
        resource_path=req.path,
        query_params=list(req.query),
        header_params={**req.headers, "X-Sdk-Date": sdk_date},
        body=req.body,
    )
    Signer(BasicCredentials(ak, sk)).sign(sdk_request)
    return dict(sdk_request.header_params)


def test_equal_to_official_signer_on_1000_random_requests() -> None:
    rng = random.Random(20240611)
    start = datetime(2020, 1, 1, tzinfo=UTC)
    unsigned_payloads = 0
    for case in range(1000):
        req = _random_request(rng)
        ak = "".join(rng.choice(string.ascii_uppercase + string.digits) for _ in range(20))
        sk = _text(rng, 1, 40)
        host = rng.choice(["ecs.ap-southeast-1.myhuaweicloud.com", "127.0.0.1:8080"])
        moment = start + timedelta(seconds=rng.randint(0, 10**9))
        sdk_date = moment.strftime(SDK_DATE_FORMAT)
        expected = _sdk_sign(ak, sk, host, req, sdk_date)
        via_now = case % 2 == 0  # half pass the date as `now`, half as a header
        headers = req.headers if via_now else {**req.headers, "X-Sdk-Date": sdk_date}
        ours = sign_request(
            ak, sk, req.method, host, req.path, req.query, headers, req.body,
            now=moment if via_now else None,
        )  # fmt: skip
        assert ours["Authorization"] == expected["Authorization"], (case, req)
        assert {k.lower() for k in ours} == {k.lower() for k in expected}, (case, req)
        assert ours["X-Sdk-Date"] == sdk_date
        unsigned_payloads += ours.get("X-Sdk-Content-Sha256") == "UNSIGNED-PAYLOAD"
    assert unsigned_payloads > 50  # the generator really covers the non-JSON content path
