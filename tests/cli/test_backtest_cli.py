"""``kianax-capacity backtest`` end to end on a small snapshot written to disk."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from kianax_capacity.snapshot import write_snapshot
from tests.unit.rightsizing_helpers import MIB, build_snapshot, container_series

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.cli


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-m", "kianax_capacity", "--quiet", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def snapshot_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    hours = 73
    cpu = np.r_[np.full(48, 0.2), np.full(21, 0.1), np.full(4, 0.5)]
    memory = np.r_[np.full(72, 100.0 * MIB), [130.0 * MIB]]
    snapshot = build_snapshot(
        container_series(cpu, memory, step_seconds=3600)[:hours], step_seconds=3600
    )
    path = tmp_path_factory.mktemp("snap") / "snapshot"
    manifest = snapshot.manifest
    write_snapshot(
        path,
        snapshot.tables,
        cluster=manifest.cluster,
        window_start=manifest.window_start,
        window_end=manifest.window_end,
        step_seconds=manifest.step_seconds,
        source="test",
        created_at=manifest.created_at,
    )
    return path


def test_backtest_json(snapshot_dir: Path) -> None:
    done = run_cli(
        "backtest", str(snapshot_dir), "--train-days", "2", "--test-days", "1", "--format", "json"
    )
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    scores = {s["strategy"]: s for s in data["scores"]}
    assert set(scores) == {"current", "krr-simple", "vpa", "kianax"}
    assert scores["krr-simple"]["cpu_under_request_rate"] == pytest.approx(4 / 25, abs=1e-5)
    assert scores["krr-simple"]["memory_oom_risk_containers"] == 1
    assert data["train_window"]["end"] == data["test_window"]["start"]


def test_backtest_table_with_chosen_strategies(snapshot_dir: Path) -> None:
    done = run_cli(
        "backtest",
        str(snapshot_dir),
        "--train-days",
        "2",
        "--test-days",
        "1",
        "--strategies",
        "kianax,vpa",
    )
    assert done.returncode == 0, done.stderr
    assert "kianax" in done.stdout and "vpa" in done.stdout and "krr-simple" not in done.stdout
    assert "cost $/mo" in done.stdout


def test_backtest_errors_are_one_line(snapshot_dir: Path) -> None:
    unknown = run_cli("backtest", str(snapshot_dir), "--strategies", "kianax,nope")
    assert unknown.returncode == 2
    assert unknown.stderr.strip() == (
        "kianax-capacity: error: unknown right-sizing strategy 'nope'; choose one of kianax, krr-simple, vpa"
    )
    short = run_cli("backtest", str(snapshot_dir))
    assert short.returncode == 2
    assert "need 21" in short.stderr and len(short.stderr.strip().splitlines()) == 1
    assert "but --train-days 14 + --test-days 7 need 21" in short.stderr  # flags, not `train_days`
    missing = run_cli("backtest", str(snapshot_dir.parent / "nowhere"))
    assert missing.returncode == 2
    # The library names its parameter (test_days); the CLI shows it under the flag.
    zero = run_cli("backtest", str(snapshot_dir), "--test-days", "0")
    assert zero.returncode == 2
    assert zero.stderr.strip() == (
        "kianax-capacity: error: --test-days: must be a positive number of days"
    )


def test_backtest_markdown(snapshot_dir: Path) -> None:
    done = run_cli(
        "backtest",
        str(snapshot_dir),
        "--train-days",
        "2",
        "--test-days",
        "1",
        "--format",
        "markdown",
    )
    assert done.returncode == 0, done.stderr
    assert "| strategy | cost $/month |" in done.stdout
    assert "| krr-simple |" in done.stdout and "16.00%" in done.stdout


def test_backtest_rolling_reports_each_strategy_across_origins(snapshot_dir: Path) -> None:
    # 73 hourly samples with 1-day test windows: origins at day 2 (train 1 day) and day 3
    # (train 2 days) - the last day's test window ends at the snapshot's end.
    done = run_cli(
        "backtest", str(snapshot_dir), "--rolling", "--test-days", "1", "--format", "json"
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert len(report["origins"]) == 2
    assert set(report["spread"]) == {"current", "krr-simple", "vpa", "kianax"}
    cost = report["spread"]["kianax"]["monthly_cost_usd"]
    assert cost["min"] <= cost["median"] <= cost["max"]
    assert report["spread"]["kianax"]["origins"] == 2
    text = run_cli("backtest", str(snapshot_dir), "--rolling", "--test-days", "1")
    assert text.returncode == 0 and "Rolling origins (2)" in text.stdout


def test_backtest_rolling_refuses_a_window_with_one_test_period(snapshot_dir: Path) -> None:
    done = run_cli("backtest", str(snapshot_dir), "--rolling", "--test-days", "2")
    assert done.returncode == 2
    assert "rolling origins need at least two test windows" in done.stderr
