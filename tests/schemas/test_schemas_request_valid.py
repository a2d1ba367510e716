"""Valid bodies parse and re-serialise to exactly the JSON that was sent."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from ecsp_contract.export import REFERENCE_EXAMPLES
from ecsp_contract.problems import problems_from
from ecsp_contract.request import CreateServersBody, to_wire
from tests.schemas.conftest import load_examples, schema_validator
from tests.support.examples import examples

EXAMPLE_NAMES = sorted(load_examples())


def test_the_five_examples_of_the_api_page_are_present_and_one_of_our_own() -> None:
    assert len(REFERENCE_EXAMPLES) == 5
    assert {f"{name}.json" for name in REFERENCE_EXAMPLES} < set(EXAMPLE_NAMES)
    assert len(EXAMPLE_NAMES) == 6


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_example_is_valid_and_round_trips(
    name: str, example: Callable[[str], dict[str, Any]]
) -> None:
    raw = example(name)

    from_dict = CreateServersBody.model_validate(raw)
    from_json = CreateServersBody.model_validate_json(json.dumps(raw))

    assert to_wire(from_dict) == raw
    assert to_wire(from_json) == raw
    assert list(schema_validator("ecs.provisioning.request").iter_errors(raw)) == []


def test_dry_run_example_keeps_dry_run_true(example: Callable[[str], dict[str, Any]]) -> None:
    body = CreateServersBody.model_validate(example("05-dry-run.json"))

    assert body.dry_run is True
    assert to_wire(body)["dry_run"] is True


def test_nothing_is_invented_for_absent_fields(example: Callable[[str], dict[str, Any]]) -> None:
    wire = to_wire(CreateServersBody.model_validate(example("05-dry-run.json")))

    assert set(wire["server"]) == set(example("05-dry-run.json")["server"])
    assert "size" not in wire["server"]["root_volume"]


def test_explicit_null_is_kept_as_sent(example: Callable[[str], dict[str, Any]]) -> None:
    raw = example("05-dry-run.json")
    raw["server"]["description"] = None

    assert to_wire(CreateServersBody.model_validate(raw))["server"]["description"] is None


def test_password_example_is_a_secret_reference(example: Callable[[str], dict[str, Any]]) -> None:
    body = CreateServersBody.model_validate(example("02-prepaid-password.json"))

    assert body.server.admin_pass_reference == "ADMIN_PASS"
    assert body.server.key_name == ""
    assert body.server.metadata == {}


def test_literal_password_is_not_a_reference(example: Callable[[str], dict[str, Any]]) -> None:
    raw = example("05-dry-run.json")
    raw["server"]["adminPass"] = "Str0ng!Passw"

    server = CreateServersBody.model_validate(raw).server

    assert server.admin_pass == "Str0ng!Passw"
    assert server.admin_pass_reference is None


@pytest.mark.parametrize(
    ("wire", "python"),
    [
        (("server", "imageRef"), "image_ref"),
        (("server", "adminPass"), "admin_pass"),
        (("server", "os:scheduler_hints"), "scheduler_hints"),
        (("server", "root_volume", "hw:passthrough"), "passthrough"),
        (("server", "extendparam", "chargingMode"), "charging_mode"),
    ],
)
def test_python_attribute_names_are_unknown_fields(
    example: Callable[[str], dict[str, Any]], wire: tuple[str, ...], python: str
) -> None:
    """Only wire names are valid: the API does not know the models' attribute names."""
    raw = example("01-prepaid-keypair.json")
    raw["server"]["adminPass"] = "$ADMIN_PASS"
    raw["server"]["root_volume"]["hw:passthrough"] = True
    parent = raw
    for part in wire[:-1]:
        parent = parent[part]
    parent[python] = parent.pop(wire[-1])

    with pytest.raises(ValidationError) as caught:
        CreateServersBody.model_validate(raw)

    path = ".".join((*wire[:-1], python))
    assert f"{path}: unknown field (not part of the v1.1 create-servers body)" in [
        str(problem) for problem in problems_from(caught.value)
    ]
    assert list(schema_validator("ecs.provisioning.request").iter_errors(raw)) != []


# --- generated valid bodies -------------------------------------------------------------------

uuids = st.uuids().map(str)
safe_text = st.text(st.characters(codec="utf-8", exclude_characters="<>"), max_size=20)
PLAIN_VOLUME_TYPES = ["SATA", "SAS", "GPSSD", "SSD", "ESSD", "co-p1", "uh-l1", "SSD_REGION_X"]


@st.composite
def volume(draw: st.DrawFn, *, data: bool) -> dict[str, Any]:
    volume_type = draw(st.sampled_from([*PLAIN_VOLUME_TYPES, "GPSSD2", "ESSD2"]))
    disk: dict[str, Any] = {"volumetype": volume_type}
    if data or draw(st.booleans()):
        disk["size"] = draw(st.integers(10, 32768) if data else st.integers(0, 1024))
    if volume_type in ("GPSSD2", "ESSD2"):
        disk["iops"] = draw(st.integers(3000, 128000))
    if volume_type == "GPSSD2":
        disk["throughput"] = draw(st.integers(125, 1000))
    if draw(st.booleans()):
        disk["hw:passthrough"] = draw(st.one_of(st.booleans(), st.text(max_size=5), st.integers()))
    if draw(st.booleans()):
        disk["cluster_type"] = "DSS"
        disk["cluster_id"] = draw(st.text(min_size=1, max_size=10))
    if draw(st.booleans()):
        disk["metadata"] = {"__system__encrypted": "1", "__system__cmkid": draw(uuids)}
    if data:
        if draw(st.booleans()):
            shared = draw(st.booleans())
            disk["multiattach"] = shared
            if draw(st.booleans()):
                disk["shareable"] = shared
        if draw(st.booleans()):
            disk["delete_on_termination"] = draw(st.booleans())
        if "metadata" not in disk and draw(st.booleans()):
            disk["data_image_id"] = draw(uuids)
    return disk


nics = st.fixed_dictionaries(
    {"subnet_id": uuids},
    optional={
        "port_id": uuids,
        "ip_address": st.one_of(st.just(""), st.ip_addresses(v=4).map(str)),
        "ipv6_enable": st.booleans(),
        "ipv6_bandwidth": st.fixed_dictionaries({"id": uuids}),
        "efi_enable": st.booleans(),
        "allowed_address_pairs": st.lists(
            st.fixed_dictionaries(
                {
                    "ip_address": st.sampled_from(
                        ["10.0.0.5", "192.168.1.0/24", "1.1.1.1/0", "2001:db8::/64"]
                    )
                },
                optional={"mac_address": st.just("fa:16:3e:00:00:01")},
            ),
            max_size=2,
        ),
    },
)

publicips = st.one_of(
    st.fixed_dictionaries({"id": uuids}, optional={"delete_on_termination": st.booleans()}),
    st.fixed_dictionaries(
        {
            "eip": st.fixed_dictionaries(
                {
                    "iptype": st.sampled_from(["5_bgp", "5_sbgp"]),
                    "bandwidth": st.one_of(
                        st.fixed_dictionaries(
                            {"sharetype": st.just("PER"), "size": st.integers(1, 2000)},
                            optional={"chargemode": st.sampled_from(["", "traffic"])},
                        ),
                        st.fixed_dictionaries({"sharetype": st.just("WHOLE"), "id": uuids}),
                    ),
                },
                optional={
                    "extendparam": st.fixed_dictionaries(
                        {"chargingMode": st.sampled_from(["prePaid", "postPaid"])}
                    )
                },
            )
        },
        optional={"delete_on_termination": st.booleans()},
    ),
)


@st.composite
def extendparams(draw: st.DrawFn) -> dict[str, Any]:
    flags = st.sampled_from(["true", "false"])
    if draw(st.booleans()):
        period = draw(st.sampled_from(["month", "year"]))
        param: dict[str, Any] = {
            "chargingMode": "prePaid",
            "periodType": period,
            "periodNum": draw(st.integers(1, 9 if period == "month" else 3)),
        }
    else:
        param = draw(
            st.fixed_dictionaries(
                {},
                optional={
                    "chargingMode": st.just("postPaid"),
                    "marketType": st.just("spot"),
                    "spotPrice": st.sampled_from(["", "0.05"]),
                    "spot_duration_hours": st.integers(6, 6),
                    "spot_duration_count": st.integers(1, 3),
                    "interruption_policy": st.just("immediate"),
                },
            )
        )
    optional = draw(
        st.fixed_dictionaries(
            {},
            optional={
                "isAutoRenew": flags,
                "isAutoPay": flags,
                "diskPrior": flags,
                "support_auto_recovery": st.one_of(st.booleans(), st.sampled_from(["true", "x"])),
                "enterprise_project_id": st.one_of(st.just("0"), uuids),
                "regionID": st.just("ap-southeast-1"),
                "CB_CSBS_BACKUP": st.just("backup"),
            },
        )
    )
    return param | optional


allowed = "ABCDEFGHIJKLMNPQRSTUVWXYZabcdefghijklmnpqrstuvwxyz0123456789!@$%^-_=+[{}]:,./?"
passwords = st.one_of(
    st.from_regex(r"\$[A-Za-z_][A-Za-z0-9_]{0,20}", fullmatch=True),
    st.text(st.sampled_from(allowed), min_size=4, max_size=22).map(lambda tail: "Aa1!" + tail),
)
times = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2099, 12, 31))

servers = st.fixed_dictionaries(
    {
        "imageRef": uuids,
        "flavorRef": st.sampled_from(["s2.small.1", "c7.large.2"]),
        "name": st.from_regex(r"[A-Za-z0-9_.-]{1,128}", fullmatch=True),
        "vpcid": uuids,
        "nics": st.lists(nics, min_size=1, max_size=3),
        "root_volume": volume(data=False),
    },
    optional={
        "user_data": st.binary(max_size=300).map(lambda raw: base64.b64encode(raw).decode()),
        "adminPass": passwords,
        "key_name": st.sampled_from(["", "id_rsa"]),
        "publicip": publicips,
        "count": st.integers(1, 100),
        "isAutoRename": st.booleans(),
        "data_volumes": st.lists(volume(data=True), max_size=4),
        "security_groups": st.lists(st.fixed_dictionaries({"id": uuids}), max_size=3),
        "availability_zone": st.sampled_from(["", "az1-dc1"]),
        "batch_create_in_multi_az": st.booleans(),
        "extendparam": extendparams(),
        "metadata": st.dictionaries(
            st.from_regex(r"[A-Za-z0-9_:.-]{1,30}", fullmatch=True), safe_text, max_size=10
        ),
        "os:scheduler_hints": st.fixed_dictionaries(
            {},
            optional={
                "group": uuids,
                "tenancy": st.sampled_from(["shared", "dedicated"]),
                "dedicated_host_id": uuids,
            },
        ),
        "tags": st.lists(
            st.from_regex(r"[a-z]{1,36}\.[a-z0-9]{0,43}", fullmatch=True), max_size=10
        ),
        "server_tags": st.lists(
            st.fixed_dictionaries(
                {"key": st.from_regex(r"[a-z]{1,36}", fullmatch=True)},
                optional={"value": st.from_regex(r"[a-z0-9]{0,43}", fullmatch=True)},
            ),
            max_size=10,
            unique_by=lambda tag: tag["key"],
        ),
        "description": st.text(st.characters(codec="utf-8", exclude_characters="<>"), max_size=85),
        "auto_terminate_time": times.map(lambda moment: moment.strftime("%Y-%m-%dT%H:%M:%SZ")),
        "cpu_options": st.fixed_dictionaries({"hw:cpu_threads": st.sampled_from([1, 2])}),
        "security_options": st.fixed_dictionaries(
            {}, optional={"secure_boot_enabled": st.booleans(), "tpm_enabled": st.booleans()}
        ),
        "serial_console_options": st.fixed_dictionaries({"enabled": st.booleans()}),
        "metadata_options": st.fixed_dictionaries(
            {},
            optional={"http_endpoint": st.text(max_size=10), "http_tokens": st.text(max_size=10)},
        ),
        "enclave_options": st.fixed_dictionaries({"enabled": st.booleans()}),
        "enable_jumbo_frame": st.booleans(),
    },
)


def _prepaid_rules(server: dict[str, Any]) -> dict[str, Any]:
    """The documented prePaid rules: no iops/throughput (pay-per-use only, so no GPSSD2/ESSD2),
    no data disk released with the server, and op_svc_userid when logging in with a key pair."""
    if server.get("extendparam", {}).get("chargingMode") != "prePaid":
        return server
    for disk in [server["root_volume"], *server.get("data_volumes", [])]:
        for field in ("iops", "throughput"):
            disk.pop(field, None)
        if disk["volumetype"] in ("GPSSD2", "ESSD2"):
            disk["volumetype"] = "SSD"
        if disk.get("delete_on_termination") is True:
            disk["delete_on_termination"] = False
    if server.get("key_name"):
        metadata = server.setdefault("metadata", {})
        while len(metadata) >= 10 and "op_svc_userid" not in metadata:
            metadata.pop(next(iter(metadata)))
        metadata["op_svc_userid"] = "f79791beca3c48159ac2553fff22e166"
    return server


bodies = st.fixed_dictionaries(
    {"server": servers.map(_prepaid_rules)}, optional={"dry_run": st.booleans()}
)


@settings(max_examples=examples(150), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bodies)
def test_generated_valid_bodies_round_trip(raw: dict[str, Any]) -> None:
    text = json.dumps(raw)

    body = CreateServersBody.model_validate_json(text)

    assert to_wire(body) == raw
    assert to_wire(CreateServersBody.model_validate(json.loads(text))) == raw
    assert list(schema_validator("ecs.provisioning.request").iter_errors(raw)) == []
