"""A replay of the Kubernetes cluster autoscaler over a node group's pod demand.

Ideal packing says how few nodes the pods *could* use at an instant; a group pays for what its
autoscaler *keeps*. The replay walks the window's instants with the pods as they came and went
(pending pods an HPA asked for included) and behaves as the cluster autoscaler does with its
defaults and the platform's settings:

* **Scheduling** as kube-scheduler's defaults score it: a new pod goes to the node holding
  the fewest pods of its workload (the default pod-topology spread over hostnames), then the
  one with the most free room (``LeastAllocated``), among the nodes that hold it.
* **Scale-up** on pods that fit no node: enough new nodes for them (first-fit decreasing onto
  empty nodes) up to ``max_size``. They take pods after ``node_provision_seconds`` (EC2 launch
  and kubelet ready), which the pods spend pending; pods beyond ``max_size`` wait, pending,
  until room appears. Pending-pod minutes add up both.
* **Scale-down** of a node whose requested utilisation (the larger of CPU and memory requests,
  DaemonSets included, over allocatable: the autoscaler's own measure) stays under
  ``scale_down_utilization_threshold`` for ``scale_down_unneeded_seconds``, not within
  ``scale_down_delay_after_add_seconds`` of a scale-up, never below ``min_size``, and only if
  every pod on it fits on the other nodes and no PodDisruptionBudget blocks its eviction (a
  workload may lose at most ``running - minAvailable`` pods, or ``maxUnavailable``).

Zones and topology spread are not replayed (nodes are interchangeable), so the replay can keep
fewer nodes than a zone-balanced group would. Pure: arrays in, a record out.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from kianax_capacity.recommenders.packing import Allocatable, Overhead

__all__ = ["AutoscalerSettings", "ReplayResult", "pdb_budgets", "replay_autoscaler", "step_hours"]

_EPSILON = 1e-9


@dataclass(frozen=True)
class AutoscalerSettings:
    """The autoscaler's bounds and timers for one node group."""

    min_size: int
    max_size: int
    scale_down_utilization_threshold: float = 0.5
    scale_down_unneeded_seconds: float = 600.0
    scale_down_delay_after_add_seconds: float = 600.0
    node_provision_seconds: float = 120.0


@dataclass(frozen=True)
class ReplayResult:
    """What the replayed autoscaler kept, and what waited.

    ``nodes[i]`` is the node count from instant ``i`` to the next (the last instant counts one
    median step), so ``node_hours`` is what the group would be billed for.
    """

    instance_type: str
    times: pd.DatetimeIndex
    nodes: np.ndarray
    node_hours: float
    pending_pod_minutes: float
    scale_ups: int
    scale_downs: int
    scale_downs_blocked_by_pdb: int

    @property
    def nodes_avg(self) -> float:
        hours = step_hours(self.times)
        return float((self.nodes * hours).sum() / hours.sum()) if hours.sum() else 0.0


@dataclass
class _Node:
    cpu: float
    memory: float
    pods: int
    low_since: float | None  # seconds: since when it has been under the threshold
    members: set[int]
    by_workload: dict[tuple[str, str], int] = field(default_factory=dict)
    slot: int = -1  # its row in _Slots


def pdb_budgets(workloads: pd.DataFrame) -> dict[tuple[str, str], tuple[float, float]]:
    """(namespace, workload) -> (minAvailable, maxUnavailable) for workloads with a PDB."""
    out: dict[tuple[str, str], tuple[float, float]] = {}
    if workloads.empty:
        return out
    for ns, name, low, high in zip(
        workloads["namespace"].astype(str),
        workloads["workload"].astype(str),
        workloads["pdb_min_available"].astype(float),
        workloads["pdb_max_unavailable"].astype(float),
        strict=True,
    ):
        if not (math.isnan(low) and math.isnan(high)):
            out[(ns, name)] = (low, high)
    return out


def step_hours(times: pd.DatetimeIndex) -> np.ndarray:
    """Hours from each instant to the next (the last counts the median step)."""
    seconds = np.diff(times.as_unit("s").asi8).astype(float)
    last = float(np.median(seconds)) if len(seconds) else 3600.0
    return np.append(seconds, last) / 3600.0


def replay_autoscaler(
    pods: pd.DataFrame,
    times: pd.DatetimeIndex,
    allocatable: Allocatable,
    overhead: Overhead,
    settings: AutoscalerSettings,
    *,
    pdb_budgets: Mapping[tuple[str, str], tuple[float, float]] | None = None,
) -> ReplayResult:
    """Replay the cluster autoscaler for one instance type over the window.

    Args:
        pods: the group's workload pods: namespace, workload, cpu (cores), memory (bytes),
            first_seen, last_seen (pending pods included, as ``GroupLoad.pod_table`` holds them).
        times: the instants to step through.
        allocatable: one node's allocatable room.
        overhead: DaemonSet requests and pods on every node.
        settings: min/max and the autoscaler's timers.
        pdb_budgets: (namespace, workload) -> (minAvailable, maxUnavailable), NaN where unset.

    Returns:
        Node counts per instant, node-hours, pending-pod minutes and the scale events.
    """
    replay = _Replay(pods, allocatable, overhead, settings, pdb_budgets or {})
    stamps = times.as_unit("s").asi8.astype(float)
    hours = step_hours(times)
    arrivals = np.searchsorted(stamps, replay.first, side="left")
    order = np.argsort(arrivals, kind="stable")
    counts = np.zeros(len(stamps))
    cursor = 0
    for i, now in enumerate(stamps):
        # A pod counts at an instant if it ran at some time since the previous one: a job
        # shorter than the instants' spacing still needs its node.
        since = stamps[i - 1] if i else -math.inf
        replay.end_pods(since)
        while cursor < len(order) and arrivals[order[cursor]] <= i:
            pod = int(order[cursor])
            cursor += 1
            if replay.last[pod] > since:
                replay.pending.append(pod)
        replay.schedule()
        replay.scale_up(now, hours[i])
        replay.scale_down(now)
        counts[i] = len(replay.nodes)
    return ReplayResult(
        instance_type=allocatable.instance_type,
        times=times,
        nodes=counts,
        node_hours=float((counts * hours).sum()),
        pending_pod_minutes=float(replay.pending_minutes),
        scale_ups=replay.scale_ups,
        scale_downs=replay.scale_downs,
        scale_downs_blocked_by_pdb=replay.blocked,
    )


class _Slots:
    """The nodes' requested room as arrays, so the scheduler scores every node in one pass.

    Each node has a row (its slot) from its creation; rows follow the order nodes are created
    in, which is the order of ``_Replay.nodes`` (new nodes are appended, removed ones leave a
    dead row), so the first best row is the node the scheduler's loop over the list would pick.
    Values are copied from the :class:`_Node` after each change, the same doubles.
    """

    #: Dead rows tolerated beyond the live ones before :meth:`compact`.
    SPARE_ROWS = 64

    def __init__(self) -> None:
        self.used = 0
        self.cpu = np.zeros(64)
        self.memory = np.zeros(64)
        self.pods = np.zeros(64, dtype=np.int64)
        self.alive = np.zeros(64, dtype=bool)
        self.same: dict[tuple[str, str], np.ndarray] = {}  # workload -> its pods per row
        self.node: list[_Node | None] = []

    def add(self, node: _Node) -> None:
        if self.used == len(self.cpu):
            self._grow()
        node.slot = self.used
        self.node.append(node)
        self.used += 1
        self.write(node)

    def write(self, node: _Node) -> None:
        slot = node.slot
        self.cpu[slot] = node.cpu
        self.memory[slot] = node.memory
        self.pods[slot] = node.pods

    def count(self, node: _Node, key: tuple[str, str], change: int) -> None:
        same = self.same.get(key)
        if same is None:
            same = self.same[key] = np.zeros(len(self.cpu), dtype=np.int64)
        same[node.slot] += change

    def set_alive(self, node: _Node, alive: bool) -> None:
        self.alive[node.slot] = alive
        if not alive:
            self.node[node.slot] = None

    def _grow(self) -> None:
        size = 2 * len(self.cpu)
        self.cpu = np.resize(self.cpu, size)
        self.memory = np.resize(self.memory, size)
        self.pods = np.resize(self.pods, size)
        self.alive = np.concatenate([self.alive, np.zeros(size - len(self.alive), dtype=bool)])
        for key, same in self.same.items():
            grown = np.zeros(size, dtype=np.int64)
            grown[: len(same)] = same
            self.same[key] = grown

    def compact(self, nodes: list[_Node]) -> None:
        """Drop the dead rows once they outnumber the live ones by :attr:`SPARE_ROWS` (``nodes``
        in list order), so a long replay's scans stay as short as its node count."""
        if self.used - len(nodes) <= len(nodes) + self.SPARE_ROWS:
            return
        rows = np.array([node.slot for node in nodes], dtype=np.int64)
        live = len(rows)
        for name in ("cpu", "memory", "pods", "alive"):
            column = getattr(self, name)
            fresh = np.zeros_like(column)
            fresh[:live] = column[rows]
            setattr(self, name, fresh)
        for key, same in self.same.items():
            fresh = np.zeros_like(same)
            fresh[:live] = same[rows]
            self.same[key] = fresh
        for slot, node in enumerate(nodes):
            node.slot = slot
        self.node = list(nodes)
        self.used = live


class _Replay:
    """The replay's state: nodes and where each pod runs; one method per autoscaler step."""

    def __init__(
        self,
        pods: pd.DataFrame,
        allocatable: Allocatable,
        overhead: Overhead,
        settings: AutoscalerSettings,
        budgets: Mapping[tuple[str, str], tuple[float, float]],
    ) -> None:
        self.cpu_room = allocatable.cpu_cores
        self.memory_room = float(allocatable.memory_bytes)
        self.pod_room = allocatable.pods
        self.overhead = overhead
        self.settings = settings
        self.budgets = budgets
        # Python floats, not numpy scalars: the replay's arithmetic is scalar and runs per pod
        # and node, where numpy scalars cost several times more (same IEEE doubles).
        self.cpu: list[float] = pods["cpu"].to_numpy(float).tolist()
        self.memory: list[float] = pods["memory"].to_numpy(float).tolist()
        self.keys = list(
            zip(pods["namespace"].astype(str), pods["workload"].astype(str), strict=True)
        )
        self.first = pd.DatetimeIndex(pods["first_seen"]).as_unit("s").asi8.astype(float)
        self.last = pd.DatetimeIndex(pods["last_seen"]).as_unit("s").asi8.astype(float)
        self.slots = _Slots()
        self.nodes: list[_Node] = [self._empty() for _ in range(settings.min_size)]
        for node in self.nodes:
            self.slots.set_alive(node, True)
        self.where: dict[int, _Node] = {}
        self.running: dict[tuple[str, str], int] = {}
        self.pending: list[int] = []
        self.pending_minutes = 0.0
        self.scale_ups = self.scale_downs = self.blocked = 0
        self.last_scale_up = -math.inf

    def _empty(self) -> _Node:
        o = self.overhead
        node = _Node(o.cpu_cores, float(o.memory_bytes), o.pods, None, set())
        self.slots.add(node)
        return node

    def _fits(self, node: _Node, pod: int) -> bool:
        return (
            node.cpu + self.cpu[pod] <= self.cpu_room + _EPSILON
            and node.memory + self.memory[pod] <= self.memory_room
            and node.pods + 1 <= self.pod_room
        )

    def _put(self, node: _Node, pod: int) -> None:
        node.cpu += self.cpu[pod]
        node.memory += self.memory[pod]
        node.pods += 1
        node.members.add(pod)
        key = self.keys[pod]
        node.by_workload[key] = node.by_workload.get(key, 0) + 1
        self.slots.write(node)
        self.slots.count(node, key, 1)
        self.where[pod] = node
        self.running[key] = self.running.get(key, 0) + 1

    def _take(self, pod: int) -> None:
        node = self.where.pop(pod)
        node.cpu -= self.cpu[pod]
        node.memory -= self.memory[pod]
        node.pods -= 1
        node.members.discard(pod)
        node.by_workload[self.keys[pod]] -= 1
        self.slots.write(node)
        self.slots.count(node, self.keys[pod], -1)
        self.running[self.keys[pod]] -= 1

    def _utilisation(self, node: _Node) -> float:
        return max(node.cpu / self.cpu_room, node.memory / self.memory_room)

    def _least_allocated(self, pod: int) -> _Node | None:
        """The scheduler's pick: fewest pods of the same workload, then most free room (the
        first such node in list order). The replay's hot spot, every pending pod against every
        node, so it scores all nodes at once on :class:`_Slots` (same arithmetic as
        :meth:`_fits` and :meth:`_utilisation`)."""
        slots, used = self.slots, self.slots.used
        cpu, memory = slots.cpu[:used], slots.memory[:used]
        fits = (
            slots.alive[:used]
            & (cpu + self.cpu[pod] <= self.cpu_room + _EPSILON)
            & (memory + self.memory[pod] <= self.memory_room)
            & (slots.pods[:used] + 1 <= self.pod_room)
        )
        rows = np.flatnonzero(fits)
        if not len(rows):
            return None
        same = slots.same.get(self.keys[pod])
        if same is not None:
            counts = same[rows]
            rows = rows[counts == counts.min()]
        use = np.maximum(cpu[rows] / self.cpu_room, memory[rows] / self.memory_room)
        return slots.node[int(rows[int(np.argmin(use))])]

    def end_pods(self, since: float) -> None:
        """Pods that ended by ``since`` (the previous instant) leave their node or the queue."""
        for pod in [p for p in self.where if self.last[p] <= since]:
            self._take(pod)
        self.pending = [p for p in self.pending if self.last[p] > since]

    def schedule(self) -> None:
        waiting = []
        for pod in self.pending:
            node = self._least_allocated(pod)
            if node is None:
                waiting.append(pod)
            else:
                self._put(node, pod)
        self.pending = waiting

    def scale_up(self, now: float, step_hours: float) -> None:
        """New nodes for the pods no node holds (first-fit decreasing), up to max_size."""
        if not self.pending:
            return
        fresh: list[_Node] = []
        left = []
        by_size = sorted(
            self.pending,
            key=lambda p: -max(self.cpu[p] / self.cpu_room, self.memory[p] / self.memory_room),
        )
        for pod in by_size:
            node = next((n for n in fresh if self._fits(n, pod)), None)
            if node is None and len(self.nodes) + len(fresh) < self.settings.max_size:
                node = self._empty()
                if self._fits(node, pod):
                    fresh.append(node)
                else:
                    node = None  # larger than an empty node: never schedulable here
            if node is None:
                left.append(pod)
            else:
                self._put(node, pod)
        if fresh:
            self.nodes.extend(fresh)
            for node in fresh:
                self.slots.set_alive(node, True)
            self.scale_ups += 1
            self.last_scale_up = now
            placed = len(self.pending) - len(left)
            self.pending_minutes += placed * self.settings.node_provision_seconds / 60.0
        self.pending_minutes += len(left) * step_hours * 60.0
        self.pending = left

    def scale_down(self, now: float) -> None:
        """Remove nodes unneeded for long enough whose pods fit elsewhere, PDBs permitting."""
        settings = self.settings
        for node in self.nodes:
            if self._utilisation(node) < settings.scale_down_utilization_threshold:
                node.low_since = now if node.low_since is None else node.low_since
            else:
                node.low_since = None
        if now - self.last_scale_up < settings.scale_down_delay_after_add_seconds:
            return
        unneeded = sorted(
            (
                n
                for n in self.nodes
                if n.low_since is not None
                and now - n.low_since >= settings.scale_down_unneeded_seconds
            ),
            key=self._utilisation,
        )
        for node in unneeded:
            if len(self.nodes) <= settings.min_size:
                break
            if not self._pdbs_allow(node):
                self.blocked += 1
                continue
            moves = self._drain_plan(node)
            if moves is None:
                continue
            for pod, target in moves:
                self._take(pod)
                self._put(target, pod)
            self.nodes.remove(node)
            self.slots.set_alive(node, False)
            self.scale_downs += 1
        self.slots.compact(self.nodes)

    def _pdbs_allow(self, node: _Node) -> bool:
        evicted: dict[tuple[str, str], int] = {}
        for pod in node.members:
            evicted[self.keys[pod]] = evicted.get(self.keys[pod], 0) + 1
        for key, count in evicted.items():
            budget = self.budgets.get(key)
            if budget is None:
                continue
            min_available, max_unavailable = budget
            if not math.isnan(min_available) and self.running.get(key, 0) - count < min_available:
                return False
            unavailable = math.isnan(min_available) and not math.isnan(max_unavailable)
            if unavailable and count > max_unavailable:
                return False
        return True

    def _drain_plan(self, node: _Node) -> list[tuple[int, _Node]] | None:
        """Where each pod of ``node`` would go (least allocated first), or None if one cannot."""
        added: dict[int, tuple[float, float, int]] = {}
        moves = []
        for pod in sorted(node.members, key=lambda p: -self.cpu[p]):
            target = None
            room = -1.0
            for other in self.nodes:
                if other is node:
                    continue
                c, m, k = added.get(id(other), (0.0, 0.0, 0))
                if (
                    other.cpu + c + self.cpu[pod] <= self.cpu_room + _EPSILON
                    and other.memory + m + self.memory[pod] <= self.memory_room
                    and other.pods + k + 1 <= self.pod_room
                ):
                    free = 1.0 - max(
                        (other.cpu + c) / self.cpu_room, (other.memory + m) / self.memory_room
                    )
                    if free > room + _EPSILON:
                        target, room = other, free
            if target is None:
                return None
            c, m, k = added.get(id(target), (0.0, 0.0, 0))
            added[id(target)] = (c + self.cpu[pod], m + self.memory[pod], k + 1)
            moves.append((pod, target))
        return moves
