"""Pending pods: what an HPA asked for and no node could hold still counts as demand."""

import pandas as pd

from kianax_capacity.recommenders.inventory import pending_pods, replica_counts
from kianax_capacity.recommenders.nodegroups import group_loads


def test_pending_runs_match_replica_history(demo_snapshot_full):
    snap = demo_snapshot_full
    pending = pending_pods(snap)
    assert not pending.empty
    # Rebuild the pending count of one workload at every step from the runs...
    workload = "market-data-service"
    runs = pending[pending.workload == workload]
    stamps = snap.replicas[snap.replicas.hpa == workload].timestamp
    from_runs = pd.Series(0, index=pd.DatetimeIndex(stamps))
    for run in runs.itertuples():
        from_runs[(from_runs.index >= run.first_seen) & (from_runs.index <= run.last_seen)] += 1
    # ...and compare with what the HPA counted minus what ran.
    running = replica_counts(snap)
    running = running[running.workload == workload].set_index("timestamp").replicas
    wanted = snap.replicas[snap.replicas.hpa == workload].set_index("timestamp").current_replicas
    expected = (wanted - running.reindex(wanted.index).fillna(0)).clip(lower=0)
    assert (from_runs.to_numpy() == expected.to_numpy()).all()


def test_node_group_load_includes_pending_requests(demo_snapshot_full):
    load = group_loads(demo_snapshot_full)["general-ng"]
    nodes = demo_snapshot_full.nodes
    allocatable_at_max = 5 * float(
        nodes[nodes.node_group == "general-ng"].cpu_allocatable_cores.iloc[0]
    )
    # Placed pods never exceed what 5 nodes hold; with the Pending ones the demand does.
    assert load.cpu_cores.max() > allocatable_at_max
    assert (load.pod_table.pod.str.startswith("(pending)")).any()
