"""The embedded demo: a deterministic, simulated Kianax cluster.

It reproduces the platform of the Kianax strategy document (EKS 1.31, node groups ``general-ng``
t3.medium 2-5, ``system-ng`` t3.small x2, ``jobs-ng`` spot 0-10; namespaces kianax, monitoring,
argocd, logging, kube-system) with behaviours a capacity tool must handle, each on purpose:

==========================  ==============================================================
behaviour                   where
==========================  ==============================================================
diurnal + weekend load      every kianax service (US-centred day, weekends at ~55%)
market-hours peaks          trading-service, market-data-service (14:30-21:00 UTC weekdays)
saturated at HPA max        market-data-service (demand beyond 10 x 250m during market hours)
never leaves HPA min        user-service (a few millicores of use on 250m requests)
slow memory leak + OOM      notification-service (about +4.5 MiB/h until its 512Mi limit)
JVM-like flat heap          portfolio-service (heap sized by -Xmx, flat whatever the load)
JVM with Micrometer         ledger-service (jvm_memory_used/max_bytes by area; -Xmx 768Mi)
CPU-heavy start             ledger-service (JIT and class loading: ~1 core for 10 minutes)
spiky, bursty               agent-service (Poisson bursts of LLM-agent work)
under-provisioned           risk-service (CPU throttled at its 500m limit, OOM kills)
over-provisioned            user-service, grafana, argocd-server, portfolio-rebalance job
rollouts                    kianax Deployments roll 1-2 times (new ReplicaSet hash, new pods)
node churn                  general-ng scales 2-5 with load; jobs-ng 0-N spot nodes for jobs
batch on spot               CronJobs market-eod-report and portfolio-rebalance on jobs-ng
stateful with PVC           prometheus-0 and alertmanager-0 StatefulSets
==========================  ==============================================================

Everything is a pure function of the parameters (seeded numpy), so the same ``end`` gives the
same cluster on every machine. ``scale`` multiplies the application workloads (extra namespaces
``kianax-2`` ... ``kianax-N`` and the nodes they need), for benchmarks.

Modules, in data-flow order: :mod:`.catalog` (node shapes and workload specs), :mod:`.demand`
(load profiles, HPA replicas, CronJob runs), :mod:`.simulate` (nodes and the run),
:mod:`.scheduler` (pods on nodes), :mod:`.series` (container CPU and memory), :mod:`.tables`
(snapshot tables and :func:`generate_demo_snapshot`); :mod:`.clusters` declares the fleet
(``kianax-production`` and ``kianax-dev``).
"""

from kianax_capacity.sources.demo.catalog import (
    DEFAULT_END,
    DEMO_CLUSTER,
    JVM_POOLS,
    NODE_SHAPES,
    ZONES,
    ContainerSpec,
    HpaSpec,
    NodeShape,
    WorkloadSpec,
    demo_workloads,
    jvm_workloads,
)
from kianax_capacity.sources.demo.cluster import DemoCluster, SimulatedNode, SimulatedPod
from kianax_capacity.sources.demo.clusters import (
    DEMO_CLUSTERS,
    DEV_CLUSTER,
    ClusterSpec,
    NodeGroupSpec,
    cluster_spec,
)
from kianax_capacity.sources.demo.simulate import simulate_demo_cluster
from kianax_capacity.sources.demo.tables import generate_demo_snapshot

__all__ = [
    "DEFAULT_END",
    "DEMO_CLUSTER",
    "DEMO_CLUSTERS",
    "DEV_CLUSTER",
    "JVM_POOLS",
    "NODE_SHAPES",
    "ZONES",
    "ClusterSpec",
    "ContainerSpec",
    "DemoCluster",
    "HpaSpec",
    "NodeGroupSpec",
    "NodeShape",
    "SimulatedNode",
    "SimulatedPod",
    "WorkloadSpec",
    "cluster_spec",
    "demo_workloads",
    "generate_demo_snapshot",
    "jvm_workloads",
    "simulate_demo_cluster",
]
