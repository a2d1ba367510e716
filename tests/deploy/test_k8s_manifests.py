"""The Kubernetes manifests render, validate and agree with the worker's configuration.

Built-in kinds are validated with kubernetes-validate (strict: unknown fields fail) against the
oldest and newest Kubernetes minor versions we support. The CRDs (KEDA ScaledObject and
TriggerAuthentication, Prometheus Operator PrometheusRule and ServiceMonitor) are not in its
schemas; they are checked here against the fields their projects document as required, plus the
references between objects (scale target, authentication, selected Service port).
"""

from __future__ import annotations

import base64
import copy
import posixpath
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import kubernetes_validate
import pytest
import yaml

from tests.support.manifests import (
    KUBERNETES_VERSIONS,
    WORKER,
    Manifest,
    objects_of,
    setting,
    the,
    worker_container,
    worker_env,
)
from worker.ops.settings import FILE_BACKED_SECRETS, Settings
from worker.policy.load import parse_policy

REPO = Path(__file__).resolve().parents[2]
CRD_KINDS = {"ScaledObject", "TriggerAuthentication", "PrometheusRule", "ServiceMonitor"}
#: Validated against Strimzi's CRD schemas in test_strimzi.py.
STRIMZI_KINDS = {"KafkaTopic", "KafkaUser"}
DURATION = re.compile(r"^(\d+(ms|s|m|h|d|w|y))+$")


def all_containers(objects: list[Manifest]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (obj["metadata"]["name"], container)
        for obj in objects
        if obj["kind"] == "Deployment"
        for container in obj["spec"]["template"]["spec"]["containers"]
    ]


def matches_selector(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(key) == value for key, value in selector.items())


# --- rendering and schemas ---------------------------------------------------------------------


def test_every_overlay_renders_the_worker(rendered_overlays: dict[str, list[Manifest]]) -> None:
    assert set(rendered_overlays) == {"dev", "prod"}
    for objects in rendered_overlays.values():
        kinds = {obj["kind"] for obj in objects}
        assert {
            "Deployment",
            "ConfigMap",
            "Service",
            "PodDisruptionBudget",
            "NetworkPolicy",
        } <= kinds
        assert {obj["metadata"].get("namespace") for obj in objects} != {None}


def test_every_component_renders_on_the_base(
    rendered_components: dict[str, list[Manifest]],
) -> None:
    expected = {
        "keda": {"ScaledObject", "TriggerAuthentication"},
        "hpa": {"HorizontalPodAutoscaler"},
        "guardrails": {"ConfigMap", "Deployment"},
        "monitoring": {"PrometheusRule", "ServiceMonitor", "ConfigMap"},
        "scrape-annotations": {"Deployment"},
        "strimzi": {"KafkaTopic", "KafkaUser", "Deployment", "ConfigMap"},
        "tenants": {"KafkaTopic", "KafkaUser", "Deployment", "ConfigMap"},
    }
    assert set(rendered_components) == set(expected)
    for name, objects in rendered_components.items():
        assert expected[name] <= {obj["kind"] for obj in objects}, name


def _builtin_objects(
    overlays: dict[str, list[Manifest]],
    components: dict[str, list[Manifest]],
    templates: list[Manifest],
) -> list[tuple[str, Manifest]]:
    labelled = [(f"overlay {n}", o) for n, objs in overlays.items() for o in objs]
    labelled += [(f"base+{n}", o) for n, objs in components.items() for o in objs]
    labelled += [("secrets.template.yaml", o) for o in templates]
    return [(where, obj) for where, obj in labelled if obj["kind"] not in CRD_KINDS | STRIMZI_KINDS]


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_builtin_objects_validate_against_kubernetes_schemas(
    version: str,
    rendered_overlays: dict[str, list[Manifest]],
    rendered_components: dict[str, list[Manifest]],
    secret_templates: list[Manifest],
) -> None:
    checked = _builtin_objects(rendered_overlays, rendered_components, secret_templates)
    assert len(checked) > 20
    errors = []
    for where, obj in checked:
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            errors.append(f"{where}: {obj['kind']}/{obj['metadata']['name']}: {exc.message}")
    assert not errors, "\n".join(errors)


def test_the_schema_validation_catches_a_misspelt_field(
    rendered_overlays: dict[str, list[Manifest]],
) -> None:
    """Negative control: the validator really rejects what a typo would produce."""
    deployment = copy.deepcopy(the(rendered_overlays["prod"], "Deployment", WORKER))
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    container["livenesProbe"] = container.pop("livenessProbe")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSIONS[-1], strict=True)


def _check_scaled_object(obj: Manifest, objects: list[Manifest]) -> None:
    assert obj["apiVersion"] == "keda.sh/v1alpha1"
    spec = obj["spec"]
    target = spec["scaleTargetRef"]
    assert target.get("kind", "Deployment") == "Deployment"
    the(objects, "Deployment", target["name"])
    assert 0 <= spec["minReplicaCount"] <= spec["maxReplicaCount"]
    assert spec["triggers"], "a ScaledObject needs at least one trigger"
    for trigger in spec["triggers"]:
        # KEDA's metadata is map[string]string: a YAML number or bool here is rejected
        assert all(isinstance(v, str) for v in trigger["metadata"].values()), trigger
        required = {
            "kafka": {"bootstrapServers", "consumerGroup", "topic"},
            "prometheus": {"serverAddress", "query", "threshold"},
        }[trigger["type"]]
        assert required <= set(trigger["metadata"]), trigger
        if "authenticationRef" in trigger:
            the(objects, "TriggerAuthentication", trigger["authenticationRef"]["name"])
    modifiers = spec.get("advanced", {}).get("scalingModifiers")
    if modifiers is not None:  # the formula may name only triggers that exist
        names = {trigger.get("name") for trigger in spec["triggers"]}
        used = set(re.findall(r"[a-z_]+", modifiers["formula"]))
        assert used <= names, f"formula names unknown triggers: {used - names}"
        assert all(isinstance(v, str) for v in modifiers.values() if not isinstance(v, dict))


def _check_trigger_authentication(obj: Manifest) -> None:
    assert obj["apiVersion"] == "keda.sh/v1alpha1"
    kafka_parameters = {"sasl", "username", "password", "tls", "ca", "cert", "key", "keyPassword"}
    refs = obj["spec"]["secretTargetRef"]
    assert refs
    for ref in refs:
        assert set(ref) == {"parameter", "name", "key"}
        assert ref["parameter"] in kafka_parameters


def _check_prometheus_rule(obj: Manifest) -> None:
    assert obj["apiVersion"] == "monitoring.coreos.com/v1"
    groups = obj["spec"]["groups"]
    assert groups
    for group in groups:
        assert group["name"]
        assert group["rules"]
        for rule in group["rules"]:
            assert ("alert" in rule) != ("record" in rule), rule
            assert isinstance(rule["expr"], str)
            assert rule["expr"].strip()
            assert DURATION.match(rule.get("for", "0s")), rule


def _check_service_monitor(obj: Manifest, objects: list[Manifest]) -> None:
    assert obj["apiVersion"] == "monitoring.coreos.com/v1"
    spec = obj["spec"]
    services = [
        svc
        for svc in objects_of(objects, "Service")
        if matches_selector(spec["selector"]["matchLabels"], svc["metadata"].get("labels", {}))
    ]
    assert [svc["metadata"]["name"] for svc in services] == [WORKER]
    port_names = {port["name"] for port in services[0]["spec"]["ports"]}
    for endpoint in spec["endpoints"]:
        assert endpoint["port"] in port_names
        assert DURATION.match(endpoint["interval"])


@pytest.mark.parametrize("source", ["overlays", "components"])
def test_custom_resources_have_their_documented_fields(
    source: str,
    rendered_overlays: dict[str, list[Manifest]],
    rendered_components: dict[str, list[Manifest]],
) -> None:
    renders = rendered_overlays if source == "overlays" else rendered_components
    seen = set()
    for objects in renders.values():
        for obj in objects:
            kind = obj["kind"]
            if kind not in CRD_KINDS:
                continue
            seen.add(kind)
            assert obj["metadata"]["name"]
            if kind == "ScaledObject":
                _check_scaled_object(obj, objects)
            elif kind == "TriggerAuthentication":
                _check_trigger_authentication(obj)
            elif kind == "PrometheusRule":
                _check_prometheus_rule(obj)
            else:
                _check_service_monitor(obj, objects)
    assert seen == CRD_KINDS


# --- agreement with the worker's configuration -------------------------------------------------


@pytest.mark.parametrize("overlay", ["dev", "prod"])
def test_probes_and_ports_match_the_worker_settings(
    overlay: str, rendered_overlays: dict[str, list[Manifest]]
) -> None:
    objects = rendered_overlays[overlay]
    ops_port = int(setting(objects, "ops_port"))
    assert Settings.model_fields["ops_port"].default == 8080
    container = worker_container(objects)
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}

    def resolved(probe: dict[str, Any]) -> tuple[str, int]:
        port = probe["httpGet"]["port"]
        return probe["httpGet"]["path"], ports[port] if isinstance(port, str) else port

    assert resolved(container["livenessProbe"]) == ("/healthz", ops_port)
    assert resolved(container["readinessProbe"]) == ("/readyz", ops_port)
    assert resolved(container["startupProbe"]) == ("/healthz", ops_port)

    service = the(objects, "Service", WORKER)
    (metrics,) = service["spec"]["ports"]
    target = metrics["targetPort"]
    assert (ports[target] if isinstance(target, str) else target) == ops_port
    # scrape annotations (components/scrape-annotations): tests/deploy/test_alerts.py


@pytest.mark.parametrize("overlay", ["dev", "prod"])
def test_termination_grace_covers_the_shutdown_drain(
    overlay: str, rendered_overlays: dict[str, list[Manifest]]
) -> None:
    objects = rendered_overlays[overlay]
    grace = float(setting(objects, "shutdown_grace_seconds"))
    assert Settings.model_fields["shutdown_grace_seconds"].default == 25.0
    pod = the(objects, "Deployment", WORKER)["spec"]["template"]["spec"]
    assert pod["terminationGracePeriodSeconds"] >= grace + 5


@pytest.mark.parametrize("overlay", ["dev", "prod"])
def test_every_configured_variable_is_a_worker_setting(
    overlay: str, rendered_overlays: dict[str, list[Manifest]]
) -> None:
    """A misspelt ECSP_ name would be silently ignored by the worker (extra="ignore")."""
    objects = rendered_overlays[overlay]
    known = {f"ECSP_{field.upper()}" for field in Settings.model_fields}
    known |= {f"ECSP_{name.upper()}_FILE" for name in FILE_BACKED_SECRETS}
    names = set(worker_env(objects))
    names |= {env["name"] for env in worker_container(objects).get("env", [])}
    assert names, "the worker gets no configuration"
    assert not names - known, f"unknown settings: {sorted(names - known)}"
    assert setting(objects, "ecs_project_id"), "ECSP_ECS_PROJECT_ID is required"


def _secret_mounts(objects: list[Manifest]) -> dict[str, str]:
    """mountPath -> Secret name (as in the base, generated hash suffix removed)."""
    pod = the(objects, "Deployment", WORKER)["spec"]["template"]["spec"]
    secrets = {
        vol["name"]: re.sub(r"-[a-z0-9]{10}$", "", vol["secret"]["secretName"])
        for vol in pod["volumes"]
        if "secret" in vol
    }
    return {
        mount["mountPath"]: secrets[mount["name"]]
        for mount in pod["containers"][0]["volumeMounts"]
        if mount["name"] in secrets
    }


@pytest.mark.parametrize("overlay", ["dev", "prod"])
def test_file_settings_point_into_mounted_secret_keys(
    overlay: str,
    rendered_overlays: dict[str, list[Manifest]],
    secret_templates: list[Manifest],
) -> None:
    objects = rendered_overlays[overlay]
    mounts = _secret_mounts(objects)
    template_keys = {obj["metadata"]["name"]: set(obj["stringData"]) for obj in secret_templates}
    env = worker_env(objects)
    file_settings = {k: v for k, v in env.items() if k.endswith("_FILE")}
    assert "ECSP_ECS_AK_FILE" in file_settings
    for name, path in file_settings.items():
        directory, key = posixpath.split(path)
        assert directory in mounts, f"{name}={path} is not inside a mounted Secret"
        assert key in template_keys[mounts[directory]], f"{name}: no key {key} in the template"
    assert env["ECSP_SECRET_DIR"] in mounts
    sasl_user = worker_container(objects)["env"][0]["valueFrom"]["secretKeyRef"]
    assert sasl_user["key"] in template_keys[sasl_user["name"]]


def test_secret_template_holds_no_values(
    secret_templates: list[Manifest], rendered_overlays: dict[str, list[Manifest]]
) -> None:
    assert {obj["metadata"]["name"] for obj in secret_templates} == {
        "ecs-provisioner-cloud",
        "ecs-provisioner-kafka",
        "ecs-provisioner-admin-passwords",
    }
    for obj in secret_templates:
        assert "data" not in obj
        assert all(value == "" for value in obj["stringData"].values()), obj["metadata"]
    # applying prod must never overwrite the operator's real Secrets with the template's blanks
    for path in (REPO / "deploy").rglob("kustomization.yaml"):
        resources = yaml.safe_load(path.read_text()).get("resources", [])
        assert not [r for r in resources if "secrets.template" in r], path
    assert not objects_of(rendered_overlays["prod"], "Secret")


# --- hardening and scheduling ------------------------------------------------------------------


@pytest.mark.parametrize("overlay", ["dev", "prod"])
def test_pods_run_hardened(overlay: str, rendered_overlays: dict[str, list[Manifest]]) -> None:
    objects = rendered_overlays[overlay]
    for deployment in objects_of(objects, "Deployment"):
        pod = deployment["spec"]["template"]["spec"]
        assert pod["automountServiceAccountToken"] is False
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] > 0
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        writable = {vol["name"] for vol in pod["volumes"] if "emptyDir" in vol}
        for container in pod["containers"]:
            context = container["securityContext"]
            assert context["readOnlyRootFilesystem"] is True
            assert context["allowPrivilegeEscalation"] is False
            assert context["capabilities"]["drop"] == ["ALL"]
            tmp = [m for m in container["volumeMounts"] if m["mountPath"] == "/tmp"]
            assert tmp
            assert tmp[0]["name"] in writable


def _quantity(value: str | int | float) -> float:
    text = str(value)
    units = {"m": 1e-3, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30}
    for suffix, factor in units.items():
        if text.endswith(suffix):
            return float(text[: -len(suffix)]) * factor
    return float(text)


@pytest.mark.parametrize("overlay", ["dev", "prod"])
def test_every_container_has_requests_within_limits(
    overlay: str, rendered_overlays: dict[str, list[Manifest]]
) -> None:
    for name, container in all_containers(rendered_overlays[overlay]):
        resources = container["resources"]
        for resource in ("cpu", "memory"):
            request = _quantity(resources["requests"][resource])
            assert 0 < request <= _quantity(resources["limits"][resource]), (name, resource)
        image = container["image"]
        assert re.search(r":[\w.-]+$", image), image
        assert not image.endswith(":latest"), image


def test_prod_gets_more_than_dev(rendered_overlays: dict[str, list[Manifest]]) -> None:
    def limits(overlay: str) -> dict[str, Any]:
        limits: dict[str, Any] = worker_container(rendered_overlays[overlay])["resources"]["limits"]
        return limits

    for resource in ("cpu", "memory"):
        assert _quantity(limits("prod")[resource]) > _quantity(limits("dev")[resource])
    assert the(rendered_overlays["dev"], "Deployment", WORKER)["spec"]["replicas"] == 1


@pytest.mark.parametrize("overlay", ["dev", "prod"])
def test_disruption_budget_and_spread_select_the_worker_pods(
    overlay: str, rendered_overlays: dict[str, list[Manifest]]
) -> None:
    objects = rendered_overlays[overlay]
    deployment = the(objects, "Deployment", WORKER)
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    pdb = the(objects, "PodDisruptionBudget", WORKER)["spec"]
    assert matches_selector(pdb["selector"]["matchLabels"], labels)
    assert pdb["maxUnavailable"] == 1
    spread = deployment["spec"]["template"]["spec"]["topologySpreadConstraints"]
    assert {c["topologyKey"] for c in spread} >= {"kubernetes.io/hostname"}
    assert all(matches_selector(c["labelSelector"]["matchLabels"], labels) for c in spread)
    others = [d for d in objects_of(objects, "Deployment") if d is not deployment]
    for other in others:  # the PDB must not cover e.g. the dev simulator
        other_labels = other["spec"]["template"]["metadata"]["labels"]
        assert not matches_selector(pdb["selector"]["matchLabels"], other_labels)


# --- autoscaling ---------------------------------------------------------------------------------


def test_keda_scales_the_prod_group_within_the_partitions(
    rendered_overlays: dict[str, list[Manifest]],
) -> None:
    objects = rendered_overlays["prod"]
    scaled = the(objects, "ScaledObject", WORKER)
    partitions = int(scaled["metadata"]["annotations"]["ecs-provisioner/request-topic-partitions"])
    assert scaled["spec"]["maxReplicaCount"] == partitions
    (trigger,) = [t for t in scaled["spec"]["triggers"] if t["type"] == "kafka"]
    meta = trigger["metadata"]
    assert meta["bootstrapServers"] == setting(objects, "kafka_bootstrap_servers")
    assert meta["consumerGroup"] == setting(objects, "group_id")
    assert meta["topic"] == setting(objects, "topic_requests")
    assert int(meta["lagThreshold"]) >= int(setting(objects, "max_in_flight"))
    assert meta.get("allowIdleConsumers", "false") == "false"
    protocol = setting(objects, "kafka_security_protocol")
    assert (meta.get("tls") == "enable") == (protocol in {"SSL", "SASL_SSL"})
    keda_sasl = {
        "PLAIN": "plaintext",
        "SCRAM-SHA-256": "scram_sha256",
        "SCRAM-SHA-512": "scram_sha512",
    }
    mechanism = keda_sasl[setting(objects, "kafka_sasl_mechanism")]
    expected_sasl = mechanism if protocol.startswith("SASL") else "none"
    assert meta.get("sasl", "none") == expected_sasl
    assert "replicas" not in the(objects, "Deployment", WORKER)["spec"], "KEDA owns replicas"


def test_keda_neither_scales_out_nor_in_on_lag_while_the_api_breaker_is_open(
    rendered_overlays: dict[str, list[Manifest]],
) -> None:
    scaled = the(rendered_overlays["prod"], "ScaledObject", WORKER)
    modifiers = scaled["spec"]["advanced"]["scalingModifiers"]
    target = float(modifiers["target"])
    (kafka,) = [t for t in scaled["spec"]["triggers"] if t["type"] == "kafka"]
    assert target == float(kafka["metadata"]["lagThreshold"])
    queries = {t["name"]: t["metadata"].get("query", "") for t in scaled["spec"]["triggers"]}
    assert "ecsp_api_circuit_state" in queries["breaker"]
    assert "up{" in queries["pods"]

    def desired(breaker: float, pods: float, lag: float) -> float:
        """KEDA's AverageValue: replicas = formula / target (formula in expr-lang)."""
        condition, branches = modifiers["formula"].split("?")
        when_open, when_closed = branches.split(":")
        env = {"breaker": breaker, "pods": pods, "lag": lag}
        chosen = when_open if eval(condition, {}, env) else when_closed  # our own YAML
        return float(eval(chosen, {}, env)) / target

    assert desired(breaker=2, pods=4, lag=50_000) == 4  # API down: the pods that run, no more
    assert desired(breaker=1, pods=4, lag=50_000) == 4  # probing: still hold
    assert desired(breaker=0, pods=4, lag=2_000) == 10  # API up: lag decides, as before


def test_hpa_alternative_uses_the_same_sizing(
    rendered_components: dict[str, list[Manifest]],
) -> None:
    objects = rendered_components["hpa"]
    hpa = the(objects, "HorizontalPodAutoscaler", WORKER)
    partitions = int(hpa["metadata"]["annotations"]["ecs-provisioner/request-topic-partitions"])
    assert hpa["spec"]["maxReplicas"] == partitions
    assert hpa["spec"]["scaleTargetRef"]["name"] == WORKER
    (metric,) = hpa["spec"]["metrics"]
    assert metric["pods"]["metric"]["name"] == "ecsp_consumer_lag"
    target = int(metric["pods"]["target"]["averageValue"])
    assert target >= int(setting(objects, "max_in_flight"))
    assert "replicas" not in the(objects, "Deployment", WORKER)["spec"]


def test_dev_worker_talks_to_its_simulator(rendered_overlays: dict[str, list[Manifest]]) -> None:
    objects = rendered_overlays["dev"]
    endpoint = urlsplit(setting(objects, "ecs_endpoint"))
    service = the(objects, "Service", endpoint.hostname or "")
    assert [port["port"] for port in service["spec"]["ports"]] == [endpoint.port]
    simulator = the(objects, "Deployment", "ecs-simulator")["spec"]["template"]["spec"]
    args = simulator["containers"][0]["args"]
    assert args[0] == "simulator"
    assert args[args.index("--port") + 1] == str(endpoint.port)
    credentials = {args[i + 1] for i, arg in enumerate(args) if arg == "--credential"}
    secret = objects_of(objects, "Secret", "ecs-provisioner-cloud")[0]
    pair = {key: base64.b64decode(value).decode() for key, value in secret["data"].items()}
    assert f"{pair['ak']}:{pair['sk']}" in credentials


@pytest.mark.parametrize("overlay", ["dev", "prod"])
def test_secret_files_are_readable_by_the_worker_group_only(
    overlay: str, rendered_overlays: dict[str, list[Manifest]]
) -> None:
    """0440 + fsGroup: the non-root worker reads its secrets, nobody else (written in octal)."""
    pod = the(rendered_overlays[overlay], "Deployment", WORKER)["spec"]["template"]["spec"]
    modes = {vol["secret"]["defaultMode"] for vol in pod["volumes"] if "secret" in vol}
    assert modes == {0o440}
    assert pod["securityContext"]["fsGroup"] == pod["securityContext"]["runAsGroup"]


def test_the_policy_configmap_is_a_valid_policy_mounted_where_the_worker_reads_it(
    rendered_overlays: dict[str, list[Manifest]],
) -> None:
    objects = rendered_overlays["prod"]
    config_map = the(objects, "ConfigMap", "ecs-provisioner-policy")  # no hash: updated in place
    parse_policy(config_map["data"]["policy.yaml"].encode())
    container = worker_container(objects)
    pod = the(objects, "Deployment", WORKER)["spec"]["template"]["spec"]
    volume = next(v["name"] for v in pod["volumes"] if "configMap" in v)
    (mount,) = [m for m in container["volumeMounts"] if m["name"] == volume]
    assert "subPath" not in mount  # a subPath mount is never updated by kubelet
    policy_file = {e["name"]: e.get("value") for e in container["env"]}["ECSP_POLICY_FILE"]
    assert policy_file == posixpath.join(mount["mountPath"], "policy.yaml")
