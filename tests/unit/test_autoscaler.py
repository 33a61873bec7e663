"""The cluster-autoscaler replay on hand-built demand, and on the demo's general-ng."""

from __future__ import annotations

import importlib
import math

import numpy as np
import pandas as pd
import pytest

from kianax_capacity.model import InstanceSpec
from kianax_capacity.prices import embedded_catalog
from kianax_capacity.recommenders.autoscaler import AutoscalerSettings, replay_autoscaler
from kianax_capacity.recommenders.nodegroups import recommend_nodegroups
from kianax_capacity.recommenders.packing import Overhead, eks_allocatable
from kianax_capacity.snapshot import Snapshot

# t3.medium on the EKS AMI: 1.93 cores, 3554 MiB, 17 pods allocatable.
ALLOCATABLE = eks_allocatable(InstanceSpec("t3.medium", 2, 4 * 1024**3, "amd64", 3, 6))
START = pd.Timestamp("2026-11-02T00:00:00Z")
TIMES = pd.date_range(START, periods=12 * 6, freq="5min")  # six hours at 5-minute steps
MIB = 1024**2


def _pods(rows: list[tuple[str, float, str, str]]) -> pd.DataFrame:
    """(workload, cpu, first, last) -> the pod table the replay reads."""
    return pd.DataFrame(
        {
            "namespace": ["app"] * len(rows),
            "workload": [r[0] for r in rows],
            "cpu": [r[1] for r in rows],
            "memory": [256 * MIB] * len(rows),
            "first_seen": pd.to_datetime([r[2] for r in rows], utc=True),
            "last_seen": pd.to_datetime([r[3] for r in rows], utc=True),
        }
    )


END = "2026-11-02T05:55:00Z"


def test_pending_pods_scale_up_and_wait_for_the_new_node() -> None:
    """Two 1.5-core pods from 01:00: each needs a node of its own (1.93 cores).

    min 1: the first fits the empty minimum node, the second is pending and gets a new node
    at once; it waits the node's 120 s boot: 2 pending-pod minutes.
    """
    pods = _pods([("big", 1.5, "2026-11-02T01:00:00Z", END)] * 2)
    result = replay_autoscaler(
        pods, TIMES, ALLOCATABLE, Overhead(), AutoscalerSettings(min_size=1, max_size=5)
    )
    before = pd.Timestamp("2026-11-02T01:00:00Z") > TIMES
    assert set(result.nodes[before]) == {1.0}
    assert set(result.nodes[~before]) == {2.0}
    assert result.scale_ups == 1
    assert result.pending_pod_minutes == pytest.approx(2.0)


def test_max_size_leaves_pods_pending_for_the_steps_they_wait() -> None:
    """Three 1.5-core pods for one hour (12 steps) with max 2: the third waits all 12 steps."""
    pods = _pods([("big", 1.5, "2026-11-02T01:00:00Z", "2026-11-02T01:55:00Z")] * 3)
    result = replay_autoscaler(
        pods, TIMES, ALLOCATABLE, Overhead(), AutoscalerSettings(min_size=1, max_size=2)
    )
    assert result.nodes.max() == 2
    # One pod on the new node waits its boot (2 min); the third 12 steps x 5 min.
    assert result.pending_pod_minutes == pytest.approx(2.0 + 12 * 5)


def test_scale_down_only_after_the_node_stays_under_threshold_for_the_delay() -> None:
    """Load on two nodes until 02:00, then on one: the spare node goes after 10 + 10 minutes.

    The emptied node is under 50% from 02:00; it must stay so for the 10-minute unneeded time
    (02:10), and the scale-up that added it at 01:00 is long past its 10-minute delay, so it is
    removed at 02:10, not at 02:00 or 02:05.
    """
    pods = _pods(
        [
            ("steady", 1.5, "2026-11-02T00:00:00Z", END),
            ("burst", 1.5, "2026-11-02T01:00:00Z", "2026-11-02T01:55:00Z"),
        ]
    )
    result = replay_autoscaler(
        pods, TIMES, ALLOCATABLE, Overhead(), AutoscalerSettings(min_size=1, max_size=5)
    )
    at = {t.strftime("%H:%M"): n for t, n in zip(TIMES, result.nodes, strict=True)}
    assert (at["01:55"], at["02:00"], at["02:05"], at["02:10"]) == (2, 2, 2, 1)
    assert result.scale_downs == 1
    shorter = replay_autoscaler(
        pods,
        TIMES,
        ALLOCATABLE,
        Overhead(),
        AutoscalerSettings(min_size=1, max_size=5, scale_down_unneeded_seconds=300),
    )
    at = {t.strftime("%H:%M"): n for t, n in zip(TIMES, shorter.nodes, strict=True)}
    assert (at["02:00"], at["02:05"]) == (2, 1)


def test_a_node_over_the_threshold_is_kept_even_when_its_pods_would_fit_elsewhere() -> None:
    """Two nodes at 0.6 and 0.3 cores of 1.93: only the second is under 50% and goes."""
    pods = _pods(
        [
            ("a", 1.2, "2026-11-02T00:00:00Z", END),
            ("b", 1.2, "2026-11-02T00:00:00Z", "2026-11-02T00:30:00Z"),
            ("c", 0.5, "2026-11-02T00:00:00Z", END),
        ]
    )
    result = replay_autoscaler(
        pods, TIMES, ALLOCATABLE, Overhead(), AutoscalerSettings(min_size=1, max_size=5)
    )
    assert result.nodes[0] == 2
    assert result.nodes[-1] == 1  # c moved onto a's node (1.7 cores fit 1.93)


def test_a_pdb_blocks_the_eviction_and_keeps_the_node() -> None:
    """A spare node whose one pod belongs to a workload with minAvailable 1 and one replica.

    a (1.2 cores) and filler (1.0) need two nodes; solo (0.3) arrives next and goes to the
    less allocated filler node. When filler ends, that node is at 0.3 / 1.93 < 50% and solo
    would fit beside a: without a PDB the node goes, with it the eviction is blocked.
    """
    pods = _pods(
        [
            ("a", 1.2, "2026-11-02T00:00:00Z", END),
            ("filler", 1.0, "2026-11-02T00:00:00Z", "2026-11-02T00:30:00Z"),
            ("solo", 0.3, "2026-11-02T00:05:00Z", END),
        ]
    )
    settings = AutoscalerSettings(min_size=1, max_size=5)
    free = replay_autoscaler(pods, TIMES, ALLOCATABLE, Overhead(), settings)
    held = replay_autoscaler(
        pods,
        TIMES,
        ALLOCATABLE,
        Overhead(),
        settings,
        pdb_budgets={("app", "solo"): (1.0, math.nan)},
    )
    assert free.nodes[-1] == 1
    assert held.nodes[-1] == 2
    assert held.scale_downs_blocked_by_pdb > 0


def test_min_size_is_kept_with_no_pods() -> None:
    result = replay_autoscaler(
        _pods([]), TIMES, ALLOCATABLE, Overhead(), AutoscalerSettings(min_size=2, max_size=5)
    )
    assert set(result.nodes) == {2.0}
    assert result.node_hours == pytest.approx(2 * 6)


def test_the_demo_general_ng_replay_reproduces_the_observed_node_hours(
    demo_snapshot: Snapshot,
) -> None:
    # Replayed within the bounds the group was seen to keep (the demo gives some services
    # general-ng nodes of their own, past the platform's declared 2-5).
    rows = recommend_nodegroups(demo_snapshot, embedded_catalog())
    general = {r.name: r for r in rows}["general-ng"]
    current = general.extra["autoscaler"]["current"]  # type: ignore[index]
    assert current["node_hours_observed"] > 0
    error = abs(current["node_hours_replayed"] - current["node_hours_observed"])
    assert error / current["node_hours_observed"] < 0.10
    assert abs(current["error_percent"]) < 10
    assert np.isfinite(current["pending_pod_minutes"])
    assert "autoscaler replayed" in general.reason


def test_past_the_replay_budget_node_counts_stay_packings_and_the_row_says_so(
    demo_snapshot: Snapshot, monkeypatch: pytest.MonkeyPatch
) -> None:
    # kianax_capacity.recommenders is also the package's recommend() function: import by path.
    choice = importlib.import_module("kianax_capacity.recommenders.nodegroup_choice")
    monkeypatch.setattr(choice, "_REPLAY_BUDGET", 0)
    rows = recommend_nodegroups(demo_snapshot, embedded_catalog())
    general = {r.name: r for r in rows}["general-ng"]
    evidence = general.extra["autoscaler"]
    assert evidence["replayed"] is False  # type: ignore[index]
    assert "past the replay's budget" in evidence["note"]  # type: ignore[index]
    assert all(c["nodes_from"] == "packing" for c in general.extra["candidates"])  # type: ignore[union-attr]
    assert "autoscaler replayed" not in general.reason
