"""Placement metrics per offering: counted per flavor and zone, with bounded label sets."""

from __future__ import annotations

from worker.ops.metrics import MAX_FLAVOR_LABELS, MAX_LABEL_CHARS, MAX_ZONE_LABELS, Metrics


def _value(metrics: Metrics, name: str, **labels: str) -> float:
    found = metrics.registry.get_sample_value(name, labels)
    return 0.0 if found is None else found


def test_tried_sold_out_and_skipped_are_counted_per_offering() -> None:
    metrics = Metrics()
    az1 = ("s6.small.1", "az1")
    metrics.placement_tried(*az1)
    metrics.placement_tried(*az1)
    metrics.placement_sold_out(*az1)
    metrics.placement_skipped(*az1, "sold_out_recently")
    metrics.placement_skipped("c7.large.2", None, "policy")  # the cloud picks the zone
    labels = {"flavor": "s6.small.1", "zone": "az1"}
    assert _value(metrics, "ecsp_placement_tried_total", **labels) == 2
    assert _value(metrics, "ecsp_placement_sold_out_total", **labels) == 1
    skipped = "ecsp_placement_skipped_total"
    assert _value(metrics, skipped, **labels, reason="sold_out_recently") == 1
    assert _value(metrics, skipped, flavor="c7.large.2", zone="none", reason="policy") == 1


def test_flavors_and_zones_beyond_the_first_few_dozen_are_other() -> None:
    metrics = Metrics()
    for index in range(MAX_FLAVOR_LABELS + 25):
        metrics.placement_tried(f"f{index}", f"az{index}")
    metrics.placement_tried("x" * (MAX_LABEL_CHARS + 1), "az0")
    series = [
        sample.labels
        for family in metrics.registry.collect()
        if family.name == "ecsp_placement_tried"
        for sample in family.samples
        if sample.name.endswith("_total")
    ]
    flavors = {labels["flavor"] for labels in series}
    zones = {labels["zone"] for labels in series}
    assert len(flavors) == MAX_FLAVOR_LABELS + 1
    assert len(zones) == MAX_ZONE_LABELS + 1
    assert "other" in flavors
    assert "other" in zones
    assert _value(metrics, "ecsp_placement_tried_total", flavor="f0", zone="az0") == 1
    assert _value(metrics, "ecsp_placement_tried_total", flavor="other", zone="az0") == 1
