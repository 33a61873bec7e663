"""Reports under contention and on a full disk.

Two ``report`` runs for the same week: the first is frozen (SIGSTOP) while it holds the week's
lock, so the second really arrives during the first, deterministically; it must refuse in one
line, and once the first resumes the week holds one complete report. Then that report sits on
a disk too small for another: a new run fails in one line and the old report is untouched.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kianax_capacity.snapshot import write_snapshot
from kianax_capacity.sources.demo import generate_demo_snapshot
from tests.faults.helpers import REPO, assert_one_line_error, run_cli, tree_digest
from tests.faults.test_user_input import small_disk

pytestmark = [pytest.mark.faults, pytest.mark.slow]

WEEK = "2026-W48"


@pytest.fixture(scope="module")
def snapshot_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    snapshot = generate_demo_snapshot(days=0.5)
    folder = tmp_path_factory.mktemp("report-faults") / "snapshot"
    write_snapshot(
        folder,
        snapshot.tables,
        cluster=snapshot.cluster,
        window_start=snapshot.manifest.window_start,
        window_end=snapshot.manifest.window_end,
        step_seconds=snapshot.step_seconds,
        source="demo",
    )
    return folder


def report_args(snapshot: Path, out_dir: Path, *extra: str) -> list[str]:
    return [
        "-q", "report", "--source", str(snapshot), "--out-dir", str(out_dir),
        "--week", WEEK, "--notebooks", "weekly_report", *extra,
    ]  # fmt: skip


def assert_complete(week: Path) -> None:
    names = sorted(p.name for p in week.iterdir())
    assert names == ["index.html", "recommendations.json", "snapshot", "weekly_report.html"]
    assert (week / "snapshot" / "manifest.json").is_file()
    assert (week / "weekly_report.html").read_text().rstrip().endswith("</html>")
    assert not [p for p in week.parent.iterdir() if p.name.startswith(".") and "lock" not in p.name]


def without_locks(digest: dict[str, str]) -> dict[str, str]:
    return {path: value for path, value in digest.items() if not path.endswith(".lock")}


@pytest.fixture(scope="module")
def contended(
    snapshot_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, dict[str, object]]:
    """Run the contention scenario once; the reports folder and what each run did."""
    out_dir = tmp_path_factory.mktemp("contended") / "reports"
    lock = out_dir / "kianax-production" / f".{WEEK}.lock"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    first = subprocess.Popen(
        [sys.executable, "-m", "kianax_capacity", *report_args(snapshot_dir, out_dir)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while not (lock.is_file() and f"pid {first.pid} " in lock.read_text()):
            assert first.poll() is None, first.communicate()
            assert time.monotonic() < deadline, "the first run never took the lock"
            time.sleep(0.02)  # polling for a state, not timing the test
        first.send_signal(signal.SIGSTOP)  # frozen while it holds the week's lock
        frozen_midway = first.poll() is None and not (out_dir / "kianax-production" / WEEK).exists()
        second = run_cli(*report_args(snapshot_dir, out_dir))
    finally:
        first.send_signal(signal.SIGCONT)
    _stdout, stderr = first.communicate(timeout=300)
    return out_dir, {
        "frozen_midway": frozen_midway,
        "second": second,
        "first_code": first.returncode,
        "first_stderr": stderr,
    }


def test_a_second_report_for_the_same_week_refuses_while_the_first_runs(
    contended: tuple[Path, dict[str, object]],
) -> None:
    out_dir, runs = contended
    assert runs["frozen_midway"]  # the second run really met a run in progress
    second = runs["second"]
    assert isinstance(second, subprocess.CompletedProcess)
    assert_one_line_error(
        second, 2, f"kianax-production/{WEEK} is being built by pid", "--lock-timeout"
    )
    assert runs["first_code"] == 0, runs["first_stderr"]
    assert_complete(out_dir / "kianax-production" / WEEK)


def test_a_full_disk_keeps_the_previous_report(
    contended: tuple[Path, dict[str, object]], snapshot_dir: Path, tmp_path: Path
) -> None:
    reports, _runs = contended
    size = sum(p.stat().st_size for p in reports.rglob("*") if p.is_file())
    disk = tmp_path / "disk"
    with small_disk(disk, f"{size // 1024 + 1024}k") as extra:
        shutil.copytree(reports, disk / "reports")
        before = without_locks(tree_digest(disk))
        result = subprocess.run(
            [sys.executable, "-m", "kianax_capacity", *report_args(snapshot_dir, disk / "reports")],
            capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)},
            check=False, **extra,  # type: ignore[arg-type]
        )  # fmt: skip
        assert_one_line_error(result, 1, "cannot write the report", "previous report is unchanged")
        assert without_locks(tree_digest(disk)) == before  # the lock file only names the new pid
        assert_complete(disk / "reports" / "kianax-production" / WEEK)
