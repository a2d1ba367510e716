"""The tenants component: each tenant's topics, a KafkaUser per team that alone may write its
request topic and read only its own events, the worker's user covering every tenant's topics,
and the tenants file the worker reads (valid for the worker's own loader) with its secret mounts.

Rendered with the production set-up (base + keda + strimzi + tenants); the custom resources are
checked against Strimzi's CRD schemas strictly, as in test_strimzi.py.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path

import pytest
import yaml

from ecsp_contract.channels import Channel
from ecsp_contract.idempotency import DEFAULT_TOKEN_NAMESPACE
from ecsp_contract.tenants import tenant_topic
from tests.support.manifests import (
    K8S,
    Manifest,
    kustomize,
    objects_of,
    setting,
    the,
    validate_builtin_objects,
    worker_container,
    worker_env,
)
from tests.support.strimzi import acls_of, validate_custom_resource
from worker.tenancy.load import parse_tenants
from worker.tenancy.model import TenantsDocument
from worker.tenancy.sharing import DefaultTenantScope

TENANTS = K8S / "components" / "tenants"
READ = {"Read", "Describe"}
WRITE = {"Write", "Describe"}


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> list[Manifest]:
    workdir = tmp_path_factory.mktemp("tenants")
    components = [K8S / "components" / n for n in ("keda", "strimzi", "tenants")]
    (workdir / "kustomization.yaml").write_text(
        yaml.safe_dump(
            {
                "apiVersion": "kustomize.config.k8s.io/v1beta1",
                "kind": "Kustomization",
                "resources": [os.path.relpath(K8S / "base", workdir)],
                "components": [os.path.relpath(c, workdir) for c in components],
            }
        )
    )
    return kustomize(workdir)


def tenants_file(objects: list[Manifest]) -> tuple[str, TenantsDocument]:
    """Where the worker reads the tenants file, and the file as the worker's loader reads it."""
    [config_map] = objects_of(objects, "ConfigMap", "ecs-provisioner-tenants")
    raw = config_map["data"]["tenants.yaml"].encode()
    config = worker_env(objects)
    projects = [config.get("ECSP_ECS_PROJECT_ID", "")]
    projects += config.get("ECSP_ECS_PROJECT_ALLOWLIST", "").split(",")
    default = DefaultTenantScope(
        projects=frozenset(projects) - {""},
        token_namespace=DEFAULT_TOKEN_NAMESPACE,
        secret_dir=Path(setting(objects, "secret_dir")),
    )
    env = {e["name"]: e.get("value") for e in worker_container(objects)["env"]}
    return env["ECSP_TENANTS_FILE"], parse_tenants(raw, default)


def tenant_topics(objects: list[Manifest], tenant: str) -> dict[Channel, str]:
    return {c: tenant_topic(setting(objects, f"topic_{c.value}"), tenant) for c in Channel}


def tenant_user_problems(user: Manifest, topics: dict[Channel, str], tenant: str) -> list[str]:
    """Why a team's KafkaUser could do more (or less) than use its own tenant's topics."""
    wanted = {
        ("topic", topics[Channel.REQUESTS], "literal"): WRITE,
        **{("topic", t, "literal"): READ for c, t in topics.items() if c is not Channel.REQUESTS},
        ("group", f"{tenant}.", "prefix"): {"Read"},
    }
    found = acls_of(user)
    return [
        f"{key}: {found.get(key)} != {ops}" for key, ops in wanted.items() if found.get(key) != ops
    ] + [f"{key}: not the tenant's own" for key in found if key not in wanted]


def test_the_custom_resources_validate_against_strimzis_crd_schemas(
    rendered: list[Manifest],
) -> None:
    custom = [o for o in rendered if o["kind"] in {"KafkaTopic", "KafkaUser"}]
    assert sorted(o["kind"] for o in custom) == ["KafkaTopic"] * 10 + ["KafkaUser"] * 2
    for obj in custom:
        validate_custom_resource(obj)
    validate_builtin_objects(rendered)


def test_the_tenants_file_is_valid_for_the_worker_and_mounted_where_it_reads_it(
    rendered: list[Manifest],
) -> None:
    path, document = tenants_file(rendered)
    assert list(document.tenants) == ["team-a"]
    pod = the(rendered, "Deployment", "ecs-provisioner")["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = {
        m["mountPath"]: volumes[m["name"]] for m in worker_container(rendered)["volumeMounts"]
    }
    directory, name = path.rsplit("/", 1)
    assert name == "tenants.yaml"
    assert mounts[directory]["configMap"]["name"].startswith("ecs-provisioner-tenants")
    for tenant, spec in document.tenants.items():
        assert spec.secret_dir is not None
        secret = mounts[str(spec.secret_dir)]["secret"]
        assert secret["secretName"] == f"ecs-provisioner-tenant-{tenant}"


def test_each_tenant_has_its_topics_and_a_user_that_may_use_only_them(
    rendered: list[Manifest],
) -> None:
    _, document = tenants_file(rendered)
    topic_names = {t["spec"]["topicName"]: t["spec"] for t in objects_of(rendered, "KafkaTopic")}
    for tenant in document.tenants:
        topics = tenant_topics(rendered, tenant)
        assert set(topics.values()) <= set(topic_names)
        assert topic_names[topics[Channel.STATE]]["config"]["cleanup.policy"] == "compact"
        user = the(rendered, "KafkaUser", f"ecsp-tenant-{tenant}")
        assert user["spec"]["authentication"]["type"] == "scram-sha-512"
        assert tenant_user_problems(user, topics, tenant) == []


def test_the_tenant_user_check_catches_a_prefix_that_reaches_another_tenant(
    rendered: list[Manifest],
) -> None:
    """Negative control: `…requests.team-a` as a prefix also matches `…requests.team-ab`."""
    user = copy.deepcopy(the(rendered, "KafkaUser", "ecsp-tenant-team-a"))
    user["spec"]["authorization"]["acls"][0]["resource"]["patternType"] = "prefix"
    problems = tenant_user_problems(user, tenant_topics(rendered, "team-a"), "team-a")
    assert any("not the tenant's own" in p for p in problems)


def test_the_workers_user_reads_and_writes_every_tenants_topics(
    rendered: list[Manifest],
) -> None:
    _, document = tenants_file(rendered)
    worker = acls_of(the(rendered, "KafkaUser", "ecs-provisioner"))

    def allowed(topic: str) -> set[str]:
        ops: set[str] = set()
        for (kind, name, pattern), granted in worker.items():
            if kind == "topic" and (
                name == topic or (pattern == "prefix" and topic.startswith(name))
            ):
                ops |= granted
        return ops

    for tenant in document.tenants:
        for channel, topic in tenant_topics(rendered, tenant).items():
            assert allowed(topic) == (READ if channel is Channel.REQUESTS else WRITE), topic
