"""Derived views of a snapshot that several recommenders share.

Pure functions of snapshot tables: who owns each container, which node group a workload runs on,
how many replicas it had over time. Vectorised pandas; no per-container Python loops. Each is
built once per snapshot (``recommenders.prepared``): every recommender of one ``recommend``
call reads the same table.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from kianax_capacity.recommenders.prepared import derived
from kianax_capacity.snapshot import Snapshot

__all__ = [
    "CONTAINER_KEY",
    "WORKLOAD_KEY",
    "container_inventory",
    "median_positive_counts",
    "median_replicas",
    "pending_pods",
    "pending_runs",
    "pending_runs_expanded",
    "replica_counts",
    "running_pods_at",
    "usage_with_owners",
    "workload_node_groups",
]

#: A right-sizing row is identified across weeks by these columns.
CONTAINER_KEY = ["namespace", "kind", "workload", "container"]
WORKLOAD_KEY = ["namespace", "kind", "workload"]


def usage_with_owners(snapshot: Snapshot) -> pd.DataFrame:
    """The usage table with ``kind`` and ``workload`` of each pod's owner joined on.

    Pods replaced during the window (rollouts, restarts) carry the same workload, so grouping by
    CONTAINER_KEY pools every pod generation of a container.
    """
    return derived(snapshot, "usage_with_owners", _usage_with_owners)


def _usage_with_owners(snapshot: Snapshot) -> pd.DataFrame:
    owners = snapshot.table("pods")[["namespace", "pod", "kind", "workload"]]
    return snapshot.table("usage").merge(
        owners, on=["namespace", "pod"], how="inner", validate="many_to_one"
    )


def container_inventory(snapshot: Snapshot) -> pd.DataFrame:
    """One row per CONTAINER_KEY: the latest requests/limits and totals of restarts and OOM kills.

    "Latest" is the spec of the pod seen last, which is what a new pod would get today.
    """
    return derived(snapshot, "container_inventory", _container_inventory)


def _container_inventory(snapshot: Snapshot) -> pd.DataFrame:
    pods = snapshot.table("pods")[["namespace", "pod", "kind", "workload", "last_seen"]]
    containers = snapshot.table("containers").merge(pods, on=["namespace", "pod"], how="inner")
    if containers.empty:
        columns = [
            *CONTAINER_KEY,
            "cpu_request_cores",
            "cpu_limit_cores",
            "memory_request_bytes",
            "memory_limit_bytes",
            "restarts",
            "oom_kills",
            "pods",
        ]
        return pd.DataFrame(columns=columns)
    latest = (
        containers.sort_values("last_seen")
        .groupby(CONTAINER_KEY, sort=True, observed=True)
        .agg(
            cpu_request_cores=("cpu_request_cores", "last"),
            cpu_limit_cores=("cpu_limit_cores", "last"),
            memory_request_bytes=("memory_request_bytes", "last"),
            memory_limit_bytes=("memory_limit_bytes", "last"),
            restarts=("restarts", "sum"),
            oom_kills=("oom_kills", "sum"),
            pods=("pod", "nunique"),
        )
        .reset_index()
    )
    return latest


def workload_node_groups(snapshot: Snapshot) -> pd.DataFrame:
    """For each workload, the node group (and capacity type) where most of its pod-time ran.

    Columns: namespace, kind, workload, node_group, capacity_type, instance_type.
    """
    return derived(snapshot, "workload_node_groups", _workload_node_groups)


def _workload_node_groups(snapshot: Snapshot) -> pd.DataFrame:
    pods = snapshot.table("pods")
    nodes = snapshot.table("nodes")[["node", "node_group", "capacity_type", "instance_type"]]
    if pods.empty:
        return pd.DataFrame(columns=[*WORKLOAD_KEY, "node_group", "capacity_type", "instance_type"])
    placed = pods.merge(nodes, on="node", how="left")
    placed["seconds"] = (placed["last_seen"] - placed["first_seen"]).dt.total_seconds() + 1
    weight = (
        placed.groupby(
            [*WORKLOAD_KEY, "node_group", "capacity_type", "instance_type"],
            observed=True,
            dropna=False,
        )["seconds"]
        .sum()
        .reset_index()
        .sort_values("seconds", ascending=False, kind="stable")
    )
    return weight.drop_duplicates(WORKLOAD_KEY).drop(columns="seconds").reset_index(drop=True)


def replica_counts(snapshot: Snapshot) -> pd.DataFrame:
    """Running pods per workload per timestamp, from the usage table (any container counts).

    Columns: timestamp, namespace, kind, workload, replicas.
    """
    return derived(snapshot, "replica_counts", _replica_counts)


def _replica_counts(snapshot: Snapshot) -> pd.DataFrame:
    usage = usage_with_owners(snapshot)
    if usage.empty:
        return pd.DataFrame(columns=["timestamp", *WORKLOAD_KEY, "replicas"])
    return (
        usage.groupby(["timestamp", *WORKLOAD_KEY], observed=True)["pod"]
        .nunique()
        .rename("replicas")
        .reset_index()
    )


def running_pods_at(
    snapshot: Snapshot, workloads: pd.DataFrame, workload: np.ndarray, seconds: np.ndarray
) -> np.ndarray:
    """Pods of ``workloads.iloc[workload[i]]`` running at unix second ``seconds[i]``, for all i.

    For snapshots without usage samples (the aggregate fetch shape), from the pods table: a pod
    counts at t if it was first seen at or before t and last seen after t - step, the same test
    as "had a usage sample in the step ending at t" when its samples are dense. Vectorised:
    each (workload, time) becomes one int64 key ``workload x span + offset``, and counts are
    differences of ``searchsorted`` positions in the sorted start and stop keys.

    Args:
        snapshot: the snapshot (its pods table and step).
        workloads: rows with WORKLOAD_KEY columns; ``workload`` indexes them.
        workload: int index into ``workloads`` per query.
        seconds: unix seconds per query (same length as ``workload``).

    Returns:
        int64 counts, one per query.
    """
    workload = np.asarray(workload, dtype="int64")
    seconds = np.asarray(seconds, dtype="int64")
    pods = snapshot.table("pods")
    if not len(workload):
        return np.zeros(0, dtype="int64")
    owner = _owner_of_pods(pods, workloads)
    known = owner >= 0
    starts = _unix_seconds(pods["first_seen"])[known]
    stops = _unix_seconds(pods["last_seen"])[known]
    owner = owner[known].astype("int64")
    step = int(snapshot.step_seconds)
    low = min(int(seconds.min()) - step, int(starts.min(initial=seconds.min())))
    high = max(int(seconds.max()), int(stops.max(initial=seconds.max())))
    span = high - low + 2
    start_keys = np.sort(owner * span + (starts - low))
    stop_keys = np.sort(owner * span + (stops - low))
    # In-place arithmetic and per-workload first positions: the queries can be millions (one
    # per replicas sample), and each temporary of that length is tens of MiB.
    bases = np.arange(len(workloads), dtype="int64") * span
    query = workload * span
    query += seconds
    query -= low
    started = np.searchsorted(start_keys, query, "right").astype("int64", copy=False)
    started -= np.searchsorted(start_keys, bases, "left")[workload]
    # Stopped by t: last seen at or before t - step (offsets stay >= 0 by the choice of low).
    query -= step
    stopped = np.searchsorted(stop_keys, query, "right").astype("int64", copy=False)
    del query
    stopped -= np.searchsorted(stop_keys, bases, "left")[workload]
    started -= stopped
    return started


def median_replicas(snapshot: Snapshot) -> dict[tuple[str, str, str], float]:
    """Median running pods over the window's steps, per workload that had a pod running.

    From usage samples when the snapshot has them (steps without a sample do not count), else
    from the pods' first/last seen at every step of the window (aggregate shape). The median,
    not the mean: a pod rescheduled off a removed node leaves a one-step gap that must not make
    a 2-replica service look like a single point of failure.
    """
    return derived(snapshot, "median_replicas", _median_replicas)


def _median_replicas(snapshot: Snapshot) -> dict[tuple[str, str, str], float]:
    replicas = replica_counts(snapshot)
    if not replicas.empty:
        by_workload = replicas.groupby(WORKLOAD_KEY, observed=True)["replicas"].median()
        return {
            (str(k[0]), str(k[1]), str(k[2])): float(v)
            for k, v in zip(by_workload.index.to_list(), by_workload.to_numpy(), strict=True)
        }
    if not snapshot.usage.empty:
        return {}
    pods = snapshot.table("pods")
    workloads = pods[WORKLOAD_KEY].drop_duplicates().reset_index(drop=True)
    if workloads.empty:
        return {}
    start, end = snapshot.window
    step = int(snapshot.step_seconds)
    first = int(start.timestamp()) + step
    steps = max(0, (int(end.timestamp()) - first) // step + 1)
    owner = _owner_of_pods(pods, workloads)  # every pod has a row: workloads come from pods
    # Step k (time first + k x step) counts a pod when first_seen <= t_k < last_seen + step,
    # as running_pods_at does: +1 at its first step, -1 after its last.
    begin = np.clip(-((first - _unix_seconds(pods["first_seen"])) // step), 0, steps)
    stop = np.clip((_unix_seconds(pods["last_seen"]) + step - first - 1) // step + 1, 0, steps)
    medians = median_positive_counts(owner, begin, stop, len(workloads), steps)
    return {
        (str(row[0]), str(row[1]), str(row[2])): float(value)
        for row, value in zip(workloads.itertuples(index=False), medians, strict=True)
        if np.isfinite(value)
    }


def median_positive_counts(
    owner: np.ndarray, begin: np.ndarray, stop: np.ndarray, groups: int, steps: int
) -> np.ndarray:
    """Per group, the median over steps 0..steps-1 of its running count, where it is > 0.

    Pod i runs over steps [begin[i], stop[i]) in group owner[i]. The counts are a step function
    that changes only where a pod starts or stops, so the median is found from its segments
    (count, steps it lasts), not from a groups x steps matrix (tens of MiB at 10k containers):
    the segments of each group sorted by count, then the middle step(s) by cumulative length.
    Same value as ``np.nanmedian`` over the positive counts (the mean of the two middle ones
    for an even number of steps); NaN for a group never running. The numeric core of
    :func:`median_replicas`, public so it can be checked against that matrix directly.
    """
    medians = np.full(groups, np.nan)
    live = begin < stop
    if not steps or not live.any():
        return medians
    width = steps + 1
    base = owner[live].astype("int64") * width
    keys = np.concatenate([base + begin[live], base + stop[live]])
    delta = np.concatenate([np.ones(live.sum(), "int64"), -np.ones(live.sum(), "int64")])
    keys, where = np.unique(keys, return_inverse=True)
    delta = np.bincount(where, weights=delta, minlength=len(keys)).astype("int64")
    # Every pod stops in its own group, so the running sum is back to 0 at each group's end
    # and one cumulative sum serves all groups.
    count = np.cumsum(delta)
    length = np.diff(keys, append=keys[-1])
    segment = count > 0
    group = keys[segment] // width
    count, length = count[segment], length[segment]
    order = np.lexsort((count, group))
    group, count, length = group[order], count[order], length[order]
    ends = np.cumsum(length)
    present, first_segment = np.unique(group, return_index=True)
    offset = ends[first_segment] - length[first_segment]  # steps before each group's first
    total = np.bincount(group, weights=length, minlength=groups).astype("int64")[present]
    low = np.searchsorted(ends, offset + (total - 1) // 2, side="right")
    high = np.searchsorted(ends, offset + total // 2, side="right")
    medians[present] = (count[low] + count[high]) / 2.0
    return medians


def _owner_of_pods(pods: pd.DataFrame, workloads: pd.DataFrame) -> np.ndarray:
    """Each pod's row in ``workloads`` (by WORKLOAD_KEY), -1 where it has none."""
    return np.asarray(
        pd.MultiIndex.from_frame(workloads[WORKLOAD_KEY].astype(object)).get_indexer(
            pd.MultiIndex.from_frame(pods[WORKLOAD_KEY].astype(object))
        )
    )


def _unix_seconds(values: pd.Series) -> np.ndarray:
    return np.asarray(pd.DatetimeIndex(values).as_unit("s").asi8, dtype="int64")


def pending_pods(snapshot: Snapshot) -> pd.DataFrame:
    """Pods an HPA asked for that were not running: what a node group at its max left Pending.

    Kubernetes counts Pending pods in an HPA's current replicas, but they have no usage and no
    node. Capacity questions must still see them: a node group that cannot place what the
    autoscaler asks for is already out of capacity. Each run of steps during which a
    workload had at least k pods pending becomes one row (slot k).

    Columns: namespace, kind, workload, slot, first_seen, last_seen.
    """
    return derived(snapshot, "pending_pods", _pending_pods)


def _pending_pods(snapshot: Snapshot) -> pd.DataFrame:
    columns = [*WORKLOAD_KEY, "slot", "first_seen", "last_seen"]
    replicas = snapshot.table("replicas")
    hpas = snapshot.table("hpas")
    if replicas.empty or hpas.empty:
        return pd.DataFrame(columns=columns)
    # The HPA row (and so the workload) of each replicas sample, found on the few distinct
    # (namespace, hpa) pairs rather than by joining millions of samples on strings.
    targets = hpas[["namespace", "hpa", *WORKLOAD_KEY[1:]]].drop_duplicates(["namespace", "hpa"])
    targets = targets.reset_index(drop=True)
    # Workload ids in sorted key order: runs come out sorted by workload, then slot, then time.
    group_of_target = (
        targets.groupby(WORKLOAD_KEY, observed=True, sort=True).ngroup().to_numpy("int64")
    )
    sample_keys = pd.MultiIndex.from_arrays([replicas["namespace"], replicas["hpa"]])
    width = len(sample_keys.levels[1])
    pair_code = np.asarray(sample_keys.codes[0], "int64") * width + sample_keys.codes[1]
    seen = np.zeros(len(sample_keys.levels[0]) * width, dtype=bool)
    seen[pair_code] = True
    pairs = np.flatnonzero(seen)
    target_of_code = np.full(len(seen), -1, dtype="int64")
    target_of_code[pairs] = pd.MultiIndex.from_frame(targets[["namespace", "hpa"]]).get_indexer(
        pd.MultiIndex.from_arrays(
            [sample_keys.levels[0][pairs // width], sample_keys.levels[1][pairs % width]]
        )
    )
    target = target_of_code[pair_code]
    del pair_code  # one int64 per replicas sample: freed before the arrays below are made
    position = np.flatnonzero(target >= 0)
    target = target[position]
    ns = pd.DatetimeIndex(replicas["timestamp"]).as_unit("ns").asi8[position]
    running_counts = replica_counts(snapshot)
    running: np.ndarray
    if running_counts.empty and snapshot.usage.empty:
        # No usage samples (aggregate shape): the pods' first/last seen say what ran.
        seconds = ns // 1_000_000_000
        running = running_pods_at(snapshot, targets, target, seconds).astype("float64")
        del seconds
    elif running_counts.empty:
        running = np.zeros(len(target))
    else:
        samples = targets[WORKLOAD_KEY].iloc[target].reset_index(drop=True)
        samples.insert(0, "timestamp", replicas["timestamp"].iloc[position].to_numpy())
        running = (
            samples.merge(running_counts, on=["timestamp", *WORKLOAD_KEY], how="left")["replicas"]
            .astype("float64")
            .fillna(0.0)
            .to_numpy()
        )
    # Taken after the running counts, then worked on in place: one array per sample fewer
    # alive while they are found, and no temporaries of that length after.
    pending = replicas["current_replicas"].to_numpy("float64")[position]
    pending -= running
    del running
    np.clip(pending, 0.0, None, out=pending)
    np.round(pending, out=pending)
    positive = pending > 0
    if not positive.any():
        return pd.DataFrame(columns=columns)
    target, ns, position = target[positive], ns[positive], position[positive]
    counts = pending[positive].astype("int64")
    group = group_of_target[target]
    # Samples usually come per HPA in time order: a stable sort by workload is then enough.
    order = np.argsort(group, kind="stable")
    if not _sorted_within(group[order], ns[order]):
        order = np.lexsort((ns, group))
    group, ns, counts = group[order], ns[order], counts[order]
    target, position = target[order], position[order]
    step_ns = max(int(snapshot.step_seconds), 1) * 10**9
    if ((np.diff(group) == 0) & (np.diff(ns) == 0)).any():
        # Two HPAs on one workload: the same instant twice, which the runs below cannot order.
        first, last, slot = pending_runs_expanded(group, ns, counts, step_ns)
    else:
        first, last, slot = pending_runs(group, ns, counts, step_ns)
    out = targets[WORKLOAD_KEY].iloc[target[first]].reset_index(drop=True)
    out["slot"] = slot
    stamps = replicas["timestamp"]
    out["first_seen"] = stamps.iloc[position[first]].reset_index(drop=True)
    out["last_seen"] = stamps.iloc[position[last]].reset_index(drop=True)
    return out[columns]


def _sorted_within(group: np.ndarray, ns: np.ndarray) -> bool:
    """True when ``ns`` increases (or repeats) within each run of equal ``group`` values."""
    return bool(((np.diff(group) != 0) | (np.diff(ns) >= 0)).all())


def _runs_order(group: np.ndarray, slot: np.ndarray, ns: np.ndarray) -> np.ndarray:
    return np.lexsort((ns, slot, group))


def pending_runs(
    group: np.ndarray, ns: np.ndarray, counts: np.ndarray, step_ns: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Runs of steps with at least k pods pending, per workload and slot k, without expanding.

    Rows are sorted by (group, time) with distinct times per group. Slot k's run starts at a row
    whose count reaches k while the previous step's (0 across a gap or a new workload) did not,
    and ends at a row whose count reaches k while the next step's does not; the j-th start of a
    (workload, slot) pairs with its j-th end. Work is O(rows + runs), not O(rows x slots).

    Returns:
        Positions (into the rows) of each run's first and last step, and its slot, ordered by
        workload, slot and start. The numeric core of :func:`pending_pods`.
    """
    joined = (np.diff(group) == 0) & (np.diff(ns) == step_ns)
    before = np.concatenate(([0], np.where(joined, counts[:-1], 0)))
    after = np.concatenate((np.where(joined, counts[1:], 0), [0]))

    def events(other: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        # Slots other+1 .. count of each row, one event each.
        number = np.clip(counts - other, 0, None)
        rows = np.repeat(np.arange(len(counts)), number)
        offsets = np.arange(len(rows)) - np.repeat(np.cumsum(number) - number, number)
        slots = np.repeat(other, number) + 1 + offsets
        order = _runs_order(group[rows], slots, ns[rows])
        return rows[order], slots[order]

    first, slot = events(before)
    last, _ = events(after)
    return first, last, slot


def pending_runs_expanded(
    group: np.ndarray, ns: np.ndarray, counts: np.ndarray, step_ns: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`pending_runs` by expanding every row into one row per pending slot.

    O(rows x slots) in memory; for the rare snapshot where a workload has one instant twice
    (a run of slot k then breaks at the repeated instant, as with one row per HPA).
    """
    row = np.repeat(np.arange(len(counts)), counts)
    slot = np.arange(len(row)) - np.repeat(np.cumsum(counts) - counts, counts) + 1
    order = _runs_order(group[row], slot, ns[row])
    row, slot = row[order], slot[order]
    same = (np.diff(group[row]) == 0) & (np.diff(slot) == 0)
    starts = np.concatenate(([True], ~same | (np.diff(ns[row]) != step_ns)))
    ends = np.concatenate((starts[1:], [True]))
    return row[starts], row[ends], slot[starts]
