"""The policy file: its schema, its error messages, project overrides, the rules a body breaks."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.bodies import server_body
from worker.policy.check import violations
from worker.policy.load import PolicyFileError, parse_policy
from worker.policy.model import PolicyDocument


def problems(text: str) -> list[str]:
    with pytest.raises(PolicyFileError) as caught:
        parse_policy(text.encode())
    return caught.value.problems


def broken(policy: str, body: dict[str, Any], project: str | None = None) -> list[tuple[str, str]]:
    rules = parse_policy(policy.encode()).rules_for(project)
    return [(v.rule, v.path) for v in violations(rules, body)]


def test_every_problem_of_an_invalid_file_is_named_with_its_path() -> None:
    found = problems(
        "default:\n  flavours: {allow: [s6.*]}\n  max_count: 0\n"
        "projects:\n  p1:\n    flavors: {allow: []}\n    charging_modes: [free]\n"
    )
    assert sorted(p.split(": ")[0] for p in found) == [
        "default.flavours",
        "default.max_count",
        "projects.p1.charging_modes[0]",
        "projects.p1.flavors.allow",
    ]
    assert "default.flavours: unknown key; did you mean flavors?" in found
    assert "default.max_count: must be at least 1" in found  # the project's words, not pydantic's
    assert "projects.p1.flavors.allow: must have at least 1 item" in found
    assert "projects.p1.charging_modes[0]: must be 'prePaid' or 'postPaid'" in found


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "the file is empty"),
        ("- a\n- b\n", "must be a mapping, not a list"),
        ("default: {flavors: [\n", "not YAML: "),
        ("nothing: 1\n", "nothing: unknown key"),
    ],
)
def test_files_that_are_not_a_policy_are_refused_with_one_clear_line(
    text: str, expected: str
) -> None:
    (problem,) = problems(text)
    assert problem.startswith(expected)


def test_a_project_replaces_the_default_rule_by_rule_and_null_lifts_a_rule() -> None:
    policy = parse_policy(
        b"default: {flavors: {allow: [s6.*]}, max_count: 3, allow_auto_pay: false}\n"
        b"projects:\n  p1: {flavors: {allow: [c7.*]}, max_count: null}\n"
    )
    p1 = policy.rules_for("p1")
    assert p1.flavors is not None
    assert p1.flavors.allow == ["c7.*"]
    assert p1.max_count is None
    assert p1.allow_auto_pay is False  # not overridden: the default's rule
    assert policy.rules_for("other") == policy.default
    assert policy.rules_for(None) == policy.default
    assert PolicyDocument().rules_for("p1") == PolicyDocument().default


def test_a_tenants_rules_apply_to_its_projects_and_a_projects_override_them() -> None:
    policy = parse_policy(
        b"default: {max_count: 3, allow_auto_pay: false}\n"
        b"tenants:\n  team-a: {max_count: 10, max_servers_per_hour: 20}\n"
        b"projects:\n  a-2: {max_servers_per_hour: 5}\n"
    )
    a_1, a_2 = policy.rules_for("a-1", "team-a"), policy.rules_for("a-2", "team-a")
    assert (a_1.max_count, a_1.max_servers_per_hour, a_1.allow_auto_pay) == (10, 20, False)
    assert (a_2.max_count, a_2.max_servers_per_hour) == (10, 5)
    assert policy.rules_for("b-1", "team-b") == policy.default  # no rules of its own
    assert policy.rules_for("p", "default") == policy.default  # the shared topics' tenant


def test_a_policy_may_name_only_tenants_the_worker_serves() -> None:
    text = b"tenants:\n  team-a: {max_count: 1}\n  teamb: {max_count: 2}\n"
    assert set(parse_policy(text).tenants) == {"team-a", "teamb"}  # `policy check`: unknown here
    with pytest.raises(PolicyFileError) as caught:
        parse_policy(text, tenants={"team-a", "team-b"})
    assert caught.value.problems == [
        "tenants.teamb: no tenant of that name in ECSP_TENANTS_FILE; did you mean team-b?"
    ]
    (unsafe,) = problems("tenants:\n  Team_A: {max_count: 1}\n")
    assert unsafe.startswith("tenants.Team_A[key]: must be 1 to 40 lower-case letters")


def test_a_request_within_every_rule_breaks_none() -> None:
    policy = """
default:
  flavors: {allow: ["s6.*"], deny: ["s6.*.8"]}
  images: {allow: ["67f433d8-*"]}
  availability_zones: {allow: [az1-dc1, az2-dc1]}
  charging_modes: [postPaid]
  allow_auto_pay: false
  max_count: 3
  max_root_volume_gb: 100
  max_data_volume_gb: 500
  required_server_tags: [cost-center]
  max_servers_per_hour: 10
"""
    body = server_body(
        count=3,
        availability_zone="az1-dc1",
        root_volume={"volumetype": "SSD", "size": 100},
        data_volumes=[{"volumetype": "SSD", "size": 500}],
        server_tags=[{"key": "cost-center", "value": "42"}],
    )
    assert broken(policy, body) == []


def test_every_broken_rule_is_listed_with_the_path_it_is_about() -> None:
    policy = """
default:
  flavors: {allow: ["s6.*"], deny: ["s6.*.8"]}
  images: {deny: ["67f433d8-*"]}
  availability_zones: {allow: [az1-dc1]}
  charging_modes: [postPaid]
  allow_auto_pay: false
  max_count: 3
  max_root_volume_gb: 100
  max_data_volume_gb: 500
  required_server_tags: [cost-center, owner]
  max_servers_per_hour: 4
"""
    body = server_body(
        count=5,
        flavorRef="s6.xlarge.8",
        root_volume={"volumetype": "SSD", "size": 101},
        data_volumes=[{"volumetype": "SSD", "size": 10}, {"volumetype": "SSD", "size": 501}],
        server_tags=[{"key": "owner", "value": "me"}],
        extendparam={
            "chargingMode": "prePaid",
            "periodType": "month",
            "periodNum": 1,
            "isAutoPay": "true",
        },
    )
    assert broken(policy, body) == [
        ("flavors", "server.flavorRef"),
        ("images", "server.imageRef"),
        ("availability_zones", "server.availability_zone"),
        ("charging_modes", "server.extendparam.chargingMode"),
        ("allow_auto_pay", "server.extendparam.isAutoPay"),
        ("max_count", "server.count"),
        ("max_servers_per_hour", "server.count"),
        ("max_root_volume_gb", "server.root_volume.size"),
        ("max_data_volume_gb", "server.data_volumes[1].size"),
        ("required_server_tags", "server.server_tags"),
    ]


def test_messages_say_what_is_wrong_and_what_is_allowed() -> None:
    rules = parse_policy(b"default: {flavors: {allow: [s6.*]}, required_server_tags: [cc]}")
    found = violations(rules.default, server_body(flavorRef="c7.large.2"))
    assert [v.message for v in found] == [
        "c7.large.2 is not allowed (allowed: s6.*)",
        "missing required tag key(s): cc",
    ]
    assert found[0].as_detail() == {
        "rule": "flavors",
        "path": "server.flavorRef",
        "message": "c7.large.2 is not allowed (allowed: s6.*)",
    }


@pytest.mark.parametrize(
    ("policy", "extra", "expected"),
    [
        ("{charging_modes: [postPaid]}", {}, []),  # absent chargingMode is postPaid
        (
            "{charging_modes: [prePaid]}",
            {},
            [("charging_modes", "server.extendparam.chargingMode")],
        ),
        ("{allow_auto_pay: false}", {"extendparam": {"isAutoPay": "false"}}, []),
        ("{allow_auto_pay: true}", {"extendparam": {"isAutoPay": "true"}}, []),
        ("{availability_zones: {deny: [az9]}}", {}, []),  # no zone named: nothing denied
        (
            "{availability_zones: {deny: [az9]}}",
            {"availability_zone": "az9"},
            [("availability_zones", "server.availability_zone")],
        ),
        ("{max_root_volume_gb: 10}", {}, []),  # no size: the image's size, not checked
        ("{flavors: {allow: [S6.*]}}", {}, [("flavors", "server.flavorRef")]),  # case-sensitive
    ],
)
def test_edge_cases_of_single_rules(
    policy: str, extra: dict[str, Any], expected: list[tuple[str, str]]
) -> None:
    assert broken(f"default: {policy}", server_body(**extra)) == expected


def test_project_rules_apply_only_to_their_project() -> None:
    policy = "default: {max_count: 1}\nprojects: {big: {max_count: 10}}\n"
    assert broken(policy, server_body(count=5), project="big") == []
    assert broken(policy, server_body(count=5), project="small") == [("max_count", "server.count")]
