"""The demo cluster: deterministic, and every documented behaviour is really there."""

import io
import re
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest

from kianax_capacity.recommenders.inventory import replica_counts, usage_with_owners
from kianax_capacity.sources.demo import generate_demo_snapshot, simulate_demo_cluster
from kianax_capacity.sources.openmetrics import escape_label_value, write_openmetrics


def _per_container(snapshot):
    usage = usage_with_owners(snapshot)
    return usage.groupby(["namespace", "workload", "container"], observed=True).agg(
        cpu_p95=("cpu_cores", lambda s: s.quantile(0.95)),
        memory_max=("memory_bytes", "max"),
        throttled=("cpu_throttled_ratio", "mean"),
    )


def test_same_parameters_same_cluster():
    a = generate_demo_snapshot(days=2)
    b = generate_demo_snapshot(days=2)
    for name in a.tables:
        pd.testing.assert_frame_equal(a.tables[name], b.tables[name])


def test_end_moves_the_window():
    end = datetime(2026, 6, 1, tzinfo=UTC)
    snapshot = generate_demo_snapshot(days=2, end=end)
    assert snapshot.manifest.window_end == end
    assert snapshot.usage.timestamp.max() == pd.Timestamp(end)
    assert snapshot.usage.timestamp.min() > pd.Timestamp(end) - pd.Timedelta(days=2)


def test_platform_inventory(demo_snapshot):
    workloads = demo_snapshot.workloads
    kianax = workloads[workloads.namespace == "kianax"]
    assert len(kianax[kianax.kind == "Deployment"]) >= 7
    assert set(workloads.namespace) >= {"kianax", "monitoring", "argocd", "logging"}
    prometheus = workloads.set_index("workload").loc["prometheus"]
    assert prometheus.kind == "StatefulSet" and prometheus.has_pvc
    assert workloads.set_index("workload").loc["fluent-bit", "kind"] == "DaemonSet"
    assert set(workloads[workloads.kind == "CronJob"].workload) == {
        "market-eod-report",
        "portfolio-rebalance",
    }
    groups = demo_snapshot.nodes.groupby("node_group")
    assert set(groups.groups) == {"general-ng", "system-ng", "jobs-ng"}
    assert set(demo_snapshot.nodes.zone) == {"us-east-1a", "us-east-1b", "us-east-1c"}
    assert set(demo_snapshot.nodes[demo_snapshot.nodes.node_group == "jobs-ng"].capacity_type) == {
        "SPOT"
    }
    hpas = demo_snapshot.hpas.set_index("workload")
    assert (hpas.min_replicas == 2).all() and (hpas.max_replicas == 10).all()


def test_general_ng_autoscales_between_two_and_five(demo_snapshot):
    # ledger-service (added later) runs on a general-ng node of its own, up the whole window;
    # the autoscaled part of the group is the rest.
    pods = demo_snapshot.pods
    ledger_nodes = set(pods[pods.workload == "ledger-service"].node)
    assert len(ledger_nodes) == 1
    nodes = demo_snapshot.nodes[
        (demo_snapshot.nodes.node_group == "general-ng")
        & ~demo_snapshot.nodes.node.isin(ledger_nodes)
    ]
    times = demo_snapshot.usage.timestamp.drop_duplicates()
    counts = np.array(
        [((nodes.first_seen <= t) & (nodes.last_seen >= t)).sum() for t in times[::12]]
    )
    assert 2 <= counts.min() < counts.max() <= 5


def test_scheduler_never_overfills_a_node(demo_snapshot_full):
    snap = demo_snapshot_full
    placed = snap.usage.merge(snap.containers, on=["namespace", "pod", "container"]).merge(
        snap.pods[["namespace", "pod", "node"]], on=["namespace", "pod"]
    )
    requested = placed.groupby(["timestamp", "node"], observed=True).cpu_request_cores.sum()
    allocatable = snap.nodes.set_index("node").cpu_allocatable_cores
    ratio = (
        requested.to_numpy()
        / allocatable.reindex(requested.index.get_level_values("node")).to_numpy()
    )
    assert ratio.max() <= 1.0 + 1e-9


def test_pod_names_are_unique_even_at_scale():
    snapshot = generate_demo_snapshot(days=1, scale=6)
    assert not snapshot.pods.duplicated(["namespace", "pod"]).any()
    assert not snapshot.nodes.node.duplicated().any()


def test_daemonset_runs_on_every_node(demo_snapshot):
    fluent = demo_snapshot.pods[demo_snapshot.pods.workload == "fluent-bit"]
    assert set(fluent.node) == set(demo_snapshot.nodes.node)


def test_saturated_and_pinned_hpas(demo_snapshot_full):
    replicas = demo_snapshot_full.replicas.groupby("hpa").current_replicas
    at_max = replicas.apply(lambda r: (r == 10).mean())
    at_min = replicas.apply(lambda r: (r == 2).mean())
    assert at_max["market-data-service"] > 0.1  # pinned at max through market hours
    assert at_min["user-service"] == 1.0  # never leaves min
    assert 0.0 < at_min["api-gateway"] < 0.6  # scales with the day


def test_leak_flat_heap_spiky_and_under_provisioned(demo_snapshot_full):
    stats = _per_container(demo_snapshot_full).loc["kianax"]
    containers = demo_snapshot_full.containers.merge(
        demo_snapshot_full.pods, on=["namespace", "pod"]
    )
    ooms = containers.groupby("workload").oom_kills.sum()
    assert ooms["notification-service"] >= 4  # the leak reaches its limit every few days
    assert ooms["risk-service"] >= 3  # under-provisioned memory
    assert stats.loc[("risk-service", "app"), "throttled"] > 0.05  # CPU throttled at its limit
    assert stats.loc[("user-service", "app"), "cpu_p95"] < 0.05  # 250m requested
    usage = usage_with_owners(demo_snapshot_full)
    # JVM: working set flat within a few percent whatever the load.
    jvm = usage[usage.workload == "portfolio-service"].memory_bytes
    assert jvm.std() / jvm.mean() < 0.03
    # Leak: memory rises with pod age between restarts.
    leak = usage[usage.workload == "notification-service"]
    first_pod = leak[leak.pod == leak.pod.iloc[0]].memory_bytes.to_numpy()
    assert np.corrcoef(np.arange(200), first_pod[:200])[0, 1] > 0.9
    # Bursty: the p99 of agent-service demand is several times its median.
    agent = usage[usage.workload == "agent-service"].groupby("timestamp").cpu_cores.sum()
    assert agent.quantile(0.99) > 3 * agent.median()


def test_weekday_and_market_hours_pattern(demo_snapshot_full):
    usage = usage_with_owners(demo_snapshot_full)
    trading = usage[usage.workload == "trading-service"].groupby("timestamp").cpu_cores.sum()
    index = trading.index
    minutes = index.hour * 60 + index.minute
    market = (index.day_of_week < 5) & (minutes >= 15 * 60) & (minutes < 20 * 60)
    assert trading[market].mean() > 2.5 * trading[~market].mean()
    api = usage[usage.workload == "api-gateway"].groupby("timestamp").cpu_cores.sum()
    weekend = api.index.day_of_week >= 5
    assert api[weekend].mean() < 0.75 * api[~weekend].mean()


def test_rollouts_replace_pods_under_the_same_workload(demo_snapshot_full):
    pods = demo_snapshot_full.pods
    api = pods[pods.workload == "api-gateway"]
    replicasets = api.pod.str.rsplit("-", n=1).str[0].unique()
    assert len(replicasets) >= 3  # the initial ReplicaSet and two rollouts
    counts = replica_counts(demo_snapshot_full)
    api_counts = counts[counts.workload == "api-gateway"].set_index("timestamp").replicas
    hpa = demo_snapshot_full.replicas[demo_snapshot_full.replicas.hpa == "api-gateway"].set_index(
        "timestamp"
    )
    # Running pods follow the HPA's replica count across rollouts; when general-ng is at its
    # max of 5 nodes during market hours the rest wait as Pending, never more than asked for.
    running = api_counts.reindex(hpa.index).fillna(0)
    assert (running <= hpa.current_replicas).all()
    assert (running == hpa.current_replicas).mean() > 0.8


def test_cronjobs_run_on_spot_nodes(demo_snapshot):
    pods = demo_snapshot.pods.merge(
        demo_snapshot.nodes[["node", "node_group", "capacity_type"]], on="node"
    )
    jobs = pods[pods.kind == "CronJob"]
    assert len(jobs) > 5
    assert set(jobs.node_group) == {"jobs-ng"} and set(jobs.capacity_type) == {"SPOT"}


def test_scale_multiplies_application_workloads():
    small = generate_demo_snapshot(days=1)
    big = generate_demo_snapshot(days=1, scale=3)
    app = lambda s: s.workloads[s.workloads.namespace.str.startswith("kianax")]  # noqa: E731
    assert len(app(big)) == 3 * len(app(small))
    assert (
        big.nodes.node_group.eq("general-ng").sum() > small.nodes.node_group.eq("general-ng").sum()
    )


# --- OpenMetrics export -------------------------------------------------------------------


@pytest.fixture(scope="module")
def exported():
    demo = simulate_demo_cluster(days=3)
    out = io.StringIO()
    series, samples = write_openmetrics(demo, out)
    return demo, out.getvalue(), series, samples


def test_openmetrics_structure(exported):
    _, text, _series, samples = exported
    lines = text.splitlines()
    assert lines[-1] == "# EOF"
    sample_lines = [line for line in lines if not line.startswith("#")]
    assert len(sample_lines) == samples
    # Families are contiguous: a sample's family never reappears after another family started.
    seen, current = set(), None
    for line in sample_lines:
        name = line.split("{", 1)[0]
        if name != current:
            assert name not in seen, f"{name} is split"
            seen.add(name)
            current = name
    assert "# TYPE container_cpu_usage_seconds counter" in lines
    assert "# TYPE kube_pod_container_status_restarts counter" in lines
    for family in (
        "kube_pod_owner",
        "kube_replicaset_owner",
        "kube_job_owner",
        "kube_node_labels",
        "kube_horizontalpodautoscaler_spec_max_replicas",
        "container_cpu_cfs_throttled_periods_total",
    ):
        assert family in seen


def test_openmetrics_counter_resets_on_oom_restart(exported):
    demo, text, _, _ = exported
    pod = next(p for p in demo.pods if any(len(s) for s in p.oom_steps.values()))
    pattern = re.compile(
        rf'^container_cpu_usage_seconds_total\{{[^}}]*pod="{pod.pod}",container="app"[^}}]*\}} (\S+) (\d+)$',
        re.M,
    )
    values = np.array([float(m[1]) for m in pattern.finditer(text)])
    assert len(values) == pod.stop - pod.start
    drops = np.flatnonzero(np.diff(values) < 0) + 1
    assert list(drops) == list(pod.oom_steps["app"] - pod.start)


def test_openmetrics_cpu_counter_matches_snapshot_rates(exported):
    demo, text, _, _ = exported
    pod = demo.pods[0]
    container = pod.containers[0].name
    pattern = re.compile(
        rf'^container_cpu_usage_seconds_total\{{[^}}]*pod="{pod.pod}",container="{container}"[^}}]*\}} (\S+) (\d+)$',
        re.M,
    )
    values = np.array([float(m[1]) for m in pattern.finditer(text)])
    rates = np.diff(values) / demo.step_seconds
    np.testing.assert_allclose(rates, pod.cpu[container][1:], rtol=1e-6, atol=1e-7)


def test_label_values_are_escaped():
    assert escape_label_value('a"b\\c\nd') == 'a\\"b\\\\c\\nd'
