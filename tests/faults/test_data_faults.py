"""Data faults: counter resets, gaps, duplicated series, NaN/Inf, missing requests, pause
containers, a newcomer, clock skew.

Twice: as metrics backfilled into the real Prometheus (the hand-built cluster of
:mod:`tests.faults.datafaults`, fetched then recommended), and as snapshot tables handed
straight to ``recommend``. Either way the statistics are right or the row says
``insufficient_data`` with a reason; nothing crashes and recommendations.json holds no NaN.
"""

from __future__ import annotations

import json
import math
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from kianax_capacity.config import PrometheusConfig
from kianax_capacity.snapshot import Snapshot, load_snapshot, write_snapshot
from kianax_capacity.sources.prometheus import fetch_prometheus_snapshot
from tests.faults import datafaults as df
from tests.faults.conftest import RestartablePrometheus
from tests.faults.helpers import run_cli

pytestmark = [pytest.mark.faults, pytest.mark.integration]


def _refuse_constant(name: str) -> Any:
    raise AssertionError(f"recommendations.json holds {name}")


def load_strict(path: Path) -> dict[str, Any]:
    """recommendations.json parsed with NaN/Infinity refused, as any strict JSON reader would."""
    data: dict[str, Any] = json.loads(path.read_text(), parse_constant=_refuse_constant)
    return data


def recommend_cli(snapshot: Path, out: Path) -> dict[str, Any]:
    result = run_cli("--quiet", "recommend", str(snapshot), "--out", str(out))
    assert result.returncode == 0, result.stderr[-3000:]
    return load_strict(out)


def by_workload(recs: dict[str, Any], namespace: str) -> dict[str, dict[str, Any]]:
    return {r["workload"]: r for r in recs["rightsizing"] if r["namespace"] == namespace}


def walk_numbers(value: Any) -> list[float]:
    if isinstance(value, bool):
        return []
    if isinstance(value, int | float):
        return [float(value)]
    if isinstance(value, dict):
        return [n for v in value.values() for n in walk_numbers(v)]
    if isinstance(value, list):
        return [n for v in value for n in walk_numbers(v)]
    return []


# --- through Prometheus ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def fetched(
    fault_prometheus: RestartablePrometheus, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, Snapshot]:
    out = tmp_path_factory.mktemp("datafaults") / "snapshot"
    fetch_prometheus_snapshot(
        PrometheusConfig(url=fault_prometheus.url, max_retries=0, timeout_seconds=10),
        start=df.END - timedelta(hours=df.HOURS),
        end=df.END,
        step_seconds=300,
        out=out,
        namespace_regex=df.NAMESPACE,
        environ={},
    )
    return out, load_snapshot(out)


@pytest.fixture(scope="module")
def fetched_recs(
    fetched: tuple[Path, Snapshot], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    return recommend_cli(fetched[0], tmp_path_factory.mktemp("datafaults-recs") / "recs.json")


def usage_of(snapshot: Snapshot, workload: str) -> pd.DataFrame:
    pod = df.Pod(workload).pod
    usage = snapshot.tables["usage"]
    return usage[usage["pod"] == pod]


def test_pause_and_pod_level_containers_are_dropped(fetched: tuple[Path, Snapshot]) -> None:
    containers = fetched[1].tables["containers"]
    assert sorted(containers["pod"]) == sorted(p.pod for p in df.PODS)
    assert set(containers["container"]) == {"app"}
    usage = usage_of(fetched[1], "withpause")
    assert np.allclose(usage["cpu_cores"].dropna(), df.CPU["withpause"])
    assert (usage["memory_bytes"] == df.MEMORY["withpause"]).all()


def test_duplicated_scrape_jobs_do_not_double_usage(fetched: tuple[Path, Snapshot]) -> None:
    usage = usage_of(fetched[1], "dup")
    assert len(usage) == len(usage_of(fetched[1], "steady"))  # one row per step, not two
    assert np.allclose(usage["cpu_cores"].dropna(), df.CPU["dup"])  # 0.30, not 0.60
    assert (usage["memory_bytes"] == df.MEMORY["dup"]).all()


def test_a_counter_reset_makes_no_negative_or_huge_rate(fetched: tuple[Path, Snapshot]) -> None:
    cpu = usage_of(fetched[1], "steady")["cpu_cores"].dropna()
    assert cpu.min() >= 0 and cpu.max() <= df.CPU["steady"] + 1e-9
    assert cpu.median() == pytest.approx(df.CPU["steady"])
    # Only the step whose rate window holds the reset loses a little (one scrape's increase).
    assert (np.abs(cpu - df.CPU["steady"]) > 1e-9).sum() <= 1


def test_a_scrape_gap_is_missing_rows_not_zeros(fetched: tuple[Path, Snapshot]) -> None:
    usage = usage_of(fetched[1], "gappy")
    gap_start = df.END - timedelta(hours=df.HOURS - df.GAP_HOURS[0])
    gap_end = df.END - timedelta(hours=df.HOURS - df.GAP_HOURS[1])
    inside = usage[
        (usage["timestamp"] > gap_start + timedelta(minutes=5)) & (usage["timestamp"] < gap_end)
    ]
    assert inside.empty
    assert np.allclose(usage["cpu_cores"].dropna(), df.CPU["gappy"])
    assert len(usage) < len(usage_of(fetched[1], "steady")) - 30


def test_clock_skew_between_series_keeps_the_values(fetched: tuple[Path, Snapshot]) -> None:
    usage = usage_of(fetched[1], "skewed")
    assert len(usage) >= len(usage_of(fetched[1], "steady")) - 1
    assert np.allclose(usage["cpu_cores"].dropna(), df.CPU["skewed"])
    assert (usage["memory_bytes"] == df.MEMORY["skewed"]).all()
    containers = fetched[1].tables["containers"].set_index("pod")
    assert containers.loc[df.Pod("skewed").pod, "cpu_request_cores"] == df.CPU_REQUEST


def test_nan_and_inf_samples_reach_no_recommendation(
    fetched: tuple[Path, Snapshot], fetched_recs: dict[str, Any]
) -> None:
    row = by_workload(fetched_recs, df.NAMESPACE)["nan"]
    assert all(math.isfinite(n) for n in walk_numbers(row))
    if row["status"] == "ok":
        # +Inf is not a working set: the recommendation follows the real 120 MiB.
        assert row["recommended"]["memory_request"] < 4 * df.MEMORY["nan"]


def test_statistics_and_reasons_per_workload(fetched_recs: dict[str, Any]) -> None:
    rows = by_workload(fetched_recs, df.NAMESPACE)
    assert set(rows) == set(df.CPU)
    for workload, row in rows.items():
        assert row["status"] in ("ok", "insufficient_data", "no_change"), (workload, row)
        if row["status"] != "ok":
            assert row["reason"], (workload, row)
    newcomer = rows["newcomer"]
    assert newcomer["status"] == "insufficient_data"
    assert newcomer["recommended"]["cpu_request"] is None or newcomer["reason"]
    norequests = rows["norequests"]
    assert norequests["current"]["cpu_request"] is None
    assert norequests["current"]["memory_request"] is None
    dup = rows["dup"]
    if dup["status"] == "ok":
        # Sized on 0.30 cores: a doubled 0.60 would ask for more than 0.5 cores.
        assert dup["recommended"]["cpu_request"] < 0.5


# --- snapshot tables fed straight to recommend ------------------------------------------------


def faulty_tables(snapshot: Snapshot) -> dict[str, pd.DataFrame]:
    """The demo snapshot's tables with every data fault applied to some of its containers."""
    tables = {name: frame.copy() for name, frame in snapshot.tables.items()}
    usage, containers, pods = tables["usage"], tables["containers"], tables["pods"]
    keys = containers[["namespace", "pod", "container"]].drop_duplicates().head(6).values.tolist()
    (ns0, pod0, c0), (ns1, pod1, c1), (ns2, pod2, c2), (ns3, pod3, _), (ns4, pod4, c4) = keys[:5]

    def rows(ns: str, pod: str, container: str) -> pd.Series:
        return (
            (usage["namespace"] == ns) & (usage["pod"] == pod) & (usage["container"] == container)
        )

    # NaN and +/-Inf samples.
    first = rows(ns0, pod0, c0)
    index = usage.index[first]
    usage.loc[index[::7], "cpu_cores"] = np.nan
    usage.loc[index[1::11], "memory_bytes"] = np.inf
    usage.loc[index[2::13], "cpu_cores"] = np.inf
    usage.loc[index[3::17], "memory_bytes"] = np.nan
    # A negative rate, as a counter reset read naively would give.
    usage.loc[usage.index[rows(ns1, pod1, c1)][::9], "cpu_cores"] = -5.0
    # No requests and no limits.
    mask = (
        (containers["namespace"] == ns2)
        & (containers["pod"] == pod2)
        & (containers["container"] == c2)
    )
    containers.loc[
        mask, ["cpu_request_cores", "memory_request_bytes", "cpu_limit_cores", "memory_limit_bytes"]
    ] = np.nan
    # A pause container and a pod-level series beside a real one.
    extra_containers = containers[
        (containers["namespace"] == ns3) & (containers["pod"] == pod3)
    ].head(1)
    extra_usage = usage[(usage["namespace"] == ns3) & (usage["pod"] == pod3)]
    extra_usage = extra_usage[extra_usage["container"] == extra_usage["container"].iloc[0]]
    for name in ("POD", ""):
        containers = pd.concat(
            [containers, extra_containers.assign(container=name)], ignore_index=True
        )
        usage = pd.concat([usage, extra_usage.assign(container=name)], ignore_index=True)
    # Duplicated rows (the same sample twice).
    usage = pd.concat([usage, usage[rows(ns4, pod4, c4)]], ignore_index=True)
    # Clock skew: one container's samples 17 s off the step grid.
    skewed = rows(ns1, pod1, c1)
    usage.loc[skewed, "timestamp"] = usage.loc[skewed, "timestamp"] + pd.Timedelta(seconds=17)
    # A workload that appears only in the last hour.
    end = usage["timestamp"].max()
    template_pod = pods[(pods["namespace"] == ns0) & (pods["pod"] == pod0)].iloc[0]
    newcomer = template_pod.copy()
    newcomer["pod"], newcomer["workload"], newcomer["kind"] = (
        "newcomer-7c9-abcde",
        "newcomer",
        "Deployment",
    )
    newcomer["first_seen"] = end - pd.Timedelta(hours=1)
    newcomer["last_seen"] = end
    pods = pd.concat([pods, newcomer.to_frame().T.astype(pods.dtypes.to_dict())], ignore_index=True)
    new_container = containers[(containers["namespace"] == ns0) & (containers["pod"] == pod0)].head(
        1
    )
    containers = pd.concat(
        [containers, new_container.assign(pod=newcomer["pod"], container="app")], ignore_index=True
    )
    recent = usage[first & (usage["timestamp"] > end - pd.Timedelta(hours=1))]
    usage = pd.concat(
        [
            usage,
            recent.assign(pod=newcomer["pod"], container="app", cpu_cores=0.1, memory_bytes=1e8),
        ],
        ignore_index=True,
    )
    workloads = tables["workloads"]
    new_workload = (
        workloads[workloads["namespace"] == ns0]
        .head(1)
        .assign(workload="newcomer", kind="Deployment")
    )
    tables["workloads"] = pd.concat([workloads, new_workload], ignore_index=True)
    tables["usage"], tables["containers"], tables["pods"] = usage, containers, pods
    return tables


def test_faulty_snapshot_tables_give_finite_recommendations(
    demo_snapshot: Snapshot, tmp_path: Path
) -> None:
    tables = faulty_tables(demo_snapshot)
    manifest = demo_snapshot.manifest
    write_snapshot(
        tmp_path / "snapshot",
        tables,
        cluster=demo_snapshot.cluster,
        window_start=manifest.window_start,
        window_end=manifest.window_end,
        step_seconds=manifest.step_seconds,
        source="demo",
    )
    recs = recommend_cli(tmp_path / "snapshot", tmp_path / "recs.json")
    assert all(math.isfinite(n) for n in walk_numbers(recs))
    rows = {(r["namespace"], r["workload"], r["container"]): r for r in recs["rightsizing"]}
    assert not any(container in ("POD", "") for (_ns, _w, container) in rows)
    newcomer = [r for r in recs["rightsizing"] if r["workload"] == "newcomer"]
    assert newcomer and newcomer[0]["status"] == "insufficient_data" and newcomer[0]["reason"]
    for row in recs["rightsizing"]:
        if row["status"] != "ok":
            assert row["reason"], row
        for value in (row["recommended"] or {}).values():
            assert value is None or value >= 0, row
