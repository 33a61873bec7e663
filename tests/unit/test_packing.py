"""Packing pods onto instance types: hand-worked cases and invariants."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kianax_capacity.model import InstanceSpec
from kianax_capacity.recommenders.packing import (
    Overhead,
    PodRequest,
    eks_allocatable,
    kube_reserved_cpu_cores,
    kube_reserved_memory_bytes,
    nodes_lower_bound,
    pack,
    pack_candidates,
)

MIB = 1024**2
GIB = 1024**3
# Real EC2 figures: t3.medium 2 vCPU / 4 GiB / 3 ENIs x 6 IPv4; t3.large 2 / 8 GiB / 3 x 12;
# m6i.xlarge 4 / 16 GiB / 4 x 15; m6i.2xlarge 8 / 32 GiB / 4 x 15.
T3_MEDIUM = InstanceSpec("t3.medium", 2, 4 * GIB, "amd64", 3, 6)
T3_LARGE = InstanceSpec("t3.large", 2, 8 * GIB, "amd64", 3, 12)
M6I_XLARGE = InstanceSpec("m6i.xlarge", 4, 16 * GIB, "amd64", 4, 15)
M6I_2XLARGE = InstanceSpec("m6i.2xlarge", 8, 32 * GIB, "amd64", 4, 15)


def test_kube_reserved_cpu_follows_the_eks_tiers() -> None:
    # 1 core: 60m; 2: 60+10; 4: 60+10+5+5; 8: 80 + 4 x 2.5.
    assert kube_reserved_cpu_cores(1) == pytest.approx(0.060)
    assert kube_reserved_cpu_cores(2) == pytest.approx(0.070)
    assert kube_reserved_cpu_cores(4) == pytest.approx(0.080)
    assert kube_reserved_cpu_cores(8) == pytest.approx(0.090)


def test_allocatable_of_t3_medium_matches_the_eks_formula() -> None:
    # max pods 3 x (6 - 1) + 2 = 17; memory 4096 - (255 + 11 x 17) - 100 = 3554 MiB.
    allocatable = eks_allocatable(T3_MEDIUM)
    assert allocatable.pods == 17
    assert kube_reserved_memory_bytes(17) == 442 * MIB
    assert allocatable.memory_bytes == 3554 * MIB
    assert allocatable.cpu_cores == pytest.approx(1.93)


def test_pods_that_fit_exactly_fill_nodes_without_spilling() -> None:
    # DaemonSets take 0.13 cores, leaving 1.80: three 0.6-core pods fill a node exactly.
    overhead = Overhead(cpu_cores=0.13, memory_bytes=64 * MIB, pods=1)
    pods = [PodRequest("kianax/api", 0.6, 256 * MIB, name=f"api-{i}") for i in range(6)]
    result = pack(pods, T3_MEDIUM, overhead=overhead)
    assert result.nodes == 2
    assert result.fits_all
    for load in result.node_loads:
        assert load.cpu_cores == pytest.approx(1.93)
        assert load.pods == 4


def test_one_more_pod_than_fits_opens_a_node() -> None:
    overhead = Overhead(cpu_cores=0.13, memory_bytes=64 * MIB, pods=1)
    pods = [PodRequest("kianax/api", 0.6, 256 * MIB, name=f"api-{i}") for i in range(7)]
    assert pack(pods, T3_MEDIUM, overhead=overhead).nodes == 3


def test_a_pod_larger_than_any_candidate_is_a_finding_not_dropped() -> None:
    pods = [
        PodRequest("kianax/api", 0.25, 256 * MIB, name="api-0"),
        PodRequest("kianax/huge", 3.0, 1 * GIB, name="huge-0"),
    ]
    results, findings = pack_candidates(pods, [T3_MEDIUM, T3_LARGE])
    for result in results:
        assert [p.name for p in result.unplaced] == ["huge-0"]
        assert result.nodes == 1  # the small pod still packs
        assert any("huge-0" in f for f in result.findings)
    assert len(findings) == 1
    assert "huge-0" in findings[0] and "larger than any candidate" in findings[0]


def test_a_pod_that_fits_some_candidate_is_not_a_global_finding() -> None:
    pods = [PodRequest("kianax/big", 3.0, 1 * GIB, name="big-0")]
    results, findings = pack_candidates(pods, [T3_MEDIUM, M6I_XLARGE])
    assert findings == ()
    assert not results[0].fits_all and results[1].fits_all


def test_max_pods_binds_before_cpu() -> None:
    # 17 slots - 2 DaemonSet pods = 15 pods a node; 40 tiny pods need 3 nodes although
    # their CPU (0.4 cores) and memory (640 MiB) would fit on one.
    overhead = Overhead(cpu_cores=0.1, memory_bytes=100 * MIB, pods=2)
    pods = [PodRequest(f"batch/job-{i % 4}", 0.01, 16 * MIB, name=f"p{i}") for i in range(40)]
    result = pack(pods, T3_MEDIUM, overhead=overhead)
    assert result.nodes == 3
    assert result.binding_resource == "pods"
    assert max(load.pods for load in result.node_loads) == 17


def test_daemonsets_are_counted_on_every_node() -> None:
    pods = [PodRequest("kianax/api", 0.5, 256 * MIB, name=f"api-{i}") for i in range(6)]
    # Without DaemonSets three 0.5-core pods fit a 1.93-core node: 2 nodes.
    assert pack(pods, T3_MEDIUM).nodes == 2
    # With 0.5 cores of DaemonSets per node only two fit (1.5 + 0.5 > 1.93): 3 nodes, and
    # each node carries the overhead.
    overhead = Overhead(cpu_cores=0.5, memory_bytes=200 * MIB, pods=3)
    result = pack(pods, T3_MEDIUM, overhead=overhead)
    assert result.nodes == 3
    for load in result.node_loads:
        assert load.cpu_cores == pytest.approx(1.5)
        assert load.memory_bytes == 200 * MIB + 2 * 256 * MIB
        assert load.pods == 5


def test_memory_binds_for_memory_heavy_pods() -> None:
    pods = [PodRequest("kianax/cache", 0.1, 1500 * MIB, name=f"c{i}") for i in range(4)]
    result = pack(pods, T3_MEDIUM)  # 3554 MiB: two 1500 MiB pods a node
    assert result.nodes == 2
    assert result.binding_resource == "memory"


def test_ha_minimum_and_zone_spread() -> None:
    pods = [PodRequest("kianax/api", 0.1, 128 * MIB, name=f"api-{i}") for i in range(2)]
    result = pack(pods, M6I_2XLARGE, zones=("a", "b", "c"), min_nodes=3)
    assert result.nodes == 3
    assert result.extra_nodes_for_ha == 2
    assert result.nodes_by_zone == {"a": 1, "b": 1, "c": 1}


def test_new_nodes_spread_over_zones() -> None:
    pods = [PodRequest("kianax/api", 1.0, 256 * MIB, name=f"api-{i}") for i in range(4)]
    result = pack(pods, T3_MEDIUM, zones=("a", "b"))
    assert result.nodes == 4
    assert result.nodes_by_zone == {"a": 2, "b": 2}


def test_overhead_larger_than_the_node_is_a_finding() -> None:
    pods = [PodRequest("kianax/api", 0.1, 128 * MIB, name="api-0")]
    result = pack(pods, T3_MEDIUM, overhead=Overhead(cpu_cores=2.5, memory_bytes=0, pods=1))
    assert result.nodes == 0
    assert result.unplaced == tuple(pods)
    assert "DaemonSet overhead" in result.findings[0]


pod_strategy = st.builds(
    PodRequest,
    group=st.sampled_from(["a/x", "a/y", "b/z"]),
    cpu_cores=st.floats(0.001, 2.5),
    memory_bytes=st.integers(1 * MIB, 5 * GIB),
)


@settings(max_examples=60, deadline=None)
@given(pods=st.lists(pod_strategy, max_size=40), min_nodes=st.integers(0, 4))
def test_packing_invariants(pods: list[PodRequest], min_nodes: int) -> None:
    overhead = Overhead(cpu_cores=0.1, memory_bytes=128 * MIB, pods=2)
    result = pack(pods, M6I_XLARGE, overhead=overhead, zones=("a", "b"), min_nodes=min_nodes)
    allocatable = result.allocatable
    # No node overflows, every pod is either placed or reported, HA minimum holds.
    for load in result.node_loads:
        assert load.cpu_cores <= allocatable.cpu_cores + 1e-6
        assert load.memory_bytes <= allocatable.memory_bytes
        assert load.pods <= allocatable.pods
    placed = sum(load.pods - overhead.pods for load in result.node_loads)
    assert placed + len(result.unplaced) == len(pods)
    assert len(result.findings) == len(result.unplaced)
    assert result.nodes >= min_nodes
    fitting = [p for p in pods if p not in result.unplaced]
    assert result.nodes >= nodes_lower_bound(fitting, allocatable, overhead)
    # A node is opened only for a pod that fits nowhere else: never more nodes than pods.
    assert result.nodes - result.extra_nodes_for_ha <= len(fitting)
    if result.extra_nodes_for_ha:
        assert result.nodes == min_nodes
