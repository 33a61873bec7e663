# ruff: noqa: F811  (the kps fixtures are imported from tests/realistic/conftest.py by name)
"""Every kubelet endpoint, scrape job and Prometheus replica counted once, in a real Prometheus.

Layouts from ``tests/realistic/kps_layout.py``: ``resource`` scrapes the kubelet's
``/metrics/resource`` besides ``/metrics/cadvisor`` (same job and instance), ``ha-pair`` holds
every series twice (two replicas). Before: CPU doubled in both.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from kianax_capacity.config import PrometheusConfig
from kianax_capacity.snapshot import Snapshot
from kianax_capacity.sources.prometheus import fetch_prometheus_snapshot
from tests.integration.servers import PrometheusServer
from tests.realistic.conftest import KpsServer, kps_server, kps_truth  # noqa: F401 (fixtures)
from tests.realistic.kps_layout import VARIANTS, Truth, write_layout_file

pytestmark = pytest.mark.integration

STEP_SECONDS = 300


def fetch(url: str, truth: Truth, out: Path, shape: str = "series") -> Snapshot:
    return fetch_prometheus_snapshot(
        PrometheusConfig(url=url, aggregate_chunk="6h"),
        start=truth.start,
        end=truth.end,
        step_seconds=STEP_SECONDS,
        out=out,
        cluster="kps",
        shape=shape,
    )


def _steady(truth: Truth) -> dict[tuple[str, str, str], object]:
    """The containers alive over the whole window without a restart."""
    return {
        (p.namespace, p.name, c.name): c
        for p in truth.pods
        if p.end is None and p.restart_at is None
        for c in p.containers
    }


def _cluster_cpu_error(snap: Snapshot, truth: Truth) -> np.ndarray:
    """|fetched / true - 1| of the steady containers' summed CPU per step (first two steps,
    which rate() cannot see whole, left out)."""
    steady = _steady(truth)
    usage = snap.usage
    keys = zip(usage["namespace"], usage["pod"], usage["container"], strict=True)
    keep = [k in steady for k in keys]
    per_step = usage[keep].groupby("timestamp")["cpu_cores"].sum().sort_index().iloc[2:]
    ends = np.array([t.timestamp() for t in per_step.index])
    want = np.zeros(len(ends))
    for c in steady.values():
        want += (c.cpu_integral(ends) - c.cpu_integral(ends - STEP_SECONDS)) / STEP_SECONDS  # type: ignore[attr-defined]
    assert len(ends) >= 60
    return np.abs(per_step.to_numpy() / want - 1)


@pytest.mark.parametrize("variant", ["resource", "ha-pair"])
def test_cluster_cpu_per_step_is_counted_once(
    variant: str, kps_server: Callable[[str], KpsServer], tmp_path: Path
) -> None:
    server = kps_server(variant)
    error = _cluster_cpu_error(fetch(server.url, server.truth, tmp_path / "s"), server.truth)
    # One step may be a little off (rate() over cAdvisor's irregular stats timestamps).
    assert np.quantile(error, 0.95) < 0.01, error
    assert np.max(error) < 0.03, error


def test_resource_endpoint_alone_is_the_fallback(kps_truth: Truth, tmp_path: Path) -> None:
    """A kubelet whose /metrics/cadvisor is not scraped: usage from /metrics/resource."""
    export = tmp_path / "layout.om"
    write_layout_file(VARIANTS["resource"], kps_truth, export)
    lines = export.read_text().splitlines(keepends=True)
    without_cadvisor = [
        line
        for line in lines
        if not (
            line.startswith(("container_cpu_usage_seconds_total{", "container_memory_working_set"))
            and 'metrics_path="/metrics/cadvisor"' in line
        )
    ]
    assert len(without_cadvisor) < len(lines)
    export.write_text("".join(without_cadvisor))
    server = PrometheusServer(export, tmp_path)
    try:
        snap = fetch(server.url, kps_truth, tmp_path / "s")
    finally:
        server.stop()
    error = _cluster_cpu_error(snap, kps_truth)
    # Counted once (doubled would be 100% off): rate() over the endpoint's jittered stats
    # timestamps (up to 9.5 s early on a 30 s scrape) leaves a few steps a little off.
    assert np.median(error) < 0.01, error
    assert np.quantile(error, 0.95) < 0.03, error


def test_aggregate_shape_counts_each_replica_once(
    kps_server: Callable[[str], KpsServer], tmp_path: Path
) -> None:
    server = kps_server("ha-pair")
    truth = server.truth
    snap = fetch(server.url, truth, tmp_path / "s", shape="aggregate")
    stats = snap.container_stats.set_index(["namespace", "pod", "container"])
    start, end = truth.start.timestamp(), truth.end.timestamp()
    for key, c in _steady(truth).items():
        # The window's mean CPU: the counter's rise over the window over its length.
        want = (c.cpu_integral(np.array([end])) - c.cpu_integral(np.array([start])))[0] / (  # type: ignore[attr-defined]
            end - start
        )
        got = float(stats.loc[key, "cpu_cores_mean"])
        assert got == pytest.approx(want, rel=0.02), key
    assert not pd.isna(stats["cpu_cores_p95"]).any()
