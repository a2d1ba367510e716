"""Create bodies built with the official SDK's models that, together, set every attribute it has.

`PrePaidServer` and everything under it (walked through each model's `attribute_map`). One body
cannot hold them all: `publicip` is either an existing EIP (`id`) or a new one (`eip`), and a
data disk made from a data image takes no `metadata`; so there are two servers, and
`unset_attributes` proves that their union leaves nothing out.
"""

from __future__ import annotations

import re
from typing import Any

from huaweicloudsdkcore.utils.http_utils import sanitize_for_serialization
from huaweicloudsdkecs.v2 import model as m

from tests.support.bodies import server_body

_BASE = server_body()["server"]
UUIDS = {
    "image": _BASE["imageRef"],
    "vpc": _BASE["vpcid"],
    "subnet": _BASE["nics"][0]["subnet_id"],
    "port": "0d6ba24b-0d22-4a27-9a0e-5d3a8a4c4d1a",
    "group": "cdbbfffe-ef18-47b4-a5c8-f61a984c0ecc",
    "sg": "6242ef48-4d35-49c8-8711-a6e54902e44a",
    "eip": "a0d4b26f-699d-49a0-bcc8-6f707a925abf",
    "cmk": "83cdb52d-9ebf-4469-9cfa-e7b5b80da846",
    "data_image": "ff49b1f1-3e3e-4913-89c6-a026041661e8",
    "ep": "f8e0ecc8-3825-4ee8-9596-fb4258ffdcbb",
}


def _volume_extend(cls: Any) -> Any:
    return cls(resource_spec_code="SSD", resource_type="3", snapshot_id="snap-1")


def _server(publicip: Any, name: str) -> Any:
    return m.PrePaidServer(
        auto_terminate_time="2030-01-19T03:30:52Z",
        image_ref=UUIDS["image"],
        flavor_ref="c7.large.2",
        name=name,
        user_data="IyEvYmluL2Jhc2gKZWNobyBzZGsK",
        admin_pass="Sdk.Every-Attr1",
        key_name="id_rsa",
        vpcid=UUIDS["vpc"],
        nics=[
            m.PrePaidServerNic(
                subnet_id=UUIDS["subnet"],
                port_id=UUIDS["port"],
                ip_address="192.168.0.10",
                ipv6_enable=True,
                ipv6_bandwidth=m.PrePaidServerIpv6Bandwidth(id="bw-ipv6"),
                allowed_address_pairs=[
                    m.CreateServerNicAllowedAddressPairs(
                        ip_address="1.1.1.1/0", mac_address="fa:16:3e:00:00:01"
                    )
                ],
                efi_enable=False,
            )
        ],
        publicip=publicip,
        count=2,
        is_auto_rename=True,
        root_volume=m.PrePaidServerRootVolume(
            volumetype="GPSSD2",
            size=40,
            iops=3000,
            throughput=125,
            extendparam=_volume_extend(m.PrePaidServerRootVolumeExtendParam),
            metadata=m.PrePaidServerRootVolumeMetadata(
                system__encrypted="1", system__cmkid=UUIDS["cmk"]
            ),
            cluster_type="DSS",
            cluster_id="pool-1",
            hwpassthrough=True,
        ),
        data_volumes=[
            m.PrePaidServerDataVolume(
                volumetype="ESSD2",
                size=100,
                iops=5000,
                shareable=True,
                multiattach=True,
                hwpassthrough=True,
                extendparam=_volume_extend(m.PrePaidServerDataVolumeExtendParam),
                cluster_type="DSS",
                cluster_id="pool-2",
                metadata=m.PrePaidServerDataVolumeMetadata(
                    system__encrypted="1", system__cmkid=UUIDS["cmk"]
                ),
                delete_on_termination=True,
            ),
            m.PrePaidServerDataVolume(
                volumetype="GPSSD2",
                size=200,
                iops=3000,
                throughput=150,
                data_image_id=UUIDS["data_image"],
            ),
        ],
        security_groups=[m.PrePaidServerSecurityGroup(id=UUIDS["sg"])],
        availability_zone="",
        batch_create_in_multi_az=True,
        extendparam=m.PrePaidServerExtendParam(
            charging_mode="postPaid",
            region_id="ap-southeast-1",
            period_type="month",
            period_num=1,
            is_auto_renew="false",
            is_auto_pay="true",
            enterprise_project_id=UUIDS["ep"],
            support_auto_recovery=True,
            market_type="spot",
            spot_price="0.05",
            disk_prior="true",
            spot_duration_hours=6,
            interruption_policy="immediate",
            cb_csbs_backup='{"policy_id": "p", "vault_id": "v"}',
            spot_duration_count=2,
        ),
        metadata={"op_svc_userid": "f79791beca3c48159ac2553fff22e166", "agency_name": "ecs"},
        osscheduler_hints=m.PrePaidServerSchedulerHints(
            group=UUIDS["group"], tenancy="dedicated", dedicated_host_id="deh-1"
        ),
        tags=["env.prod", "team.platform"],
        server_tags=[m.PrePaidServerTag(key="env", value="prod")],
        description="every attribute the SDK can send",
        cpu_options=m.CpuOptions(hwcpu_threads=2),
        security_options=m.SecurityOptions(secure_boot_enabled=True, tpm_enabled=True),
        serial_console_options=m.SerialConsoleOptions(enabled=True),
        metadata_options=m.UpdateServerMetadataOptionsRequestBody(
            http_endpoint="enabled", http_tokens="required"
        ),
        enclave_options=m.EnclaveOptions(enabled=False),
    )


def every_attribute_requests() -> list[Any]:
    """Two `CreateServersRequestBody`s (new EIP; existing EIP) that set every SDK attribute."""
    new_eip = m.PrePaidServerPublicip(
        eip=m.PrePaidServerEip(
            iptype="5_bgp",
            bandwidth=m.PrePaidServerEipBandwidth(
                size=10, sharetype="PER", chargemode="traffic", id="bw-per"
            ),
            extendparam=m.PrePaidServerEipExtendParam(charging_mode="postPaid"),
        ),
        delete_on_termination=True,
    )
    existing_eip = m.PrePaidServerPublicip(id=UUIDS["eip"], delete_on_termination=False)
    return [
        m.CreateServersRequestBody(dry_run=False, server=_server(new_eip, "sdk-all-1")),
        m.CreateServersRequestBody(dry_run=False, server=_server(existing_eip, "sdk-all-2")),
    ]


def wire_body(body: Any) -> dict[str, Any]:
    """The JSON object the SDK sends for `body` (its own serialiser)."""
    document: dict[str, Any] = sanitize_for_serialization(body)
    return document


def unset_attributes(bodies: list[Any]) -> list[str]:
    """Attribute paths (wire names) of the SDK's create models that none of `bodies` sets."""
    seen: set[str] = set()
    for body in bodies:
        _collect(body, "body", seen)
    return sorted(_all_paths(m.CreateServersRequestBody, "body") - seen)


def _model_of(openapi_type: str) -> Any:
    inner = re.sub(r"^list\[(.*)\]$", r"\1", openapi_type)
    found = getattr(m, inner, None)
    return found if hasattr(found, "attribute_map") else None


def _all_paths(cls: Any, prefix: str) -> set[str]:
    paths: set[str] = set()
    for attr, wire in cls.attribute_map.items():
        path = f"{prefix}.{wire}"
        paths.add(path)
        inner = _model_of(cls.openapi_types[attr])
        if inner is not None:
            paths |= _all_paths(inner, path)
    return paths


def _collect(obj: Any, prefix: str, seen: set[str]) -> None:
    for attr, wire in obj.attribute_map.items():
        value = getattr(obj, attr)
        if value is None:
            continue
        path = f"{prefix}.{wire}"
        seen.add(path)
        for item in value if isinstance(value, list) else [value]:
            if hasattr(item, "attribute_map"):
                _collect(item, path, seen)
