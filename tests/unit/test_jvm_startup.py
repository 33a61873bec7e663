"""JVM-aware memory (from Micrometer heap metrics, or a reserved heap without them) and startup CPU.

The ``jvm_memory`` rows follow Micrometer's JvmMemoryMetrics (micrometer-metrics/micrometer,
micrometer-core/src/main/java/io/micrometer/core/instrument/binder/jvm/JvmMemoryMetrics.java at
03ae4d35a3d69d4d69e6d1ba307ce027b12990c5): gauges ``jvm.memory.used`` / ``jvm.memory.max``
(Prometheus ``jvm_memory_used_bytes`` / ``jvm_memory_max_bytes``) tagged ``id`` (the pool) and
``area`` = ``heap`` | ``nonheap``, summed over the pools of an area.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kianax_capacity.model import ResourcePrices
from kianax_capacity.recommenders.rightsizing import recommend_rightsizing
from kianax_capacity.snapshot import Snapshot
from tests.unit.rightsizing_helpers import MIB, START, build_snapshot, container_series

PRICES = ResourcePrices(0.0316, 0.0042)
N = 2 * 288  # two days of 5-minute samples


def _jvm_rows(pod: str, heap_used: np.ndarray, nonheap_used: np.ndarray, container: str = "app"):
    times = START + pd.to_timedelta(np.arange(len(heap_used)) * 300, unit="s")
    frames = [
        pd.DataFrame(
            {
                "timestamp": times,
                "namespace": "kianax",
                "pod": pod,
                "container": container,
                "area": area,
                "used_bytes": used,
                "max_bytes": most,
            }
        )
        for area, used, most in (
            ("heap", heap_used, 512.0 * MIB),  # -Xmx512m: G1 Old Gen's max
            ("nonheap", nonheap_used, np.nan),  # Metaspace reports -1: no max
        )
    ]
    return pd.concat(frames, ignore_index=True)


def _with(snapshot: Snapshot, **tables: pd.DataFrame) -> Snapshot:
    return Snapshot(manifest=snapshot.manifest, tables={**snapshot.tables, **tables})


def _jvm_snapshot(container_label: str = "app") -> Snapshot:
    rng = np.random.default_rng(7)
    heap = 200 * MIB + (np.arange(N) % 24) * (8 * MIB) + rng.normal(0, MIB, N)  # young GC
    nonheap = np.full(N, 100.0 * MIB)
    # Committed heap (~450 MiB) + non-heap + native: flat near 600 MiB, limit 1 GiB.
    working_set = 600 * MIB * (1 + rng.normal(0, 0.005, N))
    usage = container_series(rng.uniform(0.1, 0.2, N), working_set, pod="ledger-1")
    snapshot = build_snapshot(usage, requests={"ledger-1": (0.25, 1.0, 1024.0 * MIB, 1024.0 * MIB)})
    return _with(snapshot, jvm_memory=_jvm_rows("ledger-1", heap, nonheap, container_label))


@pytest.mark.parametrize("label", ["app", ""])
def test_jvm_memory_is_sized_from_heap_max_non_heap_and_overhead(label: str) -> None:
    # A scrape without a container label belongs to the pod's only container.
    (row,) = recommend_rightsizing(_jvm_snapshot(label), default_prices=PRICES)
    # 512 MiB heap max + 100 MiB non-heap + max(10% of 612 MiB, 64 MiB) = 676 MiB, up to the
    # next 16 MiB step: 688 MiB; not the 720 MiB (peak x 1.2) the working set alone would give.
    assert row.recommended.memory_limit == 688 * MIB
    assert row.evidence["jvm_heap_max_bytes"] == 512 * MIB
    assert row.evidence["jvm_nonheap_max_bytes"] == 100 * MIB
    assert row.evidence["jvm_overhead_bytes"] == 64 * MIB
    assert "-Xmx" in row.reason and "MaxRAMPercentage, 74% of this limit" in row.reason
    assert row.recommended.memory_request <= row.recommended.memory_limit


def test_a_jvm_heap_max_above_the_working_set_raises_the_limit_to_what_the_jvm_can_reach() -> None:
    snapshot = _jvm_snapshot()
    jvm = snapshot.table("jvm_memory").copy()
    jvm.loc[jvm["area"] == "heap", "max_bytes"] = 900.0 * MIB  # -Xmx900m on the same usage
    (row,) = recommend_rightsizing(_with(snapshot, jvm_memory=jvm), default_prices=PRICES)
    # 900 + 100 + 100 (10%) = 1100 MiB, up to a 64 MiB step: 1152 MiB, above the 1 GiB limit.
    assert row.recommended.memory_limit == 1152 * MIB


def test_a_flat_working_set_near_the_limit_is_kept_as_a_reserved_heap() -> None:
    rng = np.random.default_rng(3)
    usage = pd.concat(
        [
            container_series(
                rng.uniform(0.1, 0.2, N), 700 * MIB * (1 + rng.normal(0, 0.005, N)), pod="pf-1"
            ),
            container_series(
                rng.uniform(0.1, 0.2, N), 100 * MIB * (1 + rng.normal(0, 0.005, N)), pod="small-1"
            ),
        ]
    )
    snapshot = build_snapshot(
        usage,
        workloads={"pf-1": ("Deployment", "portfolio"), "small-1": ("Deployment", "small")},
        requests={
            "pf-1": (0.25, 0.5, 768.0 * MIB, 1024.0 * MIB),
            "small-1": (0.25, 0.5, 256.0 * MIB, 1024.0 * MIB),
        },
    )
    rows = {r.workload: r for r in recommend_rightsizing(snapshot, default_prices=PRICES)}
    reserved, small = rows["portfolio"], rows["small"]
    assert reserved.recommended.memory_limit == 1024 * MIB  # not cut
    assert reserved.evidence["reserved_heap"] is True
    assert "reserved up front" in reserved.reason and "-Xmx" in reserved.reason
    # Flat too, but at a tenth of its limit: nothing reserved there, the limit is cut.
    assert small.recommended.memory_limit < 1024 * MIB
    assert "reserved_heap" not in small.evidence


def _startup_snapshot() -> Snapshot:
    """One long-lived pod and twenty hour-long ones that each start at 2 cores for two samples."""
    rng = np.random.default_rng(11)
    parts = [container_series(rng.uniform(0.09, 0.1, 300), np.full(300, 100.0 * MIB), pod="w-0")]
    for k in range(1, 21):
        cpu = rng.uniform(0.09, 0.1, 12)
        cpu[:2] = 2.0
        start = START + pd.Timedelta(hours=k)
        parts.append(container_series(cpu, np.full(12, 100.0 * MIB), pod=f"w-{k}", start=start))
    return build_snapshot(pd.concat(parts, ignore_index=True))


def test_startup_minutes_stay_out_of_the_steady_cpu_percentile_and_are_named() -> None:
    (row,) = recommend_rightsizing(_startup_snapshot(), default_prices=PRICES)
    # 40 of 540 samples (7.4%) are starts at 2 cores: left out, the request is the steady 100m.
    assert row.recommended.cpu_request == pytest.approx(0.1)
    assert row.evidence["cpu_startup_peak_cores"] == 2.0
    assert row.evidence["startups"] == 20  # w-0 was running when the window opened
    assert "in-place pod resize" in row.reason and "startup boost" in row.reason


def test_with_no_startup_exclusion_the_same_starts_raise_the_request() -> None:
    from dataclasses import replace

    from kianax_capacity.recommenders.rightsizing import prepare_usage
    from kianax_capacity.recommenders.strategies.kianax import KianaxStrategy

    data = prepare_usage(_startup_snapshot())
    keep = KianaxStrategy(replace(KianaxStrategy.settings_type(), startup_exclusion_minutes=0))
    excluded = KianaxStrategy().compute(data)["cpu_request"].iloc[0]
    included = keep.compute(data)["cpu_request"].iloc[0]
    assert excluded == pytest.approx(0.1, abs=0.001)
    assert included == pytest.approx(2.0)  # the p95 lands on the starts


def test_a_restart_inside_the_pod_is_a_start_too() -> None:
    # One pod up the whole window; its container is OOM-killed and restarted 10 times, and
    # each restart runs at 2 cores for two samples (10 minutes) before settling at ~100m.
    rng = np.random.default_rng(13)
    cpu = rng.uniform(0.09, 0.1, N)
    restarts = [START + pd.Timedelta(hours=4 * k) for k in range(1, 11)]
    for at in restarts:
        step = int((at - START) / pd.Timedelta(seconds=300))
        cpu[step : step + 2] = 2.0
    usage = container_series(cpu, np.full(N, 100.0 * MIB), pod="w-0")
    (row,) = recommend_rightsizing(
        build_snapshot(usage, oom_kills={"w-0": restarts}), default_prices=PRICES
    )
    # The 20 restart samples (3.5%) would set a p95-ish request well above 100m; left out.
    assert row.recommended.cpu_request == pytest.approx(0.1)
    assert row.evidence["cpu_startup_peak_cores"] == 2.0
    assert row.evidence["startups"] == 10  # the pod itself was running when the window opened
    assert "restarts inside a pod included" in row.reason
