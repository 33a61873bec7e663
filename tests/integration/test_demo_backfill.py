"""Issue 2's proof: the demo's OpenMetrics export backfills into a real Prometheus unchanged."""

import pytest
import requests

from kianax_capacity.recommenders.inventory import replica_counts
from tests.integration.conftest import DEMO_END

pytestmark = pytest.mark.integration


def _instant(url: str, query: str) -> list[dict]:
    answer = requests.get(
        f"{url}/api/v1/query", params={"query": query, "time": DEMO_END.timestamp()}, timeout=30
    )
    answer.raise_for_status()
    body = answer.json()
    assert body["status"] == "success"
    return body["data"]["result"]


def test_pods_by_namespace_match_the_demo_inventory(prometheus_server, prom_demo_snapshot):
    result = _instant(
        prometheus_server.url, "count by (namespace) (last_over_time(kube_pod_owner[1m]))"
    )
    served = {r["metric"]["namespace"]: int(float(r["value"][1])) for r in result}
    pods = prom_demo_snapshot.pods
    alive = pods[pods.last_seen == pods.last_seen.max()]
    assert served == alive.groupby("namespace").size().to_dict()


def test_counters_and_labels_survive_backfill(prometheus_server, prom_demo_snapshot):
    # Every node the demo had at the end is labelled with its EKS node group.
    nodes = _instant(
        prometheus_server.url,
        "count by (label_eks_amazonaws_com_nodegroup) (last_over_time(kube_node_labels[1m]))",
    )
    served = {
        r["metric"]["label_eks_amazonaws_com_nodegroup"]: int(float(r["value"][1])) for r in nodes
    }
    live = prom_demo_snapshot.nodes[
        prom_demo_snapshot.nodes.last_seen == prom_demo_snapshot.nodes.last_seen.max()
    ]
    assert served == live.groupby("node_group").size().to_dict()
    # Running api-gateway pods at the end, as the demo counts them.
    counts = replica_counts(prom_demo_snapshot)
    last = counts[(counts.timestamp == counts.timestamp.max()) & (counts.workload == "api-gateway")]
    pods = _instant(
        prometheus_server.url,
        'count(container_memory_working_set_bytes{namespace="kianax",container="app",pod=~"api-gateway-.*"})',
    )
    assert int(float(pods[0]["value"][1])) == int(last.replicas.iloc[0])
