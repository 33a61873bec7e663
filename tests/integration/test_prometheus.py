"""The Prometheus source against real servers holding the demo cluster.

Tolerances, and why:

* Memory, requests, limits, nodes, HPAs, replicas, restarts, OOM kills: exact (memory within
  1e-6 relative: the export prints 10 significant digits).
* CPU: the demo export has one sample per step, so the scrape interval equals the step and the
  default rate window is 2 x scrape interval = two steps. The server's CPU at t is then the mean
  of the demo's two steps ending at t; the test applies the same window to the demo and expects
  1e-6 relative. ``rate()`` has no value at a container's first step and an extrapolated one at
  its second (its counter starts inside the window), so each container's first two steps are
  left out. That is step alignment and nothing else.
* Throttling: the ratio of two counter increases over the same window, the counters holding
  whole CFS periods (3,000 per step): within 1e-3 absolute of the demo's two-step mean.
* VictoriaMetrics does not show a series whose only sample sits exactly at the evaluation
  instant, so a pod that lives only in the window's very last step can be missing there.
"""

from __future__ import annotations

import math
from pathlib import Path
from urllib.parse import unquote_plus

import numpy as np
import pandas as pd
import pytest

from kianax_capacity.config import PrometheusConfig
from kianax_capacity.snapshot import Snapshot, load_snapshot
from kianax_capacity.sources.prometheus import (
    PrometheusClient,
    QueryJob,
    fetch_prometheus_snapshot,
)
from kianax_capacity.sources.prometheus.promql import Selector, render
from tests.integration.conftest import (
    DEMO_END,
    DEMO_START,
    DEMO_STEP_SECONDS,
    SCALED_CLUSTER,
    DemoServer,
)
from tests.integration.servers import CountingProxy, PrometheusServer, VictoriaMetricsServer

pytestmark = pytest.mark.integration

KEY = ["namespace", "pod", "container"]
_CACHE: dict[tuple[str, str], Snapshot] = {}


def fetch(server: DemoServer, out: Path, shape: str = "series", **config: object) -> Snapshot:
    return fetch_prometheus_snapshot(
        PrometheusConfig(url=server.url, **config),  # type: ignore[arg-type]
        start=DEMO_START,
        end=DEMO_END,
        step_seconds=DEMO_STEP_SECONDS,
        out=out,
        cluster_label=server.cluster_label,
        shape=shape,
    )


def fetched(server: DemoServer, shape: str, tmp_path_factory: pytest.TempPathFactory) -> Snapshot:
    """One fetch per (server, shape) for the whole module, read back from disk."""
    key = (server.name, shape)
    if key not in _CACHE:
        out = tmp_path_factory.mktemp(f"{server.name}-{shape}") / "snapshot"
        fetch(server, out, shape)
        _CACHE[key] = load_snapshot(out)
    return _CACHE[key]


def _plain(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for column in out.columns:
        if isinstance(out[column].dtype, pd.CategoricalDtype):
            out[column] = out[column].astype(str)
    return out


def _two_step_usage(demo: Snapshot) -> pd.DataFrame:
    """The demo's usage with CPU and throttling averaged over the two steps ending at each t."""
    usage = _plain(demo.usage).sort_values([*KEY, "timestamp"])
    grouped = usage.groupby(KEY)
    usage["cpu_two_steps"] = grouped["cpu_cores"].transform(lambda s: s.rolling(2).mean())
    usage["throttled_two_steps"] = grouped["cpu_throttled_ratio"].transform(
        lambda s: s.rolling(2).mean()
    )
    usage["position"] = grouped.cumcount()
    return usage


def _day(timestamps: pd.Series) -> pd.Series:
    """The aggregate chunk (day) of each step: (start + k d, start + (k + 1) d]."""
    since = pd.to_datetime(timestamps, utc=True) - pd.Timestamp(DEMO_START)
    return (since - pd.Timedelta(seconds=1)) // pd.Timedelta(days=1)


def _relative(actual: pd.Series, expected: pd.Series) -> pd.Series:
    return (actual - expected).abs() / expected.abs().clip(lower=1e-12)


def test_series_snapshot_matches_the_demo_source(
    demo_server: DemoServer, prom_demo_snapshot: Snapshot, tmp_path_factory: pytest.TempPathFactory
) -> None:
    demo = prom_demo_snapshot
    snap = fetched(demo_server, "series", tmp_path_factory)

    assert snap.manifest.source == "prometheus"
    assert snap.manifest.shape == "series"
    assert snap.window == demo.window
    assert snap.step_seconds == demo.step_seconds
    assert snap.manifest.extra["prometheus"]["scrape_interval_seconds"] == 300
    assert snap.manifest.extra["prometheus"]["rate_window_seconds"] == 600

    # Pods and their owners: every replaced pod belongs to its workload.
    pods = _plain(demo.pods).merge(
        _plain(snap.pods),
        on=["namespace", "pod"],
        how="outer",
        indicator=True,
        suffixes=("", "_prom"),
    )
    assert (pods["_merge"] != "right_only").all()
    last_step_only = pods["first_seen"] == DEMO_END
    if demo_server.name == "prometheus":
        assert (pods["_merge"] == "both").all()
    else:
        # VictoriaMetrics can miss what a pod living only in the last step has (module
        # docstring); every other pod must match.
        assert last_step_only.sum() <= 5
        assert (pods.loc[~last_step_only, "_merge"] == "both").all()
    both = pods[(pods["_merge"] == "both") & ~last_step_only]
    missing = pods[last_step_only]
    for column in ("kind", "workload", "node", "first_seen", "last_seen"):
        assert (both[column] == both[f"{column}_prom"]).all(), column
    assert set(
        map(tuple, snap.workloads[["namespace", "kind", "workload"]].values.tolist())
    ) == set(map(tuple, demo.workloads[["namespace", "kind", "workload"]].values.tolist()))

    # Containers: requests, limits, restarts and OOM kills.
    containers = _plain(demo.containers).merge(
        _plain(snap.containers), on=KEY, suffixes=("", "_prom")
    )
    if demo_server.name != "prometheus":
        containers = containers.merge(missing[["namespace", "pod"]], how="left", indicator="edge")
        containers = containers[containers["edge"] == "left_only"].drop(columns="edge")
    assert len(containers) >= len(demo.containers) - 10
    for column in (
        "cpu_request_cores",
        "cpu_limit_cores",
        "memory_request_bytes",
        "memory_limit_bytes",
        "restarts",
        "oom_kills",
    ):
        a, b = containers[column], containers[f"{column}_prom"]
        assert ((a == b) | (a.isna() & b.isna())).all(), column
    assert containers["oom_kills"].sum() > 0  # the demo has OOM kills: the check is not vacuous

    # Nodes, HPAs, replicas, terminations: exact.
    pd.testing.assert_frame_equal(
        _plain(demo.nodes).sort_values("node").reset_index(drop=True),
        _plain(snap.nodes).sort_values("node").reset_index(drop=True),
        check_dtype=False,
    )
    hpas = [
        "namespace",
        "hpa",
        "kind",
        "workload",
        "min_replicas",
        "max_replicas",
        "target_cpu_utilization",
        "target_memory_utilization",
    ]
    pd.testing.assert_frame_equal(
        _plain(demo.hpas)[hpas].sort_values(["namespace", "hpa"]).reset_index(drop=True),
        _plain(snap.hpas)[hpas].sort_values(["namespace", "hpa"]).reset_index(drop=True),
        check_dtype=False,
    )
    assert snap.hpas["scale_down_stabilization_seconds"].isna().all()  # not exported
    replicas = _plain(demo.replicas).merge(
        _plain(snap.replicas), on=["timestamp", "namespace", "hpa"]
    )
    assert len(replicas) == len(demo.replicas)
    assert (replicas["current_replicas_x"] == replicas["current_replicas_y"]).all()
    assert (replicas["desired_replicas_x"] == replicas["desired_replicas_y"]).all()
    pd.testing.assert_frame_equal(
        _plain(demo.terminations).sort_values(["timestamp", *KEY]).reset_index(drop=True),
        _plain(snap.terminations).sort_values(["timestamp", *KEY]).reset_index(drop=True),
        check_dtype=False,
    )

    # Workloads: PDBs and volumes.
    workloads = _plain(demo.workloads).merge(
        _plain(snap.workloads), on=["namespace", "kind", "workload"], suffixes=("", "_prom")
    )
    a, b = workloads["pdb_min_available"], workloads["pdb_min_available_prom"]
    assert ((a == b) | (a.isna() & b.isna())).all()
    assert (workloads["has_pvc"] == workloads["has_pvc_prom"]).all()
    assert workloads["has_pvc"].any()
    # The demo states the disruptions a PDB allows at the HPA's minimum; the exported series
    # only show what was allowed over the window, which is never less.
    with_pdb = workloads[workloads["pdb_disruptions_allowed"].notna()]
    assert (with_pdb["pdb_disruptions_allowed_prom"] >= with_pdb["pdb_disruptions_allowed"]).all()
    assert not snap.workloads["has_emptydir"].any()
    assert any("has_emptydir" in w for w in snap.manifest.warnings)

    # Usage, point by point.
    expected = _two_step_usage(demo)
    usage = expected.merge(_plain(snap.usage), on=["timestamp", *KEY], suffixes=("", "_prom"))
    assert len(usage) == len(snap.usage)
    assert len(usage) >= len(demo.usage) - 10
    assert _relative(usage["memory_bytes_prom"], usage["memory_bytes"]).max() < 1e-6
    settled = usage[usage["position"] >= 2]
    assert _relative(settled["cpu_cores_prom"], settled["cpu_two_steps"]).max() < 1e-6
    throttled = settled[settled["throttled_two_steps"].notna()]
    assert len(throttled) > 1000
    assert (
        throttled["cpu_throttled_ratio_prom"] - throttled["throttled_two_steps"]
    ).abs().max() < 1e-3
    no_limit = settled[settled["cpu_throttled_ratio"].isna()]
    assert no_limit["cpu_throttled_ratio_prom"].isna().all()

    # Per-container statistics: p50, p95, max of CPU and memory.
    stats = settled.groupby(KEY).agg(
        cpu_p50=("cpu_cores_prom", lambda s: s.quantile(0.5)),
        cpu_p50_demo=("cpu_two_steps", lambda s: s.quantile(0.5)),
        cpu_p95=("cpu_cores_prom", lambda s: s.quantile(0.95)),
        cpu_p95_demo=("cpu_two_steps", lambda s: s.quantile(0.95)),
        cpu_max=("cpu_cores_prom", "max"),
        cpu_max_demo=("cpu_two_steps", "max"),
    )
    for name in ("cpu_p50", "cpu_p95", "cpu_max"):
        assert _relative(stats[name], stats[f"{name}_demo"]).max() < 1e-6, name
    memory = usage.groupby(KEY).agg(
        p50=("memory_bytes_prom", lambda s: s.quantile(0.5)),
        p50_demo=("memory_bytes", lambda s: s.quantile(0.5)),
        p95=("memory_bytes_prom", lambda s: s.quantile(0.95)),
        p95_demo=("memory_bytes", lambda s: s.quantile(0.95)),
        max=("memory_bytes_prom", "max"),
        max_demo=("memory_bytes", "max"),
    )
    for name in ("p50", "p95", "max"):
        assert _relative(memory[name], memory[f"{name}_demo"]).max() < 1e-6, name


def test_aggregate_shape_computes_the_statistics_on_the_server(
    demo_server: DemoServer, prom_demo_snapshot: Snapshot, tmp_path_factory: pytest.TempPathFactory
) -> None:
    aggregate = fetched(demo_server, "aggregate", tmp_path_factory)
    series = fetched(demo_server, "series", tmp_path_factory)
    assert aggregate.manifest.shape == "aggregate"
    assert aggregate.usage.empty
    stats = _plain(aggregate.table("container_stats"))
    assert len(stats) == len(series.containers)

    # The server answers per day (aggregate_chunk = 1d, counted back from the window's end): a
    # step's sample at t belongs to the day (start + k d, start + (k + 1) d].
    assert aggregate.manifest.extra["prometheus"]["aggregate_chunks"] == 3
    # Counts, max and mean combine exactly; a quantile is the max of the daily quantiles.
    demo = _plain(prom_demo_snapshot.usage)
    demo["day"] = _day(demo["timestamp"])
    grouped = demo.groupby(KEY)["memory_bytes"]
    daily = demo.groupby([*KEY, "day"])["memory_bytes"]
    expected = pd.DataFrame(
        {
            "samples_demo": grouped.size(),
            "memory_bytes_mean_demo": grouped.mean(),
            "memory_bytes_max_demo": grouped.max(),
            "memory_bytes_p50_demo": daily.quantile(0.5).groupby(KEY).max(),
            "memory_bytes_p95_demo": daily.quantile(0.95).groupby(KEY).max(),
        }
    ).reset_index()
    joined = expected.merge(stats, on=KEY)
    assert len(joined) >= len(expected) - 10
    assert (joined["samples"] == joined["samples_demo"]).all()
    for name in ("memory_bytes_p50", "memory_bytes_p95", "memory_bytes_max", "memory_bytes_mean"):
        assert _relative(joined[name], joined[f"{name}_demo"]).max() < 1e-6, name
    assert (joined["memory_bytes_p95"] <= joined["memory_bytes_max"]).all()
    # Most containers live within one day here, where the quantile is exact; the others differ.
    window_p50 = grouped.quantile(0.5).rename("window_p50").reset_index().merge(stats, on=KEY)
    exact = _relative(window_p50["memory_bytes_p50"], window_p50["window_p50"]) < 1e-6
    assert exact.mean() > 0.5 and not exact.all()

    # CPU statistics: what the client would compute from the series shape. Containers still
    # running at the window's end only: for a stopped one the subquery also sees rate()'s
    # lookback echo one step after its last sample, which the series shape drops.
    running = _plain(series.pods)
    running = running[running["last_seen"] == DEMO_END][["namespace", "pod"]]
    usage = _plain(series.usage).merge(running, on=["namespace", "pod"])
    usage["day"] = _day(usage["timestamp"])
    cpu = usage.groupby(KEY)["cpu_cores"]
    cpu_daily = usage.groupby([*KEY, "day"])["cpu_cores"]
    client_side = pd.DataFrame(
        {
            "p50": cpu_daily.quantile(0.5).groupby(KEY).max(),
            "p95": cpu_daily.quantile(0.95).groupby(KEY).max(),
            "max": cpu.max(),
            "mean": cpu.mean(),
        }
    ).reset_index()
    joined = client_side.merge(stats, on=KEY)
    assert len(joined) >= 30
    for name in ("p50", "p95", "max", "mean"):
        assert _relative(joined[f"cpu_cores_{name}"], joined[name]).max() < 1e-6, name
    assert stats["cpu_throttled_ratio_mean"].notna().any()
    assert stats["cpu_throttled_ratio_mean"].isna().any()  # containers without a CPU limit


def test_request_count_does_not_grow_with_the_cluster(
    victoria_metrics_server: VictoriaMetricsServer, tmp_path: Path
) -> None:
    counts: dict[tuple[str, str], int] = {}
    sizes: dict[str, int] = {}
    with CountingProxy(victoria_metrics_server.url) as proxy:
        for shape in ("series", "aggregate"):
            for cluster in ("kianax-production", SCALED_CLUSTER):
                before = proxy.total()
                snap = fetch_prometheus_snapshot(
                    PrometheusConfig(url=proxy.url),
                    start=DEMO_END - pd.Timedelta(hours=6),
                    end=DEMO_END,
                    step_seconds=DEMO_STEP_SECONDS,
                    out=tmp_path / f"{shape}-{cluster}",
                    cluster_label="cluster",
                    cluster=cluster,
                    shape=shape,
                )
                counts[(shape, cluster)] = proxy.total() - before
                sizes[cluster] = len(snap.containers)
                assert snap.manifest.extra["prometheus"]["requests"] == counts[(shape, cluster)]
        assert set(proxy.counts()) == {"/api/v1/query", "/api/v1/query_range"}
    assert sizes[SCALED_CLUSTER] >= 4 * sizes["kianax-production"]
    assert counts[("series", "kianax-production")] == counts[("series", SCALED_CLUSTER)]
    assert counts[("aggregate", "kianax-production")] == counts[("aggregate", SCALED_CLUSTER)]


def test_time_chunks_give_the_same_snapshot_and_scale_the_request_count(
    victoria_metrics_server: VictoriaMetricsServer,
    tmp_path: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    server = DemoServer("victoria-metrics", victoria_metrics_server.url, "cluster")
    whole = fetched(server, "series", tmp_path_factory)
    chunked = fetch(server, tmp_path / "chunked", max_points_per_series=300)
    extra = chunked.manifest.extra["prometheus"]
    assert extra["time_chunks"] == math.ceil(864 / 300)
    # pod_first_seen and pod_last_seen go per day whatever the time chunks (3 days here).
    per_day = 2 * 3
    per_chunk = whole.manifest.extra["prometheus"]["requests"] - 1 - per_day
    assert extra["requests"] == 1 + per_chunk * extra["time_chunks"] + per_day
    for name in ("pods", "containers", "usage", "replicas", "terminations", "nodes", "hpas"):
        a = _plain(whole.table(name))
        b = _plain(chunked.table(name))
        sort = [c for c in ("namespace", "node", "hpa", "pod", "container", "timestamp") if c in a]
        pd.testing.assert_frame_equal(
            a.sort_values(sort).reset_index(drop=True),
            b.sort_values(sort).reset_index(drop=True),
            check_dtype=False,
            check_categorical=False,
            obj=name,
        )


def test_namespace_filter_keeps_only_matching_namespaces(
    victoria_metrics_server: VictoriaMetricsServer, prom_demo_snapshot: Snapshot, tmp_path: Path
) -> None:
    snap = fetch_prometheus_snapshot(
        PrometheusConfig(url=victoria_metrics_server.url),
        start=DEMO_END - pd.Timedelta(days=1),
        end=DEMO_END,
        step_seconds=DEMO_STEP_SECONDS,
        out=tmp_path / "s",
        namespace_regex="kianax|argo.*",
        cluster_label="cluster",
    )
    assert set(snap.pods["namespace"]) == {"kianax", "argocd"}
    demo_pods = prom_demo_snapshot.pods
    wanted = demo_pods[
        demo_pods["namespace"].isin(["kianax", "argocd"])
        & (demo_pods["last_seen"] > DEMO_END - pd.Timedelta(days=1))
    ]
    assert abs(len(snap.pods) - len(wanted)) <= 5
    # Nodes are not namespaced: every node of the day is there.
    nodes = prom_demo_snapshot.nodes
    assert set(snap.nodes["node"]) == set(
        nodes.loc[nodes["last_seen"] > DEMO_END - pd.Timedelta(days=1), "node"]
    )


INJECTION = 'a"} or vector(1) #'


def test_an_injected_namespace_stays_a_string(demo_server: DemoServer, tmp_path: Path) -> None:
    # The query a naive f-string builds returns vector(1)'s series: the attack works on an
    # unescaped query, so the escaped one returning nothing is a real result.
    client = PrometheusClient(PrometheusConfig(url=demo_server.url))
    try:
        naive = f'kube_pod_info{{namespace=~"{INJECTION}"}}'
        answer = client.run(QueryJob("naive", naive, 0, time=DEMO_END))
        assert [series["metric"] for series in answer] == [{}]
        selector = Selector.build(namespace_regex=INJECTION)
        safe = render("pod_info", selector=selector.namespaced, window="86400s")
        assert client.run(QueryJob("safe", safe, 0, time=DEMO_END)) == []
    finally:
        client.close()

    snap = fetch_prometheus_snapshot(
        PrometheusConfig(url=demo_server.url),
        start=DEMO_START,
        end=DEMO_END,
        step_seconds=DEMO_STEP_SECONDS,
        out=tmp_path / "s",
        namespace_regex=INJECTION,
        cluster_label=demo_server.cluster_label,
    )
    assert snap.pods.empty and snap.usage.empty and snap.containers.empty
    assert len(snap.nodes) > 0  # cluster-scoped series are unaffected by the namespace filter


def test_missing_kube_state_metrics_degrades_with_one_warning(
    victoria_metrics_server: VictoriaMetricsServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # kianax-cadvisor-only holds the demo's cAdvisor series and nothing from kube-state-metrics.
    with caplog.at_level("WARNING", logger="kianax_capacity.sources.prometheus"):
        snap = fetch_prometheus_snapshot(
            PrometheusConfig(url=victoria_metrics_server.url),
            start=DEMO_END - pd.Timedelta(days=1),
            end=DEMO_END,
            step_seconds=DEMO_STEP_SECONDS,
            out=tmp_path / "s",
            cluster_label="cluster",
            cluster="kianax-cadvisor-only",
        )
    ksm = [w for w in snap.manifest.warnings if "kube-state-metrics series missing" in w]
    assert len(ksm) == 1
    for metric in ("kube_pod_owner", "kube_pod_container_resource_requests", "kube_node_info"):
        assert metric in ksm[0]
    # kube_node_labels is optional (absent on a default install) and no recommendation status
    # is claimed that the recommenders do not give.
    assert "kube_node_labels" not in ksm[0] and "insufficient_data" not in ksm[0]
    logged = [r for r in caplog.records if "kube-state-metrics series missing" in r.getMessage()]
    assert len(logged) == 1
    assert len(snap.usage) > 1000
    assert snap.containers["cpu_request_cores"].isna().all()
    assert (snap.pods["kind"] == "Pod").all()
    assert snap.nodes.empty and snap.hpas.empty
    assert np.isfinite(snap.usage["memory_bytes"]).all()


def test_metricsql_dialect_gives_the_promql_statistics_in_fewer_requests(
    victoria_metrics_server: VictoriaMetricsServer, tmp_path: Path
) -> None:
    server = DemoServer("victoria-metrics", victoria_metrics_server.url, "cluster")
    snaps = {
        dialect: fetch(server, tmp_path / dialect, "aggregate", dialect=dialect)
        for dialect in ("auto", "promql", "metricsql")
    }
    extras = {dialect: snap.manifest.extra["prometheus"] for dialect, snap in snaps.items()}
    assert extras["auto"]["dialect"] == "metricsql"  # VictoriaMetrics answered the probe
    assert extras["promql"]["dialect"] == "promql"
    days = extras["promql"]["aggregate_chunks"]
    # 22 statistic requests a day become 8 (container_stats 16 -> 5, the seasons 5 -> 2, the
    # leak screen's slope 1 -> 1); auto spends one request on the probe.
    assert extras["promql"]["requests"] - extras["metricsql"]["requests"] == (22 - 8) * days
    assert extras["auto"]["requests"] == extras["metricsql"]["requests"] + 1
    promql = _plain(snaps["promql"].table("container_stats")).sort_values(KEY)
    for dialect in ("auto", "metricsql"):
        other = _plain(snaps[dialect].table("container_stats")).sort_values(KEY)
        pd.testing.assert_frame_equal(
            promql.reset_index(drop=True), other.reset_index(drop=True), rtol=1e-12
        )
    assert promql["cpu_cores_p95"].notna().sum() >= 30
    season_key = ["day_end", *KEY, "season"]
    seasons = _plain(snaps["promql"].table("container_season_stats")).sort_values(season_key)
    other = _plain(snaps["metricsql"].table("container_season_stats")).sort_values(season_key)
    assert len(seasons) >= 30
    pd.testing.assert_frame_equal(
        seasons.reset_index(drop=True), other.reset_index(drop=True), rtol=1e-12
    )


def test_auto_dialect_on_prometheus_is_promql(
    prometheus_server: PrometheusServer, tmp_path: Path
) -> None:
    server = DemoServer("prometheus", prometheus_server.url, None)
    snap = fetch(server, tmp_path / "auto", "aggregate")
    assert snap.manifest.extra["prometheus"]["dialect"] == "promql"
    assert len(snap.table("container_stats")) >= 30


def test_a_server_refusing_the_at_modifier_gets_the_same_terminations(
    prometheus_server: PrometheusServer,
    prom_demo_snapshot: Snapshot,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """restart_counters filters with `@ end()`; a server that does not parse `@` answers 400,
    and the fetch sends the server-side difference (restart_events) for that chunk and every
    later one instead: same terminations and restart counts as the demo."""
    with CountingProxy(prometheus_server.url, reject="@") as proxy:
        server = DemoServer("prometheus-without-at", proxy.url, None)
        snap = fetch(server, tmp_path_factory.mktemp("no-at") / "snapshot", "aggregate")
        days = snap.manifest.extra["prometheus"]["aggregate_chunks"]
        assert days >= 2
        # Refused once, or a few times when other chunks were already in flight; every chunk's
        # restarts were then answered by the fallback (a restart query without `@` each).
        assert 1 <= proxy.rejected <= days
        asked = [unquote_plus(path) for _method, path, _headers in proxy.requests]
        restarts = [q for q in asked if "kube_pod_container_status_restarts_total" in q]
        assert len([q for q in restarts if "@" not in q]) == days
    demo = prom_demo_snapshot
    assert len(demo.terminations) > 0
    pd.testing.assert_frame_equal(
        _plain(demo.terminations).sort_values(["timestamp", *KEY]).reset_index(drop=True),
        _plain(snap.terminations).sort_values(["timestamp", *KEY]).reset_index(drop=True),
        check_dtype=False,
    )
    counts = _plain(demo.containers)[[*KEY, "restarts", "oom_kills"]].merge(
        _plain(snap.containers)[[*KEY, "restarts", "oom_kills"]], on=KEY, suffixes=("", "_prom")
    )
    assert len(counts) == len(demo.containers)
    assert (counts["restarts"] == counts["restarts_prom"]).all()
    assert (counts["oom_kills"] == counts["oom_kills_prom"]).all()
    assert counts["oom_kills"].sum() > 0
