"""Cost allocation (OpenCost max(request, usage), idle) and reconciliation, checked by hand."""

from __future__ import annotations

import math
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kianax_capacity.model import InstanceSpec
from kianax_capacity.prices import PriceCatalog, embedded_catalog, node_group_unit_prices
from kianax_capacity.recommenders.costs import IDLE, allocate_costs, reconcile
from kianax_capacity.snapshot import Snapshot, SnapshotManifest, empty_table
from kianax_capacity.units import GIB

# Round numbers so every figure below can be worked by hand: with a CPU:RAM price ratio of 3,
# x.node (2 vCPU, 4 GiB, 0.10 USD/h) splits into 0.03 USD/core-h and 0.01 USD/GiB-h, and
# y.node on spot (1 vCPU, 1 GiB, 0.04 USD/h) into 0.03 and 0.01 as well.
HAND_CATALOG = PriceCatalog(
    region="us-east-1",
    as_of="2026-07-20",
    source="embedded",
    specs={
        "x.node": InstanceSpec("x.node", 2, 4 * GIB, "amd64", 3, 6),
        "y.node": InstanceSpec("y.node", 1, 1 * GIB, "amd64", 2, 4),
    },
    on_demand_hourly_usd={"x.node": 0.10, "y.node": 0.08},
    spot_hourly_usd={"y.node": 0.04},
    cpu_to_ram_price_ratio=3.0,
)

T1 = pd.Timestamp("2026-07-01T23:00:00Z")
T2 = pd.Timestamp("2026-07-02T00:00:00Z")
DAY1 = pd.Timestamp("2026-07-01T00:00:00Z")
DAY2 = pd.Timestamp("2026-07-02T00:00:00Z")


def frame(name: str, rows: list[dict[str, object]]) -> pd.DataFrame:
    """A snapshot table with the contract's columns and dtypes (unset columns NaN)."""
    empty = empty_table(name)
    data = pd.DataFrame(rows, columns=list(empty.columns))
    for column in empty.columns:
        if str(empty[column].dtype).startswith("datetime"):
            data[column] = pd.to_datetime(data[column], utc=True)
        elif empty[column].dtype == "float64":
            data[column] = data[column].astype(float)
        elif empty[column].dtype == "int64":
            data[column] = data[column].fillna(0).astype("int64")
    return data


def snapshot_of(
    tables: dict[str, pd.DataFrame], start: pd.Timestamp, end: pd.Timestamp, step: int
) -> Snapshot:
    manifest = SnapshotManifest(
        cluster="kianax-test",
        window_start=start.to_pydatetime(),
        window_end=end.to_pydatetime(),
        step_seconds=step,
        source="test",
        created_at=datetime(2026, 7, 3, tzinfo=UTC),
        tables={name: len(df) for name, df in tables.items()},
    )
    return Snapshot(manifest=manifest, tables=tables)


def node(
    name: str,
    group: str,
    instance_type: str,
    capacity: str,
    first: pd.Timestamp,
    last: pd.Timestamp,
) -> dict[str, object]:
    return {
        "node": name,
        "node_group": group,
        "instance_type": instance_type,
        "zone": "us-east-1a",
        "capacity_type": capacity,
        "architecture": "amd64",
        "first_seen": first,
        "last_seen": last,
    }


def hand_snapshot() -> Snapshot:
    """Window 22:00 -> 00:00 (2 h), hourly samples at 23:00 (day 1) and 00:00 (day 2)."""
    nodes = frame(
        "nodes",
        [
            node("n1", "general-ng", "x.node", "ON_DEMAND", T1, T2),  # 2 node-hours
            node("n2", "jobs-ng", "y.node", "SPOT", T1, T1),  # 1 node-hour
        ],
    )
    pods = frame(
        "pods",
        [
            {
                "namespace": "kianax",
                "pod": "api-1",
                "kind": "Deployment",
                "workload": "api",
                "node": "n1",
                "first_seen": T1,
                "last_seen": T2,
            },
            {
                "namespace": "monitoring",
                "pod": "prom-0",
                "kind": "StatefulSet",
                "workload": "prom",
                "node": "n1",
                "first_seen": T1,
                "last_seen": T2,
            },
            {
                "namespace": "batch",
                "pod": "job-x",
                "kind": "Job",
                "workload": "job",
                "node": "n2",
                "first_seen": T1,
                "last_seen": T1,
            },
            {
                "namespace": "kianax",
                "pod": "lost",
                "kind": "Deployment",
                "workload": "api",
                "node": None,
                "first_seen": T1,
                "last_seen": T1,
            },
        ],
    )
    containers = frame(
        "containers",
        [
            {
                "namespace": "kianax",
                "pod": "api-1",
                "container": "app",
                "cpu_request_cores": 0.5,
                "memory_request_bytes": 1 * GIB,
            },
            {"namespace": "monitoring", "pod": "prom-0", "container": "prom"},  # no requests
            {
                "namespace": "batch",
                "pod": "job-x",
                "container": "run",
                "cpu_request_cores": 1.0,
                "memory_request_bytes": 1 * GIB,
            },
            {"namespace": "kianax", "pod": "lost", "container": "app", "cpu_request_cores": 0.5},
        ],
    )
    usage = frame(
        "usage",
        [
            {
                "timestamp": T1,
                "namespace": "kianax",
                "pod": "api-1",
                "container": "app",
                "cpu_cores": 0.2,
                "memory_bytes": 0.5 * GIB,
            },
            {
                "timestamp": T2,
                "namespace": "kianax",
                "pod": "api-1",
                "container": "app",
                "cpu_cores": 0.8,
                "memory_bytes": 1.5 * GIB,
            },
            {
                "timestamp": T1,
                "namespace": "monitoring",
                "pod": "prom-0",
                "container": "prom",
                "cpu_cores": 0.1,
                "memory_bytes": 0.25 * GIB,
            },
            {
                "timestamp": T2,
                "namespace": "monitoring",
                "pod": "prom-0",
                "container": "prom",
                "cpu_cores": 0.1,
                "memory_bytes": 0.25 * GIB,
            },
            {
                "timestamp": T1,
                "namespace": "batch",
                "pod": "job-x",
                "container": "run",
                "cpu_cores": 0.5,
                "memory_bytes": 0.5 * GIB,
            },
            {
                "timestamp": T1,
                "namespace": "kianax",
                "pod": "lost",
                "container": "app",
                "cpu_cores": 0.1,
                "memory_bytes": 0.1 * GIB,
            },
        ],
    )
    tables = {
        "nodes": nodes,
        "pods": pods,
        "containers": containers,
        "usage": usage,
        "workloads": empty_table("workloads"),
    }
    return snapshot_of(tables, pd.Timestamp("2026-07-01T22:00:00Z"), T2, 3600)


def test_unit_prices_of_the_hand_catalog() -> None:
    prices = HAND_CATALOG.unit_prices("x.node")
    assert prices.cpu_core_hour_usd == pytest.approx(0.03)
    assert prices.memory_gib_hour_usd == pytest.approx(0.01)
    spot = HAND_CATALOG.unit_prices("y.node", "SPOT")
    assert (spot.cpu_core_hour_usd, spot.memory_gib_hour_usd) == (
        pytest.approx(0.03),
        pytest.approx(0.01),
    )


def test_allocation_by_hand() -> None:
    allocation = allocate_costs(hand_snapshot(), HAND_CATALOG)
    # api: 23:00 max(0.5, 0.2) cores, max(1, 0.5) GiB -> 0.015 + 0.010 = 0.025
    #      00:00 max(0.5, 0.8) cores, max(1, 1.5) GiB -> 0.024 + 0.015 = 0.039  => 0.064
    # prom (no requests): usage only, 0.1 core + 0.25 GiB each hour -> 0.0055 x 2 = 0.011
    # job: max(1, 0.5) core, max(1, 0.5) GiB on spot -> 0.03 + 0.01 = 0.04
    workloads = allocation.by_workload.set_index("workload")["cost_usd"]
    assert workloads["api"] == pytest.approx(0.064)
    assert workloads["prom"] == pytest.approx(0.011)
    assert workloads["job"] == pytest.approx(0.04)
    assert allocation.unplaced_samples == 1  # the pod with no node is not charged anywhere

    nodes = allocation.nodes.set_index("node")
    assert nodes.loc["n1", "hours"] == pytest.approx(2)  # last - first + one step
    assert nodes.loc["n1", "cost_usd"] == pytest.approx(0.20)
    assert nodes.loc["n1", "allocated_usd"] == pytest.approx(0.075)
    assert nodes.loc["n1", "idle_usd"] == pytest.approx(0.125)
    assert nodes.loc["n2", "cost_usd"] == pytest.approx(0.04)  # spot price, 1 h
    assert nodes.loc["n2", "idle_usd"] == pytest.approx(0.0)

    groups = allocation.by_node_group.set_index("node_group")
    assert groups.loc["general-ng", "idle_usd"] == pytest.approx(0.125)
    assert groups.loc["jobs-ng", "cost_usd"] == pytest.approx(0.04)
    capacity = allocation.by_capacity_type.set_index("capacity_type")["cost_usd"]
    assert capacity["ON_DEMAND"] == pytest.approx(0.20) and capacity["SPOT"] == pytest.approx(0.04)
    namespaces = allocation.by_namespace.set_index("namespace")["cost_usd"]
    assert namespaces.to_dict() == pytest.approx(
        {"kianax": 0.064, "monitoring": 0.011, "batch": 0.04}
    )
    split = allocation.workloads.set_index("workload")
    assert split.loc["api", "cpu_cost_usd"] == pytest.approx(0.039)
    assert split.loc["api", "memory_cost_usd"] == pytest.approx(0.025)


def test_daily_split_by_hand() -> None:
    allocation = allocate_costs(hand_snapshot(), HAND_CATALOG)
    daily = allocation.daily.set_index(["day", "node_group", "namespace"])["cost_usd"]
    # n1 runs [23:00, 01:00): one hour (0.10) on each day.
    assert daily[(DAY1, "general-ng", "kianax")] == pytest.approx(0.025)
    assert daily[(DAY1, "general-ng", IDLE)] == pytest.approx(0.10 - 0.025 - 0.0055)
    assert daily[(DAY2, "general-ng", "kianax")] == pytest.approx(0.039)
    assert daily[(DAY2, "general-ng", IDLE)] == pytest.approx(0.10 - 0.039 - 0.0055)
    node_daily = allocation.node_daily.set_index(["day", "node_group"])["cost_usd"]
    assert node_daily[(DAY1, "general-ng")] == pytest.approx(0.10)
    assert node_daily[(DAY1, "jobs-ng")] == pytest.approx(0.04)
    assert node_daily[(DAY2, "general-ng")] == pytest.approx(0.10)
    assert allocation.daily["cost_usd"].sum() == pytest.approx(allocation.node_cost_usd)


def test_summary_by_hand() -> None:
    summary = allocate_costs(hand_snapshot(), HAND_CATALOG).summary()
    # window 2 h: nodes 0.24 + control plane 0.2 = 0.44 -> x 730 / 2 = 160.6 a month
    assert summary["window_hours"] == 2
    assert summary["monthly_cost_usd"] == pytest.approx(160.6)
    assert summary["control_plane_monthly_usd"] == pytest.approx(73.0)
    assert summary["idle_monthly_usd"] == pytest.approx(0.125 * 365, abs=0.01)  # rounded to cents
    assert summary["node_group_monthly_usd"] == pytest.approx({"general-ng": 73.0, "jobs-ng": 14.6})
    assert summary["prices"]["source"] == "embedded"


def test_empty_snapshot_costs_nothing() -> None:
    tables = {
        name: empty_table(name) for name in ("nodes", "pods", "containers", "usage", "workloads")
    }
    allocation = allocate_costs(snapshot_of(tables, T1, T2, 300), HAND_CATALOG)
    assert allocation.node_cost_usd == 0
    assert allocation.daily.empty
    assert allocation.summary()["idle_fraction"] == 0.0


def synthetic_snapshot(
    nodes_per_group: int = 3, hours: int = 6, step: int = 900, seed: int = 7
) -> Snapshot:
    """A small cluster shaped like Kianax: three node groups on real instance types."""
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2026-07-01T00:00:00Z")
    times = pd.date_range(
        start + pd.Timedelta(seconds=step), periods=hours * 3600 // step, freq=f"{step}s"
    )
    groups = [
        ("general-ng", "t3.medium", "ON_DEMAND"),
        ("system-ng", "t3.small", "ON_DEMAND"),
        ("jobs-ng", "m6i.large", "SPOT"),
    ]
    node_rows, pod_rows, container_rows, usage_rows = [], [], [], []
    for group, instance_type, capacity in groups:
        for i in range(nodes_per_group):
            name = f"{group}-{i}"
            node_rows.append(node(name, group, instance_type, capacity, times[0], times[-1]))
            for p in range(2):
                pod = f"{name}-pod{p}"
                pod_rows.append(
                    {
                        "namespace": "kianax",
                        "pod": pod,
                        "kind": "Deployment",
                        "workload": f"svc{p}",
                        "node": name,
                        "first_seen": times[0],
                        "last_seen": times[-1],
                    }
                )
                container_rows.append(
                    {
                        "namespace": "kianax",
                        "pod": pod,
                        "container": "app",
                        "cpu_request_cores": 0.25,
                        "memory_request_bytes": 256 * 2**20,
                    }
                )
                for t in times:
                    usage_rows.append(
                        {
                            "timestamp": t,
                            "namespace": "kianax",
                            "pod": pod,
                            "container": "app",
                            "cpu_cores": float(rng.uniform(0, 0.5)),
                            "memory_bytes": float(rng.uniform(100, 400) * 2**20),
                        }
                    )
    tables = {
        "nodes": frame("nodes", node_rows),
        "pods": frame("pods", pod_rows),
        "containers": frame("containers", container_rows),
        "usage": frame("usage", usage_rows),
        "workloads": empty_table("workloads"),
    }
    return snapshot_of(tables, start, times[-1], step)


def test_synthetic_snapshot_prices_every_node_group_with_embedded_prices() -> None:
    allocation = allocate_costs(synthetic_snapshot(), embedded_catalog())
    groups = allocation.by_node_group.set_index("node_group")
    assert set(groups.index) == {"general-ng", "system-ng", "jobs-ng"}
    assert (groups["cost_usd"] > 0).all()
    # 3 t3.medium nodes x 6 h x 0.0416 USD/h.
    assert groups.loc["general-ng", "cost_usd"] == pytest.approx(3 * 6 * 0.0416)
    assert groups.loc["general-ng", "node_hours"] == pytest.approx(18)
    total = allocation.allocated_usd + allocation.idle_usd - allocation.overallocated_usd
    assert total == pytest.approx(allocation.node_cost_usd)


@settings(max_examples=25, deadline=None)
@given(
    cpu=st.lists(st.floats(0, 2), min_size=1, max_size=6),
    request=st.one_of(st.none(), st.floats(0, 2)),
)
def test_charge_is_never_below_request_or_usage(cpu: list[float], request: float | None) -> None:
    snapshot = hand_snapshot()
    usage = snapshot.tables["usage"]
    api = usage[usage["pod"] == "api-1"].iloc[[0]]
    rows = pd.concat(
        [
            api.assign(cpu_cores=c, memory_bytes=0.0, timestamp=T1 - pd.Timedelta(hours=i))
            for i, c in enumerate(cpu)
        ]
    )
    containers = snapshot.tables["containers"].copy()
    containers.loc[containers["pod"] == "api-1", ["cpu_request_cores", "memory_request_bytes"]] = [
        math.nan if request is None else request,
        0.0,
    ]
    tables = {**snapshot.tables, "usage": rows, "containers": containers}
    allocation = allocate_costs(snapshot_of(tables, T1, T2, 3600), HAND_CATALOG)
    charged = allocation.by_workload.set_index("workload")["cost_usd"]
    cores = [max(c, request or 0.0) for c in cpu]
    assert charged["api"] == pytest.approx(sum(cores) * 0.03)
    assert charged["api"] >= sum(cpu) * 0.03 - 1e-12


def billed_frame(rows: list[tuple[pd.Timestamp, str, str | None, float]]) -> pd.DataFrame:
    """A billed frame as the AWS readers return it: (day, node_group, namespace, cost_usd)."""
    return pd.DataFrame(
        {
            "day": [r[0] for r in rows],
            "node_group": [r[1] for r in rows],
            "instance_type": None,
            "purchase_type": None,
            "namespace": [r[2] for r in rows],
            "workload": None,
            "cost_usd": [r[3] for r in rows],
            "unused_cost_usd": math.nan,
            "source": "test",
        }
    )


def test_reconciliation_by_hand() -> None:
    allocation = allocate_costs(hand_snapshot(), HAND_CATALOG)
    billed = billed_frame(
        [
            (DAY1, "general-ng", None, 0.08),  # Savings Plan: 20 % under list price
            (DAY1, "jobs-ng", None, 0.05),  # spot paid above the catalog's figure
            (DAY2, "general-ng", None, 0.10),
            (DAY2, "(untagged)", None, 0.02),  # EBS volumes: not in the estimate at all
            (DAY2 + pd.Timedelta(days=1), "general-ng", None, 9.99),  # outside the snapshot
            (DAY1, "(all)", "kianax", 0.02),  # CUR split cost allocation rows
            (DAY2, "(all)", "kianax", 0.04),
        ]
    )
    table = reconcile(allocation, billed)
    rows = {(r.level, r.day, r.name): r for r in table.itertuples()}
    general = rows[("node_group", DAY1, "general-ng")]
    assert (general.estimated_usd, general.billed_usd) == (pytest.approx(0.10), pytest.approx(0.08))
    assert general.gap_usd == pytest.approx(-0.02) and general.gap_percent == pytest.approx(-20)
    jobs = rows[("node_group", DAY1, "jobs-ng")]
    assert jobs.gap_usd == pytest.approx(0.01) and jobs.gap_percent == pytest.approx(25)
    assert rows[("node_group", DAY2, "general-ng")].gap_usd == pytest.approx(0)
    untagged = rows[("node_group", DAY2, "(untagged)")]
    assert (untagged.estimated_usd, untagged.billed_usd) == (0, pytest.approx(0.02))
    assert table.loc[table["name"] == "(untagged)", "gap_percent"].isna().all()
    # Totals per day: day 1 estimated 0.14 vs billed 0.13; day 2 0.10 vs 0.12.
    assert rows[("total", DAY1, "(cluster)")].gap_usd == pytest.approx(-0.01)
    assert rows[("total", DAY2, "(cluster)")].billed_usd == pytest.approx(0.12)
    assert table["day"].max() == DAY2  # the day outside the snapshot is left out
    # Namespace rows: kianax estimated 0.025 and 0.039 (max(request, usage) above).
    kianax = rows[("namespace", DAY1, "kianax")]
    assert kianax.estimated_usd == pytest.approx(0.025) and kianax.gap_usd == pytest.approx(-0.005)
    assert rows[("namespace", DAY2, "kianax")].gap_usd == pytest.approx(0.001)
    monitoring = rows[("namespace", DAY1, "monitoring")]
    assert monitoring.billed_usd == 0 and monitoring.gap_usd == pytest.approx(-0.0055)
    assert list(table["level"].unique()) == ["total", "node_group", "namespace"]


def test_reconciliation_without_split_data_has_no_namespace_rows() -> None:
    allocation = allocate_costs(hand_snapshot(), HAND_CATALOG)
    table = reconcile(allocation, billed_frame([(DAY1, "general-ng", None, 0.1)]))
    assert set(table["level"]) == {"total", "node_group"}


def test_categorical_string_columns_give_the_same_allocation() -> None:
    # Snapshot writers may store str columns as categoricals (smaller Parquet, faster group-bys).
    plain = hand_snapshot()
    tables = {
        name: df.astype({c: "category" for c in df.columns if df[c].dtype == object})
        for name, df in plain.tables.items()
    }
    start, end = (pd.Timestamp(t) for t in plain.window)
    categorical = allocate_costs(snapshot_of(tables, start, end, plain.step_seconds), HAND_CATALOG)
    expected = allocate_costs(plain, HAND_CATALOG)
    assert categorical.summary() == expected.summary()
    assert categorical.by_workload.to_dict("records") == expected.by_workload.to_dict("records")
    assert categorical.daily.to_dict("records") == expected.daily.to_dict("records")


def test_costs_and_catalog_work_without_boto3() -> None:
    code = (
        "import sys, kianax_capacity.recommenders.costs, kianax_capacity.prices;"
        "bad = {'boto3', 'botocore', 'plotly', 'papermill', 'prometheus_api_client'};"
        "bad &= set(sys.modules);"
        "sys.exit(f'imported {sorted(bad)}' if bad else 0)"
    )
    root = Path(__file__).resolve().parents[2]
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, cwd=root
    )
    assert result.returncode == 0, result.stderr


def test_bursting_past_the_node_is_overallocated_not_negative_idle() -> None:
    snapshot = hand_snapshot()
    usage = snapshot.tables["usage"].copy()
    burst = (usage["pod"] == "api-1") & (usage["timestamp"] == T2)
    usage.loc[burst, "cpu_cores"] = 3.0  # more than x.node's 2 vCPU
    tables = {**snapshot.tables, "usage": usage}
    start, end = (pd.Timestamp(t) for t in snapshot.window)
    allocation = allocate_costs(snapshot_of(tables, start, end, 3600), HAND_CATALOG)
    # Day 2 on n1: api 3 x 0.03 + 1.5 x 0.01 = 0.105, prom 0.0055 -> 0.1105 against 0.10.
    n1 = allocation.nodes.set_index("node").loc["n1"]
    assert n1["overallocated_usd"] == pytest.approx(0.0105)
    assert n1["idle_usd"] == pytest.approx(0.10 - 0.025 - 0.0055)  # day 1 only
    assert n1["allocated_usd"] + n1["idle_usd"] - n1["overallocated_usd"] == pytest.approx(0.20)
    daily = allocation.daily.set_index(["day", "node_group", "namespace"])["cost_usd"]
    assert daily[(DAY2, "general-ng", IDLE)] == 0


def test_demo_cluster_is_priced_offline(demo_snapshot: Snapshot) -> None:
    catalog = embedded_catalog()
    allocation = allocate_costs(demo_snapshot, catalog)
    groups = set(demo_snapshot.nodes["node_group"])
    assert set(allocation.by_node_group["node_group"]) == groups
    assert (allocation.by_node_group["cost_usd"] > 0).all()
    unit_prices = node_group_unit_prices(demo_snapshot.nodes, catalog, demo_snapshot.step_seconds)
    assert set(unit_prices) == groups
    assert all(p.cpu_core_hour_usd > 0 and p.memory_gib_hour_usd > 0 for p in unit_prices.values())
    shares = allocation.allocated_usd + allocation.idle_usd - allocation.overallocated_usd
    assert shares == pytest.approx(allocation.node_cost_usd)
    assert allocation.unplaced_samples == 0
    assert allocation.summary()["monthly_cost_usd"] > 0
