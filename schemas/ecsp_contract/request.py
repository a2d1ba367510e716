"""Pydantic v2 models of the body of `POST /v1.1/{project_id}/cloudservers` (the request contract).

Owns `CreateServersBody` and its sub-models, `to_wire` and the password/secret-reference helpers
re-exported from `ecsp_contract.password`. The models accept every attribute the official SDK can
send (`PrePaidServer` and everything under it) plus the few Terraform sends (`enable_jumbo_frame`,
`os:scheduler_hints.fault_domain`), under their wire names only (aliases for camelCase and
`os:scheduler_hints`, `hw:passthrough`, `hw:cpu_threads`: the Python attribute names are not
accepted, the API does not know them); every model forbids unknown fields (see
`ecsp_contract.extensions` for the operator's allow-list) and takes JSON types strictly (no "1"
for 1, no 1 for true) except where the API documents a looser reading (`hw:passthrough`,
`support_auto_recovery`). A rule is enforced only where the reference or the SDK documents the
value as an error; where the sources disagree, the looser one wins.

`to_wire(body)` returns the JSON the publisher sent: only fields that were set, nothing defaulted,
in the models' field order. That order is part of the byte-stable API body
(tests/schemas/golden): new fields go at the end of their model.

Rules spanning several fields are checked in `model_validator`s that raise a `PydanticCustomError`
with a `field` context entry; `ecsp_contract.problems.problems_from` appends it to the error
location so each problem names the exact JSON path (for example `server.root_volume.cluster_id`).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    model_validator,
)
from pydantic_core import PydanticCustomError

from ecsp_contract.constraints import (
    AddressPairIp,
    AdminPass,
    AutoTerminateTime,
    CmkId,
    Description,
    EnterpriseProjectId,
    LooseBool,
    Metadata,
    NicIp,
    NonEmptyStr,
    PositiveInt,
    ServerName,
    ServerTagKey,
    ServerTagValue,
    StringFlag,
    Tag,
    UserData,
    Uuid,
    UuidOrEmpty,
    VolumeType,
)
from ecsp_contract.password import admin_password_problems, secret_reference_name

__all__ = [
    "AllowedAddressPair",
    "Bandwidth",
    "CpuOptions",
    "CreateServersBody",
    "DataVolume",
    "DiskMetadata",
    "Eip",
    "EipExtendParam",
    "EnclaveOptions",
    "Ipv6Bandwidth",
    "MetadataOptions",
    "Nic",
    "PublicIp",
    "RootVolume",
    "SchedulerHints",
    "SecurityGroup",
    "SecurityOptions",
    "SerialConsoleOptions",
    "Server",
    "ServerExtendParam",
    "ServerTag",
    "VolumeExtendParam",
    "admin_password_problems",
    "secret_reference_name",
    "to_wire",
]

MAX_NICS = 12
MAX_DATA_VOLUMES = 59
"""The reference's 59 (the SDK says 23 for some flavors: the API decides)."""
MAX_TAGS = 10
MAX_COUNT = 100
PERIOD_LIMITS = {"month": 9, "year": 3}
PERFORMANCE_TYPES = {"iops": ("GPSSD2", "ESSD2"), "throughput": ("GPSSD2",)}
"""Disk types that take (and need) `iops` / `throughput` (SDK: "其他类型不能设置")."""


def _rule(field: str, message: str) -> PydanticCustomError:
    """A cross-field error located at `field` of the model that raises it."""
    return PydanticCustomError("cross_field", message, {"field": field})


class _WireModel(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")


class AllowedAddressPair(_WireModel):
    """`nics[].allowed_address_pairs[]`: an extra IP (or CIDR) / MAC the port may use."""

    ip_address: AddressPairIp | None = None
    mac_address: StrictStr | None = None


class Ipv6Bandwidth(_WireModel):
    """`nics[].ipv6_bandwidth`: the shared bandwidth to bind the IPv6 address to."""

    id: StrictStr | None = None


class Nic(_WireModel):
    """`nics[]`: one NIC; an existing port (`port_id`, takes priority) or a new one in a subnet."""

    model_config = ConfigDict(
        json_schema_extra={
            "anyOf": [
                {"required": ["subnet_id"], "properties": {"subnet_id": {"minLength": 1}}},
                {"required": ["port_id"], "properties": {"port_id": {"minLength": 1}}},
            ]
        }
    )

    subnet_id: UuidOrEmpty | None = None
    port_id: UuidOrEmpty | None = None
    ip_address: NicIp | None = None
    ipv6_enable: StrictBool | None = None
    ipv6_bandwidth: Ipv6Bandwidth | None = None
    allowed_address_pairs: list[AllowedAddressPair] | None = None
    efi_enable: StrictBool | None = None

    @model_validator(mode="after")
    def _needs_subnet_or_port(self) -> Self:
        if not self.subnet_id and not self.port_id:
            raise _rule("subnet_id", "required when port_id is not given")
        return self


class Bandwidth(_WireModel):
    """`publicip.eip.bandwidth`: dedicated (PER, with `size`) or shared (WHOLE, with `id`)."""

    model_config = ConfigDict(
        json_schema_extra={
            "allOf": [
                {
                    "if": {"properties": {"sharetype": {"const": "PER"}}},
                    "then": {"required": ["size"], "properties": {"size": {"type": "integer"}}},
                },
                {
                    "if": {"properties": {"sharetype": {"const": "WHOLE"}}},
                    "then": {
                        "required": ["id"],
                        "properties": {"id": {"type": "string", "minLength": 1}},
                    },
                },
                {
                    "if": {
                        "required": ["sharetype", "id"],
                        "properties": {"sharetype": {"const": "WHOLE"}, "id": {"minLength": 1}},
                    },
                    "else": {
                        "properties": {
                            "size": {"minimum": 1, "maximum": 2000},
                            "chargemode": {"enum": ["", "traffic", None]},
                        }
                    },
                },
            ]
        }
    )

    size: StrictInt | None = Field(
        default=None, description="1-2000 Mbit/s; ignored for WHOLE with an id."
    )
    sharetype: Literal["PER", "WHOLE"]
    chargemode: StrictStr | None = Field(
        default=None,
        description='Absent or "" bills by bandwidth; "traffic" bills by traffic; ignored for '
        "WHOLE with an id.",
    )
    id: StrictStr | None = None

    @model_validator(mode="after")
    def _size_or_id(self) -> Self:
        if self.sharetype == "PER" and self.size is None:
            raise _rule("size", "required when sharetype is PER")
        if self.sharetype == "WHOLE" and not self.id:
            raise _rule("id", "required (the shared bandwidth ID) when sharetype is WHOLE")
        if self.sharetype == "WHOLE":
            return self  # size and chargemode are ignored for an existing shared bandwidth
        if self.size is not None and not 1 <= self.size <= 2000:
            raise _rule("size", "must be 1-2000 (Mbit/s)")
        if self.chargemode not in (None, "", "traffic"):
            raise _rule("chargemode", 'must be absent, "" (by bandwidth) or "traffic"')
        return self


class EipExtendParam(_WireModel):
    """`publicip.eip.extendparam`: billing of the new EIP."""

    charging_mode: Literal["prePaid", "postPaid"] | None = Field(default=None, alias="chargingMode")


class Eip(_WireModel):
    """`publicip.eip`: a new EIP created with the server."""

    iptype: NonEmptyStr
    bandwidth: Bandwidth
    extendparam: EipExtendParam | None = None


class PublicIp(_WireModel):
    """`publicip`: bind an existing EIP (`id`, status DOWN) or create one (`eip`)."""

    model_config = ConfigDict(
        json_schema_extra={"oneOf": [{"required": ["id"]}, {"required": ["eip"]}]}
    )

    id: Uuid | None = None
    eip: Eip | None = None
    delete_on_termination: StrictBool | None = None

    @model_validator(mode="after")
    def _id_or_eip(self) -> Self:
        if self.id is None and self.eip is None:
            raise _rule("eip", "either id or eip is required")
        if self.id is not None and self.eip is not None:
            raise _rule("eip", "give either id or eip, not both")
        return self


class VolumeExtendParam(_WireModel):
    """`root_volume.extendparam` / `data_volumes[].extendparam`."""

    resource_spec_code: StrictStr | None = Field(default=None, alias="resourceSpecCode")
    resource_type: StrictStr | None = Field(default=None, alias="resourceType")
    snapshot_id: StrictStr | None = Field(default=None, alias="snapshotId")


class DiskMetadata(_WireModel):
    """`root_volume.metadata` / `data_volumes[].metadata`: disk encryption."""

    system_encrypted: Literal["0", "1"] | None = Field(default=None, alias="__system__encrypted")
    system_cmkid: CmkId | None = Field(default=None, alias="__system__cmkid")


def _performance_schema(field: str, types: tuple[str, ...]) -> list[dict[str, Any]]:
    """`field` is required for `types` and must be absent (or null) for every other type."""
    return [
        {
            "if": {"properties": {"volumetype": {"enum": list(types)}}},
            "then": {"required": [field], "properties": {field: {"type": "integer"}}},
            "else": {"properties": {field: {"type": "null"}}},
        }
    ]


_DISK_SCHEMA_RULES: dict[str, Any] = {
    "allOf": [
        {
            "if": {
                "required": ["cluster_type"],
                "properties": {"cluster_type": {"type": "string"}},
            },
            "then": {"required": ["cluster_id"], "properties": {"cluster_id": {"minLength": 1}}},
        },
        *_performance_schema("iops", PERFORMANCE_TYPES["iops"]),
        *_performance_schema("throughput", PERFORMANCE_TYPES["throughput"]),
    ],
}
"""The cross-field disk rules of `_check_disk`, for the exported JSON Schema."""


def _check_disk(
    volumetype: str,
    iops: int | None,
    throughput: int | None,
    cluster_type: str | None,
    cluster_id: str | None,
) -> None:
    if cluster_type is not None and not cluster_id:
        raise _rule("cluster_id", "required when cluster_type is set")
    for field, value in (("iops", iops), ("throughput", throughput)):
        types = PERFORMANCE_TYPES[field]
        if volumetype in types and value is None:
            raise _rule(field, f"required for volumetype {volumetype}")
        if volumetype not in types and value is not None:
            raise _rule(field, f"only for volumetype {' or '.join(types)}")


class RootVolume(_WireModel):
    """`root_volume`: the system disk."""

    model_config = ConfigDict(json_schema_extra=_DISK_SCHEMA_RULES)

    volumetype: VolumeType
    size: Annotated[StrictInt, Field(ge=0, le=1024)] | None = Field(
        default=None, description="1-1024 GiB; 0 or absent: the image's minimum (min_disk)."
    )
    iops: PositiveInt | None = None
    throughput: PositiveInt | None = None
    extendparam: VolumeExtendParam | None = None
    metadata: DiskMetadata | None = None
    cluster_type: Literal["DSS"] | None = None
    cluster_id: StrictStr | None = None
    passthrough: LooseBool | None = Field(default=None, alias="hw:passthrough")

    @model_validator(mode="after")
    def _disk_rules(self) -> Self:
        _check_disk(self.volumetype, self.iops, self.throughput, self.cluster_type, self.cluster_id)
        return self


class DataVolume(_WireModel):
    """`data_volumes[]`: one data disk created with the server."""

    model_config = ConfigDict(
        json_schema_extra={
            "allOf": [
                *_DISK_SCHEMA_RULES["allOf"],
                {
                    "if": {
                        "required": ["data_image_id"],
                        "properties": {"data_image_id": {"type": "string"}},
                    },
                    "then": {"properties": {"metadata": {"type": "null"}}},
                },
            ]
        }
    )

    volumetype: VolumeType
    size: Annotated[StrictInt, Field(ge=10, le=32768)]
    iops: PositiveInt | None = None
    throughput: PositiveInt | None = None
    shareable: StrictBool | None = Field(default=None, description="Deprecated: use multiattach.")
    multiattach: StrictBool | None = None
    passthrough: LooseBool | None = Field(default=None, alias="hw:passthrough")
    extendparam: VolumeExtendParam | None = None
    cluster_type: Literal["DSS"] | None = None
    cluster_id: StrictStr | None = None
    metadata: DiskMetadata | None = None
    data_image_id: Uuid | None = None
    delete_on_termination: StrictBool | None = None

    @model_validator(mode="after")
    def _disk_rules(self) -> Self:
        _check_disk(self.volumetype, self.iops, self.throughput, self.cluster_type, self.cluster_id)
        if (
            self.shareable is not None
            and self.multiattach is not None
            and self.shareable != self.multiattach
        ):
            raise _rule("multiattach", "must equal shareable when both are given")
        if self.data_image_id is not None and self.metadata is not None:
            raise _rule("metadata", "not allowed with data_image_id (a data image sets it)")
        return self


class SecurityGroup(_WireModel):
    """`security_groups[]`: an empty or absent id is taken as none by the API (SDK)."""

    id: UuidOrEmpty | None = None


class ServerExtendParam(_WireModel):
    """`server.extendparam`: billing and other options; the flags are the strings "true"/"false"."""

    model_config = ConfigDict(
        json_schema_extra={
            "allOf": [
                {
                    "if": {
                        "properties": {"chargingMode": {"const": "prePaid"}},
                        "required": ["chargingMode"],
                    },
                    "then": {"required": ["periodType", "periodNum"]},
                },
                {
                    "if": {
                        "properties": {"periodType": {"const": "year"}},
                        "required": ["periodType"],
                    },
                    "then": {"properties": {"periodNum": {"maximum": 3}}},
                },
            ]
        }
    )

    charging_mode: Literal["prePaid", "postPaid"] | None = Field(default=None, alias="chargingMode")
    region_id: StrictStr | None = Field(default=None, alias="regionID")
    period_type: Literal["month", "year"] | None = Field(default=None, alias="periodType")
    period_num: Annotated[StrictInt, Field(ge=1, le=9)] | None = Field(
        default=None, alias="periodNum", description="1-9 for month, 1-3 for year."
    )
    is_auto_renew: StringFlag | None = Field(default=None, alias="isAutoRenew")
    is_auto_pay: StringFlag | None = Field(default=None, alias="isAutoPay")
    enterprise_project_id: EnterpriseProjectId | None = None
    support_auto_recovery: LooseBool | None = None
    market_type: Literal["spot"] | None = Field(default=None, alias="marketType")
    spot_price: StrictStr | None = Field(default=None, alias="spotPrice")
    disk_prior: StringFlag | None = Field(default=None, alias="diskPrior")
    spot_duration_hours: PositiveInt | None = None
    spot_duration_count: PositiveInt | None = None
    interruption_policy: Literal["immediate"] | None = None
    cb_csbs_backup: StrictStr | None = Field(default=None, alias="CB_CSBS_BACKUP")

    @model_validator(mode="after")
    def _billing_rules(self) -> Self:
        if self.charging_mode == "prePaid":
            if self.period_type is None:
                raise _rule("periodType", "required when chargingMode is prePaid")
            if self.period_num is None:
                raise _rule("periodNum", "required when chargingMode is prePaid")
        if self.period_type is not None and self.period_num is not None:
            limit = PERIOD_LIMITS[self.period_type]
            if self.period_num > limit:
                raise _rule("periodNum", f"must be 1-{limit} when periodType is {self.period_type}")
        if (
            self.spot_duration_hours is not None
            and self.spot_duration_hours < 6
            and self.spot_duration_count not in (None, 1)
        ):
            raise _rule("spot_duration_count", "must be 1 when spot_duration_hours is below 6")
        return self


class SchedulerHints(_WireModel):
    """`os:scheduler_hints`: server group and dedicated-host placement."""

    group: Uuid | None = None
    tenancy: Literal["shared", "dedicated"] | None = None
    dedicated_host_id: StrictStr | None = None
    fault_domain: StrictStr | None = Field(default=None, description="Sent by Terraform.")


class ServerTag(_WireModel):
    """`server_tags[]`."""

    key: ServerTagKey
    value: ServerTagValue | None = None


class CpuOptions(_WireModel):
    """`cpu_options`: `hw:cpu_threads` 1 disables hyper-threading, 2 enables it."""

    cpu_threads: Annotated[StrictInt, Field(ge=1, le=2)] | None = Field(
        default=None, alias="hw:cpu_threads"
    )


class SecurityOptions(_WireModel):
    """`security_options`: secure boot and vTPM (SDK SecurityOptions)."""

    secure_boot_enabled: StrictBool | None = None
    tpm_enabled: StrictBool | None = None


class SerialConsoleOptions(_WireModel):
    """`serial_console_options` (SDK SerialConsoleOptions)."""

    enabled: StrictBool | None = None


class MetadataOptions(_WireModel):
    """`metadata_options`: the metadata service (SDK UpdateServerMetadataOptionsRequestBody)."""

    http_endpoint: StrictStr | None = None
    http_tokens: StrictStr | None = None


class EnclaveOptions(_WireModel):
    """`enclave_options` (SDK EnclaveOptions; Terraform sends it too)."""

    enabled: StrictBool | None = None


def _unique_tag_keys(tags: list[ServerTag]) -> list[ServerTag]:
    seen: set[str] = set()
    for index, tag in enumerate(tags):
        if tag.key in seen:
            raise PydanticCustomError(
                "cross_field", "duplicate key (keys must be unique)", {"field": f"[{index}].key"}
            )
        seen.add(tag.key)
    return tags


def _prepaid_schema() -> dict[str, Any]:
    """The prePaid rules of `Server._prepaid_rules`, for the exported JSON Schema."""
    no_performance = {"properties": {"iops": {"type": "null"}, "throughput": {"type": "null"}}}
    prepaid = {
        "required": ["extendparam"],
        "properties": {
            "extendparam": {
                "required": ["chargingMode"],
                "properties": {"chargingMode": {"const": "prePaid"}},
            }
        },
    }
    return {
        "allOf": [
            {
                "if": prepaid,
                "then": {
                    "properties": {
                        "root_volume": no_performance,
                        "data_volumes": {
                            "items": {
                                **no_performance,
                                "not": {
                                    "required": ["delete_on_termination"],
                                    "properties": {"delete_on_termination": {"const": True}},
                                },
                            }
                        },
                    }
                },
            },
            {
                "if": {
                    "allOf": [
                        prepaid,
                        {
                            "required": ["key_name"],
                            "properties": {"key_name": {"type": "string", "minLength": 1}},
                        },
                    ]
                },
                "then": {
                    "required": ["metadata"],
                    "properties": {"metadata": {"type": "object", "required": ["op_svc_userid"]}},
                },
            },
        ]
    }


class Server(_WireModel):
    """`server`: everything about the servers to create."""

    model_config = ConfigDict(json_schema_extra=_prepaid_schema())

    image_ref: Uuid = Field(alias="imageRef")
    flavor_ref: NonEmptyStr = Field(alias="flavorRef")
    name: ServerName
    user_data: UserData | None = None
    admin_pass: AdminPass | None = Field(default=None, alias="adminPass")
    key_name: StrictStr | None = None
    vpcid: Uuid
    nics: Annotated[list[Nic], Field(min_length=1, max_length=MAX_NICS)]
    publicip: PublicIp | None = None
    count: Annotated[StrictInt, Field(ge=1, le=MAX_COUNT)] | None = None
    is_auto_rename: StrictBool | None = Field(default=None, alias="isAutoRename")
    root_volume: RootVolume
    data_volumes: Annotated[list[DataVolume], Field(max_length=MAX_DATA_VOLUMES)] | None = None
    security_groups: list[SecurityGroup] | None = None
    availability_zone: StrictStr | None = None
    batch_create_in_multi_az: StrictBool | None = None
    extendparam: ServerExtendParam | None = None
    metadata: Metadata | None = None
    scheduler_hints: SchedulerHints | None = Field(default=None, alias="os:scheduler_hints")
    tags: Annotated[list[Tag], Field(max_length=MAX_TAGS)] | None = None
    server_tags: (
        Annotated[list[ServerTag], Field(max_length=MAX_TAGS), AfterValidator(_unique_tag_keys)]
        | None
    ) = None
    description: Description | None = None
    auto_terminate_time: AutoTerminateTime | None = None
    cpu_options: CpuOptions | None = None
    security_options: SecurityOptions | None = None
    serial_console_options: SerialConsoleOptions | None = None
    metadata_options: MetadataOptions | None = None
    enclave_options: EnclaveOptions | None = None
    enable_jumbo_frame: StrictBool | None = Field(default=None, description="Sent by Terraform.")

    @model_validator(mode="after")
    def _prepaid_rules(self) -> Self:
        if self.extendparam is None or self.extendparam.charging_mode != "prePaid":
            return self
        if self.key_name and "op_svc_userid" not in (self.metadata or {}):
            raise _rule(
                "metadata.op_svc_userid", "required for prePaid servers that log in with key_name"
            )
        disks: list[tuple[str, RootVolume | DataVolume]] = [("root_volume", self.root_volume)]
        disks += [(f"data_volumes[{i}]", disk) for i, disk in enumerate(self.data_volumes or [])]
        for path, disk in disks:
            for field in ("iops", "throughput"):
                if getattr(disk, field) is not None:
                    raise _rule(f"{path}.{field}", "only for pay-per-use (postPaid) disks")
            if isinstance(disk, DataVolume) and disk.delete_on_termination is True:
                raise _rule(
                    f"{path}.delete_on_termination", "only for pay-per-use (postPaid) servers"
                )
        return self

    @property
    def admin_pass_reference(self) -> str | None:
        """NAME when `adminPass` is a `$NAME` secret reference, else None."""
        if self.admin_pass is None:
            return None
        return secret_reference_name(self.admin_pass)


class CreateServersBody(_WireModel):
    """The whole request body: `{"server": {...}, "dry_run": bool?}`."""

    model_config = ConfigDict(
        title="ecs.provisioning.request",
        json_schema_extra={
            "description": (
                "Body of POST /v1.1/{project_id}/cloudservers, published as the value of a "
                "message on the requests topic."
            )
        },
    )

    server: Server
    dry_run: StrictBool | None = Field(
        default=None, description="true: only check the request; no server is created."
    )


def to_wire(body: BaseModel) -> dict[str, Any]:
    """The JSON object the publisher meant: wire names, only the fields that were set."""
    return body.model_dump(mode="json", by_alias=True, exclude_unset=True)
