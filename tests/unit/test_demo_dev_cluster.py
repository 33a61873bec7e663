"""The demo's dev cluster: the same services as production on fewer, smaller nodes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kianax_capacity.config import Config
from kianax_capacity.snapshot import TABLE_COLUMNS, Snapshot
from kianax_capacity.sources.demo import (
    DEMO_CLUSTER,
    DEMO_CLUSTERS,
    DEV_CLUSTER,
    NODE_SHAPES,
    generate_demo_snapshot,
)
from kianax_capacity.sources.demo.clusters import PLATFORM_NAMESPACES, cluster_workloads

DEV = DEMO_CLUSTERS[DEV_CLUSTER]
PROD = DEMO_CLUSTERS[DEMO_CLUSTER]


@pytest.fixture(scope="module")
def dev() -> Snapshot:
    return generate_demo_snapshot(days=4, cluster=DEV_CLUSTER)


def _peak_nodes(snapshot: Snapshot, group: str) -> int:
    nodes = snapshot.nodes[snapshot.nodes.node_group == group]
    moments = pd.concat([nodes.first_seen, nodes.last_seen]).unique()
    return max(int(((nodes.first_seen <= t) & (nodes.last_seen >= t)).sum()) for t in moments)


def test_same_services_same_snapshot_shape(dev: Snapshot, demo_snapshot: Snapshot) -> None:
    assert dev.cluster == DEV_CLUSTER and demo_snapshot.cluster == DEMO_CLUSTER
    keys = ["namespace", "kind", "workload"]
    dev_workloads = dev.tables["workloads"][keys].sort_values(keys).reset_index(drop=True)
    prod_workloads = demo_snapshot.tables["workloads"][keys].sort_values(keys)
    pd.testing.assert_frame_equal(dev_workloads, prod_workloads.reset_index(drop=True))
    specs, extras = cluster_workloads(DEV)
    assert sorted((s.namespace, s.kind, s.name) for s in [*specs, *extras]) == sorted(
        map(tuple, dev_workloads.to_numpy().tolist())
    )
    assert sorted(dev.tables) == sorted(demo_snapshot.tables)
    for name, frame in dev.tables.items():
        assert list(frame.columns) == list(demo_snapshot.tables[name].columns), name
        assert dict(frame.dtypes.astype(str)) == dict(
            demo_snapshot.tables[name].dtypes.astype(str)
        ), name
        if name in TABLE_COLUMNS:
            assert set(TABLE_COLUMNS[name]) <= set(frame.columns), name
    # Every container of the catalogue runs in dev as in production, with the same requests.
    columns = ["container", "cpu_request_cores", "memory_request_bytes"]
    assert sorted(map(tuple, dev.tables["containers"][columns].drop_duplicates().to_numpy())) == (
        sorted(map(tuple, demo_snapshot.tables["containers"][columns].drop_duplicates().to_numpy()))
    )


def test_fewer_smaller_nodes_as_its_catalogue_declares(
    dev: Snapshot, demo_snapshot: Snapshot
) -> None:
    for group in DEV.node_groups:
        nodes = dev.nodes[dev.nodes.node_group == group.name]
        if group.min_size == 0 and nodes.empty:
            continue
        assert set(nodes.instance_type) == {group.instance_type}, group.name
        assert set(nodes.capacity_type) == {group.capacity_type}, group.name
        shape = NODE_SHAPES[group.instance_type]
        assert set(nodes.memory_allocatable_bytes) == {shape.memory_allocatable}
        if group.fixed:
            assert _peak_nodes(dev, group.name) == group.min_size
    general_dev = NODE_SHAPES[DEV.node_group("general-ng").instance_type]
    general_prod = NODE_SHAPES[PROD.node_group("general-ng").instance_type]
    assert general_dev.memory_allocatable < general_prod.memory_allocatable  # smaller nodes
    for group in ("general-ng", "system-ng"):  # fewer at once
        assert _peak_nodes(dev, group) < _peak_nodes(demo_snapshot, group), group
    assert DEV.node_group("system-ng").max_size < PROD.node_group("system-ng").max_size
    # Its own VPC: no node name (or EC2 id) is shared with production.
    assert not set(dev.nodes.node) & set(demo_snapshot.nodes.node)
    assert not set(dev.nodes.instance_id) & set(demo_snapshot.nodes.instance_id)


def test_development_overrides_hpas_replicas_and_load(
    dev: Snapshot, demo_snapshot: Snapshot
) -> None:
    assert DEV.profile == "development" and PROD.profile == "production"
    low, high = DEV.hpa_replicas or (None, None)
    assert set(dev.tables["hpas"].min_replicas) == {low}
    assert set(dev.tables["hpas"].max_replicas) == {high}
    app = ~dev.tables["pods"].namespace.isin(PLATFORM_NAMESPACES)
    assert dev.tables["pods"][app].workload.nunique() > 5
    # A fraction of production's load: application CPU well below production's.
    usage = dev.tables["usage"]
    prod_usage = demo_snapshot.tables["usage"]
    dev_cpu = usage[~usage.namespace.isin(PLATFORM_NAMESPACES)].cpu_cores.sum()
    prod_cpu = prod_usage[~prod_usage.namespace.isin(PLATFORM_NAMESPACES)].cpu_cores.sum()
    assert dev_cpu < 0.5 * prod_cpu


def test_dev_profile_chosen_for_the_dev_demo_only() -> None:
    from kianax_capacity.cli._fleet import cluster_profile

    config = Config(profile="high-availability")
    assert cluster_profile(config, DEV_CLUSTER, "demo", None) == DEV.profile
    # Production's demo keeps the configured profile, as before there was a dev cluster.
    assert cluster_profile(config, DEMO_CLUSTER, "demo", None) == "high-availability"
    assert cluster_profile(config, DEV_CLUSTER, "prometheus", None) == "high-availability"
    assert cluster_profile(config, DEV_CLUSTER, "demo", "production") == "production"


def test_deterministic_with_its_own_seed(dev: Snapshot, demo_snapshot: Snapshot) -> None:
    again = generate_demo_snapshot(days=4, cluster=DEV_CLUSTER)
    for name, frame in dev.tables.items():
        pd.testing.assert_frame_equal(frame, again.tables[name], obj=name)
    assert DEV.seed != PROD.seed
    # Same workload, same pod position: another seed gives other numbers.
    dev_gw = dev.tables["usage"].query("container == 'envoy'").cpu_cores.to_numpy()
    prod_gw = demo_snapshot.tables["usage"].query("container == 'envoy'").cpu_cores.to_numpy()
    n = min(len(dev_gw), len(prod_gw))
    assert not np.allclose(dev_gw[:n] / dev_gw[:n].mean(), prod_gw[:n] / prod_gw[:n].mean())
