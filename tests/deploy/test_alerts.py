"""Every alert is unit-tested with `promtool test rules`, has a runbook section, and reaches
kube-prometheus-stack's Prometheus exactly once per pod (selected by label, scraped once)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.manifests import K8S, MONITORING, kustomize

REPO = Path(__file__).resolve().parents[2]
RULES = MONITORING / "prometheus-rules.yaml"
RULE_TESTS = MONITORING / "prometheus-rules.test.yaml"
RUNBOOK = REPO / "docs" / "runbook.md"
RUNBOOK_URL = "https://github.com/your-org/ecs-provisioner/blob/main/docs/runbook.md"
RELEASE_LABEL = {"release": "kube-prometheus-stack"}
WORKER = "ecs-provisioner"
SCRAPE_ANNOTATIONS = ("prometheus.io/scrape", "prometheus.io/port", "prometheus.io/path")


def alerts() -> list[dict[str, Any]]:
    spec = yaml.safe_load(RULES.read_text())["spec"]
    return [rule for group in spec["groups"] for rule in group["rules"] if "alert" in rule]


def alerts_under_test() -> set[str]:
    cases = yaml.safe_load(RULE_TESTS.read_text())["tests"]
    return {check["alertname"] for case in cases for check in case["alert_rule_test"]}


def test_every_alert_has_unit_tests() -> None:
    assert {rule["alert"] for rule in alerts()} == alerts_under_test()


def test_alert_unit_tests_pass(tmp_path: Path) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool not on PATH (apt-get install prometheus); alert tests not run")
    spec = yaml.safe_load(RULES.read_text())["spec"]
    for group in spec["groups"]:
        for rule in group["rules"]:
            rule.pop("annotations", None)  # promtool would compare every rendered text
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(spec))
    shutil.copy(RULE_TESTS, tmp_path / RULE_TESTS.name)
    result = subprocess.run(
        [promtool, "test", "rules", RULE_TESTS.name],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def runbook_anchors() -> set[str]:
    """GitHub's anchors of the runbook's headings."""
    headings = re.findall(r"^#+\s+(.+?)\s*$", RUNBOOK.read_text(), re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", h).strip().lower().replace(" ", "-") for h in headings}


def test_every_alert_links_its_runbook_section() -> None:
    anchors = runbook_anchors()
    for rule in alerts():
        url = rule["annotations"].get("runbook_url", "")
        base, _, anchor = url.partition("#")
        assert base == RUNBOOK_URL, rule["alert"]
        assert anchor == rule["alert"].lower(), rule["alert"]
        assert anchor in anchors, f"docs/runbook.md has no section for {rule['alert']}"


def test_rules_and_service_monitor_carry_the_label_kube_prometheus_stack_selects() -> None:
    objects = kustomize(MONITORING)
    for kind in ("PrometheusRule", "ServiceMonitor"):
        (obj,) = [o for o in objects if o["kind"] == kind]
        assert RELEASE_LABEL.items() <= obj["metadata"]["labels"].items(), kind


def pod_annotations(objects: list[dict[str, Any]]) -> dict[str, str]:
    (deployment,) = [
        o for o in objects if o["kind"] == "Deployment" and o["metadata"]["name"] == WORKER
    ]
    annotations: dict[str, str] = deployment["spec"]["template"]["metadata"].get("annotations", {})
    return annotations


def test_pods_are_scraped_once() -> None:
    """The ServiceMonitor scrapes the pods; scrape annotations would make Prometheus' pod job
    scrape them again. Every overlay uses one or the other, never both."""
    assert not set(SCRAPE_ANNOTATIONS) & set(pod_annotations(kustomize(K8S / "base")))
    for overlay in sorted((K8S / "overlays").iterdir()):
        objects = kustomize(overlay)
        monitored = any(o["kind"] == "ServiceMonitor" for o in objects)
        annotated = bool(set(SCRAPE_ANNOTATIONS) & set(pod_annotations(objects)))
        assert not (monitored and annotated), overlay.name


def test_scrape_annotations_component_points_at_the_ops_port(tmp_path: Path) -> None:
    from tests.support.manifests import render_base_with

    objects = render_base_with(K8S / "components" / "scrape-annotations", tmp_path)
    annotations = pod_annotations(objects)
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/path"] == "/metrics"
    (deployment,) = [
        o for o in objects if o["kind"] == "Deployment" and o["metadata"]["name"] == WORKER
    ]
    ports = deployment["spec"]["template"]["spec"]["containers"][0]["ports"]
    assert annotations["prometheus.io/port"] in {str(p["containerPort"]) for p in ports}
