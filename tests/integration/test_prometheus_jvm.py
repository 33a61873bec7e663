"""JVM memory through real servers: the demo's Micrometer series, and every naming generation.

The demo exports ledger-service's JVM as Micrometer's Prometheus registry does (one gauge per
memory pool, tags ``id`` and ``area``; see ``tests/fixtures/jvm/README.md`` for the layouts and
their sources). Fetched back from Prometheus and VictoriaMetrics, the snapshot's ``jvm_memory``
must equal the demo source's own table (used within 1e-6 relative: the export prints 10
significant digits of each pool, rounded to whole bytes). A week of ledger-service alone, loaded
into its own Prometheus, must give the kianax strategy's JVM sizing, equal to the demo source's.

The last test loads a hand-written scrape of three JVMs, one per naming generation, into a
real Prometheus and checks the templates' answers against sums worked out by hand.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import requests

from kianax_capacity import recommend
from kianax_capacity.config import PrometheusConfig
from kianax_capacity.recommendations import RightsizingRow
from kianax_capacity.snapshot import Snapshot
from kianax_capacity.sources.demo import DemoCluster, generate_demo_snapshot, simulate_demo_cluster
from kianax_capacity.sources.openmetrics import write_openmetrics
from kianax_capacity.sources.prometheus import fetch_prometheus_snapshot
from kianax_capacity.sources.prometheus.promql import Selector, render
from kianax_capacity.units import MIB
from tests.integration.conftest import DEMO_END, DEMO_STEP_SECONDS, DemoServer
from tests.integration.servers import PrometheusServer
from tests.integration.test_prometheus import fetched

pytestmark = pytest.mark.integration

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "jvm"
KEYS = ["namespace", "pod", "container", "area", "timestamp"]


def _table(snapshot: Snapshot) -> pd.DataFrame:
    frame = snapshot.table("jvm_memory").copy()
    for column in ("namespace", "pod", "container", "area"):
        frame[column] = frame[column].astype(str)
    # The resolution of a time column is not part of the contract (Parquet keeps either).
    frame["timestamp"] = frame["timestamp"].astype("datetime64[ns, UTC]")
    return frame.sort_values(KEYS).reset_index(drop=True)


def test_fetched_jvm_memory_equals_the_demo(
    demo_server: DemoServer, prom_demo_snapshot: Snapshot, tmp_path_factory: pytest.TempPathFactory
) -> None:
    got = _table(fetched(demo_server, "series", tmp_path_factory))
    want = _table(prom_demo_snapshot)
    assert len(want) > 0 and set(want["pod"].str.rsplit("-", n=2).str[0]) == {"ledger-service"}
    # Every (pod, area, step) of the demo, and nothing else.
    pd.testing.assert_frame_equal(got[KEYS], want[KEYS])
    np.testing.assert_allclose(got["used_bytes"], want["used_bytes"], rtol=1e-6)
    # Max: -Xmx (768 MiB) for the heap; the non-heap pools that define one (code heaps,
    # compressed class space) for non-heap; Metaspace's and G1 Eden/Survivor's -1 left out.
    np.testing.assert_allclose(got["max_bytes"], want["max_bytes"], rtol=1e-9)
    assert (got.loc[got["area"] == "heap", "max_bytes"] == 768 * MIB).all()


#: A week: on the 3-day window the servers above hold, the committed heap's first-days ramp is
#: read as a leak (the leak rule then decides the row); from a week on the row is JVM-sized.
LEDGER_DAYS = 7


def _ledger_only(demo: DemoCluster) -> DemoCluster:
    """The demo cut down to ledger-service: its pods, its own nodes, its HPA."""
    pods = [p for p in demo.pods if p.workload == "ledger-service"]
    nodes = {p.node for p in pods}
    keep = {(w.namespace, w.name) for w in demo.workloads if w.name == "ledger-service"}
    return replace(
        demo,
        pods=pods,
        nodes=[n for n in demo.nodes if n.node in nodes],
        workloads=[w for w in demo.workloads if (w.namespace, w.name) in keep],
        hpa_current={k: v for k, v in demo.hpa_current.items() if k in keep},
        hpa_desired={k: v for k, v in demo.hpa_desired.items() if k in keep},
    )


def test_ledger_service_fetched_from_prometheus_is_sized_from_its_heap(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    workdir = tmp_path_factory.mktemp("ledger")
    demo = simulate_demo_cluster(end=DEMO_END, days=LEDGER_DAYS, step_seconds=DEMO_STEP_SECONDS)
    export = workdir / "ledger.om"
    with export.open("w", buffering=1 << 20) as handle:
        write_openmetrics(_ledger_only(demo), handle)
    server = PrometheusServer(export, workdir)
    try:
        snapshot = fetch_prometheus_snapshot(
            PrometheusConfig(url=server.url),
            start=DEMO_END - timedelta(days=LEDGER_DAYS),
            end=DEMO_END,
            step_seconds=DEMO_STEP_SECONDS,
            out=workdir / "snapshot",
        )
    finally:
        server.stop()
    source = generate_demo_snapshot(end=DEMO_END, days=LEDGER_DAYS, step_seconds=DEMO_STEP_SECONDS)

    def ledger(of: Snapshot) -> RightsizingRow:
        (row,) = [
            row
            for row in recommend(of, strategy="kianax").rightsizing
            if (row.namespace, row.workload, row.container) == ("kianax", "ledger-service", "app")
        ]
        return row

    fetched_row, source_row = ledger(snapshot), ledger(source)
    assert fetched_row.status == "ok"
    assert fetched_row.evidence["jvm_heap_max_bytes"] == 768 * MIB
    assert "Sized from its JVM metrics" in fetched_row.reason and "-Xmx" in fetched_row.reason
    # The same sizing as from the demo source: heap max + non-heap peak + overhead.
    assert fetched_row.recommended.memory_limit == source_row.recommended.memory_limit
    for key in ("jvm_heap_used_max_bytes", "jvm_nonheap_max_bytes", "jvm_overhead_bytes"):
        assert fetched_row.evidence[key] == pytest.approx(source_row.evidence[key], rel=1e-6)


#: The fixture's one sample time (see generations.om).
AT = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def _answer(server: PrometheusServer, template: str) -> dict[tuple[str, str], float]:
    query = render(template, selector=Selector.build().namespaced, sample_window="4m59s")
    response = requests.get(
        f"{server.url}/api/v1/query",
        params={"query": query, "time": str(AT.timestamp())},
        timeout=30,
    )
    response.raise_for_status()
    body = response.json()
    assert body["status"] == "success", body
    return {
        (item["metric"]["pod"], item["metric"]["area"]): float(item["value"][1])
        for item in body["data"]["result"]
    }


@pytest.fixture(scope="module")
def generations_server(tmp_path_factory: pytest.TempPathFactory) -> PrometheusServer:
    workdir = tmp_path_factory.mktemp("jvm-generations")
    server = PrometheusServer(FIXTURES / "generations.om", workdir)
    yield server  # type: ignore[misc]
    server.stop()


def test_every_naming_generation_is_read_once_per_area(
    generations_server: PrometheusServer,
) -> None:
    used = _answer(generations_server, "jvm_memory_used")
    maxima = _answer(generations_server, "jvm_memory_max")
    # Micrometer (per pool, scraped by two Prometheus replicas): the pools of each area summed
    # once: heap 50 + 250 + 5 MiB, non-heap 80 + 2 + 20 + 10 + 9 MiB.
    assert used[("orders-7d9f-x1", "heap")] == 305 * MIB
    assert used[("orders-7d9f-x1", "nonheap")] == 121 * MIB
    # Heap max: G1 Old Gen's 1 GiB only (Eden and Survivor say -1); non-heap: the pools with a
    # max (5,836,800 + 122,908,672 + 122,912,768 + 1 GiB), Metaspace's -1 left out.
    assert maxima[("orders-7d9f-x1", "heap")] == 1024 * MIB
    assert maxima[("orders-7d9f-x1", "nonheap")] == 1_325_400_064
    # client_java >= 1.0 (jmx_exporter >= 1.0): one series per area, same names.
    assert used[("billing-0", "heap")] == 400 * MIB
    assert maxima[("billing-0", "heap")] == 2048 * MIB
    assert ("billing-0", "nonheap") not in maxima  # it reports -1: max unknown, not 0
    # simpleclient_hotspot (jmx_exporter < 1.0): jvm_memory_bytes_used / _max.
    assert used[("kafka-connect-0", "heap")] == 600 * MIB
    assert used[("kafka-connect-0", "nonheap")] == 90 * MIB
    assert maxima[("kafka-connect-0", "heap")] == 3072 * MIB
    assert ("kafka-connect-0", "nonheap") not in maxima
    assert len(used) == 6
