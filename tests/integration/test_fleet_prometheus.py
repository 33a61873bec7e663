"""A fleet on one shared server: production and dev in one VictoriaMetrics, told apart by label.

The demo's two clusters are exported with the standard metric names (cAdvisor,
kube-state-metrics) under ``cluster="kianax-production"`` and ``cluster="dev-eks"``, imported
into a real VictoriaMetrics, and fetched through the CLI with ``[clusters.NAME]`` tables: each
snapshot must hold its own cluster's nodes and pods, exactly as the demo source has them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from kianax_capacity.snapshot import load_snapshot
from kianax_capacity.sources.demo import (
    DEFAULT_END,
    DEV_CLUSTER,
    generate_demo_snapshot,
    simulate_demo_cluster,
)
from kianax_capacity.sources.openmetrics import write_openmetrics
from tests.helpers import run_cli
from tests.integration.servers import VictoriaMetricsServer

pytestmark = pytest.mark.integration

DAYS = 1
LABELS = {"kianax-production": "kianax-production", DEV_CLUSTER: "dev-eks"}


@pytest.fixture(scope="module")
def shared_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VictoriaMetricsServer]:
    workdir = tmp_path_factory.mktemp("vm-fleet")
    server = VictoriaMetricsServer(workdir)
    try:
        export = workdir / "fleet.prom"
        for cluster, label in LABELS.items():
            demo = simulate_demo_cluster(end=DEFAULT_END, days=DAYS, cluster=cluster)
            with export.open("w", buffering=1 << 20) as handle:
                write_openmetrics(demo, handle, cluster=label, millis=True)
            server.import_prometheus_text(export)
        export.unlink()
    except BaseException:
        server.stop()
        raise
    yield server
    server.stop()


def test_fetch_every_configured_cluster_from_one_server(
    shared_server: VictoriaMetricsServer, tmp_path: Path
) -> None:
    config = tmp_path / "kianax-capacity.toml"
    config.write_text(
        f'[prometheus]\nurl = "{shared_server.url}"\ncluster_label = "cluster"\n'
        'cluster_value = "ignored-in-a-fleet"\n\n'
        "[clusters.kianax-production]\n\n"
        f'[clusters.{DEV_CLUSTER}]\ncluster_value = "dev-eks"\nprofile = "development"\n'
    )
    out = tmp_path / "fleet"
    result = run_cli(
        "--quiet", "--config", str(config), "fetch", "--source", "prometheus",
        "--window", f"{DAYS}d", "--end", "2026-11-23T00:00:00Z", "--ec2-nodes", "off",
        "--out", str(out),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in out.iterdir()) == sorted(LABELS)
    for cluster in LABELS:
        fetched = load_snapshot(out / cluster)
        assert fetched.cluster == cluster
        truth = generate_demo_snapshot(end=DEFAULT_END, days=DAYS, cluster=cluster)
        assert set(fetched.nodes.node) == set(truth.nodes.node), cluster
        assert set(fetched.nodes.instance_type) == set(truth.nodes.instance_type), cluster
        assert set(fetched.tables["pods"].pod) == set(truth.tables["pods"].pod), cluster
    # Each cluster's own nodes: dev's VPC is 10.1, production's 10.0.
    dev_nodes = set(load_snapshot(out / DEV_CLUSTER).nodes.node)
    assert dev_nodes and all(n.startswith("ip-10-1-") for n in dev_nodes)
    # Then recommend the fleet: the dev cluster with its table's profile.
    recs = tmp_path / "recs"
    result = run_cli("--quiet", "--config", str(config), "recommend", str(out), "--out", str(recs))
    assert result.returncode == 0, result.stderr
    profiles = {
        c: json.loads((recs / c / "recommendations.json").read_text())["profile"] for c in LABELS
    }
    assert profiles == {"kianax-production": "production", DEV_CLUSTER: "development"}
