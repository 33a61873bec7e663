# ruff: noqa: F811  (the kps fixtures are imported from tests/realistic/conftest.py by name)
"""Nodes and HPA targets from a default kube-prometheus-stack layout, in a real Prometheus.

The layouts are ``tests/realistic/kps_layout.py`` (label sets from kube-state-metrics' store
tests, node-exporter's DMI collector, the chart's ServiceMonitors; sources in its README). EC2
is moto in server mode (real HTTP), holding instances made for the layout's nodes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import boto3
import numpy as np
import pytest
import requests

from kianax_capacity.config import NodeGroupConfig, PrometheusConfig
from kianax_capacity.snapshot import Snapshot
from kianax_capacity.sources.prometheus import fetch_prometheus_snapshot
from tests.integration.servers import PrometheusServer, moto_server, use_test_aws_credentials
from tests.realistic.conftest import KpsServer, kps_server, kps_truth  # noqa: F401 (fixtures)
from tests.realistic.kps_layout import Layout, Truth, write_layout_file

pytestmark = pytest.mark.integration

STEP_SECONDS = 300


def fetch(url: str, truth: Truth, out: Path, **options: object) -> Snapshot:
    return fetch_prometheus_snapshot(
        PrometheusConfig(url=url),
        start=truth.start,
        end=truth.end,
        step_seconds=STEP_SECONDS,
        out=out,
        cluster="kps",
        **options,  # type: ignore[arg-type]
    )


def test_default_layout_finds_every_node_without_kube_node_labels(
    kps_server: Callable[[str], KpsServer], tmp_path: Path
) -> None:
    """The chart's defaults: no kube_node_labels. Before: 0 nodes."""
    server = kps_server("default")
    snap = fetch(server.url, server.truth, tmp_path / "s")
    nodes = snap.nodes.set_index("node")
    assert sorted(nodes.index) == sorted(n.name for n in server.truth.nodes)
    for n in server.truth.nodes:
        row = nodes.loc[n.name]
        assert (row["instance_type"], row["instance_type_source"]) == (
            n.instance_type,
            "node_dmi_info",
        )
        assert (row["zone"], row["zone_source"]) == (n.zone, "provider_id")
        assert row["instance_id"] == n.instance_id
        assert row["architecture"] == "amd64"  # kube_node_info's kernel_version
        assert row["cpu_allocatable_cores"] == n.cpu_allocatable_cores
        # Nothing in a default install says a node's group or lifecycle: unknown, not guessed.
        assert (row["node_group"], row["node_group_source"]) == ("unknown", "unknown")
        assert (row["capacity_type"], row["capacity_type_source"]) == ("UNKNOWN", "unknown")
        assert row["provisioner"] == "unknown"
    warnings = " ".join(snap.manifest.warnings)
    assert "5 of 5 nodes have no node group" in warnings
    assert "metricLabelsAllowlist" in warnings and "eks.amazonaws.com/nodegroup" in warnings
    assert "no instance type" not in warnings
    # The old warning blamed kube-state-metrics scraping for the missing node labels.
    assert not any("kube-state-metrics series missing" in w for w in snap.manifest.warnings)


def test_without_node_exporter_the_instance_type_is_unknown_and_the_fix_named(
    kps_server: Callable[[str], KpsServer], tmp_path: Path
) -> None:
    server = kps_server("no-node-exporter")
    snap = fetch(server.url, server.truth, tmp_path / "s")
    assert len(snap.nodes) == len(server.truth.nodes)
    assert (snap.nodes["instance_type"] == "").all()
    assert (snap.nodes["instance_type_source"] == "unknown").all()
    warning = next(w for w in snap.manifest.warnings if "no instance type" in w)
    assert warning.startswith("5 of 5 nodes have no instance type")
    assert "metricLabelsAllowlist" in warning and "node-exporter" in warning


def test_allowlisted_labels_win_and_karpenter_is_told_apart(
    kps_server: Callable[[str], KpsServer], tmp_path: Path
) -> None:
    server = kps_server("allowlist")
    snap = fetch(server.url, server.truth, tmp_path / "s")
    nodes = snap.nodes.set_index("node")
    for n in server.truth.nodes:
        row = nodes.loc[n.name]
        assert row["node_group"] == (n.node_group or n.nodepool)
        assert row["capacity_type"] == n.capacity_type
        assert row["provisioner"] == n.provisioner
        for fact in ("instance_type", "node_group", "zone", "capacity_type"):
            assert row[f"{fact}_source"] == "kube_node_labels"
    assert not any("nodes have no" in w for w in snap.manifest.warnings)


def test_config_fills_the_group_only_where_one_group_has_the_instance_type(
    kps_server: Callable[[str], KpsServer], tmp_path: Path
) -> None:
    server = kps_server("default")
    groups = {
        "general": NodeGroupConfig(instance_types=("m6i.xlarge",)),
        "system": NodeGroupConfig(instance_types=("t3.large",)),
        # Two groups list m5.large: the config cannot say which, so it says nothing.
        "general-spot": NodeGroupConfig(instance_types=("m5.large",), capacity_type="SPOT"),
        "batch": NodeGroupConfig(instance_types=("m5.large",), capacity_type="SPOT"),
    }
    snap = fetch(server.url, server.truth, tmp_path / "s", nodegroups=groups)
    nodes = snap.nodes.set_index("node")
    for n in server.truth.nodes:
        row = nodes.loc[n.name]
        if n.instance_type in ("m6i.xlarge", "t3.large"):
            assert (row["node_group"], row["node_group_source"]) == (n.node_group, "config")
            assert row["capacity_type_source"] == "config"
        else:
            assert (row["node_group"], row["node_group_source"]) == ("unknown", "unknown")


def test_old_kube_state_metrics_hpa_rows_carry_the_scrapers_container_not_a_target(
    kps_server: Callable[[str], KpsServer], tmp_path: Path
) -> None:
    """kube-state-metrics < 2.19 has no container label on spec_target_metric; honorLabels then
    adds the scrape target's container="kube-state-metrics" to every row."""
    server = kps_server("old-ksm")
    answer = requests.get(
        f"{server.url}/api/v1/query",
        params={
            "query": "last_over_time(kube_horizontalpodautoscaler_spec_target_metric[10m])",
            "time": server.truth.end.timestamp(),
        },
        timeout=30,
    ).json()["data"]["result"]
    assert {r["metric"]["container"] for r in answer} == {"kube-state-metrics"}
    snap = fetch(server.url, server.truth, tmp_path / "s")
    assert (snap.hpas["target_container"] == "").all()


def test_container_resource_hpa_names_its_container(
    kps_server: Callable[[str], KpsServer], tmp_path: Path
) -> None:
    server = kps_server("default")
    snap = fetch(server.url, server.truth, tmp_path / "s")
    hpas = snap.hpas.set_index("hpa")
    assert hpas.loc["web", "target_container"] == "web"
    assert hpas.loc["api", "target_container"] == ""
    assert hpas.loc["keda-hpa-worker", "target_container"] == ""


# ---------------------------------------------------------------------------------------------
# EC2 through moto


@pytest.fixture
def moto_ec2(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[str]:
    with moto_server() as url:
        use_test_aws_credentials(monkeypatch, tmp_path, ec2=url)
        yield url


def _instances_for(truth: Truth, url: str) -> Truth:
    """Runs one moto instance per node (type, zone, lifecycle, provisioner tags) and returns
    the truth with those instance ids in the nodes' provider_id."""
    ec2 = boto3.client("ec2", region_name="us-east-1", endpoint_url=url)
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    nodes = []
    for n in truth.nodes:
        tags = (
            [{"Key": "eks:nodegroup-name", "Value": n.node_group}]
            if n.node_group
            else [{"Key": "karpenter.sh/nodepool", "Value": n.nodepool}]
        )
        extra = (
            {"InstanceMarketOptions": {"MarketType": "spot"}} if n.capacity_type == "SPOT" else {}
        )
        made = ec2.run_instances(
            ImageId=image,
            MinCount=1,
            MaxCount=1,
            InstanceType=n.instance_type,
            Placement={"AvailabilityZone": n.zone},
            TagSpecifications=[{"ResourceType": "instance", "Tags": tags}],
            **extra,
        )["Instances"][0]
        nodes.append(replace(n, instance_id=made["InstanceId"]))
    return replace(truth, nodes=tuple(nodes))


def test_ec2_gives_group_lifecycle_and_provisioner_where_prometheus_has_none(
    kps_truth: Truth,
    moto_ec2: str,
    tmp_path: Path,
) -> None:
    truth = _instances_for(kps_truth, moto_ec2)
    export = tmp_path / "layout.om"
    write_layout_file(Layout("no-node-exporter", node_exporter=False), truth, export)
    server = PrometheusServer(export, tmp_path)
    try:
        snap = fetch(server.url, truth, tmp_path / "s", ec2_nodes="on")
        off = fetch(server.url, truth, tmp_path / "off", ec2_nodes="off")
    finally:
        server.stop()
    nodes = snap.nodes.set_index("node")
    for n in truth.nodes:
        row = nodes.loc[n.name]
        assert (row["instance_type"], row["instance_type_source"]) == (n.instance_type, "ec2")
        assert (row["node_group"], row["node_group_source"]) == (n.node_group or n.nodepool, "ec2")
        assert (row["capacity_type"], row["capacity_type_source"]) == (n.capacity_type, "ec2")
        assert row["provisioner"] == n.provisioner
        assert row["zone_source"] == "provider_id"  # Prometheus had the zone already
    assert not any("nodes have no" in w for w in snap.manifest.warnings)
    assert (off.nodes["instance_type_source"] == "unknown").all()


def test_ec2_auto_without_permission_is_a_warning_and_on_is_an_error(
    kps_truth: Truth,
    moto_ec2: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from kianax_capacity.errors import AwsError

    truth = _instances_for(kps_truth, moto_ec2)
    export = tmp_path / "layout.om"
    write_layout_file(Layout("no-node-exporter", node_exporter=False), truth, export)
    server = PrometheusServer(export, tmp_path)
    # Nothing listens there: the EC2 call fails after botocore's retries.
    monkeypatch.setenv("AWS_ENDPOINT_URL_EC2", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    try:
        snap = fetch(server.url, truth, tmp_path / "s", ec2_nodes="auto")
        with pytest.raises(AwsError):
            fetch(server.url, truth, tmp_path / "t", ec2_nodes="on")
    finally:
        server.stop()
    assert (snap.nodes["instance_type_source"] == "unknown").all()
    assert any("EC2 lookup of 5 nodes in us-east-1 failed" in w for w in snap.manifest.warnings)
    assert not (tmp_path / "t").exists()


# ---------------------------------------------------------------------------------------------
# node_usage from node-exporter

#: Cores per CPU spent in each mode (node_exporter collector/cpu_linux.go: one counter per cpu
#: and mode); busy = everything but idle, iowait and steal.
_MODES = {"user": 0.31, "system": 0.07, "softirq": 0.02, "iowait": 0.05, "steal": 0.01}


def _node_cpu_family(truth: Truth, replicas: list[dict[str, str]]) -> str:
    """node_cpu_seconds_total as node-exporter exposes it, with the chart's target labels."""
    lines = ["# HELP node_cpu_seconds Seconds the CPUs spent in each mode.\n"]
    lines.append("# TYPE node_cpu_seconds counter\n")
    start = truth.start.timestamp() - 600
    times = start + 30.0 * np.arange(int((truth.end.timestamp() - start) // 30) + 1)
    for external in replicas:
        for n in truth.nodes:
            target = {
                "job": "node-exporter",
                "instance": f"{n.internal_ip}:9100",
                "endpoint": "http-metrics",
                "namespace": "monitoring",
                "container": "node-exporter",
                **external,
            }
            for cpu in range(int(n.cpu_capacity_cores)):
                rates = {**_MODES, "idle": 1.0 - sum(_MODES.values())}
                for mode, rate in rates.items():
                    labels = {**target, "cpu": str(cpu), "mode": mode}
                    text = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
                    lines.extend(
                        f"node_cpu_seconds_total{{{text}}} {rate * (t - start) + 1000:.6f} {t:.3f}\n"
                        for t in times
                    )
    return "".join(lines)


@pytest.mark.parametrize("replicas", [1, 2])
def test_node_usage_is_the_busy_cores_of_each_node_counted_once(
    kps_truth: Truth, tmp_path: Path, replicas: int
) -> None:
    export = tmp_path / "layout.om"
    write_layout_file(Layout("default"), kps_truth, export)
    text = export.read_text()
    assert text.endswith("# EOF\n")
    external = [{"prometheus_replica": f"prometheus-{i}"} for i in range(replicas)]
    export.write_text(text[: -len("# EOF\n")] + _node_cpu_family(kps_truth, external) + "# EOF\n")
    server = PrometheusServer(export, tmp_path)
    try:
        snap = fetch(server.url, kps_truth, tmp_path / "s")
    finally:
        server.stop()
    usage = snap.tables["node_usage"]
    assert set(usage["node"]) == {n.name for n in kps_truth.nodes}
    busy = 0.31 + 0.07 + 0.02
    for n in kps_truth.nodes:
        rows = usage[usage["node"] == n.name]
        assert len(rows) == len(snap.usage["timestamp"].unique())
        np.testing.assert_allclose(rows["cpu_cores"], busy * n.cpu_capacity_cores, rtol=1e-6)


def test_no_node_exporter_no_node_usage_table(
    kps_server: Callable[[str], KpsServer], tmp_path: Path
) -> None:
    server = kps_server("no-node-exporter")
    snap = fetch(server.url, server.truth, tmp_path / "s")
    assert "node_usage" not in snap.tables
