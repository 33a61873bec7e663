"""recommend_hpa on a small synthetic snapshot (kianax_capacity.testing.SnapshotBuilder)."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kianax_capacity.model import ResourcePrices
from kianax_capacity.recommendations import (
    HpaSettings,
    RecommendationSet,
    validate_recommendations_json,
)
from kianax_capacity.recommenders.hpa import recommend_hpa, simulate_for_chart
from kianax_capacity.snapshot import Snapshot
from kianax_capacity.testing import SnapshotBuilder

STEP = 300
START = datetime(2026, 11, 1, tzinfo=UTC)
STEPS = 2 * 288  # two days of 5-minute steps
REQUEST_CORES = 0.25
REQUEST_BYTES = 256 * 1024**2
PRICES = ResourcePrices(cpu_core_hour_usd=0.04, memory_gib_hour_usd=0.005)
NAMESPACE = "kianax"


def diurnal(low: float, high: float) -> np.ndarray:
    phase = np.arange(STEPS) / 288 * 2 * np.pi
    return low + (high - low) * (0.5 - 0.5 * np.cos(phase))


# name -> (min, max, cpu target, per-step CPU demand in cores, has a CPU request)
WORKLOADS = {
    # Needs demand / (0.25 x 0.7) up to 8.6 replicas, capped at 4: saturated at max.
    "saturated-svc": (2, 4, 70.0, diurnal(0.3, 1.5), True),
    # 0.1 cores over min 4 pods: 10 % of request, pinned at min.
    "idle-svc": (4, 10, 70.0, np.full(STEPS, 0.1), True),
    # Scales between 2 and 6 replicas, well inside its bounds.
    "healthy-svc": (2, 10, 70.0, diurnal(0.3, 1.0), True),
    # HPA on CPU utilisation but the container has no CPU request.
    "norequest-svc": (2, 10, 70.0, diurnal(0.2, 0.6), False),
}


def observed_replicas(low: int, high: int, target: float, demand: np.ndarray) -> np.ndarray:
    need = np.ceil(demand / (REQUEST_CORES * target / 100.0) - 1e-9)
    return np.clip(need, low, high).astype(int)


def build_snapshot() -> Snapshot:
    builder = SnapshotBuilder(start=START, days=(STEPS - 1) * STEP / 86400, created_at=START)
    timestamps = builder.times
    assert len(timestamps) == STEPS
    builder.node(
        "node-a", zone="eu-west-1a", memory_allocatable_bytes=3.3 * 1024**3
    )  # one t3.medium
    for name, (low, high, target, demand, has_request) in WORKLOADS.items():
        builder.workload(
            NAMESPACE, "Deployment", name, pdb_min_available=1.0, pdb_disruptions_allowed=1.0
        )
        count = observed_replicas(low, high, target, demand) if has_request else np.full(STEPS, low)
        for index in range(int(count.max())):
            pod = f"{name}-{index}"
            builder.pod(NAMESPACE, pod, workload=name)
            builder.container(
                NAMESPACE,
                pod,
                cpu_request_cores=REQUEST_CORES if has_request else math.nan,
                cpu_limit_cores=0.5,
                memory_request_bytes=float(REQUEST_BYTES),
                memory_limit_bytes=2.0 * REQUEST_BYTES,
            )
            running = count > index
            builder.usage(
                NAMESPACE,
                pod,
                cpu_cores=(demand / count)[running],
                memory_bytes=100.0 * 1024**2,
                throttled=0.0,
                times=timestamps[running],
            )
        builder.hpa(
            NAMESPACE,
            name,
            workload=name,
            min_replicas=low,
            max_replicas=high,
            target_cpu_utilization=target,
        )
        builder.frame(
            "replicas",
            pd.DataFrame(
                {
                    "timestamp": timestamps,
                    "namespace": NAMESPACE,
                    "hpa": name,
                    "current_replicas": count.astype(float),
                    "desired_replicas": count.astype(float),
                }
            ),
        )
    return builder.snapshot()


@pytest.fixture(scope="module")
def snapshot() -> Snapshot:
    return build_snapshot()


@pytest.fixture(scope="module")
def rows(snapshot):
    return {row.workload: row for row in recommend_hpa(snapshot, default_prices=PRICES)}


def test_one_row_per_hpa(rows):
    assert sorted(rows) == sorted(WORKLOADS)


def test_saturated_workload_gets_a_higher_max_and_no_saturation(rows):
    row = rows["saturated-svc"]
    assert row.status == "ok"
    assert row.recommended.max_replicas > 4
    # Peak need is ceil(1.5 / 0.175) = 9 replicas; production adds 20 % headroom -> 11.
    assert row.recommended.max_replicas == 11
    assert row.saturated_minutes["current"] > 1000
    assert row.saturated_minutes["recommended"] == 0
    assert row.monthly_savings_usd is not None and row.monthly_savings_usd < 0
    assert "at max 4" in row.reason and "min/week" in row.reason
    assert row.recommended.min_replicas == 2


def test_idle_workload_is_cheaper_but_keeps_the_ha_floor(rows):
    row = rows["idle-svc"]
    assert row.status == "ok"
    # PDB minAvailable 1 -> min 2; 0.1 cores never needs more.
    assert row.recommended.min_replicas == 2
    # 4 -> 2 replicas of 0.25 cores + 256 MiB all month.
    per_replica = PRICES.monthly_usd(REQUEST_CORES, REQUEST_BYTES)
    assert row.monthly_savings_usd == pytest.approx(2 * per_replica, abs=0.01)
    assert "pinned at min 4" in row.reason
    assert "PDB" in row.reason


def test_idle_workload_never_goes_below_the_profile_floor(snapshot):
    tables = dict(snapshot.tables)
    tables["workloads"] = tables["workloads"].assign(pdb_min_available=math.nan)
    no_pdb = Snapshot(manifest=snapshot.manifest, tables=tables)
    ha = {
        r.workload: r
        for r in recommend_hpa(no_pdb, profile="high-availability", default_prices=PRICES)
    }
    dev = {
        r.workload: r for r in recommend_hpa(no_pdb, profile="development", default_prices=PRICES)
    }
    assert ha["idle-svc"].recommended.min_replicas == 3
    assert dev["idle-svc"].recommended.min_replicas == 1


def test_healthy_workload_is_no_change(rows):
    row = rows["healthy-svc"]
    assert row.status == "no_change", row.reason
    assert row.recommended == row.current
    assert row.monthly_savings_usd == 0
    assert row.saturated_minutes["current"] == 0
    assert "meet the production goals" in row.reason


def test_missing_request_is_insufficient_data(rows):
    row = rows["norequest-svc"]
    assert row.status == "insufficient_data"
    assert "no CPU request" in row.reason and "app" in row.reason


def test_rows_carry_evidence_and_validate_against_the_schema(rows, snapshot):
    row = rows["saturated-svc"]
    evidence = row.to_dict()
    assert evidence["replica_hours"]["recommended"] > evidence["replica_hours"]["current"]
    assert evidence["utilisation"]["cpu_p95"] > 70
    assert evidence["findings"]["observed_saturated_minutes_per_week"] > 1000
    assert evidence["scale_events_per_day"]["current"] >= 0
    recs = RecommendationSet(
        cluster="test",
        generated_at=START,
        window_start=START,
        window_end=START,
        step_seconds=STEP,
        hpa=tuple(rows.values()),
    )
    validate_recommendations_json(recs.to_json())


def test_joint_with_rightsizing_keeps_the_scale_point(snapshot):
    key = (NAMESPACE, "Deployment", "healthy-svc")
    rows = {
        r.workload: r
        for r in recommend_hpa(snapshot, default_prices=PRICES, new_requests={key: (0.22, None)})
    }
    row = rows["healthy-svc"]
    # 70 % of 250m = 175m per replica; at a 220m request that is 79.5 % -> 80 %.
    assert row.recommended.target_cpu_utilization == 80
    assert row.status == "ok"
    assert "keeps scaling" in row.reason
    assert row.request_change_included is True
    # Same scale point, cheaper replicas: costs less.
    assert row.monthly_savings_usd > 0
    assert rows["saturated-svc"].recommended.target_cpu_utilization == 70


def test_kept_scale_point_is_capped_at_the_profile_band(snapshot):
    key = (NAMESPACE, "Deployment", "healthy-svc")
    row = next(
        r
        for r in recommend_hpa(snapshot, default_prices=PRICES, new_requests={key: (0.1, None)})
        if r.workload == "healthy-svc"
    )
    # 175m per replica would be 175 % of a 100m request: the production band stops at 80 %,
    # so the HPA scales a little earlier (80m per replica) rather than run pods at their request.
    assert row.recommended.target_cpu_utilization == 80
    assert "capped at the top of the production band" in row.reason


def test_node_group_prices_are_used(snapshot):
    dear = ResourcePrices(cpu_core_hour_usd=0.08, memory_gib_hour_usd=0.01)
    rows = {
        r.workload: r
        for r in recommend_hpa(snapshot, default_prices=PRICES, unit_prices={"general-ng": dear})
    }
    assert rows["idle-svc"].monthly_savings_usd == pytest.approx(
        2 * dear.monthly_usd(REQUEST_CORES, REQUEST_BYTES), abs=0.01
    )


def test_chart_frame_shows_before_and_after(snapshot, rows):
    frame = simulate_for_chart(
        snapshot, NAMESPACE, "saturated-svc", rows["saturated-svc"].recommended
    )
    assert list(frame.columns[:6]) == [
        "timestamp",
        "demand",
        "replicas_observed",
        "replicas_current_sim",
        "replicas_recommended_sim",
        "saturated",
    ]
    assert len(frame) == STEPS
    assert frame["replicas_current_sim"].max() == 4
    # Peak need 1.5 / 0.175 = 8.57: at 8 replicas the ratio is 1.07, inside the tolerance band,
    # so the replay (like Kubernetes) stays at 8 rather than ceil(8.57) = 9.
    assert frame["replicas_recommended_sim"].max() == 8
    assert frame["saturated"].any() and not frame["saturated_recommended"].any()


def test_chart_for_unknown_workload_says_so(snapshot):
    from kianax_capacity.errors import UserInputError

    with pytest.raises(UserInputError, match="no HPA"):
        simulate_for_chart(snapshot, NAMESPACE, "nope", HpaSettings())


def test_empty_snapshot_has_no_rows(snapshot):
    tables = {k: v for k, v in snapshot.tables.items() if k not in ("hpas", "replicas")}
    assert (
        recommend_hpa(Snapshot(manifest=snapshot.manifest, tables=tables), default_prices=PRICES)
        == ()
    )


def test_short_window_is_insufficient_data(snapshot):
    tables = dict(snapshot.tables)
    usage = tables["usage"]
    tables["usage"] = usage[usage["timestamp"] < usage["timestamp"].min() + pd.Timedelta(hours=6)]
    short = Snapshot(manifest=snapshot.manifest, tables=tables)
    rows = recommend_hpa(short, default_prices=PRICES)
    assert {row.status for row in rows} == {"insufficient_data"}
    assert all("fetch a longer window" in row.reason for row in rows if "request" not in row.reason)


def test_hpa_below_the_pdb_floor_is_raised(snapshot):
    tables = dict(snapshot.tables)
    tables["hpas"] = tables["hpas"].assign(min_replicas=1)
    raised = {
        r.workload: r
        for r in recommend_hpa(
            Snapshot(manifest=snapshot.manifest, tables=tables), default_prices=PRICES
        )
    }
    row = raised["healthy-svc"]
    assert row.status == "ok"
    assert row.recommended.min_replicas == 2
    assert "PDB" in row.reason


def test_unknown_profile_is_a_user_error(snapshot):
    from kianax_capacity.errors import UserInputError

    with pytest.raises(UserInputError, match="unknown profile"):
        recommend_hpa(snapshot, profile="cheap", default_prices=PRICES)


def _with_sidecar(target_container: str) -> Snapshot:
    """The first workload's pods get an envoy sidecar (its own request and usage); its HPA
    targets ``target_container`` ("" = the pod-level Resource metric)."""
    base = build_snapshot()
    name = next(iter(WORKLOADS))
    tables = dict(base.tables)
    pods = tables["pods"][tables["pods"]["workload"] == name]["pod"]
    sidecar = tables["containers"][tables["containers"]["pod"].isin(pods)].assign(
        container="envoy", cpu_request_cores=0.25, cpu_limit_cores=math.nan
    )
    tables["containers"] = pd.concat([tables["containers"], sidecar], ignore_index=True)
    usage = tables["usage"][tables["usage"]["pod"].isin(pods)].assign(
        container="envoy", cpu_cores=0.01
    )
    tables["usage"] = pd.concat([tables["usage"], usage], ignore_index=True)
    tables["hpas"] = tables["hpas"].assign(target_container="")
    tables["hpas"].loc[tables["hpas"]["workload"] == name, "target_container"] = target_container
    return Snapshot(manifest=base.manifest, tables=tables)


def test_container_resource_hpa_replays_the_named_containers_request_and_usage() -> None:
    name = next(iter(WORKLOADS))
    prices = ResourcePrices(0.03, 0.004)
    (named,) = [
        r for r in recommend_hpa(_with_sidecar("app"), default_prices=prices) if r.workload == name
    ]
    (pod_level,) = [
        r for r in recommend_hpa(_with_sidecar(""), default_prices=prices) if r.workload == name
    ]
    # ContainerResource on "app": the sidecar's 0.25 cores and its usage stay out.
    assert named.replayed_requests["cpu_request"] == REQUEST_CORES
    assert pod_level.replayed_requests["cpu_request"] == REQUEST_CORES + 0.25
    # The app alone runs hotter against its own request than the pod does against the sum.
    assert named.extra["utilisation"]["cpu_p95"] > pod_level.extra["utilisation"]["cpu_p95"] * 1.2


def _as_aggregate(snapshot: Snapshot, categorical: bool) -> Snapshot:
    """The same cluster as an aggregate fetch has it: no usage samples, and ``hpa_demand``
    (per HPA, container name and step, summed over the target's pods, as the server's
    queries/hpa_demand_cpu.promql does) summed here from the usage."""
    tables = dict(snapshot.tables)
    usage = tables["usage"].merge(tables["pods"][["namespace", "pod", "workload"]])
    usage = usage.merge(tables["hpas"][["namespace", "workload", "hpa"]])
    demand = (
        usage.groupby(["timestamp", "namespace", "hpa", "container"], as_index=False)[
            ["cpu_cores", "memory_bytes"]
        ]
        .sum(min_count=1)
        .sample(frac=1.0, random_state=7)  # the server's answers come in no particular order
        .reset_index(drop=True)
    )
    if categorical:  # as a snapshot's parquet gives it back
        demand = demand.astype(
            {"namespace": "category", "hpa": "category", "container": "category"}
        )
    tables["hpa_demand"] = demand
    tables["usage"] = tables["usage"].iloc[0:0]
    return Snapshot(manifest=snapshot.manifest, tables=tables)


@pytest.mark.parametrize("categorical", [True, False])
@pytest.mark.parametrize("target", ["app", "envoy", "", "no-such-container"])
def test_hpa_demand_table_gives_the_usage_demand(target: str, categorical: bool) -> None:
    # The aggregate path (one grouping of hpa_demand for every HPA, the named container of a
    # ContainerResource HPA kept) must give each HPA the demand the usage path sums itself.
    from kianax_capacity.recommenders.hpa.inputs import hpa_workloads

    series = _with_sidecar(target)
    by_usage = {w.hpa: w for w in hpa_workloads(series)}
    by_table = {w.hpa: w for w in hpa_workloads(_as_aggregate(series, categorical))}
    assert by_usage.keys() == by_table.keys()
    for hpa, expected in by_usage.items():
        got = by_table[hpa]
        assert got.timestamps.equals(expected.timestamps), hpa
        np.testing.assert_allclose(got.cpu_demand, expected.cpu_demand, rtol=1e-12)
        np.testing.assert_allclose(got.memory_demand, expected.memory_demand, rtol=1e-12)
        np.testing.assert_array_equal(got.observed_replicas, expected.observed_replicas)
    named = by_table[series.tables["hpas"]["hpa"].iloc[0]]
    if target == "no-such-container":
        assert len(named.timestamps) == 0  # a container no pod runs: no demand, not the pod's


_MINUTES = pd.date_range("2026-11-02T00:00:00Z", periods=40, freq="5min")


@settings(max_examples=200, deadline=None)
@given(
    history=st.lists(
        st.tuples(st.integers(0, 39), st.one_of(st.integers(1, 30).map(float), st.just(math.nan))),
        min_size=1,
        max_size=40,
    ),
    grid_start=st.integers(0, 39),
    grid_points=st.integers(1, 40),
    ordered=st.booleans(),
)
def test_counts_on_grid_are_the_forward_filled_last_counts(
    history, grid_start, grid_points, ordered
) -> None:
    # Reference: the last count per step, forward filled onto the grid (what the replay reads
    # as the HPA's observed replicas). The search path must give the same.
    from kianax_capacity.recommenders.hpa.inputs import _counts_on_grid

    if ordered:  # the usual table: one row per step, in order
        history = sorted({step: value for step, value in history}.items())
    frame = pd.DataFrame(
        {
            "timestamp": _MINUTES[[step for step, _ in history]],
            "current_replicas": [value for _, value in history],
        }
    )
    grid = pd.date_range(_MINUTES[grid_start], periods=grid_points, freq="5min")
    counts = frame.groupby("timestamp")["current_replicas"].last().sort_index()
    expected = counts.reindex(counts.index.union(grid)).ffill().reindex(grid).to_numpy(float)
    np.testing.assert_array_equal(_counts_on_grid(frame, grid), expected)


def _flaps_by_loop(replicas: np.ndarray, window_steps: int) -> int:
    # The count as a reader would do it: walk the moves; a move opposite to the previous one,
    # at most window_steps after it, is a flap.
    changes = np.diff(replicas[np.isfinite(replicas)])
    flaps, last_move, last_sign = 0, None, 0.0
    for index, change in enumerate(changes):
        if change == 0:
            continue
        sign = math.copysign(1.0, change)
        if last_move is not None and sign != last_sign and index - last_move <= window_steps:
            flaps += 1
        last_move, last_sign = index, sign
    return flaps


def test_flaps_by_hand() -> None:
    # 300 s steps, 600 s stabilisation: 2 steps. 2->3 (up), 3->2 one step later (down: a flap),
    # then up 2->4 three steps after that (not a flap), down 4->3 two steps later (a flap).
    replicas = np.array([2, 3, 2, 2, 2, 4, 4, 3, 3], dtype=float)
    assert _flaps_by_loop(replicas, 2) == 2
    assert _findings(replicas, 600).flaps_per_day == pytest.approx(2 * 24.0 / (9 * 300 / 3600))


def _findings(replicas: np.ndarray, stabilisation: int):
    from kianax_capacity.recommendations import HpaSettings
    from kianax_capacity.recommenders.hpa.inputs import HpaWorkload
    from kianax_capacity.recommenders.hpa.replay import findings_of

    steps = len(replicas)
    item = HpaWorkload(
        namespace="app",
        hpa="web",
        kind="Deployment",
        workload="web",
        current=HpaSettings(
            min_replicas=1,
            max_replicas=10,
            target_cpu_utilization=60.0,
            scale_down_stabilization_seconds=stabilisation,
        ),
        timestamps=pd.date_range("2026-11-02", periods=steps, freq="5min", tz="UTC"),
        cpu_demand=np.ones(steps),
        memory_demand=np.ones(steps),
        observed_replicas=replicas,
        cpu_request=1.0,
        memory_request=1.0,
        missing_cpu=(),
        missing_memory=(),
        node_group=None,
        pdb_min_available=math.nan,
        step_seconds=300.0,
    )
    return findings_of(item, replay=None)  # type: ignore[arg-type]  # history: replay unused


@settings(max_examples=200, deadline=None)
@given(
    replicas=st.lists(
        st.one_of(st.integers(1, 6).map(float), st.just(math.nan)), min_size=2, max_size=60
    ),
    stabilisation=st.sampled_from([0, 300, 600, 900, 3000]),
)
def test_flaps_match_the_loop(replicas, stabilisation) -> None:
    values = np.array(replicas)
    if not np.isfinite(values).any():
        return
    window = max(1, stabilisation // 300 or 1)
    hours = len(values) * 300 / 3600.0
    expected = _flaps_by_loop(values, window) * 24.0 / hours
    assert _findings(values, stabilisation).flaps_per_day == pytest.approx(expected, rel=1e-12)
