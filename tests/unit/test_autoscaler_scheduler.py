"""The autoscaler replay's vectorised scheduler pick against the plain loop over the nodes.

``_Replay._least_allocated`` scores every node at once on ``_Slots`` (rows in the order nodes
are created, dead rows for removed nodes, compacted now and then). The reference here is the
loop it replaced: walk ``_Replay.nodes`` in order, skip the nodes the pod does not fit, keep the
first with the fewest pods of its workload and then the lowest utilisation. Whole replays on
seeded random churning pods must agree to the node count at every instant.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from kianax_capacity.model import InstanceSpec
from kianax_capacity.recommenders import autoscaler
from kianax_capacity.recommenders.autoscaler import AutoscalerSettings, replay_autoscaler
from kianax_capacity.recommenders.packing import Overhead, eks_allocatable

ALLOCATABLE = eks_allocatable(InstanceSpec("t3.medium", 2, 4 * 1024**3, "amd64", 3, 6))
START = pd.Timestamp("2026-11-02T00:00:00Z")
TIMES = pd.date_range(START, periods=72, freq="5min")
MIB = 1024**2


class _LoopReplay(autoscaler._Replay):
    def _least_allocated(self, pod: int) -> autoscaler._Node | None:
        key = self.keys[pod]
        best, rank = None, (math.inf, math.inf)
        for node in self.nodes:
            if not self._fits(node, pod):
                continue
            score = (node.by_workload.get(key, 0), self._utilisation(node))
            if score < rank:
                best, rank = node, score
        return best


def _random_pods(seed: int, count: int = 120) -> pd.DataFrame:
    """Pods of six workloads arriving and leaving over six hours (a replay with scale-ups,
    scale-downs and so dead rows to compact)."""
    rng = np.random.default_rng(seed)
    first = rng.integers(0, 70, count)
    last = np.minimum(first + rng.integers(1, 40, count), len(TIMES) - 1)
    return pd.DataFrame(
        {
            "namespace": ["app"] * count,
            "workload": [f"w{w}" for w in rng.integers(0, 6, count)],
            "cpu": rng.choice([0.05, 0.1, 0.25, 0.5, 0.9, 1.5], count),
            "memory": rng.choice([64, 128, 256, 512, 1024], count) * MIB,
            "first_seen": TIMES[first],
            "last_seen": TIMES[last],
        }
    )


@pytest.mark.parametrize("spare_rows", [0, 64])
@pytest.mark.parametrize("seed", range(40))
def test_vectorised_pick_replays_as_the_loop(seed: int, spare_rows: int) -> None:
    pods = _random_pods(seed)
    run = AutoscalerSettings(
        min_size=seed % 3,
        max_size=40,
        scale_down_unneeded_seconds=300.0,
        scale_down_delay_after_add_seconds=300.0,
    )
    overhead = Overhead(cpu_cores=0.1, memory_bytes=100 * MIB, pods=2)
    with pytest.MonkeyPatch.context() as patch:
        # 0 spare rows: compacted as soon as the dead rows outnumber the live ones
        patch.setattr(autoscaler._Slots, "SPARE_ROWS", spare_rows)
        vectorised = replay_autoscaler(pods, TIMES, ALLOCATABLE, overhead, run)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(autoscaler, "_Replay", _LoopReplay)
        looped = replay_autoscaler(pods, TIMES, ALLOCATABLE, overhead, run)
    assert looped.scale_downs > 0  # the case removes nodes, so rows die and get compacted
    np.testing.assert_array_equal(vectorised.nodes, looped.nodes)
    assert vectorised.pending_pod_minutes == looped.pending_pod_minutes
    assert (vectorised.scale_ups, vectorised.scale_downs) == (looped.scale_ups, looped.scale_downs)
