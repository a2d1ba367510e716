"""Alert rules and Grafana dashboard use only metrics that exist and cover what operators need.

Metric names come from the metrics table of docs/architecture.md (the worker's contract,
checked against a real `worker.ops.metrics.Metrics` registry) plus an explicit list of standard
metrics: Prometheus' `up`, prometheus-client's process collector and kafka-exporter's
consumer-group metrics. The PromQL is also parsed by `promtool` when it is on PATH (Debian
package `prometheus`); that one check is skipped, with a reason, where it is not.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from worker.ops.metrics import Metrics

REPO = Path(__file__).resolve().parents[2]
RULES = REPO / "deploy" / "monitoring" / "prometheus-rules.yaml"
DASHBOARD = REPO / "deploy" / "monitoring" / "grafana-dashboard.json"

#: Metrics this project does not define but may rely on.
STANDARD_METRICS = {
    "up",
    # prometheus-client's default process collector (Linux)
    "process_cpu_seconds_total",
    "process_resident_memory_bytes",
    "process_virtual_memory_bytes",
    "process_open_fds",
    "process_max_fds",
    "process_start_time_seconds",
    # kafka-exporter (consumer-group lag while no worker runs)
    "kafka_consumergroup_lag",
    "kafka_consumergroup_lag_sum",
    "kafka_consumergroup_current_offset",
    "kafka_consumergroup_members",
}
PROMQL_KEYWORDS = {
    "and",
    "or",
    "unless",
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "bool",
    "offset",
    "inf",
    "nan",
}


def worker_metrics() -> set[str]:
    """Series names the worker exports, from the table in docs/architecture.md."""
    text = (REPO / "docs" / "architecture.md").read_text()
    section = text.split("### Metrics", 1)[1].split("\n#", 1)[0]
    names: set[str] = set()
    for name, kind in re.findall(r"^\|\s*`(ecsp_\w+)`\s*\|\s*(\w+)\s*\|", section, re.MULTILINE):
        names |= (
            {f"{name}_bucket", f"{name}_sum", f"{name}_count"} if kind == "histogram" else {name}
        )
    return names


def exported_series() -> set[str]:
    """Series names a real worker registry exposes (labelled metrics have no samples yet)."""
    names: set[str] = set()
    for family in Metrics().registry.collect():
        if family.type == "counter":
            names.add(f"{family.name}_total")
        elif family.type == "histogram":
            names |= {f"{family.name}_bucket", f"{family.name}_sum", f"{family.name}_count"}
        else:
            names.add(family.name)
    return names


def metric_names(expr: str) -> set[str]:
    """Metric names referenced by a PromQL expression (or a Grafana query using $variables)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # string literals
    text = re.sub(r"label_values\(\s*([A-Za-z_:][\w:]*)\s*,[^)]*\)", r"\1", text)
    text = re.sub(r"\$\{?\w+\}?", "", text)  # Grafana variables
    text = re.sub(r"\{[^}]*\}", "", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", "", text)  # range and subquery selectors
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", text)
    names = set()
    for match in re.finditer(r"(?<![\w.])[A-Za-z_:][\w:]*", text):
        followed_by_call = text[match.end() :].lstrip().startswith("(")
        if not followed_by_call and match.group(0) not in PROMQL_KEYWORDS:
            names.add(match.group(0))
    return names


def rules() -> list[dict[str, Any]]:
    spec = yaml.safe_load(RULES.read_text())["spec"]
    return [rule for group in spec["groups"] for rule in group["rules"]]


def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return loaded


def dashboard_queries() -> list[str]:
    board = dashboard()
    queries = [
        target["expr"]
        for panel in board["panels"]
        for target in panel.get("targets", [])
        if "expr" in target
    ]
    for variable in board["templating"]["list"]:
        if variable["type"] == "query":
            query = variable["query"]
            queries.append(query["query"] if isinstance(query, dict) else query)
    return queries


def test_metric_name_extraction() -> None:
    """The extractor must see metrics through functions, matchers, grouping and variables."""
    expr = (
        'sum by (namespace, le) (rate(ecsp_api_latency_seconds_bucket{outcome="ok",'
        'namespace=~"$namespace"}[$__rate_interval])) / ignoring(stage) group_left '
        "sum(increase(ecsp_failures_total[1h])) > 1e3 and on() absent(up == 1)"
    )
    assert metric_names(expr) == {"ecsp_api_latency_seconds_bucket", "ecsp_failures_total", "up"}
    assert metric_names("label_values(ecsp_partitions_assigned, namespace)") == {
        "ecsp_partitions_assigned"
    }
    assert "ecsp_job_duration_seconds_bucket" in worker_metrics()
    assert "ecsp_job_duration_seconds" not in worker_metrics()
    assert len(worker_metrics()) >= 13


def test_documented_metrics_are_the_ones_the_worker_exports() -> None:
    exported = exported_series()
    assert {name for name in exported if name.startswith("ecsp_")} == worker_metrics()
    process = {name for name in STANDARD_METRICS if name.startswith("process_")}
    assert process <= exported


def test_alerts_reference_only_existing_metrics() -> None:
    known = worker_metrics() | STANDARD_METRICS
    used = {name for rule in rules() for name in metric_names(rule["expr"])}
    assert used
    assert not used - known, f"unknown metrics in alerts: {sorted(used - known)}"


def test_dashboard_references_only_existing_metrics() -> None:
    known = worker_metrics() | STANDARD_METRICS
    used = {name for query in dashboard_queries() for name in metric_names(query)}
    assert not used - known, f"unknown metrics in the dashboard: {sorted(used - known)}"
    # every metric the worker exports is shown somewhere (histograms through _bucket or _sum)
    shown = {re.sub(r"_(bucket|sum|count)$", "", name) for name in used}
    exported = {re.sub(r"_(bucket|sum|count)$", "", name) for name in worker_metrics()}
    assert not exported - shown, f"not on the dashboard: {sorted(exported - shown)}"


def test_alerts_cover_what_an_operator_needs() -> None:
    by_metric: dict[str, set[str]] = {}
    for rule in rules():
        by_metric[rule["alert"]] = metric_names(rule["expr"])
    needs = {
        "lag growing": "EcspConsumerLagGrowing",
        "failure rate": "EcspFailureRateHigh",
        "API throttling": "EcspApiThrottled",
        "API down (breaker open)": "EcspApiCircuitOpen",
        "no partitions assigned": "EcspNoPartitionsAssigned",
        "job deadline hits": "EcspJobDeadlineHit",
        "worker down": "EcspWorkerDown",
    }
    assert set(needs.values()) <= set(by_metric)
    assert "ecsp_consumer_lag" in by_metric["EcspConsumerLagGrowing"]
    assert "ecsp_partitions_assigned" in by_metric["EcspNoPartitionsAssigned"]
    throttled = next(r for r in rules() if r["alert"] == "EcspApiThrottled")
    assert 'outcome="throttled"' in throttled["expr"]
    deadline = next(r for r in rules() if r["alert"] == "EcspJobDeadlineHit")
    assert 'stage="timeout"' in deadline["expr"]


def test_alert_rules_are_actionable() -> None:
    names = [rule["alert"] for rule in rules()]
    assert len(names) == len(set(names))
    for rule in rules():
        assert rule["labels"]["severity"] in {"critical", "warning", "info"}, rule["alert"]
        assert rule["annotations"]["summary"], rule["alert"]
        assert len(rule["annotations"]["description"]) > 40, rule["alert"]


def test_dashboard_is_importable() -> None:
    board = dashboard()
    assert board["uid"] == "ecs-provisioner"
    ids = [panel["id"] for panel in board["panels"]]
    assert len(ids) == len(set(ids))
    variables = {variable["name"] for variable in board["templating"]["list"]}
    for panel in board["panels"]:
        if panel["type"] == "row":
            continue
        assert panel["datasource"]["uid"] == "${datasource}"
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            used = set(re.findall(r"\$(\w+)", target["expr"])) - {"__rate_interval"}
            assert used <= variables, (panel["title"], used - variables)


def test_promql_parses(tmp_path: Path) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool not on PATH (apt-get install prometheus); PromQL syntax unchecked")
    alert_rules = tmp_path / "alerts.yaml"
    alert_rules.write_text(yaml.safe_dump(yaml.safe_load(RULES.read_text())["spec"]))
    # dashboard queries as recording rules, Grafana variables replaced by plain values
    records = [
        {
            "record": f"dashboard:query_{index}",
            "expr": query.replace("$__rate_interval", "5m").replace("$namespace", ".*"),
        }
        for index, query in enumerate(dashboard_queries())
        if not query.startswith("label_values(")
    ]
    dashboard_rules = tmp_path / "dashboard.yaml"
    dashboard_rules.write_text(yaml.safe_dump({"groups": [{"name": "d", "rules": records}]}))
    result = subprocess.run(
        [promtool, "check", "rules", str(alert_rules), str(dashboard_rules)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
