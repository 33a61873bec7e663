"""The Prometheus source on a default kube-prometheus-stack layout, checked against the truth.

Each variant of ``kps_layout`` is backfilled into a real Prometheus and fetched with
``fetch_prometheus_snapshot``; the snapshot is compared with what the generator knows.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from kianax_capacity.config import PrometheusConfig
from kianax_capacity.snapshot import Snapshot
from kianax_capacity.sources.prometheus import fetch_prometheus_snapshot
from tests.realistic.conftest import KpsServer
from tests.realistic.kps_layout import VARIANTS, Truth

pytestmark = pytest.mark.integration

STEP_SECONDS = 300
_FETCHED: dict[str, Snapshot] = {}


def fetch(server: KpsServer, out: Path, **config: object) -> Snapshot:
    return fetch_prometheus_snapshot(
        PrometheusConfig(url=server.url, **config),  # type: ignore[arg-type]
        start=server.truth.start,
        end=server.truth.end,
        step_seconds=STEP_SECONDS,
        out=out,
        cluster="kps",
    )


@pytest.fixture(params=list(VARIANTS))
def fetched(
    request: pytest.FixtureRequest,
    kps_server: Callable[[str], KpsServer],
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[KpsServer, Snapshot]:
    """One fetch per variant for the whole session."""
    variant = request.param
    server = kps_server(variant)
    if variant not in _FETCHED:
        _FETCHED[variant] = fetch(server, tmp_path_factory.mktemp(f"snap-{variant}") / "snap")
    return server, _FETCHED[variant]


def _column(frame: pd.DataFrame, name: str, default: str = "") -> pd.Series:
    return frame[name].astype(str) if name in frame else pd.Series(default, index=frame.index)


# ---------------------------------------------------------------------------------------------
# The fixture itself: the layout reached the server as the real stack stores it.


def _query(url: str, expr: str) -> list[dict[str, object]]:
    import requests

    answer = requests.get(f"{url}/api/v1/query", params={"query": expr, "time": _END}, timeout=30)
    answer.raise_for_status()
    return answer.json()["data"]["result"]  # type: ignore[no-any-return]


_END = 0.0


@pytest.fixture(autouse=True)
def _end(kps_truth: Truth) -> None:
    global _END
    _END = kps_truth.end.timestamp()


def test_default_layout_has_no_node_labels_but_has_what_the_chart_exports(
    kps_server: Callable[[str], KpsServer],
) -> None:
    server = kps_server("default")
    url = server.url
    running = sum(p.end is None for p in server.truth.pods)
    assert _query(url, "kube_node_labels") == []
    assert len(_query(url, "last_over_time(kube_node_info[10m])")) == 5
    dmi = _query(url, 'last_over_time(node_dmi_info{system_vendor="Amazon EC2"}[10m])')
    assert {r["metric"]["product_name"] for r in dmi} == {  # type: ignore[index]
        "m6i.xlarge",
        "m5.large",
        "c6i.xlarge",
        "t3.large",
    }
    # cAdvisor's pod cgroups and containerd sandboxes: container="" (no container="POD").
    sandboxes = _query(
        url, 'last_over_time(container_memory_working_set_bytes{image=~".*/eks/pause:3.8"}[10m])'
    )
    assert len(sandboxes) == running and all("container" not in r["metric"] for r in sandboxes)  # type: ignore[operator]
    assert _query(url, 'container_memory_working_set_bytes{container="POD"}') == []
    # honorLabels: the scraper's own pod/container labels land on kube-state-metrics' node series.
    info = _query(url, "last_over_time(kube_node_info[10m])")[0]["metric"]
    assert info["container"] == "kube-state-metrics"  # type: ignore[index]


def test_resource_variant_scrapes_each_container_twice_under_one_job_and_instance(
    kps_server: Callable[[str], KpsServer],
) -> None:
    url = kps_server("resource").url
    rows = _query(
        url,
        'count by (namespace, pod, container, job, instance) (last_over_time(container_cpu_usage_seconds_total{container="web"}[10m]))',
    )
    assert rows and all(r["value"][1] == "2" for r in rows)  # type: ignore[index]


# ---------------------------------------------------------------------------------------------
# The snapshot against the truth.

# Today's source finds nodes only through kube_node_labels, which the chart's default
# kube-state-metrics does not export; and it adds /metrics/resource (or a second replica) to
# cAdvisor's CPU. These marks come off when the issue-16 source fix is merged.
_NO_NODE_LABELS: set[str] = set()  # nodes come from kube_node_info (issue16src)
_DOUBLED_CPU: set[str] = set()  # each endpoint and replica counted once (issue16src)


def _xfail_if(request: pytest.FixtureRequest, variants: set[str], reason: str) -> None:
    variant = request.node.callspec.params["fetched"]
    if variant in variants:
        request.applymarker(pytest.mark.xfail(reason=reason, strict=True))


def test_every_node_is_found_with_its_capacity(
    fetched: tuple[KpsServer, Snapshot], request: pytest.FixtureRequest
) -> None:
    _xfail_if(request, _NO_NODE_LABELS, "0 nodes without kube_node_labels (issue 16)")
    server, snap = fetched
    nodes = snap.nodes.set_index("node")
    assert set(nodes.index) == {n.name for n in server.truth.nodes}
    for n in server.truth.nodes:
        row = nodes.loc[n.name]
        assert row["cpu_capacity_cores"] == n.cpu_capacity_cores
        assert row["memory_allocatable_bytes"] == n.memory_allocatable_bytes


def test_instance_type_and_zone_are_right_or_marked_unknown(
    fetched: tuple[KpsServer, Snapshot], request: pytest.FixtureRequest
) -> None:
    _xfail_if(request, _NO_NODE_LABELS, "0 nodes without kube_node_labels (issue 16)")
    server, snap = fetched
    nodes = snap.nodes.set_index("node")
    assert len(nodes) == len(server.truth.nodes)
    knowable = server.layout.node_labels_allowlist or server.layout.node_exporter
    for n in server.truth.nodes:
        row = nodes.loc[n.name]
        assert row["zone"] == n.zone  # provider_id carries the zone in every layout
        if knowable:
            assert row["instance_type"] == n.instance_type
        else:
            source = _column(snap.nodes, "instance_type_source").loc[nodes.index.get_loc(n.name)]
            assert row["instance_type"] in ("", n.instance_type) or source in ("unknown", "assumed")


def test_node_group_and_capacity_type_are_never_wrong(
    fetched: tuple[KpsServer, Snapshot], request: pytest.FixtureRequest
) -> None:
    _xfail_if(request, _NO_NODE_LABELS, "0 nodes without kube_node_labels (issue 16)")
    server, snap = fetched
    nodes = snap.nodes.set_index("node")
    assert len(nodes) == len(server.truth.nodes)
    for n in server.truth.nodes:
        row = nodes.loc[n.name]
        group = n.node_group or n.nodepool
        assert row["node_group"] in (group, "", "unknown")
        # A spot node is never silently called on-demand.
        if n.capacity_type == "SPOT":
            assert row["capacity_type"] != "ON_DEMAND"
        if server.layout.node_labels_allowlist:
            assert row["node_group"] == group
            assert row["capacity_type"] == n.capacity_type


def test_pods_owners_and_nodes(fetched: tuple[KpsServer, Snapshot]) -> None:
    server, snap = fetched
    pods = snap.pods.set_index(["namespace", "pod"])
    assert set(pods.index) == {(p.namespace, p.name) for p in server.truth.pods}
    for p in server.truth.pods:
        row = pods.loc[(p.namespace, p.name)]
        assert (row["kind"], row["workload"], row["node"]) == (p.kind, p.workload, p.node)


def test_requests_and_limits(fetched: tuple[KpsServer, Snapshot]) -> None:
    server, snap = fetched
    containers = snap.containers.set_index(["namespace", "pod", "container"])
    for p in server.truth.pods:
        for c in p.containers:
            row = containers.loc[(p.namespace, p.name, c.name)]
            for got, want in (
                (row["cpu_request_cores"], c.cpu_request_cores),
                (row["memory_request_bytes"], c.memory_request_bytes),
                (row["cpu_limit_cores"], c.cpu_limit_cores),
                (row["memory_limit_bytes"], c.memory_limit_bytes),
            ):
                assert (math.isnan(got) and math.isnan(want)) or got == want


def test_one_oom_kill_on_the_restarted_container(fetched: tuple[KpsServer, Snapshot]) -> None:
    server, snap = fetched
    restarted = [p for p in server.truth.pods if p.restart_at is not None]
    got = snap.terminations[["namespace", "pod", "container", "reason"]].drop_duplicates()
    assert [tuple(r) for r in got.itertuples(index=False)] == [
        (p.namespace, p.name, p.containers[0].name, "OOMKilled") for p in restarted
    ]


def _steady_cpu(server: KpsServer, snap: Snapshot) -> tuple[np.ndarray, np.ndarray]:
    """(fetched, true) cluster CPU per step over the containers alive all window, minus the
    first two steps that rate() cannot see whole."""
    truth = server.truth
    steady = {
        (p.namespace, p.name, c.name): c
        for p in truth.pods
        if p.end is None and p.restart_at is None
        for c in p.containers
    }
    usage = snap.usage
    keys = list(zip(usage["namespace"], usage["pod"], usage["container"], strict=True))
    usage = usage[[k in steady for k in keys]]
    per_step = usage.groupby("timestamp")["cpu_cores"].sum().sort_index().iloc[2:]
    ends = np.array([t.timestamp() for t in per_step.index])
    want = np.zeros(len(ends))
    for c in steady.values():
        want += (c.cpu_integral(ends) - c.cpu_integral(ends - STEP_SECONDS)) / STEP_SECONDS
    return per_step.to_numpy(), want


def test_cluster_cpu_per_step_within_one_percent(
    fetched: tuple[KpsServer, Snapshot], request: pytest.FixtureRequest
) -> None:
    _xfail_if(request, _DOUBLED_CPU, "CPU counted once per endpoint/replica (issue 16)")
    server, snap = fetched
    got, want = _steady_cpu(server, snap)
    assert len(got) >= 60
    error = np.abs(got / want - 1)
    # rate() extrapolates over cAdvisor's own (irregular, up to one 10 s housekeeping late)
    # timestamps, so a single step can be off by a little more than 1%; the steps as a whole
    # may not be.
    assert np.quantile(error, 0.95) < 0.01, error
    assert np.max(error) < 0.03, error


def test_container_memory_is_the_peak_working_set(fetched: tuple[KpsServer, Snapshot]) -> None:
    server, snap = fetched
    web = next(p for p in server.truth.pods if p.workload == "web")
    rows = snap.usage[(snap.usage["pod"] == web.name) & (snap.usage["container"] == "web")]
    ends = np.array([t.timestamp() for t in rows["timestamp"]])
    # The step's peak working set: the sampled peak can sit at most one scrape below the
    # true peak (a smooth curve), so within 0.1% of the densely evaluated maximum.
    dense = ends[:, None] - np.arange(0, STEP_SECONDS, 1.0)[None, :]
    want = web.containers[0].working_set(dense).max(axis=1)
    assert np.max(np.abs(rows["memory_bytes"].to_numpy() / want - 1)) < 0.001


def test_hpas_and_their_targets(fetched: tuple[KpsServer, Snapshot]) -> None:
    server, snap = fetched
    hpas = snap.hpas.set_index("hpa")
    assert set(hpas.index) == {h.name for h in server.truth.hpas}
    assert hpas.loc["api", "target_cpu_utilization"] == 70.0
    assert hpas.loc["web", "target_cpu_utilization"] == 60.0
    assert math.isnan(hpas.loc["keda-hpa-worker", "target_cpu_utilization"])


def test_container_resource_hpa_names_its_container(
    fetched: tuple[KpsServer, Snapshot], request: pytest.FixtureRequest
) -> None:
    if "target_container" not in fetched[1].hpas:
        request.applymarker(
            pytest.mark.xfail(reason="hpas.target_container (issue 16)", strict=True)
        )
    _, snap = fetched
    hpas = snap.hpas.set_index("hpa")
    assert hpas.loc["web", "target_container"] == "web"
    assert hpas.loc["api", "target_container"] == ""


@pytest.mark.slow
def test_fourteen_days_fetch_with_the_default_timeout(
    kps_server: Callable[[str], KpsServer], tmp_path: Path
) -> None:
    """The 14-day window of the default layout (5-minute scrapes) needs no --timeout."""
    server = kps_server("long")
    snap = fetch(server, tmp_path / "snap")  # PrometheusConfig's default timeout_seconds
    days = (snap.usage["timestamp"].max() - snap.usage["timestamp"].min()).total_seconds() / 86400
    assert days > 13.9
    assert set(snap.pods["pod"]) == {p.name for p in server.truth.pods}
