"""Every family of the export, in the order they are written."""

from __future__ import annotations

from kianax_capacity.sources.demo import DemoCluster
from kianax_capacity.sources.openmetrics.cadvisor import cadvisor_families
from kianax_capacity.sources.openmetrics.jvm import jvm_families
from kianax_capacity.sources.openmetrics.kube_objects import (
    hpa_families,
    node_families,
    pdb_families,
)
from kianax_capacity.sources.openmetrics.kube_pods import container_state_families, pod_families
from kianax_capacity.sources.openmetrics.series import Family, Scrape


def families(demo: DemoCluster, cluster: str) -> list[Family]:
    """Every family of the export, in the order they are written."""
    common = {"cluster": cluster}
    scrape = Scrape(
        demo, kubelet={**common, "job": "kubelet"}, ksm={**common, "job": "kube-state-metrics"}
    )
    return [
        *cadvisor_families(scrape),
        *pod_families(scrape),
        *container_state_families(scrape),
        *hpa_families(scrape),
        *pdb_families(scrape),
        *node_families(scrape),
        *jvm_families(scrape),
    ]
