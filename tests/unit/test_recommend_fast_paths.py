"""The vectorised hot paths of ``recommend`` against plain reference implementations.

``pack``'s first fit keeps its nodes in numpy arrays and ``pending_pods`` finds runs without
expanding every slot; both must give exactly what the straightforward Python loops give
(placements, binding resource, runs), so the references below are those loops.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from kianax_capacity.model import InstanceSpec
from kianax_capacity.recommenders.forecast import DayGrid, peaks_per_day
from kianax_capacity.recommenders.inventory import (
    median_positive_counts,
    pending_runs,
    pending_runs_expanded,
)
from kianax_capacity.recommenders.packing import (
    Overhead,
    PackMemo,
    PodRequest,
    eks_allocatable,
    pack,
)
from kianax_capacity.units import GIB, MIB
from tests.unit.test_packing import M6I_XLARGE, T3_MEDIUM

#: The float slack the reference allows a CPU fit (pack's own tolerance: cores sum in floats).
_EPSILON = 1e-9


@dataclass
class _RefNode:
    zone: str
    cpu: float
    memory: int
    pods: int
    groups: dict[str, int] = field(default_factory=dict)


def _reference_first_fit(
    pods: list[PodRequest], spec: InstanceSpec, overhead: Overhead, zones: tuple[str, ...]
) -> tuple[list[tuple[str, float, int, int]], list[PodRequest], dict[str, int]]:
    """First fit decreasing as a Python loop: sort the nodes for every pod, try each in turn."""
    allocatable = eks_allocatable(spec)
    free_cpu = allocatable.cpu_cores - overhead.cpu_cores
    free_memory = allocatable.memory_bytes - overhead.memory_bytes

    def dominant(pod: PodRequest) -> float:
        return max(pod.cpu_cores / max(free_cpu, _EPSILON), pod.memory_bytes / max(free_memory, 1))

    nodes: list[_RefNode] = []
    zone_groups: dict[tuple[str, str], int] = {}
    unplaced: list[PodRequest] = []
    binding = {"cpu": 0, "memory": 0, "pods": 0}
    for pod in sorted(pods, key=lambda p: (-dominant(p), p.group, p.name)):
        if pod.cpu_cores > free_cpu + _EPSILON or pod.memory_bytes > free_memory:
            unplaced.append(pod)
            continue
        order = sorted(
            range(len(nodes)),
            key=lambda i: (
                zone_groups.get((nodes[i].zone, pod.group), 0),
                nodes[i].groups.get(pod.group, 0),
                i,
            ),
        )
        target = None
        for i in order:
            node = nodes[i]
            cpu_ok = node.cpu + pod.cpu_cores <= allocatable.cpu_cores + _EPSILON
            memory_ok = node.memory + pod.memory_bytes <= allocatable.memory_bytes
            pods_ok = node.pods + 1 <= allocatable.pods
            if cpu_ok and memory_ok and pods_ok:
                target = node
                break
            for name, ok in (("pods", pods_ok), ("cpu", cpu_ok), ("memory", memory_ok)):
                binding[name] += not ok
        if target is None:
            per_zone = {z: sum(n.zone == z for n in nodes) for z in zones}
            zone = min(
                zones,
                key=lambda z: (per_zone[z], zone_groups.get((z, pod.group), 0), zones.index(z)),
            )
            target = _RefNode(zone, overhead.cpu_cores, overhead.memory_bytes, overhead.pods)
            nodes.append(target)
        target.cpu += pod.cpu_cores
        target.memory += pod.memory_bytes
        target.pods += 1
        target.groups[pod.group] = target.groups.get(pod.group, 0) + 1
        zone_groups[(target.zone, pod.group)] = zone_groups.get((target.zone, pod.group), 0) + 1
    return [(n.zone, n.cpu, n.memory, n.pods) for n in nodes], unplaced, binding


# Few distinct sizes and groups, so replicas repeat and spreading ties are common.
pod_strategy = st.builds(
    PodRequest,
    group=st.sampled_from(["a/x", "a/y", "b/z", "c/w"]),
    cpu_cores=st.sampled_from([0.0, 0.05, 0.1, 0.25, 0.5, 1.0, 1.9, 2.5]),
    memory_bytes=st.sampled_from([0, 64 * MIB, 256 * MIB, 1 * GIB, 3 * GIB, 6 * GIB]),
    name=st.sampled_from(["", "p1", "p2"]),
)


@settings(max_examples=150, deadline=None)
@given(
    pods=st.lists(pod_strategy, max_size=60),
    spec=st.sampled_from([T3_MEDIUM, M6I_XLARGE]),
    zones=st.sampled_from([("a",), ("a", "b"), ("a", "b", "c")]),
    overhead=st.sampled_from([Overhead(), Overhead(0.1, 128 * MIB, 2)]),
)
def test_pack_places_every_pod_where_the_reference_loop_does(
    pods: list[PodRequest], spec: InstanceSpec, zones: tuple[str, ...], overhead: Overhead
) -> None:
    result = pack(pods, spec, overhead=overhead, zones=zones)
    nodes, unplaced, binding = _reference_first_fit(pods, spec, overhead, zones)
    assert [(n.zone, n.cpu_cores, n.memory_bytes, n.pods) for n in result.node_loads] == nodes
    assert list(result.unplaced) == unplaced
    expected_binding = max(binding, key=lambda k: binding[k]) if any(binding.values()) else None
    assert result.binding_resource == expected_binding


def test_pack_alternates_replicas_between_zones_on_open_nodes() -> None:
    # Two 3-core pods open a node in zone a, then one in zone b (a new node goes to the zone
    # with fewest nodes). Four small replicas of one workload then alternate a, b, a, b: each
    # goes to the zone, then the node, holding fewest of them, though all fit on the first.
    big = [PodRequest("ns/db", 3.0, 1 * GIB, name="db-0"), PodRequest("ns/mq", 3.0, GIB, "mq-0")]
    web = [PodRequest("ns/web", 0.1, 64 * MIB, name=f"web-{i}") for i in range(4)]
    result = pack(web + big, M6I_XLARGE, zones=("a", "b"))
    assert [(n.zone, n.pods) for n in result.node_loads] == [("a", 3), ("b", 3)]
    assert [round(n.cpu_cores, 6) for n in result.node_loads] == [3.2, 3.2]


# Many replicas of a few sizes: enough nodes that whole zone classes refuse a pod.
replica_strategy = st.lists(
    st.tuples(
        st.sampled_from(["a/x", "a/y", "b/z", "c/w", "c/v"]),
        st.sampled_from([0.05, 0.3, 0.7, 1.2, 1.9]),
        st.sampled_from([64 * MIB, 512 * MIB, 2 * GIB, 5 * GIB]),
        st.integers(1, 12),
    ),
    max_size=12,
)


@settings(max_examples=100, deadline=None)
@given(
    workloads=replica_strategy,
    spec=st.sampled_from([T3_MEDIUM, M6I_XLARGE]),
    zones=st.sampled_from([("a",), ("a", "b"), ("a", "b", "c")]),
    overhead=st.sampled_from([Overhead(), Overhead(0.1, 128 * MIB, 2)]),
)
def test_first_fit_counts_every_refusal_the_reference_loop_counts(
    workloads: list[tuple[str, float, int, int]],
    spec: InstanceSpec,
    zones: tuple[str, ...],
    overhead: Overhead,
) -> None:
    # Exact refusal counts per resource, not only the one that wins: the per-zone counts
    # that replace most vector searches must add up to what a node-by-node loop counts.
    pods = [
        PodRequest(group, cpu, memory, name=f"{group}-{i}-{r}")
        for i, (group, cpu, memory, replicas) in enumerate(workloads)
        for r in range(replicas)
    ]
    result = pack(pods, spec, overhead=overhead, zones=zones)
    expected_nodes, expected_unplaced, expected_binding = _reference_first_fit(
        pods, spec, overhead, zones
    )
    assert [(n.zone, n.cpu_cores, n.memory_bytes, n.pods) for n in result.node_loads] == (
        expected_nodes
    )
    assert list(result.unplaced) == expected_unplaced
    assert dict(result.refusals) == expected_binding


def test_first_fit_refusals_hand_worked() -> None:
    # t3.medium: 1.93 cores allocatable. big-0 opens node 0 (a); big-1 tries its own node 0
    # (refused, CPU: 1) and opens node 1 in b. web-1 (1 core): nodes 0 and 1 refuse (2), new
    # node 2 in a. web-2: zone b first (no web there): node 1 refuses; then zone a: node 0,
    # then its own node 2 refuse (3); new node 3 in b. web-3: both zones hold one web: nodes
    # 0, 1 refuse, then the own nodes 2, 3 (4); new node 4 in a. CPU: 1 + 2 + 3 + 4 = 10.
    pods = [
        PodRequest("ns/big", 1.5, 256 * MIB, "big-0"),
        PodRequest("ns/big", 1.5, 256 * MIB, "big-1"),
        *(PodRequest("ns/web", 1.0, 256 * MIB, f"web-{i}") for i in range(3)),
    ]
    result = pack(pods, T3_MEDIUM, zones=("a", "b"))
    assert [(n.zone, n.cpu_cores) for n in result.node_loads] == [
        ("a", 1.5),
        ("b", 1.5),
        ("a", 1.0),
        ("b", 1.0),
        ("a", 1.0),
    ]
    assert result.unplaced == ()
    assert dict(result.refusals) == {"cpu": 10, "memory": 0, "pods": 0}
    assert result.binding_resource == "cpu"
    assert _reference_first_fit(pods, T3_MEDIUM, Overhead(), ("a", "b"))[2] == dict(result.refusals)


T3A_MEDIUM = InstanceSpec("t3a.medium", 2, 4 * GIB, "amd64", 3, 6)
M6I_LARGE = InstanceSpec("m6i.large", 2, 8 * GIB, "amd64", 3, 10)


@settings(max_examples=60, deadline=None)
@given(
    pods=st.lists(pod_strategy, max_size=40),
    zones=st.sampled_from([("a",), ("a", "b", "c")]),
    min_nodes=st.lists(st.integers(0, 4), min_size=4, max_size=4),
)
def test_a_memo_gives_what_fresh_packs_give(
    pods: list[PodRequest], zones: tuple[str, ...], min_nodes: list[int]
) -> None:
    # t3.medium and t3a.medium share one run; m6i.large has its own; the HA minimum, the
    # instance type and the findings that name it are each call's own.
    memo = PackMemo()
    specs = [T3_MEDIUM, T3A_MEDIUM, M6I_LARGE, T3_MEDIUM]
    for spec, low in zip(specs, min_nodes, strict=True):
        got = pack(pods, spec, zones=zones, min_nodes=low, memo=memo)
        assert got == pack(pods, spec, zones=zones, min_nodes=low)
        assert got.instance_type == spec.instance_type


def test_a_zone_named_twice_is_one_zone() -> None:
    pods = [PodRequest("ns/big", 1.5, 256 * MIB, f"big-{i}") for i in range(3)]
    twice = pack(pods, T3_MEDIUM, zones=("a", "b", "a"))
    assert twice == pack(pods, T3_MEDIUM, zones=("a", "b"))
    assert [n.zone for n in twice.node_loads] == ["a", "b", "a"]


def _reference_runs(
    group: np.ndarray, ns: np.ndarray, counts: np.ndarray, step: int
) -> list[tuple[int, int, int, int]]:
    """(group, slot, first ns, last ns) per run, one slot at a time as a Python loop."""
    runs: list[tuple[int, int, int, int]] = []
    for g in sorted(set(group.tolist())):
        rows = sorted(i for i in range(len(group)) if group[i] == g)
        for slot in range(1, int(counts[rows].max(initial=0)) + 1):
            present = [int(ns[i]) for i in rows if counts[i] >= slot]
            start: int | None = None
            previous: int | None = None
            for t in present:
                if previous is None or t - previous != step:
                    if start is not None and previous is not None:
                        runs.append((g, slot, start, previous))
                    start = t
                previous = t
            if start is not None and previous is not None:
                runs.append((g, slot, start, previous))
    return runs


@settings(max_examples=150, deadline=None)
@given(
    rows=st.lists(
        st.tuples(st.integers(0, 2), st.integers(0, 12), st.integers(1, 4)),
        min_size=1,
        max_size=40,
        unique_by=lambda r: (r[0], r[1]),
    )
)
def test_pending_runs_match_a_slot_by_slot_loop(rows: list[tuple[int, int, int]]) -> None:
    rows = sorted(rows)
    group = np.array([r[0] for r in rows], dtype="int64")
    step = 300
    ns = np.array([r[1] * step for r in rows], dtype="int64")
    counts = np.array([r[2] for r in rows], dtype="int64")
    expected = _reference_runs(group, ns, counts, step)
    for runs in (pending_runs, pending_runs_expanded):
        first, last, slot = runs(group, ns, counts, step)
        got = [
            (int(group[f]), int(s), int(ns[f]), int(ns[e]))
            for f, e, s in zip(first, last, slot, strict=True)
        ]
        assert got == expected


def test_pending_runs_hand_worked() -> None:
    # One workload, steps 0..3 with 2, 1, 2, 2 pending: slot 1 runs 0..3; slot 2 runs 0..0 and
    # 2..3 (step 1 had one pending only).
    ns = np.array([0, 300, 600, 900], dtype="int64")
    first, last, slot = pending_runs(np.zeros(4, "int64"), ns, np.array([2, 1, 2, 2]), 300)
    assert [
        (int(s), int(ns[f]), int(ns[e])) for f, e, s in zip(first, last, slot, strict=True)
    ] == [
        (1, 0, 900),
        (2, 0, 0),
        (2, 600, 900),
    ]


@settings(max_examples=80, deadline=None)
@given(
    steps=st.lists(st.integers(1, 40), min_size=1, max_size=80),
    values=st.lists(
        st.one_of(st.floats(-5, 50, allow_nan=False), st.just(float("nan"))),
        min_size=80,
        max_size=80,
    ),
)
def test_daily_peaks_over_one_grid_match_the_groupby(steps: list[int], values: list[float]) -> None:
    # Irregular steps of 1-40 hours: days with few samples (dropped), NaN samples skipped.
    times = pd.DatetimeIndex(
        pd.Timestamp("2026-03-01", tz="UTC") + pd.to_timedelta(np.cumsum(steps), unit="h")
    )
    array = np.array(values[: len(times)])
    days = DayGrid(times)
    pd.testing.assert_series_equal(days.peaks(times, array), peaks_per_day(times, array))
    # Another grid falls back to the groupby.
    shifted = times + pd.Timedelta(hours=1)
    pd.testing.assert_series_equal(days.peaks(shifted, array), peaks_per_day(shifted, array))


def _reference_median_counts(
    owner: np.ndarray, begin: np.ndarray, stop: np.ndarray, groups: int, steps: int
) -> np.ndarray:
    """The groups x steps matrix of running counts, then ``np.nanmedian`` of the positive ones."""
    counts = np.zeros((groups, steps), dtype="int64")
    for g, b, e in zip(owner, begin, stop, strict=True):
        counts[g, b:e] += 1
    medians = np.full(groups, np.nan)
    for g in range(groups):
        positive = counts[g][counts[g] > 0]
        if len(positive):
            medians[g] = float(np.median(positive))
    return medians


@settings(max_examples=150, deadline=None)
@given(
    steps=st.integers(0, 30),
    pods=st.lists(
        st.tuples(st.integers(0, 3), st.integers(0, 30), st.integers(0, 30)), max_size=25
    ),
)
def test_median_of_positive_counts_matches_the_matrix(
    steps: int, pods: list[tuple[int, int, int]]
) -> None:
    owner = np.array([p[0] for p in pods], dtype="int64")
    begin = np.clip(np.array([p[1] for p in pods], dtype="int64"), 0, steps)
    stop = np.clip(np.array([p[2] for p in pods], dtype="int64"), 0, steps)
    got = median_positive_counts(owner, begin, stop, 4, steps)
    expected = _reference_median_counts(owner, begin, stop, 4, steps)
    np.testing.assert_array_equal(got, expected)


def test_median_of_positive_counts_hand_worked() -> None:
    # Group 0 over 6 steps: pod A runs 0-3, pod B 2-5: counts 1 1 2 2 1 1 -> median 1.
    # Group 1: one pod 1-2 then two 4-5: counts 0 1 1 0 2 2 -> positive 1 1 2 2 -> 1.5.
    # Group 2 never runs (its pod starts and stops at step 3): NaN.
    owner = np.array([0, 0, 1, 1, 1, 2])
    begin = np.array([0, 2, 1, 4, 4, 3])
    stop = np.array([4, 6, 3, 6, 6, 3])
    got = median_positive_counts(owner, begin, stop, 3, 6)
    np.testing.assert_array_equal(got, [1.0, 1.5, np.nan])
