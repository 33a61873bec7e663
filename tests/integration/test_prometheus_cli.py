"""`kianax-capacity fetch --source prometheus` end to end, as a person runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.servers import FaultServer, PrometheusServer, free_port

pytestmark = [pytest.mark.integration, pytest.mark.cli]

REPO = Path(__file__).resolve().parents[2]


def kianax(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kianax_capacity", *args],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_fetch_from_prometheus_writes_a_snapshot(
    prometheus_server: PrometheusServer, tmp_path: Path
) -> None:
    out = tmp_path / "snap"
    result = kianax(
        "fetch",
        "--source",
        "prometheus",
        "--prometheus-url",
        prometheus_server.url,
        "--window",
        "1d",
        "--end",
        "2026-11-23T00:00:00Z",
        "--step",
        "5m",
        "--namespace",
        "kianax",
        "--shape",
        "aggregate",
        "--out",
        str(out),
    )
    assert result.returncode == 0, result.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["source"] == "prometheus" and manifest["shape"] == "aggregate"
    assert manifest["window"]["end"] == "2026-11-23T00:00:00Z"
    assert manifest["tables"]["container_stats"]["rows"] > 10


@pytest.mark.parametrize("fault", ["refused", "500"])
def test_fetch_failure_is_one_line_exit_1_and_leaves_nothing(
    fault: str, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    out = tmp_path / "snap"
    # Retries without backoff keep the test fast; the flags still carry everything else.
    config = tmp_path_factory.mktemp("config") / "kianax-capacity.toml"
    config.write_text("[prometheus]\nmax_retries = 1\nretry_backoff_seconds = 0.0\n")
    with FaultServer("500") as server:
        url = server.url if fault == "500" else f"http://127.0.0.1:{free_port()}"
        result = kianax(
            "--config",
            str(config),
            "fetch",
            "--source",
            "prometheus",
            "--prometheus-url",
            url,
            "--window",
            "1h",
            "--end",
            "2026-11-23T00:00:00Z",
            "--auth",
            "bearer",
            "--bearer-token-env",
            "TOK",
            "--out",
            str(out),
            env={"TOK": "very-secret-token"},
        )
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert url in lines[0] and "very-secret-token" not in result.stderr
    assert list(tmp_path.iterdir()) == []
