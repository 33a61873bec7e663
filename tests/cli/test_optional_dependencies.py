"""The core runs without the optional extras; an optional part names the `pip install` it needs.

Each run is a fresh interpreter in which the extras' packages cannot be imported (a ``None`` in
``sys.modules`` makes ``import boto3`` raise ImportError, exactly as on a machine without it).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.cli

_WITHOUT = (
    "boto3",
    "botocore",
    "plotly",
    "papermill",
    "nbconvert",
    "nbformat",
    "ipykernel",
    "prometheus_client",
)

_RUNNER = f"""
import sys
for name in {_WITHOUT!r}:
    sys.modules[name] = None
from kianax_capacity.cli import main
sys.exit(main(sys.argv[1:]))
"""


def _run(*argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", _RUNNER, *argv],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
        check=False,
    )


@pytest.fixture(scope="module")
def snapshot_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("noextras")
    done = _run("--quiet", "fetch", "--source", "demo", "--window", "3d", "--out", "snap", cwd=work)
    assert done.returncode == 0, done.stderr
    return work


def test_fetch_recommend_and_diff_need_no_extra(snapshot_dir: Path) -> None:
    done = _run("--quiet", "recommend", "snap", "--out", "recs.json", cwd=snapshot_dir)
    assert done.returncode == 0, done.stderr
    assert (snapshot_dir / "recs.json").stat().st_size > 0
    diffed = _run("diff", "recs.json", "recs.json", cwd=snapshot_dir)
    assert diffed.returncode == 0, diffed.stderr
    assert "kianax-capacity" in diffed.stdout


def test_live_aws_prices_name_the_aws_extra(snapshot_dir: Path) -> None:
    done = _run("recommend", "snap", "--prices", "aws", "--out", "aws.json", cwd=snapshot_dir)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "kianax-capacity: error: live AWS prices, billed costs, EC2 node facts and S3 uploads "
        "need the 'boto3' package, which is not installed: pip install 'kianax-capacity[aws]'"
    ]
    assert not (snapshot_dir / "aws.json").exists()


def test_the_report_names_the_report_extra(snapshot_dir: Path) -> None:
    done = _run("report", "--source", "snap", "--out-dir", "reports", cwd=snapshot_dir)
    assert done.returncode == 2, done.stderr
    assert "pip install 'kianax-capacity[report]'" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert "Traceback" not in done.stderr


def test_export_names_the_metrics_extra(snapshot_dir: Path) -> None:
    done = _run("--quiet", "recommend", "snap", "--out", "m.json", cwd=snapshot_dir)
    assert done.returncode == 0, done.stderr
    exported = _run("export", "m.json", "--out", "m.prom", cwd=snapshot_dir)
    assert exported.returncode == 2
    assert exported.stderr.strip().splitlines() == [
        "kianax-capacity: error: recommendations as Prometheus metrics (textfile and Pushgateway) "
        "need the 'prometheus_client' package, which is not installed: "
        "pip install 'kianax-capacity[metrics]'"
    ]
    assert not (snapshot_dir / "m.prom").exists()
