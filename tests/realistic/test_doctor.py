"""``kianax-capacity doctor`` against each kube-prometheus-stack layout in a real Prometheus."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from kianax_capacity.cli import main
from kianax_capacity.config import PrometheusConfig
from kianax_capacity.sources.prometheus.doctor import SEE_ALLOWLIST, Diagnosis
from kianax_capacity.sources.prometheus.doctor_probe import probe_server
from tests.realistic.conftest import KpsServer

pytestmark = pytest.mark.integration

_DIAGNOSED: dict[str, Diagnosis] = {}


def diagnosis(kps_server: Callable[[str], KpsServer], variant: str) -> Diagnosis:
    if variant not in _DIAGNOSED:
        server = kps_server(variant)
        _DIAGNOSED[variant] = probe_server(
            PrometheusConfig(url=server.url), end=server.truth.end, window_days=14
        )
    return _DIAGNOSED[variant]


def test_default_layout_is_ok_through_node_exporter_and_names_the_allowlist(
    kps_server: Callable[[str], KpsServer],
) -> None:
    found = diagnosis(kps_server, "default")
    labels = found.finding("kube_node_labels")
    assert labels.status == "missing"
    assert "eks.amazonaws.com/capacityType" in labels.fix and "karpenter.sh/nodepool" in labels.fix
    assert found.finding("node_dmi_info (node-exporter)").status == "found"
    assert found.finding("node instance types").status == "found"
    assert found.finding("node groups").status == "partial"
    assert found.finding("node capacity types (spot)").status == "partial"
    assert found.finding("kube_node_info").detail.startswith("5 nodes")
    assert found.finding("duplicate kubelet endpoints").status == "found"
    assert found.ok


def test_without_node_exporter_instance_types_are_missing_and_the_exit_is_1(
    kps_server: Callable[[str], KpsServer], capsys: pytest.CaptureFixture[str]
) -> None:
    server = kps_server("no-node-exporter")
    found = diagnosis(kps_server, "no-node-exporter")
    assert found.finding("node_dmi_info (node-exporter)").status == "missing"
    types = found.finding("node instance types")
    assert types.status == "missing" and types.blocking
    assert SEE_ALLOWLIST in types.fix and "[nodegroups]" in types.fix
    assert not found.ok
    code = main(
        ["doctor", "--prometheus-url", server.url, "--end", "2026-11-23T00:00:00Z", "--no-timing"]
    )
    out = capsys.readouterr().out
    assert code == 1
    assert "NODE INSTANCE TYPES" not in out and "MISSING" in out and "NOT OK" in out


def test_allowlist_layout_has_every_node_fact(kps_server: Callable[[str], KpsServer]) -> None:
    found = diagnosis(kps_server, "allowlist")
    for check in (
        "kube_node_labels",
        "node instance types",
        "node groups",
        "node capacity types (spot)",
    ):
        assert found.finding(check).status == "found", check
    assert found.ok


def test_resource_and_ha_layouts_name_the_duplicates_and_their_fix(
    kps_server: Callable[[str], KpsServer],
) -> None:
    resource = diagnosis(kps_server, "resource").finding("duplicate kubelet endpoints")
    assert resource.status == "partial"
    assert "metrics_path=/metrics/cadvisor" in resource.detail
    assert "metrics_path=/metrics/resource" in resource.detail
    assert "resource: false" in resource.fix
    ha = diagnosis(kps_server, "ha-pair").finding("duplicate kubelet endpoints")
    assert ha.status == "partial" and "prometheus_replica" in ha.detail
    assert "--query.replica-label=prometheus_replica" in ha.fix


def test_scrape_intervals_and_the_timed_day(kps_server: Callable[[str], KpsServer]) -> None:
    found = diagnosis(kps_server, "default")
    intervals = found.finding("scrape intervals")
    assert "job=kubelet, metrics_path=/metrics/cadvisor: 30s" in intervals.detail
    assert "job=kube-state-metrics: 30s" in intervals.detail
    day = found.finding("one day of the heaviest query")
    assert "for one day" in day.detail and "within the 60s timeout" in day.consequence


def test_old_kube_state_metrics_hpa_rows_are_flagged(
    kps_server: Callable[[str], KpsServer],
) -> None:
    old = diagnosis(kps_server, "old-ksm").finding("kube-state-metrics HPA container label")
    assert old.status == "partial" and "2.18" in old.detail and "v2.19.0" in old.fix
    new = diagnosis(kps_server, "default").finding("kube-state-metrics HPA container label")
    assert new.status == "found" and "containers: web" in new.detail


def test_json_format_and_a_missing_cluster_label(
    kps_server: Callable[[str], KpsServer], capsys: pytest.CaptureFixture[str]
) -> None:
    server = kps_server("default")
    args = ["doctor", "--prometheus-url", server.url, "--end", "2026-11-23T00:00:00Z"]
    code = main(
        [
            *args,
            "--no-timing",
            "--format",
            "json",
            "--cluster-label",
            "cluster",
            "--cluster",
            "prod",
        ]
    )
    document = json.loads(capsys.readouterr().out)
    assert code == 1 and document["ok"] is False
    cluster = next(f for f in document["findings"] if f["check"] == "cluster label 'cluster'")
    assert cluster["status"] == "missing" and cluster["required"] is True
    # The library's fix mentions the argument (`cluster_label`); the command shows its flag.
    assert cluster["fix"].startswith("drop --cluster-label, or name the label")
