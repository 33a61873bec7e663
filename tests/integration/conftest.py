"""Session fixtures: a real Prometheus and a real VictoriaMetrics holding the demo cluster.

Both are started once per session on 127.0.0.1 at free ports and hold the same short demo
window (3 days at 5 minutes) so the Prometheus source can be compared with the demo source.
VictoriaMetrics also holds the demo at ``--scale 5`` (1 day) under another cluster label, for
the test that counts requests.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import boto3
import pytest

from kianax_capacity.snapshot import Snapshot
from kianax_capacity.sources.demo import DEFAULT_END, generate_demo_snapshot, simulate_demo_cluster
from kianax_capacity.sources.openmetrics import write_demo_openmetrics, write_openmetrics
from tests.integration.servers import (
    PrometheusServer,
    VictoriaMetricsServer,
    moto_server,
    reset_moto,
    use_test_aws_credentials,
)

DEMO_DAYS = 3
DEMO_STEP_SECONDS = 300
DEMO_END: datetime = DEFAULT_END
DEMO_START: datetime = DEMO_END - timedelta(days=DEMO_DAYS)
#: The demo at scale 5 lives in VictoriaMetrics under this cluster label value.
SCALED_CLUSTER = "kianax-scale5"
SCALED_DAYS = 1
#: A cluster with cAdvisor series but no kube-state-metrics (VictoriaMetrics, 1 day).
CADVISOR_ONLY_CLUSTER = "kianax-cadvisor-only"


@pytest.fixture(scope="session")
def prom_demo_snapshot() -> Snapshot:
    """The demo source's own snapshot of the window the servers hold."""
    return generate_demo_snapshot(end=DEMO_END, days=DEMO_DAYS, step_seconds=DEMO_STEP_SECONDS)


@pytest.fixture(scope="session")
def prometheus_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusServer]:
    workdir = tmp_path_factory.mktemp("prometheus")
    export = workdir / "demo.om"
    write_demo_openmetrics(export, end=DEMO_END, days=DEMO_DAYS, step_seconds=DEMO_STEP_SECONDS)
    server = PrometheusServer(export, workdir)
    export.unlink()  # 170 MB: not needed once the blocks exist
    yield server
    server.stop()


@pytest.fixture(scope="session")
def victoria_metrics_server(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[VictoriaMetricsServer]:
    workdir = tmp_path_factory.mktemp("victoria-metrics")
    server = VictoriaMetricsServer(workdir)
    try:
        export = workdir / "demo.prom"
        write_demo_openmetrics(
            export, end=DEMO_END, days=DEMO_DAYS, step_seconds=DEMO_STEP_SECONDS, millis=True
        )
        server.import_prometheus_text(export)
        scaled = simulate_demo_cluster(
            end=DEMO_END, days=SCALED_DAYS, step_seconds=DEMO_STEP_SECONDS, scale=5
        )
        with export.open("w", buffering=1 << 20) as handle:
            write_openmetrics(scaled, handle, cluster=SCALED_CLUSTER, millis=True)
        server.import_prometheus_text(export)
        # A cluster scraped without kube-state-metrics: the demo's cAdvisor series only.
        small = simulate_demo_cluster(
            end=DEMO_END, days=SCALED_DAYS, step_seconds=DEMO_STEP_SECONDS
        )
        full = workdir / "full.prom"
        with full.open("w", buffering=1 << 20) as handle:
            write_openmetrics(small, handle, cluster=CADVISOR_ONLY_CLUSTER, millis=True)
        with full.open() as source, export.open("w", buffering=1 << 20) as target:
            target.writelines(
                line for line in source if line.startswith(("container_", "# TYPE container_"))
            )
        full.unlink()
        server.import_prometheus_text(export)
        export.unlink()
    except BaseException:
        server.stop()
        raise
    yield server
    server.stop()


@dataclass(frozen=True)
class DemoServer:
    """A real server holding the demo window, and the cluster label that selects it there."""

    name: str
    url: str
    cluster_label: str | None


@pytest.fixture(params=["prometheus", "victoria-metrics"])
def demo_server(request: pytest.FixtureRequest) -> DemoServer:
    """Each real server in turn. VictoriaMetrics also holds the scaled cluster, so fetches from
    it filter on the ``cluster`` label (which exercises --cluster-label); Prometheus does not."""
    if request.param == "prometheus":
        return DemoServer("prometheus", request.getfixturevalue("prometheus_server").url, None)
    url = request.getfixturevalue("victoria_metrics_server").url
    return DemoServer("victoria-metrics", url, "cluster")


# --- AWS through moto in server mode ------------------------------------------------------


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    """A moto server on 127.0.0.1 at a free port, one per test module."""
    with moto_server() as url:
        yield url


@pytest.fixture
def session(
    moto_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> boto3.session.Session:
    """A boto3 session with test credentials only (no profile, no real config), moto reset."""
    use_test_aws_credentials(monkeypatch, tmp_path)
    reset_moto(moto_url)
    return boto3.session.Session()
