"""The tenants file: its schema, its error messages, and what two tenants may never share."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from ecsp_contract.idempotency import DEFAULT_TOKEN_NAMESPACE, tenant_namespace
from worker.tenancy.load import TenantsFileError, parse_tenants, read_tenants
from worker.tenancy.sharing import DefaultTenantScope, token_namespace_of

DEFAULT = DefaultTenantScope(
    projects=frozenset({"shared-1", "shared-2"}),
    token_namespace=DEFAULT_TOKEN_NAMESPACE,
    secret_dir=None,
)
TWO_TEAMS = """
tenants:
  team-a: {project_id: a-1, projects: [a-2], secret_dir: /run/secrets/team-a}
  team-b: {project_id: b-1}
"""


def problems(text: str, default: DefaultTenantScope = DEFAULT) -> list[str]:
    with pytest.raises(TenantsFileError) as caught:
        parse_tenants(text.encode(), default)
    return caught.value.problems


def test_a_valid_file_names_each_tenants_projects_and_secret_directory() -> None:
    document = parse_tenants(TWO_TEAMS.encode(), DEFAULT)
    assert list(document.tenants) == ["team-a", "team-b"]
    team_a, team_b = document.tenants["team-a"], document.tenants["team-b"]
    assert team_a.all_projects() == ["a-1", "a-2"]
    assert team_a.secret_dir == Path("/run/secrets/team-a")
    assert (team_b.all_projects(), team_b.secret_dir) == (["b-1"], None)


def test_a_tenants_token_namespace_is_derived_from_its_name_unless_given() -> None:
    document = parse_tenants(
        b"tenants:\n  team-a: {project_id: a}\n"
        b"  team-b: {project_id: b, token_namespace: 9b3c0f4e-8f5e-4f7a-9e2d-2f1c8c2b7a10}\n",
        DEFAULT,
    )
    a, b = document.tenants["team-a"], document.tenants["team-b"]
    assert token_namespace_of("team-a", a, DEFAULT_TOKEN_NAMESPACE) == tenant_namespace(
        DEFAULT_TOKEN_NAMESPACE, "team-a"
    )
    assert token_namespace_of("team-b", b, DEFAULT_TOKEN_NAMESPACE) == uuid.UUID(
        "9b3c0f4e-8f5e-4f7a-9e2d-2f1c8c2b7a10"
    )


def test_a_typo_or_an_unsafe_name_stops_the_worker_naming_each_problem() -> None:
    found = problems(
        "tenants:\n"
        "  team-a: {project_id: a, project: [a-2]}\n"
        "  Team_B: {project_id: b}\n"
        "  default: {project_id: c}\n"
        "  team-d: {projects: [d]}\n"
        "  team-e: {project_id: e, token_namespace: not-a-uuid}\n"
    )
    assert "tenants.team-a.project: unknown key; did you mean projects?" in found
    assert any(p.startswith("tenants.Team_B[key]: ") and "hyphens" in p for p in found)
    assert any("'default' is the name of the tenant of the shared topics" in p for p in found)
    assert "tenants.team-d.project_id: required field is missing" in found
    assert "tenants.team-e.token_namespace: must be a UUID" in found
    assert len(found) == 5


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "the file is empty; write `tenants: {}` for none"),
        ("- a\n", "must be a mapping, not a list"),
        ("tenants: {a: [\n", "not YAML: "),
        ("tenant: {}\n", "tenant: unknown key; did you mean tenants?"),
    ],
)
def test_files_that_are_not_a_tenants_file_are_refused_with_one_clear_line(
    text: str, expected: str
) -> None:
    (problem,) = problems(text)
    assert problem.startswith(expected)


def test_a_project_belongs_to_one_tenant() -> None:
    found = problems(
        "tenants:\n"
        "  team-a: {project_id: a, projects: [shared-2]}\n"
        "  team-b: {project_id: b, projects: [a]}\n"
    )
    assert found == [
        "tenants.team-a.projects[0]: project shared-2 is the default tenant's already "
        "(a project belongs to one tenant)",
        "tenants.team-b.projects[0]: project a is tenant team-a's already "
        "(a project belongs to one tenant)",
    ]


def test_no_two_tenants_share_a_token_namespace() -> None:
    derived_a = tenant_namespace(DEFAULT_TOKEN_NAMESPACE, "team-a")
    found = problems(
        "tenants:\n"
        "  team-a: {project_id: a}\n"
        f"  team-b: {{project_id: b, token_namespace: {derived_a}}}\n"
        f"  team-c: {{project_id: c, token_namespace: {DEFAULT_TOKEN_NAMESPACE}}}\n"
    )
    assert found == [
        f"tenants.team-b.token_namespace: {derived_a} is tenant team-a's (two tenants with one "
        "namespace share every token of a key they both use)",
        f"tenants.team-c.token_namespace: {DEFAULT_TOKEN_NAMESPACE} is the default tenant's "
        "(two tenants with one namespace share every token of a key they both use)",
    ]


def test_secret_directories_neither_coincide_nor_nest(tmp_path: Path) -> None:
    default = DefaultTenantScope(DEFAULT.projects, DEFAULT_TOKEN_NAMESPACE, tmp_path / "shared")
    found = problems(
        "tenants:\n"
        f"  team-a: {{project_id: a, secret_dir: {tmp_path}/shared/team-a}}\n"
        f"  team-b: {{project_id: b, secret_dir: {tmp_path}/b}}\n"
        f"  team-c: {{project_id: c, secret_dir: {tmp_path}/b/../b}}\n"
        f"  team-d: {{project_id: d, secret_dir: {tmp_path}/d}}\n",
        default,
    )
    assert [p.split(":")[0] for p in found] == [
        "tenants.team-a.secret_dir",
        "tenants.team-c.secret_dir",
    ]
    assert "overlaps the default tenant's" in found[0]
    assert "overlaps tenant team-b's" in found[1]


def test_an_unreadable_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(TenantsFileError) as caught:
        read_tenants(tmp_path / "missing.yaml", DEFAULT)
    assert caught.value.problems == ["cannot read it: No such file or directory"]
    assert str(caught.value).startswith(f"invalid tenants file {tmp_path}/missing.yaml: ")
