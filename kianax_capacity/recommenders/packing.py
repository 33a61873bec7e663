"""Bin-packing of pod requests onto EC2 instance types, the way an EKS node would take them.

The node group recommender asks "how many nodes of type X would these pods need?". The answer
comes from simulating the scheduler's arithmetic, not from dividing totals, because a node is
full when *any* of CPU, memory or pod slots runs out:

* **Allocatable** = capacity - kube-reserved - system-reserved - hard eviction threshold, with
  kube-reserved as the EKS optimised AMI bootstrap computes it:

  - memory: 255 MiB + 11 MiB x max pods;
  - CPU: 6% of the first core, 1% of the second, 0.5% of cores 3-4, 0.25% of every core above 4;
  - system-reserved: 0 (the EKS AMIs do not set it);
  - eviction threshold: ``memory.available<100Mi``.

* **Pod slots** = ``InstanceSpec.max_pods`` (VPC CNI without prefix delegation:
  ENIs x (IPv4 per ENI - 1) + 2).
* **DaemonSets** run one pod on every node, so their requests and their pod slot are taken
  from every node before any other pod is placed.
* **First-fit decreasing** on the dominant resource (the largest share of a node's allocatable
  a pod asks for), with a zone-spread preference: nodes are opened round-robin over the zones
  seen, and a pod prefers the zone, then the node, holding the fewest pods of its own workload.
* **HA minimum**: never fewer than ``min_nodes`` nodes.

A pod that does not fit on an empty node of a type is *unplaced* and named in the findings,
never dropped silently.

Example:
    >>> from kianax_capacity.model import InstanceSpec
    >>> spec = InstanceSpec("t3.medium", 2, 4 * 1024**3, "amd64", 3, 6)
    >>> result = pack([PodRequest("kianax/api", 0.25, 256 * 1024**2)] * 4, spec)
    >>> result.nodes
    1
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from kianax_capacity.model import InstancePrice, InstanceSpec, ResourcePrices
from kianax_capacity.units import MIB

__all__ = [
    "EVICTION_HARD_MEMORY_BYTES",
    "Allocatable",
    "InstanceCatalog",
    "NodeLoad",
    "Overhead",
    "PackMemo",
    "PackingResult",
    "PodRequest",
    "PricedCatalog",
    "eks_allocatable",
    "kube_reserved_cpu_cores",
    "kube_reserved_memory_bytes",
    "nodes_lower_bound",
    "pack",
    "pack_candidates",
]

#: kubelet's default hard eviction threshold on EKS AMIs: ``memory.available<100Mi``.
EVICTION_HARD_MEMORY_BYTES = 100 * MIB
#: EKS AMIs leave system-reserved unset; it is listed so the formula reads in full.
SYSTEM_RESERVED_CPU_CORES = 0.0
SYSTEM_RESERVED_MEMORY_BYTES = 0

# Requests are floats summed in different orders; a pod that fits "exactly" must still fit.
_EPSILON = 1e-9


class InstanceCatalog(Protocol):
    """What packing needs from a price catalog: instance specs."""

    def spec(self, instance_type: str) -> InstanceSpec: ...

    def instance_types(self) -> Iterable[str]: ...


class PricedCatalog(InstanceCatalog, Protocol):
    """What the node-group and spot recommenders need: specs, prices, interruption ranges."""

    def price(self, instance_type: str) -> InstancePrice: ...

    def node_hourly_usd(self, instance_type: str, capacity_type: str) -> float: ...

    def interruption_range(self, instance_type: str) -> str | None: ...

    def unit_prices(self, instance_type: str, capacity_type: str = ...) -> ResourcePrices: ...


@dataclass(frozen=True)
class PodRequest:
    """One pod's scheduling footprint (the sum of its containers' requests).

    ``group`` names the workload ("namespace/workload") so replicas can be spread.
    """

    group: str
    cpu_cores: float
    memory_bytes: int
    name: str = ""


@dataclass(frozen=True)
class Overhead:
    """What every node gives away before workload pods land: DaemonSet pods."""

    cpu_cores: float = 0.0
    memory_bytes: int = 0
    pods: int = 0


@dataclass(frozen=True)
class Allocatable:
    """What the scheduler may hand out on one node of an instance type."""

    instance_type: str
    cpu_cores: float
    memory_bytes: int
    pods: int


@dataclass(frozen=True)
class NodeLoad:
    """One simulated node after packing (DaemonSet overhead included)."""

    zone: str
    cpu_cores: float
    memory_bytes: int
    pods: int


@dataclass(frozen=True)
class PackingResult:
    """How a set of pods packs onto one instance type."""

    instance_type: str
    allocatable: Allocatable
    nodes: int
    node_loads: tuple[NodeLoad, ...]
    unplaced: tuple[PodRequest, ...] = ()
    findings: tuple[str, ...] = ()
    binding_resource: str | None = None  # cpu | memory | pods: the first to run out
    extra_nodes_for_ha: int = 0
    #: (resource, how often an open node refused a pod for it) for cpu, memory and pods: the
    #: evidence of ``binding_resource``, the one refused most.
    refusals: tuple[tuple[str, int], ...] = ()

    @property
    def fits_all(self) -> bool:
        return not self.unplaced

    @property
    def nodes_by_zone(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for load in self.node_loads:
            counts[load.zone] = counts.get(load.zone, 0) + 1
        return counts

    @property
    def cpu_utilisation(self) -> float:
        """Requested CPU / allocatable CPU over all nodes (0..1)."""
        if not self.node_loads:
            return 0.0
        return sum(n.cpu_cores for n in self.node_loads) / (
            self.allocatable.cpu_cores * len(self.node_loads)
        )

    @property
    def memory_utilisation(self) -> float:
        if not self.node_loads:
            return 0.0
        total = sum(n.memory_bytes for n in self.node_loads)
        return total / (self.allocatable.memory_bytes * len(self.node_loads))


def kube_reserved_cpu_cores(vcpu: int) -> float:
    """CPU the EKS AMI reserves for the kubelet: 6% / 1% / 0.5% / 0.25% tiers of cores.

    Example:
        >>> round(kube_reserved_cpu_cores(2), 4)
        0.07
    """
    tiers = ((1, 0.06), (1, 0.01), (2, 0.005))
    remaining = float(vcpu)
    reserved = 0.0
    for cores, share in tiers:
        take = min(remaining, cores)
        reserved += take * share
        remaining -= take
    reserved += max(remaining, 0.0) * 0.0025
    return reserved


def kube_reserved_memory_bytes(max_pods: int) -> int:
    """Memory the EKS AMI reserves for the kubelet: 255 MiB + 11 MiB per schedulable pod."""
    return (255 + 11 * max_pods) * MIB


def eks_allocatable(spec: InstanceSpec) -> Allocatable:
    """Allocatable CPU, memory and pod slots of one node of ``spec`` on an EKS AMI.

    Example:
        >>> spec = InstanceSpec("t3.medium", 2, 4 * 1024**3, "amd64", 3, 6)
        >>> a = eks_allocatable(spec)
        >>> (round(a.cpu_cores, 3), a.memory_bytes // MIB, a.pods)
        (1.93, 3554, 17)
    """
    max_pods = spec.max_pods
    cpu = spec.vcpu - kube_reserved_cpu_cores(spec.vcpu) - SYSTEM_RESERVED_CPU_CORES
    memory = (
        spec.memory_bytes
        - kube_reserved_memory_bytes(max_pods)
        - SYSTEM_RESERVED_MEMORY_BYTES
        - EVICTION_HARD_MEMORY_BYTES
    )
    return Allocatable(spec.instance_type, cpu, max(memory, 0), max_pods)


class PackMemo:
    """First-fit runs of one pod list, shared by the instance types that offer the same room.

    Types such as t3.medium and t3a.medium have the same vCPUs, memory and pod slots, so the
    same allocatable, and the same pods land on them the same way; :func:`pack` given a memo
    runs first fit once for all of them (and for any ``min_nodes``, which only adds empty
    nodes). The memo does not look at the pods: keep one per pod list.
    """

    def __init__(self) -> None:
        self._runs: dict[tuple[object, ...], _Run] = {}


@dataclass(frozen=True)
class _Run:
    """One first-fit run: node loads (zone, cpu, memory, pods), unplaced pods, refusals."""

    nodes: tuple[tuple[str, float, int, int], ...]
    unplaced: tuple[PodRequest, ...]
    binding: tuple[tuple[str, int], ...]


@dataclass
class _Node:
    zone: str
    cpu: float
    memory: int
    pods: int


def pack(
    pods: Sequence[PodRequest],
    spec: InstanceSpec,
    *,
    overhead: Overhead = Overhead(),
    zones: Sequence[str] = ("zone-a",),
    min_nodes: int = 0,
    memo: PackMemo | None = None,
) -> PackingResult:
    """Pack ``pods`` onto as few nodes of ``spec`` as first-fit decreasing finds.

    Args:
        pods: the pods to place (DaemonSet pods excluded: pass them as ``overhead``).
        spec: the instance type.
        overhead: DaemonSet requests and pod count taken from every node.
        zones: the zones nodes are spread over (round-robin as they are opened).
        min_nodes: the HA minimum; the result never has fewer nodes.
        memo: earlier runs over the same ``pods``, reused for a type with the same
            allocatable (the result is the one a fresh run gives).

    Returns:
        The node count, per-node loads, the resource that ran out first and any unplaced pods
        (each named in ``findings``).
    """
    allocatable = eks_allocatable(spec)
    # A zone named twice is one zone.
    zone_list = tuple(dict.fromkeys(zones)) or ("zone-a",)
    findings: list[str] = []
    if (
        overhead.cpu_cores > allocatable.cpu_cores + _EPSILON
        or overhead.memory_bytes > allocatable.memory_bytes
        or overhead.pods >= allocatable.pods
    ):
        findings.append(
            f"DaemonSet overhead ({overhead.cpu_cores:.3f} cores, "
            f"{overhead.memory_bytes // MIB} MiB, {overhead.pods} pods) "
            f"leaves no room on a {spec.instance_type}"
        )
        return PackingResult(spec.instance_type, allocatable, 0, (), tuple(pods), tuple(findings))

    free_cpu = allocatable.cpu_cores - overhead.cpu_cores
    free_memory = allocatable.memory_bytes - overhead.memory_bytes

    # Each pod's dominant share: the larger of its CPU and memory shares of a node's room.
    cpu_room, memory_room = max(free_cpu, _EPSILON), max(free_memory, 1)

    key = (allocatable.cpu_cores, allocatable.memory_bytes, allocatable.pods, overhead, zone_list)
    run = memo._runs.get(key) if memo is not None else None
    if run is None:
        order = sorted(
            pods,
            key=lambda p: (
                -max(p.cpu_cores / cpu_room, p.memory_bytes / memory_room),
                p.group,
                p.name,
            ),
        )
        placed, left, refusals = _first_fit(
            order, allocatable, overhead, zone_list, free_cpu, free_memory
        )
        run = _Run(
            tuple((n.zone, n.cpu, n.memory, n.pods) for n in placed),
            tuple(left),
            tuple(refusals.items()),
        )
        if memo is not None:
            memo._runs[key] = run
    nodes = [_Node(*node) for node in run.nodes]
    unplaced = run.unplaced
    binding = dict(run.binding)

    for pod in unplaced:
        findings.append(
            f"pod {pod.name or pod.group} requests {pod.cpu_cores:.3f} cores and "
            f"{pod.memory_bytes // MIB} MiB, more than an empty {spec.instance_type} offers "
            f"({free_cpu:.3f} cores, {free_memory // MIB} MiB after DaemonSets)"
        )
    packed = len(nodes)
    ha_extra = max(0, min_nodes - packed)
    for _ in range(ha_extra):
        zone = zone_list[len(nodes) % len(zone_list)]
        nodes.append(_Node(zone, overhead.cpu_cores, overhead.memory_bytes, overhead.pods))
    loads = tuple(NodeLoad(n.zone, n.cpu, n.memory, n.pods) for n in nodes)
    binding_resource = max(binding, key=lambda k: binding[k]) if any(binding.values()) else None
    return PackingResult(
        instance_type=spec.instance_type,
        allocatable=allocatable,
        nodes=len(nodes),
        node_loads=loads,
        unplaced=tuple(unplaced),
        findings=tuple(findings),
        binding_resource=binding_resource,
        extra_nodes_for_ha=ha_extra,
        refusals=run.binding,
    )


#: Added to the refusal code of nodes already holding the pod's workload while it is placed.
_OWN = 8
#: Refusal code -> (refused for pods, for CPU, for memory), as 0/1.
_REFUSED = tuple((code & 1, (code >> 1) & 1, (code >> 2) & 1) for code in range(_OWN))


def _first_fit(
    order: Sequence[PodRequest],
    allocatable: Allocatable,
    overhead: Overhead,
    zones: tuple[str, ...],
    free_cpu: float,
    free_memory: int,
) -> tuple[list[_Node], list[PodRequest], dict[str, int]]:
    """First fit over ``order``: each pod goes to the first node that holds it, else a new one.

    A pod tries the nodes in the order (pods of its workload in the node's zone, pods of its
    workload on the node, node index), and every node that refuses it counts the resources
    that ran out (the binding resource is the one that refuses most). :class:`_FirstFit` keeps
    the nodes as numpy arrays, so one pod costs a few vector operations over the open nodes,
    not a Python sort of them.

    Returns:
        The nodes opened, the pods no empty node holds, and refusal counts per resource.
    """
    fit = _FirstFit(len(order) + 1, allocatable, overhead, len(zones))
    unplaced: list[PodRequest] = []
    for pod in order:
        if pod.cpu_cores > free_cpu + _EPSILON or pod.memory_bytes > free_memory:
            unplaced.append(pod)
        else:
            fit.place(pod)
    nodes = [
        _Node(zones[fit.node_zone[i]], fit.node_cpu[i], fit.node_memory[i], fit.node_count[i])
        for i in range(fit.opened)
    ]
    binding = {"cpu": fit.refused_cpu, "memory": fit.refused_memory, "pods": fit.refused_pods}
    return nodes, unplaced, binding


class _FirstFit:
    """The open nodes of one first-fit run, and the counts that keep each placement cheap.

    Each node's refusal of the current pod size is kept as a bit code (1 pods, 2 CPU,
    4 memory; 0 = it fits). Replicas of one workload come one after another with the same
    size, so the codes are recomputed only when the size changes (:meth:`_resize`), and
    otherwise just for the node the last pod went to (:meth:`_commit`). A pod is searched a
    zone class at a time (zones with the same count of the workload's pods): first the
    class's nodes without the workload, in index order (one vector search, their refusals one
    ``bincount``), then the few holding it.

    Most of those searches would find nothing (the nodes of the other zones are full), so
    each zone also keeps, for the current size, its count of nodes that fit and of nodes
    refusing for pods, CPU and memory. A class where no node without the workload fits is
    then tallied from those counts less the workload's own nodes, with no vector work.
    """

    def __init__(
        self, capacity: int, allocatable: Allocatable, overhead: Overhead, zone_count: int
    ) -> None:
        self.cpu = np.zeros(capacity)
        self.memory = np.zeros(capacity, dtype=np.int64)
        self.count = np.zeros(capacity, dtype=np.int64)
        self.code = np.zeros(capacity, dtype=np.int64)
        self.zone_of = np.zeros(capacity, dtype=np.int64)
        # The same per-node values as Python numbers: a pod reads and writes single nodes,
        # which numpy scalars make slow; the arrays serve the vector operations.
        self.node_cpu: list[float] = []
        self.node_memory: list[int] = []
        self.node_count: list[int] = []
        self.node_zone: list[int] = []
        self.overhead = overhead
        self.cpu_limit = allocatable.cpu_cores + _EPSILON
        self.memory_limit = allocatable.memory_bytes
        self.pod_limit = allocatable.pods
        self.zone_count = zone_count
        self.zone_nodes = [0] * zone_count
        self.no_pods = (0,) * zone_count
        # Zone classes seen so far -> which nodes are in one of the class's zones.
        self.class_members: dict[tuple[bool, ...], np.ndarray] = {}
        # Pods of a workload per zone -> its zone classes, lowest count first.
        self.class_order: dict[tuple[int, ...], list[tuple[tuple[bool, ...], list[int]]]] = {}
        # group -> pods per zone, and group -> {node: pods}: the two spreading counts.
        self.group_zones: dict[str, tuple[int, ...]] = {}
        self.node_groups: dict[str, dict[int, int]] = {}
        # Per zone, for the current size (valid while ``sized`` is set): nodes that fit,
        # nodes refusing for pods, for CPU, for memory.
        self.zone_state: list[list[int]] = [[0, 0, 0, 0] for _ in range(zone_count)]
        # Node refusals summed over all pods.
        self.refused_pods = self.refused_cpu = self.refused_memory = 0
        self.opened = 0
        self.sized: tuple[float, int] | None = None  # the pod size ``code`` holds refusals of

    def place(self, pod: PodRequest) -> None:
        """Put ``pod`` on the first open node that holds it, else on a new node."""
        ranks = self.group_zones.get(pod.group, self.no_pods)
        target = self._search(pod, ranks) if self.opened else -1
        if target < 0:
            target, old = self._open(ranks), -1  # a new node: in no zone's counts yet
        else:
            old = int(self.code[target])
        self._commit(pod, target, old, ranks)

    def _resize(self, cores: float, size: int) -> None:
        """Recompute every open node's refusal code, and the zone counts, for a new pod size."""
        opened = self.opened
        self.sized = (cores, size)
        self.code[:opened] = (
            (self.count[:opened] >= self.pod_limit)
            | (~(self.cpu[:opened] + cores <= self.cpu_limit) << 1)
            | (~(self.memory[:opened] <= self.memory_limit - size) << 2)
        )
        tally = np.bincount(
            self.zone_of[:opened] * _OWN + self.code[:opened], minlength=self.zone_count * _OWN
        ).tolist()
        for z in range(self.zone_count):
            t = tally[z * _OWN : (z + 1) * _OWN]
            # Fitting, then refusing for pods, CPU, memory (the bits of _REFUSED).
            self.zone_state[z] = [
                t[0],
                *(
                    sum(n for n, refused in zip(t, _REFUSED, strict=True) if refused[r])
                    for r in range(3)
                ),
            ]

    def _classes(self, ranks: tuple[int, ...]) -> list[tuple[tuple[bool, ...], list[int]]]:
        """The zone classes of a workload's spread, fewest of its pods first."""
        classes = self.class_order.get(ranks)
        if classes is None:
            classes = []
            for rank in sorted(set(ranks)):
                in_class = tuple(r == rank for r in ranks)
                classes.append((in_class, [z for z in range(self.zone_count) if in_class[z]]))
            self.class_order[ranks] = classes
        return classes

    def _search(self, pod: PodRequest, ranks: tuple[int, ...]) -> int:
        """The open node ``pod`` goes to, or -1; every node that refuses it is counted."""
        if self.sized != (pod.cpu_cores, pod.memory_bytes):
            self._resize(pod.cpu_cores, pod.memory_bytes)
        own_pods = self.node_groups.get(pod.group) or {}
        # The workload's own nodes and their codes, before any is marked below.
        own_codes = {node: int(self.code[node]) for node in own_pods}
        # In the order they are tried within a class: fewest of the workload's pods first.
        own_order = (
            sorted(own_pods, key=lambda n: (own_pods[n], n))
            if len(own_pods) > 1
            else list(own_pods)
        )
        marked: list[np.ndarray] = []  # the own nodes, once marked out of the vector search
        target = -1
        for in_class, class_zones in self._classes(ranks):
            class_own = [n for n in own_order if in_class[self.node_zone[n]]]
            target = self._search_without_workload(
                in_class, class_zones, class_own, own_codes, marked
            )
            if target < 0:
                target = self._search_own(class_own, own_codes)
            if target >= 0:
                break
        if marked:
            self.code[marked[0]] -= _OWN
        return target

    def _search_without_workload(
        self,
        in_class: tuple[bool, ...],
        class_zones: list[int],
        class_own: list[int],
        own_codes: dict[int, int],
        marked: list[np.ndarray],
    ) -> int:
        """The first node of the class, not holding the workload, that fits; or -1."""
        fits = no_pods = no_cpu = no_memory = 0
        for z in class_zones:
            state = self.zone_state[z]
            fits += state[0]
            no_pods += state[1]
            no_cpu += state[2]
            no_memory += state[3]
        for n in class_own:
            c = own_codes[n]
            if c:
                p, k, m = _REFUSED[c]
                no_pods -= p
                no_cpu -= k
                no_memory -= m
            else:
                fits -= 1
        if not fits:
            # Every node of the class without the workload refuses the pod.
            self.refused_pods += no_pods
            self.refused_cpu += no_cpu
            self.refused_memory += no_memory
            return -1
        opened = self.opened
        codes = self.code[:opened]
        if own_codes and not marked:
            # A node already holding the workload comes after every node that does not (in
            # its zone class): marked out of the index-order search.
            own_nodes = np.fromiter(own_codes, dtype=np.int64, count=len(own_codes))
            self.code[own_nodes] += _OWN
            marked.append(own_nodes)
        member = None
        if len(class_zones) < self.zone_count:
            mask = self.class_members.get(in_class)
            if mask is None:
                mask = np.array(in_class, dtype=bool)[self.zone_of]
                self.class_members[in_class] = mask
            member = mask[:opened]
        fitting = codes == 0 if member is None else (codes == 0) & member
        first = int(fitting.argmax())
        found = bool(fitting[first])  # always, by the counts; checked all the same
        end = first if found else opened
        weights = None if member is None else member[:end]
        t = np.bincount(codes[:end], weights=weights, minlength=2 * _OWN).tolist()
        self.refused_pods += int(t[1] + t[3] + t[5] + t[7])
        self.refused_cpu += int(t[2] + t[3] + t[6] + t[7])
        self.refused_memory += int(t[4] + t[5] + t[6] + t[7])
        return first if found else -1

    def _search_own(self, class_own: list[int], own_codes: dict[int, int]) -> int:
        """The first of the class's nodes holding the workload that fits; or -1."""
        for node in class_own:
            bits = own_codes[node]
            if bits == 0:
                return node
            p, k, m = _REFUSED[bits]
            self.refused_pods += p
            self.refused_cpu += k
            self.refused_memory += m
        return -1

    def _open(self, ranks: tuple[int, ...]) -> int:
        """A new node in the zone with the fewest nodes (then of the workload's pods)."""
        zone = min(range(self.zone_count), key=lambda z: (self.zone_nodes[z], ranks[z], z))
        target = self.opened
        self.opened += 1
        self.zone_of[target] = zone
        for pattern, mask in self.class_members.items():
            mask[target] = pattern[zone]
        self.zone_nodes[zone] += 1
        self.node_cpu.append(self.overhead.cpu_cores)
        self.node_memory.append(self.overhead.memory_bytes)
        self.node_count.append(self.overhead.pods)
        self.node_zone.append(zone)
        return target

    def _commit(self, pod: PodRequest, target: int, old: int, ranks: tuple[int, ...]) -> None:
        """Add ``pod`` to node ``target`` (refusal code ``old``, -1 when new) and recount it."""
        zone = self.node_zone[target]
        self.node_cpu[target] = used_cpu = self.node_cpu[target] + pod.cpu_cores
        self.node_memory[target] = used_memory = self.node_memory[target] + pod.memory_bytes
        self.node_count[target] = used_pods = self.node_count[target] + 1
        self.cpu[target] = used_cpu
        self.memory[target] = used_memory
        self.count[target] = used_pods
        if self.sized is not None:
            new = (
                int(used_pods >= self.pod_limit)
                | (int(not used_cpu + self.sized[0] <= self.cpu_limit) << 1)
                | (int(not used_memory <= self.memory_limit - self.sized[1]) << 2)
            )
            state = self.zone_state[zone]
            for bits, step in ((old, -1), (new, 1)):
                if bits > 0:
                    p, k, m = _REFUSED[bits]
                    state[1] += step * p
                    state[2] += step * k
                    state[3] += step * m
                elif bits == 0:
                    state[0] += step
            self.code[target] = new
        here = self.node_groups.setdefault(pod.group, {})
        here[target] = here.get(target, 0) + 1
        spread = list(ranks)
        spread[zone] += 1
        self.group_zones[pod.group] = tuple(spread)


def pack_candidates(
    pods: Sequence[PodRequest],
    specs: Iterable[InstanceSpec],
    *,
    overhead: Overhead = Overhead(),
    zones: Sequence[str] = ("zone-a",),
    min_nodes: int = 0,
) -> tuple[tuple[PackingResult, ...], tuple[str, ...]]:
    """Pack ``pods`` onto each candidate type; name the pods no candidate can hold.

    Returns:
        (one result per spec, findings): a finding for every pod larger than every candidate.
    """
    results = tuple(
        pack(pods, spec, overhead=overhead, zones=zones, min_nodes=min_nodes) for spec in specs
    )
    findings: list[str] = []
    if results and all(r.unplaced for r in results):
        never = set(results[0].unplaced)
        for result in results[1:]:
            never &= set(result.unplaced)
        largest = max(
            results, key=lambda r: (r.allocatable.cpu_cores, r.allocatable.memory_bytes)
        ).allocatable
        for pod in sorted(never, key=lambda p: (p.group, p.name)):
            findings.append(
                f"pod {pod.name or pod.group} ({pod.cpu_cores:.3f} cores, "
                f"{pod.memory_bytes // MIB} MiB) is larger than any candidate instance type "
                f"(largest: {largest.instance_type}, "
                f"{largest.cpu_cores:.3f} cores, {largest.memory_bytes // MIB} MiB allocatable)"
            )
    return results, tuple(findings)


def nodes_lower_bound(
    pods: Sequence[PodRequest], allocatable: Allocatable, overhead: Overhead
) -> int:
    """The fewest nodes any packing could use (totals over per-node room); for sanity checks."""
    if not pods:
        return 0
    free_cpu = allocatable.cpu_cores - overhead.cpu_cores
    free_memory = allocatable.memory_bytes - overhead.memory_bytes
    free_pods = allocatable.pods - overhead.pods
    cpu = sum(p.cpu_cores for p in pods) / free_cpu if free_cpu > 0 else math.inf
    memory = sum(p.memory_bytes for p in pods) / free_memory if free_memory > 0 else math.inf
    count = len(pods) / free_pods if free_pods > 0 else math.inf
    return math.ceil(max(cpu, memory, count) - _EPSILON)
