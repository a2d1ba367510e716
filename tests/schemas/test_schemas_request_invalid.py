"""Each broken rule is rejected by the models with its JSON path, and by the exported schema."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import pytest
from pydantic import ValidationError

from ecsp_contract.problems import problems_from
from ecsp_contract.request import CreateServersBody
from tests.schemas.conftest import schema_validator
from tests.schemas.corpus import DELETE, Loc, apply_change

UUID = "6242ef48-4d35-49c8-8711-a6e54902e44a"


#  whether the exported JSON Schema can express the rule too)
CASES: list[tuple[str, list[tuple[Loc, Any]], str, bool]] = [
    ("no-server", [(("server",), DELETE)], "server", True),
    ("no-imageRef", [(("server", "imageRef"), DELETE)], "server.imageRef", True),
    ("no-flavorRef", [(("server", "flavorRef"), DELETE)], "server.flavorRef", True),
    ("empty-flavorRef", [(("server", "flavorRef"), "")], "server.flavorRef", True),
    ("no-name", [(("server", "name"), DELETE)], "server.name", True),
    ("no-vpcid", [(("server", "vpcid"), DELETE)], "server.vpcid", True),
    ("no-nics", [(("server", "nics"), DELETE)], "server.nics", True),
    ("empty-nics", [(("server", "nics"), [])], "server.nics", True),
    ("13-nics", [(("server", "nics"), [{"subnet_id": UUID}] * 13)], "server.nics", True),
    ("no-root-volume", [(("server", "root_volume"), DELETE)], "server.root_volume", True),
    (
        "no-volumetype",
        [(("server", "root_volume", "volumetype"), DELETE)],
        "server.root_volume.volumetype",
        True,
    ),
    ("imageRef-not-uuid", [(("server", "imageRef"), "centos-7")], "server.imageRef", True),
    ("vpcid-not-uuid", [(("server", "vpcid"), UUID[:-1])], "server.vpcid", True),
    (
        "subnet-not-uuid",
        [(("server", "nics", 0, "subnet_id"), "subnet-1")],
        "server.nics[0].subnet_id",
        True,
    ),
    (
        "port-not-uuid",
        [(("server", "nics", 0, "port_id"), "port-1")],
        "server.nics[0].port_id",
        True,
    ),
    (
        "nic-without-subnet-or-port",
        [
            (("server", "nics", 0, "subnet_id"), DELETE),
            (("server", "nics", 0, "ipv6_enable"), True),
        ],
        "server.nics[0].subnet_id",
        True,
    ),
    (
        "security-group-not-uuid",
        [(("server", "security_groups", 0, "id"), "default")],
        "server.security_groups[0].id",
        True,
    ),
    (
        "data-image-not-uuid",
        [(("server", "data_volumes", 0, "data_image_id"), "img")],
        "server.data_volumes[0].data_image_id",
        True,
    ),
    (
        "scheduler-group-not-uuid",
        [(("server", "os:scheduler_hints", "group"), "group-1")],
        "server.os:scheduler_hints.group",
        True,
    ),
    (
        "tenancy-unknown",
        [(("server", "os:scheduler_hints", "tenancy"), "private")],
        "server.os:scheduler_hints.tenancy",
        True,
    ),
    ("name-129", [(("server", "name"), "n" * 129)], "server.name", True),
    ("name-empty", [(("server", "name"), "")], "server.name", True),
    ("name-space", [(("server", "name"), "new server")], "server.name", True),
    ("description-86", [(("server", "description"), "d" * 86)], "server.description", True),
    ("description-angle", [(("server", "description"), "a <b>")], "server.description", True),
    (
        "root-size-negative",
        [(("server", "root_volume", "size"), -1)],
        "server.root_volume.size",
        True,
    ),
    (
        "root-size-1025",
        [(("server", "root_volume", "size"), 1025)],
        "server.root_volume.size",
        True,
    ),
    (
        "data-size-9",
        [(("server", "data_volumes", 0, "size"), 9)],
        "server.data_volumes[0].size",
        True,
    ),
    (
        "data-size-32769",
        [(("server", "data_volumes", 0, "size"), 32769)],
        "server.data_volumes[0].size",
        True,
    ),
    (
        "data-size-missing",
        [(("server", "data_volumes", 0, "size"), DELETE)],
        "server.data_volumes[0].size",
        True,
    ),
    (
        "60-data-disks",
        [(("server", "data_volumes"), [{"volumetype": "SSD", "size": 10}] * 60)],
        "server.data_volumes",
        True,
    ),
    (
        "root-cluster-type-alone",
        [(("server", "root_volume", "cluster_type"), "DSS")],
        "server.root_volume.cluster_id",
        True,
    ),
    (
        "data-cluster-type-alone",
        [(("server", "data_volumes", 1, "cluster_type"), "DSS")],
        "server.data_volumes[1].cluster_id",
        True,
    ),
    (
        "gpssd2-without-iops",
        [(("server", "root_volume", "volumetype"), "GPSSD2")],
        "server.root_volume.iops",
        True,
    ),
    (
        "shareable-disagrees",
        [(("server", "data_volumes", 1, "shareable"), False)],
        "server.data_volumes[1].multiattach",
        False,
    ),
    (
        "multiattach-int",
        [(("server", "data_volumes", 1, "multiattach"), 1)],
        "server.data_volumes[1].multiattach",
        True,
    ),
    (
        "auto-terminate-format",
        [(("server", "auto_terminate_time"), "2020-09-25 12:05:00")],
        "server.auto_terminate_time",
        True,
    ),
    (
        "auto-terminate-month-13",
        [(("server", "auto_terminate_time"), "2020-13-25T12:05:00Z")],
        "server.auto_terminate_time",
        True,
    ),
    ("user-data-not-base64", [(("server", "user_data"), "#!/bin/sh")], "server.user_data", True),
    (
        "user-data-too-large",
        [(("server", "user_data"), base64.b64encode(b"x" * 32769).decode())],
        "server.user_data",
        False,
    ),
    ("count-0", [(("server", "count"), 0)], "server.count", True),
    ("count-string", [(("server", "count"), "1")], "server.count", True),
    ("count-float", [(("server", "count"), 1.5)], "server.count", True),
    ("isAutoRename-string", [(("server", "isAutoRename"), "true")], "server.isAutoRename", True),
    (
        "multi-az-string",
        [(("server", "batch_create_in_multi_az"), "false")],
        "server.batch_create_in_multi_az",
        True,
    ),
    ("dry-run-string", [(("dry_run",), "true")], "dry_run", True),
    (
        "chargingMode",
        [(("server", "extendparam", "chargingMode"), "monthly")],
        "server.extendparam.chargingMode",
        True,
    ),
    (
        "periodType",
        [(("server", "extendparam", "periodType"), "week")],
        "server.extendparam.periodType",
        True,
    ),
    (
        "periodNum-10-months",
        [(("server", "extendparam", "periodNum"), 10)],
        "server.extendparam.periodNum",
        True,
    ),
    (
        "periodNum-4-years",
        [
            (("server", "extendparam", "periodType"), "year"),
            (("server", "extendparam", "periodNum"), 4),
        ],
        "server.extendparam.periodNum",
        True,
    ),
    (
        "prepaid-without-periodType",
        [(("server", "extendparam", "periodType"), DELETE)],
        "server.extendparam.periodType",
        True,
    ),
    (
        "isAutoRenew-bool",
        [(("server", "extendparam", "isAutoRenew"), True)],
        "server.extendparam.isAutoRenew",
        True,
    ),
    (
        "isAutoPay-yes",
        [(("server", "extendparam", "isAutoPay"), "yes")],
        "server.extendparam.isAutoPay",
        True,
    ),
    (
        "enterprise-project",
        [(("server", "extendparam", "enterprise_project_id"), "default")],
        "server.extendparam.enterprise_project_id",
        True,
    ),
    (
        "spot-duration-count",
        [
            (("server", "extendparam", "spot_duration_hours"), 1),
            (("server", "extendparam", "spot_duration_count"), 2),
        ],
        "server.extendparam.spot_duration_count",
        False,
    ),
    (
        "metadata-value-int",
        [(("server", "metadata", "op_svc_userid"), 7)],
        "server.metadata.op_svc_userid",
        True,
    ),
    ("metadata-list", [(("server", "metadata"), ["a"])], "server.metadata", True),
    (
        "metadata-11-pairs",
        [(("server", "metadata"), {f"k{i}": "v" for i in range(11)})],
        "server.metadata",
        True,
    ),
    ("tag-without-dot", [(("server", "tags"), ["novalue"])], "server.tags[0]", True),
    (
        "server-tag-key",
        [(("server", "server_tags"), [{"key": "a=b", "value": "v"}])],
        "server.server_tags[0].key",
        True,
    ),
    (
        "ip-address",
        [(("server", "nics", 0, "ip_address"), "300.1.1.1")],
        "server.nics[0].ip_address",
        True,
    ),
    (
        "address-pair-any",
        [(("server", "nics", 0, "allowed_address_pairs"), [{"ip_address": "0.0.0.0/0"}])],
        "server.nics[0].allowed_address_pairs[0].ip_address",
        True,
    ),
    (
        "ipv6-enable-string",
        [(("server", "nics", 0, "ipv6_enable"), "true")],
        "server.nics[0].ipv6_enable",
        True,
    ),
    (
        "sharetype",
        [(("server", "publicip", "eip", "bandwidth", "sharetype"), "SHARED")],
        "server.publicip.eip.bandwidth.sharetype",
        True,
    ),
    (
        "chargemode",
        [(("server", "publicip", "eip", "bandwidth", "chargemode"), "bandwidth")],
        "server.publicip.eip.bandwidth.chargemode",
        True,
    ),
    (
        "bandwidth-size-0",
        [(("server", "publicip", "eip", "bandwidth", "size"), 0)],
        "server.publicip.eip.bandwidth.size",
        True,
    ),
    (
        "per-without-size",
        [(("server", "publicip", "eip", "bandwidth", "size"), DELETE)],
        "server.publicip.eip.bandwidth.size",
        True,
    ),
    (
        "whole-without-id",
        [(("server", "publicip", "eip", "bandwidth", "sharetype"), "WHOLE")],
        "server.publicip.eip.bandwidth.id",
        True,
    ),
    ("publicip-empty", [(("server", "publicip"), {})], "server.publicip.eip", True),
    (
        "eip-chargingMode",
        [(("server", "publicip", "eip", "extendparam"), {"chargingMode": "free"})],
        "server.publicip.eip.extendparam.chargingMode",
        True,
    ),
    (
        "cpu-threads-3",
        [(("server", "cpu_options"), {"hw:cpu_threads": 3})],
        "server.cpu_options.hw:cpu_threads",
        True,
    ),
    (
        "cpu-threads-bool",
        [(("server", "cpu_options"), {"hw:cpu_threads": True})],
        "server.cpu_options.hw:cpu_threads",
        True,
    ),
    ("weak-password", [(("server", "adminPass"), "password1")], "server.adminPass", False),
    ("not-a-reference", [(("server", "adminPass"), "$1-NAME")], "server.adminPass", False),
    ("unknown-server-field", [(("server", "imageref"), UUID)], "server.imageref", True),
    (
        "unknown-volume-field",
        [(("server", "root_volume", "sizee"), 40)],
        "server.root_volume.sizee",
        True,
    ),
    ("unknown-body-field", [(("dryrun",), True)], "dryrun", True),
]


def test_there_are_at_least_40_rules() -> None:
    assert len(CASES) >= 40
    assert len({case[0] for case in CASES}) == len(CASES)


@pytest.mark.parametrize(
    ("changes", "path", "schema_too"),
    [pytest.param(changes, path, schema_too, id=name) for name, changes, path, schema_too in CASES],
)
def test_broken_rule_is_named_by_path(
    example: Callable[[str], dict[str, Any]],
    changes: list[tuple[Loc, Any]],
    path: str,
    schema_too: bool,
) -> None:
    body = example("01-prepaid-keypair.json")
    for loc, value in changes:
        apply_change(body, loc, value)

    with pytest.raises(ValidationError) as caught:
        CreateServersBody.model_validate(body)
    paths = [problem.path for problem in problems_from(caught.value)]
    assert path in paths
    with pytest.raises(ValidationError) as caught_json:
        CreateServersBody.model_validate_json(json.dumps(body))
    assert path in [problem.path for problem in problems_from(caught_json.value)]

    schema_errors = list(schema_validator("ecs.provisioning.request").iter_errors(body))
    assert bool(schema_errors) is schema_too


def test_body_that_is_not_an_object_is_a_root_problem() -> None:
    with pytest.raises(ValidationError) as caught:
        CreateServersBody.model_validate([1, 2])
    assert [str(problem) for problem in problems_from(caught.value)] == [
        "(body): must be a JSON object"
    ]


def test_every_problem_of_a_body_is_reported(example: Callable[[str], dict[str, Any]]) -> None:
    body = example("01-prepaid-keypair.json")
    body["server"]["name"] = "bad name"
    body["server"]["count"] = 0
    body["server"]["nics"][0]["subnet_id"] = "x"

    with pytest.raises(ValidationError) as caught:
        CreateServersBody.model_validate(body)

    assert {problem.path for problem in problems_from(caught.value)} == {
        "server.name",
        "server.count",
        "server.nics[0].subnet_id",
    }
