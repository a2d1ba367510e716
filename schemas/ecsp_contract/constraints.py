"""Reusable constrained field types of the create body, each with a clear error and a JSON Schema.

Owns the string formats the API checks (UUID IDs, names, IPv4 addresses, tags, timestamps,
base64 user data, ...). Every check raises a `PydanticCustomError` whose message names the rule
and never echoes the offending value, and every type carries the equivalent JSON Schema keywords
so the exported schema enforces the same rule in other languages (or, where JSON Schema cannot
say it exactly, a looser rule: the schema is never stricter than the models).

Sources of each rule: the API reference ("Creating an ECS", v1.1), the official SDK's model
docstrings (`huaweicloudsdkecs.v2.model.PrePaidServer*`) and Terraform's huaweicloud provider.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, StrictBool, StrictFloat, StrictInt, StrictStr
from pydantic_core import PydanticCustomError

from ecsp_contract.password import PASSWORD_SPECIALS, admin_password_problems, literal_password
from ecsp_contract.reserved import RESERVED_TAG_KEY_PATTERN

UUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
CHINESE = r"\u4e00-\u9fff"
"""CJK ideographs: the SDK allows Chinese characters in server names and `tags`."""
SERVER_NAME_PATTERN = rf"^[A-Za-z0-9_.{CHINESE}-]{{1,128}}$"
TAG_PATTERN = rf"^[A-Za-z0-9_{CHINESE}-]{{1,36}}\.[A-Za-z0-9_.{CHINESE}-]{{0,43}}$"
AUTO_TERMINATE_PATTERN = (
    r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]Z$"
)
USER_DATA_PATTERN = r"^[A-Za-z0-9+/\r\n]*(=[\r\n]*){0,2}$"
"""Base64 with optional line breaks (looser than the check: padding and length are not tested)."""
METADATA_KEY_PATTERN = r"^[A-Za-z0-9_:.-]{1,255}$"
SERVER_TAG_KEY_PATTERN = r"^[^\x00-\x1f=*<>\\,|/]{1,36}$"
SERVER_TAG_VALUE_PATTERN = r"^[^\x00-\x1f=*<>\\,|]{0,43}$"
DESCRIPTION_PATTERN = r"^[^<>]{0,85}$"
MAX_USER_DATA_BYTES = 32 * 1024
"""`user_data` limit: 32 KB before base64 encoding."""
CMK_ID_BYTES = 36
"""`__system__cmkid` is exactly 36 bytes (SDK PrePaidServerRootVolumeMetadata)."""
ANY_IPV4 = ipaddress.IPv4Network("0.0.0.0/0")


def _pattern_check(kind: str, pattern: str, message: str) -> Callable[[str], str]:
    compiled = re.compile(pattern)

    def check(value: str) -> str:
        if not compiled.fullmatch(value):
            raise PydanticCustomError(kind, message)
        return value

    return check


def _check_ipv4(value: str) -> str:
    try:
        ipaddress.IPv4Address(value)
    except ValueError:
        raise PydanticCustomError("ipv4", "must be an IPv4 address such as 192.168.0.10") from None
    return value


def _check_ipv4_or_empty(value: str) -> str:
    return value if value == "" else _check_ipv4(value)


def _check_address_pair_ip(value: str) -> str:
    try:
        network = ipaddress.ip_network(value, strict=False)
    except ValueError:
        raise PydanticCustomError(
            "ip_or_cidr", "must be an IP address or CIDR such as 192.168.0.0/24"
        ) from None
    if network == ANY_IPV4 and value.startswith("0.0.0.0/"):
        raise PydanticCustomError(
            "ip_or_cidr", 'must not be 0.0.0.0/0 (use "1.1.1.1/0" to turn off the address check)'
        )
    return value


def _check_auto_terminate_time(value: str) -> str:
    try:
        if not re.fullmatch(AUTO_TERMINATE_PATTERN, value):
            raise ValueError(value)
        datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ")
    except ValueError:
        raise PydanticCustomError(
            "utc_timestamp", "must be a UTC time yyyy-MM-ddTHH:mm:ssZ, e.g. 2020-09-25T12:05:00Z"
        ) from None
    return value


def _check_user_data(value: str) -> str:
    try:
        decoded = base64.b64decode(value.replace("\r", "").replace("\n", ""), validate=True)
    except binascii.Error:
        raise PydanticCustomError(
            "base64", "must be base64 (standard alphabet, padded; line breaks are allowed)"
        ) from None
    if len(decoded) > MAX_USER_DATA_BYTES:
        raise PydanticCustomError(
            "user_data_size",
            "must decode to at most {limit} bytes (decodes to {size})",
            {"limit": MAX_USER_DATA_BYTES, "size": len(decoded)},
        )
    return value


def _check_admin_pass(value: str) -> str:
    literal = literal_password(value)
    if literal is None:
        return value
    problems = admin_password_problems(literal)
    if problems:
        raise PydanticCustomError("password", "{problems}", {"problems": "; ".join(problems)})
    return value


def _check_cmk_id(value: str) -> str:
    if len(value.encode("utf-8")) != CMK_ID_BYTES:
        raise PydanticCustomError("cmk_id", "must be exactly 36 bytes (a KMS key ID)")
    return value


def _check_enterprise_project(value: str) -> str:
    if value != "0" and not re.fullmatch(UUID_PATTERN, value):
        raise PydanticCustomError("uuid", 'must be a UUID or "0" (the default project)')
    return value


def _check_metadata(value: dict[str, str]) -> dict[str, str]:
    if len(value) > 10:
        raise PydanticCustomError("metadata_size", "must have at most 10 pairs")
    key_pattern = re.compile(METADATA_KEY_PATTERN)
    for key, item in value.items():
        if not key_pattern.fullmatch(key):
            raise PydanticCustomError(
                "metadata_key",
                "key '{key}' must be 1-255 characters of letters, digits, _ - : .",
                {"key": key[:40]},
            )
        if len(item) > 255:
            raise PydanticCustomError(
                "metadata_value", "value of '{key}' must be at most 255 characters", {"key": key}
            )
    return value


Uuid = Annotated[
    StrictStr,
    AfterValidator(_pattern_check("uuid", UUID_PATTERN, "must be a UUID (8-4-4-4-12 hex digits)")),
    Field(json_schema_extra={"pattern": UUID_PATTERN, "format": "uuid"}),
]
UuidOrEmpty = Annotated[
    StrictStr,
    AfterValidator(
        _pattern_check("uuid", f"^$|{UUID_PATTERN}", 'must be a UUID (8-4-4-4-12 hex digits) or ""')
    ),
    Field(json_schema_extra={"anyOf": [{"const": ""}, {"pattern": UUID_PATTERN}]}),
]
ServerName = Annotated[
    StrictStr,
    AfterValidator(
        _pattern_check(
            "server_name",
            SERVER_NAME_PATTERN,
            "must be 1-128 characters of letters, digits, underscore, hyphen and period",
        )
    ),
    Field(json_schema_extra={"pattern": SERVER_NAME_PATTERN}),
]
Description = Annotated[
    StrictStr,
    AfterValidator(
        _pattern_check(
            "description", DESCRIPTION_PATTERN, "must be at most 85 characters without < or >"
        )
    ),
    Field(json_schema_extra={"pattern": DESCRIPTION_PATTERN}),
]
NicIp = Annotated[
    StrictStr,
    AfterValidator(_check_ipv4_or_empty),
    Field(
        description='IPv4 address; "" (or absent) lets the subnet assign one.',
        json_schema_extra={"anyOf": [{"const": ""}, {"format": "ipv4"}]},
    ),
]
AddressPairIp = Annotated[
    StrictStr,
    AfterValidator(_check_address_pair_ip),
    Field(
        description='IP address or CIDR; 0.0.0.0/0 is not allowed ("1.1.1.1/0" turns off the '
        "source/destination check).",
        json_schema_extra={"not": {"const": "0.0.0.0/0"}},
    ),
]
AutoTerminateTime = Annotated[
    StrictStr,
    AfterValidator(_check_auto_terminate_time),
    Field(json_schema_extra={"pattern": AUTO_TERMINATE_PATTERN}),
]
UserData = Annotated[
    StrictStr,
    AfterValidator(_check_user_data),
    Field(
        description=f"Base64 of at most {MAX_USER_DATA_BYTES} bytes (line breaks allowed). "
        "Secret: masked in events.",
        json_schema_extra={"contentEncoding": "base64", "pattern": USER_DATA_PATTERN},
    ),
]
AdminPass = Annotated[
    StrictStr,
    AfterValidator(_check_admin_pass),
    Field(
        description=(
            "A literal password (8-26 characters, 3 of: upper, lower, digit, special from "
            f"{PASSWORD_SPECIALS}; not containing root/administrator or their reverse) or a "
            "secret reference $NAME resolved by the worker; a literal that looks like $NAME is "
            "written $$NAME. "
            "Secret: masked in events."
        )
    ),
]
EnterpriseProjectId = Annotated[
    StrictStr,
    AfterValidator(_check_enterprise_project),
    Field(json_schema_extra={"anyOf": [{"const": "0"}, {"pattern": UUID_PATTERN}]}),
]
Tag = Annotated[
    StrictStr,
    AfterValidator(
        _pattern_check(
            "tag",
            TAG_PATTERN,
            'must be "key.value": key 1-36 letters, digits, _ or -; value at most 43 of those or .',
        )
    ),
    Field(
        description="key.value; a key starting with ecsp- (any case) is the worker's own: refused",
        json_schema_extra={"pattern": TAG_PATTERN, "not": {"pattern": RESERVED_TAG_KEY_PATTERN}},
    ),
]
ServerTagKey = Annotated[
    StrictStr,
    AfterValidator(
        _pattern_check(
            "server_tag_key",
            SERVER_TAG_KEY_PATTERN,
            "must be 1-36 characters without control characters or = * < > \\ , | /",
        )
    ),
    Field(
        description="A key starting with ecsp- (any case) is the worker's own: refused.",
        json_schema_extra={
            "pattern": SERVER_TAG_KEY_PATTERN,
            "not": {"pattern": RESERVED_TAG_KEY_PATTERN},
        },
    ),
]
ServerTagValue = Annotated[
    StrictStr,
    AfterValidator(
        _pattern_check(
            "server_tag_value",
            SERVER_TAG_VALUE_PATTERN,
            "must be at most 43 characters without control characters or = * < > \\ , |",
        )
    ),
    Field(json_schema_extra={"pattern": SERVER_TAG_VALUE_PATTERN}),
]
Metadata = Annotated[
    dict[StrictStr, StrictStr],
    AfterValidator(_check_metadata),
    Field(
        json_schema_extra={
            "maxProperties": 10,
            "propertyNames": {"pattern": METADATA_KEY_PATTERN},
            "additionalProperties": {"type": "string", "maxLength": 255},
        }
    ),
]
CmkId = Annotated[
    StrictStr,
    AfterValidator(_check_cmk_id),
    Field(min_length=CMK_ID_BYTES // 4, max_length=CMK_ID_BYTES, description="36 bytes."),
]
NonEmptyStr = Annotated[StrictStr, Field(min_length=1)]
VolumeType = Annotated[
    StrictStr,
    Field(
        min_length=1,
        description="SATA, SAS, SSD, GPSSD, co-p1, uh-l1, ESSD, GPSSD2, ESSD2 or a type of the "
        "region: the API checks it against the region and the flavor.",
    ),
]
LooseBool = Annotated[
    StrictBool | StrictStr | StrictInt | StrictFloat,
    Field(description="A Boolean; any other value is taken as false by the API."),
]
StringFlag = Literal["true", "false"]
PositiveInt = Annotated[StrictInt, Field(ge=1)]

__all__ = [
    "AddressPairIp",
    "AdminPass",
    "AutoTerminateTime",
    "CmkId",
    "Description",
    "EnterpriseProjectId",
    "LooseBool",
    "Metadata",
    "NicIp",
    "NonEmptyStr",
    "PositiveInt",
    "ServerName",
    "ServerTagKey",
    "ServerTagValue",
    "StringFlag",
    "Tag",
    "UserData",
    "Uuid",
    "UuidOrEmpty",
    "VolumeType",
]
