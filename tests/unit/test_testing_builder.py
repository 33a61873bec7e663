"""The shipped snapshot builder makes snapshots that keep the contract a fetched one keeps."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from kianax_capacity.snapshot import TABLE_COLUMNS, load_snapshot
from kianax_capacity.testing import SnapshotBuilder
from kianax_capacity.units import MIB

START = datetime(2026, 11, 2, tzinfo=UTC)


def _one_pod() -> SnapshotBuilder:
    build = SnapshotBuilder(start=START, days=1, step_seconds=3600)
    build.node("node-a")
    build.workload("kianax", "Deployment", "web", pdb_min_available=1)
    build.pod("kianax", "web-0", workload="web")
    build.container("kianax", "web-0", cpu_request_cores=0.25, memory_request_bytes=256 * MIB)
    return build


def test_a_scalar_usage_is_one_sample_per_step_of_the_window() -> None:
    build = _one_pod()
    build.usage("kianax", "web-0", cpu_cores=0.1, memory_bytes=100 * MIB)
    usage = build.snapshot().table("usage")
    assert len(usage) == 25  # 24 hours, both ends included
    assert usage["timestamp"].iloc[-1] == START + timedelta(days=1)
    assert (usage["cpu_cores"] == 0.1).all()
    assert usage["cpu_throttled_ratio"].isna().all()


def test_a_series_starts_at_the_window_start() -> None:
    build = _one_pod()
    build.usage("kianax", "web-0", cpu_cores=np.arange(5.0), memory_bytes=np.full(5, 1.0))
    usage = build.snapshot().table("usage")
    assert list(usage["cpu_cores"]) == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert usage["timestamp"].iloc[4] == START + timedelta(hours=4)


def test_columns_not_given_take_the_contract_s_unset_value() -> None:
    snapshot = _one_pod().snapshot()
    containers = snapshot.table("containers")
    assert list(containers.columns) == list(TABLE_COLUMNS["containers"])
    assert math.isnan(containers["cpu_limit_cores"].iloc[0])
    workloads = snapshot.table("workloads")
    assert math.isnan(workloads["pdb_max_unavailable"].iloc[0])
    assert not workloads["has_pvc"].iloc[0]


def test_a_misspelt_column_is_an_error_not_a_silent_default() -> None:
    build = _one_pod()
    with pytest.raises(KeyError, match="cpu_request"):
        build.row("containers", namespace="kianax", pod="web-0", container="x", cpu_request=1.0)


def test_a_built_snapshot_survives_a_write_and_a_validated_load(tmp_path: Path) -> None:
    build = _one_pod()
    build.usage("kianax", "web-0", cpu_cores=0.1, memory_bytes=100 * MIB)
    build.termination("kianax", "web-0", "app", START + timedelta(hours=3))
    snapshot = build.snapshot()
    snapshot.write(tmp_path / "snap")
    loaded = load_snapshot(tmp_path / "snap")
    assert loaded.manifest.tables == snapshot.manifest.tables
    assert loaded.table("terminations")["reason"].tolist() == ["OOMKilled"]
