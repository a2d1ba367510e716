"""The fidelity corpus: create bodies, the verdict the sources give each, and where it comes from.

Each case starts from a base body (the reference's example 1, a prePaid server with a key pair,
or a minimal postPaid one), applies a few changes, and states what the real
`POST /v1.1/{project_id}/cloudservers` does with it: `accept`, or `reject` naming the JSON path.
`source` cites the verdict: REF = the API reference "Creating an ECS" (v1.1, the seed text),
SDK = the official Python SDK `huaweicloudsdkecs` 3.1.219, model docstrings, TF = Terraform's
huaweicloud provider (a0345b8) `golangsdk/openstack/ecs/v1/cloudservers/requests.go`. Where the
sources disagree or are silent, the verdict is accept (the API decides).

`schema` says whether the exported JSON Schema can express the rule: "exact" (it gives the same
verdict) or "looser" (a rule JSON Schema cannot state, e.g. unique keys inside an array of
objects: the schema accepts, never stricter than the contract).
"""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from ecsp_contract.export import PACKAGE_DIR, REFERENCE_EXAMPLES
from tests.support.bodies import server_body

DELETE = object()
Loc = tuple[str | int, ...]
UUID = "6242ef48-4d35-49c8-8711-a6e54902e44a"
UUID2 = "0d6ba24b-0d22-4a27-9a0e-5d3a8a4c4d1a"
CMK = "83cdb52d-9ebf-4469-9cfa-e7b5b80da846"
POSTPAID = server_body(data_volumes=[{"volumetype": "SSD", "size": 100}])
EXAMPLES = {
    path.stem: json.loads(path.read_text("utf-8"))
    for path in sorted((PACKAGE_DIR / "examples").glob("*.json"))
}
PREPAID = EXAMPLES["01-prepaid-keypair"]
WRAPPED_USER_DATA = "\n".join(
    base64.b64encode(b"#!/bin/bash\necho hello > /tmp/corpus\n" * 4).decode()[i : i + 76]
    for i in range(0, 208, 76)
)


@dataclass(frozen=True)
class Case:
    """One body of the corpus and its verdict."""

    name: str
    changes: Sequence[tuple[Loc, Any]]
    verdict: Literal["accept", "reject"]
    source: str
    path: str | None = None
    base: dict[str, Any] = field(default_factory=lambda: POSTPAID)
    schema: Literal["exact", "looser"] = "exact"

    def body(self) -> dict[str, Any]:
        document = copy.deepcopy(self.base)
        for loc, value in self.changes:
            apply_change(document, loc, value)
        return document


def apply_change(document: dict[str, Any], loc: Loc, value: Any) -> None:
    """Set the value at `loc` (a copy of it), or remove the key when `value` is DELETE."""
    parent: Any = document
    for part in loc[:-1]:
        parent = parent[part]
    if value is DELETE:
        del parent[loc[-1]]
    else:
        parent[loc[-1]] = copy.deepcopy(value)


def _accept(name: str, changes: Sequence[tuple[Loc, Any]], source: str, **kw: Any) -> Case:
    return Case(name, changes, "accept", source, **kw)


def _reject(
    name: str, changes: Sequence[tuple[Loc, Any]], path: str, source: str, **kw: Any
) -> Case:
    return Case(name, changes, "reject", source, path=path, **kw)


S = "server"
RV = (S, "root_volume")
DV = (S, "data_volumes", 0)
NIC = (S, "nics", 0)
EXT = (S, "extendparam")
BW = (S, "publicip", "eip", "bandwidth")
PREPAID_EXT = {"chargingMode": "prePaid", "periodType": "month", "periodNum": 1}

CASES: list[Case] = [
    # --- the reference's own examples -------------------------------------------------------
    *(
        _accept(f"reference-{name}", [], "REF Example Request", base=body)
        for name, body in EXAMPLES.items()
        if name in REFERENCE_EXAMPLES
        and name != "02-prepaid-password"  # its adminPass is a $NAME reference (worker-resolved)
    ),
    _accept(
        "reference-password-example-with-a-literal",
        [((S, "adminPass"), "Cloud.Pass-2024")],
        "REF Example Request 2, adminPass (8-26 characters, 3 classes)",
        base=EXAMPLES["02-prepaid-password"],
    ),
    # --- SDK-sendable fields the contract used to refuse ------------------------------------
    _accept(
        "security-options",
        [((S, "security_options"), {"secure_boot_enabled": True, "tpm_enabled": False})],
        "SDK PrePaidServer.security_options (SecurityOptions)",
    ),
    _accept(
        "serial-console-options",
        [((S, "serial_console_options"), {"enabled": True})],
        "SDK PrePaidServer.serial_console_options (SerialConsoleOptions)",
    ),
    _accept(
        "metadata-options",
        [((S, "metadata_options"), {"http_endpoint": "enabled", "http_tokens": "required"})],
        "SDK PrePaidServer.metadata_options (UpdateServerMetadataOptionsRequestBody)",
    ),
    _accept(
        "enclave-options",
        [((S, "enclave_options"), {"enabled": True})],
        "SDK PrePaidServer.enclave_options; TF CreateOpts.EnclaveOptions",
    ),
    _accept("nic-efi-enable", [((*NIC, "efi_enable"), True)], "SDK PrePaidServerNic.efi_enable"),
    _accept("jumbo-frame", [((S, "enable_jumbo_frame"), True)], "TF CreateOpts.EnableJumboFrame"),
    _accept(
        "scheduler-fault-domain",
        [((S, "os:scheduler_hints"), {"group": UUID, "fault_domain": "fd-1"})],
        "TF SchedulerHints.FaultDomain",
    ),
    # --- values the contract used to refuse -------------------------------------------------
    _accept(
        "root-passthrough-string",
        [((*RV, "hw:passthrough"), "yes")],
        "REF Table 5 hw:passthrough (a non-Boolean value creates VBD disks)",
    ),
    _accept(
        "data-passthrough-number",
        [((*DV, "hw:passthrough"), 1)],
        "SDK PrePaidServerDataVolume.hwpassthrough (non-Boolean taken as false)",
    ),
    _accept(
        "auto-recovery-string",
        [((*EXT,), {"support_auto_recovery": "true"})],
        "SDK PrePaidServerExtendParam.support_auto_recovery; TF SupportAutoRecovery string",
    ),
    _accept(
        "root-size-0",
        [((*RV, "size"), 0)],
        "SDK PrePaidServerRootVolume.size (0 or absent: the image's min_disk)",
    ),
    _accept(
        "address-pair-1.1.1.1/0",
        [((*NIC, "allowed_address_pairs"), [{"ip_address": "1.1.1.1/0"}])],
        "SDK PrePaidServerNic.allowed_address_pairs (1.1.1.1/0 turns off the address check)",
    ),
    _accept(
        "address-pair-ipv6",
        [((*NIC, "allowed_address_pairs"), [{"ip_address": "2001:db8::/64"}])],
        "SDK CreateServerNicAllowedAddressPairs.ip_address (an IP address; family not limited)",
    ),
    _accept(
        "security-group-without-id",
        [((S, "security_groups"), [{}])],
        "REF Table 2 security_groups; SDK PrePaidServerSecurityGroup.id (may be empty)",
    ),
    _accept(
        "security-group-empty-id",
        [((S, "security_groups"), [{"id": ""}])],
        "SDK PrePaidServerSecurityGroup.id (may be empty)",
    ),
    _accept(
        "nic-ip-empty",
        [((*NIC, "ip_address"), "")],
        "SDK PrePaidServerNic.ip_address (absent or empty: assigned from the subnet)",
    ),
    _accept(
        "nic-port-with-empty-subnet",
        [((S, "nics"), [{"subnet_id": "", "port_id": UUID2}])],
        "SDK PrePaidServerNic.port_id (port_id and subnet_id may not both be empty)",
    ),
    _accept(
        "disk-co-p1", [((*RV, "volumetype"), "co-p1")], "SDK PrePaidServerRootVolume.volumetype"
    ),
    _accept(
        "disk-uh-l1", [((*DV, "volumetype"), "uh-l1")], "SDK PrePaidServerDataVolume.volumetype"
    ),
    _accept(
        "disk-type-of-the-region",
        [((*DV, "volumetype"), "SSD_REGION_X")],
        "SDK volumetype (the region's types: EVS CinderListVolumeTypes; the API checks)",
    ),
    _accept(
        "tag-value-with-dot",
        [((S, "tags"), ["env.prod.eu-1"])],
        "SDK PrePaidServer.tags (value: letters, digits, _, -, . and Chinese)",
    ),
    _accept(
        "tag-chinese", [((S, "tags"), ["环境.生产"])], "SDK PrePaidServer.tags (Chinese characters)"
    ),
    _accept(
        "name-chinese",
        [((S, "name"), "服务器-web_1.a")],
        "SDK PrePaidServer.name (Chinese characters; REF silent: accept)",
    ),
    _accept(
        "name-128",
        [((S, "name"), "n" * 128)],
        "REF Table 2 name 1-128 (SDK says 64: sources disagree, accept)",
    ),
    _accept(
        "user-data-wrapped-base64",
        [((S, "user_data"), WRAPPED_USER_DATA)],
        "TF ToServerCreateMap sends base64 with line breaks as given (Go decoder ignores CR/LF)",
    ),
    _accept(
        "user-data-line-break-in-padding",
        [((S, "user_data"), "YWJj\r\nZA=\r\n=")],
        "TF ToServerCreateMap (Go's base64 decoder ignores CR/LF anywhere)",
    ),
    _accept(
        "whole-bandwidth-ignores-size-and-chargemode",
        [
            ((S, "publicip"), {"eip": {"iptype": "5_bgp", "bandwidth": {"sharetype": "WHOLE"}}}),
            ((*BW, "id"), UUID),
            ((*BW, "size"), 5000),
            ((*BW, "chargemode"), "bandwidth"),
        ],
        "SDK PrePaidServerEipBandwidth.size/chargemode (ignored for WHOLE with an id)",
    ),
    _accept(
        "spot-with-prepaid-is-ignored",
        [((*EXT, "marketType"), "spot")],
        "SDK PrePaidServerExtendParam.marketType (takes effect only with postPaid)",
        base=PREPAID,
    ),
    _accept(
        "59-data-disks",
        [((S, "data_volumes"), [{"volumetype": "SSD", "size": 10}] * 59)],
        "REF Table 2 data_volumes (59; SDK says 23 for new servers: disagree, accept)",
    ),
    _accept(
        "prepaid-disk-kept-on-termination",
        [((S, "data_volumes", 0, "delete_on_termination"), False)],
        "REF Table 6 delete_on_termination (false is the default)",
        base=PREPAID,
    ),
    _accept("count-100", [((S, "count"), 100)], "SDK PrePaidServer.count (at most 100)"),
    _accept(
        "auto-terminate-time",
        [((S, "auto_terminate_time"), "2030-01-19T03:30:52Z")],
        "REF Table 2 auto_terminate_time",
    ),
    _accept(
        "metadata-agent-list",
        [((S, "metadata"), {"__support_agent_list": "hss,ces"})],
        "TF MetaData.AgentList; REF metadata key characters",
    ),
    _accept(
        "gpssd2-postpaid",
        [((*RV, "volumetype"), "GPSSD2"), ((*RV, "iops"), 3000), ((*RV, "throughput"), 125)],
        "SDK PrePaidServerRootVolume.iops/throughput (required for GPSSD2)",
    ),
    _accept(
        "essd2-iops-only",
        [((*DV, "volumetype"), "ESSD2"), ((*DV, "iops"), 5000)],
        "SDK PrePaidServerDataVolume.throughput (GPSSD2 only)",
    ),
    _accept(
        "encrypted-disk",
        [((*DV, "metadata"), {"__system__encrypted": "1", "__system__cmkid": CMK})],
        "SDK PrePaidServerDataVolumeMetadata (cmkid 36 bytes)",
    ),
    _accept(
        "prepaid-password-without-key-needs-no-userid",
        [((S, "key_name"), ""), ((S, "metadata"), {}), ((S, "adminPass"), "Cloud.Pass-2024")],
        "REF Example Request 2 (key_name empty, metadata {})",
        base=PREPAID,
    ),
    # --- documented as invalid ----------------------------------------------------------------
    _reject(
        "address-pair-any",
        [((*NIC, "allowed_address_pairs"), [{"ip_address": "0.0.0.0/0"}])],
        "server.nics[0].allowed_address_pairs[0].ip_address",
        "SDK CreateServerNicAllowedAddressPairs.ip_address (0.0.0.0/0 not supported)",
    ),
    _reject(
        "prepaid-key-pair-without-userid",
        [((S, "metadata"), {})],
        "server.metadata.op_svc_userid",
        "SDK PrePaidServerExtendParam.chargingMode / PrePaidServer.metadata (op_svc_userid)",
        base=PREPAID,
    ),
    _reject(
        "iops-on-ssd",
        [((*RV, "iops"), 3000)],
        "server.root_volume.iops",
        "SDK PrePaidServerRootVolume.iops (other types cannot set it)",
    ),
    _reject(
        "throughput-on-essd2",
        [((*DV, "volumetype"), "ESSD2"), ((*DV, "iops"), 5000), ((*DV, "throughput"), 200)],
        "server.data_volumes[0].throughput",
        "SDK PrePaidServerDataVolume.throughput (GPSSD2 only)",
    ),
    _reject(
        "gpssd2-without-iops",
        [((*RV, "volumetype"), "GPSSD2"), ((*RV, "throughput"), 125)],
        "server.root_volume.iops",
        "SDK PrePaidServerRootVolume.iops (required for GPSSD2/ESSD2)",
    ),
    _reject(
        "iops-with-prepaid",
        [((*RV, "volumetype"), "ESSD2"), ((*RV, "iops"), 5000)],
        "server.root_volume.iops",
        "SDK PrePaidServerRootVolume.iops (pay-per-use only)",
        base=PREPAID,
    ),
    _reject(
        "data-image-with-metadata",
        [((*DV, "data_image_id"), UUID), ((*DV, "metadata"), {"__system__encrypted": "0"})],
        "server.data_volumes[0].metadata",
        "REF Table 6 data_image_id (does not support metadata)",
    ),
    _reject(
        "prepaid-disk-released-with-server",
        [((S, "data_volumes", 0, "delete_on_termination"), True)],
        "server.data_volumes[0].delete_on_termination",
        "REF Table 6 delete_on_termination (pay-per-use and spot only)",
        base=PREPAID,
    ),
    _reject("count-101", [((S, "count"), 101)], "server.count", "SDK PrePaidServer.count"),
    _reject(
        "duplicate-server-tag-keys",
        [((S, "server_tags"), [{"key": "env", "value": "a"}, {"key": "env", "value": "b"}])],
        "server.server_tags[1].key",
        "SDK PrePaidServerTag.key (keys of one resource must differ)",
        schema="looser",
    ),
    _reject(
        "tag-character",
        [((S, "tags"), ["env.prod!"])],
        "server.tags[0]",
        "SDK PrePaidServer.tags (character set)",
    ),
    _reject(
        "tag-key-with-dot-only",
        [((S, "tags"), ["my env.prod"])],
        "server.tags[0]",
        "SDK PrePaidServer.tags (key: letters, digits, _, - and Chinese)",
    ),
    _reject(
        "auto-terminate-single-digits",
        [((S, "auto_terminate_time"), "2030-1-19T3:30:52Z")],
        "server.auto_terminate_time",
        "REF Table 2 auto_terminate_time (yyyy-MM-ddTHH:mm:ssZ)",
    ),
    _reject(
        "auto-terminate-offset",
        [((S, "auto_terminate_time"), "2030-01-19T03:30:52+08:00")],
        "server.auto_terminate_time",
        "REF Table 2 auto_terminate_time (UTC+0, ending in Z)",
    ),
    _reject(
        "cmkid-35-bytes",
        [((*DV, "metadata"), {"__system__encrypted": "1", "__system__cmkid": CMK[:-1]})],
        "server.data_volumes[0].metadata.__system__cmkid",
        "SDK PrePaidServerDataVolumeMetadata.system__cmkid (exactly 36 bytes)",
        schema="looser",  # JSON Schema counts characters, not bytes
    ),
    _reject(
        "cmkid-37-characters",
        [((*RV, "metadata"), {"__system__encrypted": "1", "__system__cmkid": CMK + "0"})],
        "server.root_volume.metadata.__system__cmkid",
        "SDK PrePaidServerRootVolumeMetadata.system__cmkid (exactly 36 bytes)",
    ),
    _reject(
        "python-attribute-name",
        [((S, "image_ref"), "67f433d8-ed0e-4321-a8a2-a71838539e09"), ((S, "imageRef"), DELETE)],
        "server.image_ref",
        "REF Table 2 (imageRef is the wire name; SDK attribute_map)",
    ),
    _reject(
        "misspelt-field",
        [((S, "flavourRef"), "s6.small.1")],
        "server.flavourRef",
        "REF Table 2 / SDK PrePaidServer.attribute_map (no such field)",
    ),
    _reject("root-size-1025", [((*RV, "size"), 1025)], "server.root_volume.size", "REF Table 5"),
    _reject("data-size-9", [((*DV, "size"), 9)], "server.data_volumes[0].size", "REF Table 6"),
    _reject("name-with-space", [((S, "name"), "my server")], "server.name", "REF Table 2 name"),
    _reject("name-129", [((S, "name"), "n" * 129)], "server.name", "REF Table 2 name 1-128"),
    _reject(
        "description-angle-bracket",
        [((S, "description"), "a <b>")],
        "server.description",
        "REF Table 2 description",
    ),
    _reject(
        "chargemode-other",
        [((*BW, "chargemode"), "bandwidth")],
        "server.publicip.eip.bandwidth.chargemode",
        "SDK PrePaidServerEipBandwidth.chargemode (other values fail the create)",
        base=PREPAID,
    ),
    _reject(
        "period-4-years",
        [((*EXT, "periodType"), "year"), ((*EXT, "periodNum"), 4)],
        "server.extendparam.periodNum",
        "SDK PrePaidServerExtendParam.periodNum (1-3 for year)",
        base=PREPAID,
    ),
    _reject(
        "13-nics",
        [((S, "nics"), [{"subnet_id": UUID}] * 13)],
        "server.nics",
        "SDK PrePaidServer.nics (at most 12)",
    ),
    _reject(
        "60-data-disks",
        [((S, "data_volumes"), [{"volumetype": "SSD", "size": 10}] * 60)],
        "server.data_volumes",
        "REF Table 2 data_volumes (at most 59)",
    ),
    _reject(
        "nic-without-subnet-or-port",
        [((S, "nics"), [{"subnet_id": "", "port_id": ""}])],
        "server.nics[0].subnet_id",
        "SDK PrePaidServerNic.port_id (port_id and subnet_id may not both be empty)",
    ),
    _reject(
        "user-data-not-base64",
        [((S, "user_data"), "#!/bin/bash")],
        "server.user_data",
        "SDK PrePaidServer.user_data (base64)",
    ),
    _reject(
        "user-data-over-32kb",
        [((S, "user_data"), base64.b64encode(b"x" * 32769).decode())],
        "server.user_data",
        "SDK PrePaidServer.user_data (at most 32 KB before encoding)",
        schema="looser",
    ),
    _reject(
        "weak-password",
        [((S, "adminPass"), "password1")],
        "server.adminPass",
        "SDK PrePaidServer.adminPass (complexity; Ecs.0011)",
        schema="looser",
    ),
    _reject(
        "empty-volumetype",
        [((*RV, "volumetype"), "")],
        "server.root_volume.volumetype",
        "REF Table 5",
    ),
    _reject(
        "metadata-11-pairs",
        [((S, "metadata"), {f"k{i}": "v" for i in range(11)})],
        "server.metadata",
        "SDK PrePaidServer.metadata (at most 10 pairs)",
    ),
    _reject(
        "server-tag-key-slash",
        [((S, "server_tags"), [{"key": "a/b", "value": "v"}])],
        "server.server_tags[0].key",
        "SDK PrePaidServerTag.key (no /)",
    ),
    _reject(
        "cpu-threads-3",
        [((S, "cpu_options"), {"hw:cpu_threads": 3})],
        "server.cpu_options.hw:cpu_threads",
        "SDK CpuOptions.hwcpu_threads (1 or 2)",
    ),
    _reject(
        "spot-duration-count",
        [
            ((*EXT,), {"marketType": "spot", "interruption_policy": "immediate"}),
            ((*EXT, "spot_duration_hours"), 3),
            ((*EXT, "spot_duration_count"), 2),
        ],
        "server.extendparam.spot_duration_count",
        "SDK PrePaidServerExtendParam.spot_duration_count (1 when hours < 6)",
        schema="looser",
    ),
    _reject(
        "shareable-disagrees-with-multiattach",
        [((*DV, "shareable"), True), ((*DV, "multiattach"), False)],
        "server.data_volumes[0].multiattach",
        "REF Table 6 multiattach (must equal shareable when both are given)",
        schema="looser",
    ),
]
