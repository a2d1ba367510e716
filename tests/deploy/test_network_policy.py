"""The base's NetworkPolicy: the worker pods receive only on the ops port and reach only DNS,
Kafka, the ECS/IAM APIs (HTTPS) and the metadata service; every overlay's configured endpoints
are among them (dev adds its simulator)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.support.manifests import Manifest, objects_of, setting, the, worker_container
from worker.ecs.endpoints import default_endpoint, default_iam_endpoint

WORKER = "ecs-provisioner"


def policy(objects: list[Manifest]) -> dict[str, Any]:
    [only] = objects_of(objects, "NetworkPolicy")
    spec: dict[str, Any] = only["spec"]
    return spec


def egress_ports(spec: dict[str, Any]) -> set[tuple[int, str]]:
    return {(p["port"], p["protocol"]) for rule in spec["egress"] for p in rule["ports"]}


@pytest.mark.parametrize("overlay", ["dev", "prod"])
def test_the_policy_selects_the_worker_pods_only(
    overlay: str, rendered_overlays: dict[str, list[Manifest]]
) -> None:
    objects = rendered_overlays[overlay]
    spec = policy(objects)
    assert spec["policyTypes"] == ["Ingress", "Egress"]
    selector = spec["podSelector"]["matchLabels"]
    for deployment in objects_of(objects, "Deployment"):
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        selected = all(labels.get(k) == v for k, v in selector.items())
        assert selected == (deployment["metadata"]["name"] == WORKER)


@pytest.mark.parametrize("overlay", ["dev", "prod"])
def test_ingress_is_the_ops_port_only(
    overlay: str, rendered_overlays: dict[str, list[Manifest]]
) -> None:
    objects = rendered_overlays[overlay]
    [rule] = policy(objects)["ingress"]
    [port] = rule["ports"]
    [ops] = [p for p in worker_container(objects)["ports"] if p["name"] == port["port"]]
    assert ops["containerPort"] == int(setting(objects, "ops_port"))
    assert port["protocol"] == "TCP"


@pytest.mark.parametrize("overlay", ["dev", "prod"])
def test_egress_reaches_the_configured_endpoints_and_nothing_else(
    overlay: str, rendered_overlays: dict[str, list[Manifest]]
) -> None:
    objects = rendered_overlays[overlay]
    spec = policy(objects)
    allowed = egress_ports(spec)
    base = {(53, "UDP"), (53, "TCP"), (9092, "TCP"), (9093, "TCP"), (443, "TCP"), (80, "TCP")}
    extra = {(8700, "TCP")} if overlay == "dev" else set()
    assert allowed == base | extra
    for broker in setting(objects, "kafka_bootstrap_servers").split(","):
        assert (int(broker.rsplit(":", 1)[1]), "TCP") in allowed
    region = setting(objects, "ecs_region")
    for endpoint in (
        setting(objects, "ecs_endpoint") or default_endpoint(region),
        setting(objects, "iam_endpoint") or default_iam_endpoint(region),
    ):
        url = urlsplit(endpoint)
        assert (url.port or {"https": 443, "http": 80}[url.scheme], "TCP") in allowed
    [metadata_rule] = [r for r in spec["egress"] if r["ports"] == [{"port": 80, "protocol": "TCP"}]]
    assert metadata_rule["to"] == [{"ipBlock": {"cidr": "169.254.169.254/32"}}]
    [https] = [r for r in spec["egress"] if {"port": 443, "protocol": "TCP"} in r["ports"]]
    assert "169.254.0.0/16" in https["to"][0]["ipBlock"]["except"]


def test_the_dev_simulator_is_reachable_only_in_dev(
    rendered_overlays: dict[str, list[Manifest]],
) -> None:
    dev = rendered_overlays["dev"]
    simulator = the(dev, "Deployment", "ecs-simulator")["spec"]["template"]["metadata"]["labels"]
    [rule] = [r for r in policy(dev)["egress"] if {"port": 8700, "protocol": "TCP"} in r["ports"]]
    assert rule["to"] == [{"podSelector": {"matchLabels": simulator}}]
