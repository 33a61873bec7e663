"""Smoke run of the scale benchmark, so it never rots: 100 containers over 2 days, one run.

Not a performance test: nothing is asserted about timings, only that the benchmark runs end to
end against a real VictoriaMetrics and prints every field of its table and JSON line.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.integration.servers import VICTORIA_METRICS, require_binary

REPO = Path(__file__).resolve().parents[2]

FIELDS = {
    "containers_running",
    "container_series",
    "samples",
    "generate_s",
    "import_s",
    "fetch_s",
    "recommend_s",
    "fetch_plus_recommend_s",
    "fetch_peak_rss_mib",
    "recommend_peak_rss_mib",
    "requests",
    "bytes_received",
    "floor_s",
    "floor_requests",
    "ours_over_floor",
    "fetch_server_cpu_s",
    "floor_server_cpu_s",
    "scan_s",
    "scan_server_cpu_s",
    "scan_samples",
    "container_stats_rows",
    "rightsizing_rows",
    "commit",
    "warm_s",
    "warm_requests",
    "warm_equal_runs",
    "reference_s",
}


def test_benchmark_runs_and_prints_its_fields(tmp_path: Path) -> None:
    require_binary(VICTORIA_METRICS, "victoria-metrics")
    command = [sys.executable, str(REPO / "benchmarks" / "scale.py"), "--containers", "100"]
    command += ["--days", "2", "--runs", "1", "--workdir", str(tmp_path / "bench")]
    done = subprocess.run(
        command,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.strip().splitlines()
    result = json.loads(lines[-1])
    assert result.keys() >= FIELDS
    labels = ("fetch (aggregate)", "recommend", "HTTP requests", "fetch / floor", "import", "scan")
    for label in labels:
        assert any(line.startswith(label) for line in lines), label
    # The fetch's own request count, and the floor replays exactly those requests.
    assert result["requests"] == result["floor_requests"] > 0
    assert result["bytes_received"] > 0
    assert result["container_stats_rows"] > 0
    assert result["rightsizing_rows"] > 0
    assert result["scale"] >= 1
    # The scan floor reads the samples of the metrics the fetch selects: some, never more than
    # were loaded, and of more than the two usage metrics (kube-state-metrics too).
    assert 0 < result["scan_samples"] <= result["samples"]
    assert result["scan_metrics"] > 2
    assert result["fetch_server_cpu_s"] > 0
    # The warm run (window moved by a day) asked for one day of the two, and its snapshot
    # equals a --no-cache fetch of the same window.
    assert result["warm_equal_runs"] == 1
    assert result["warm_cache"]["hits"] == 1 and result["warm_cache"]["misses"] == 1
    # (How many requests a day needs depends on its weekday, so the moved window's reference
    # need not send as many as the cold run.)
    assert result["warm_requests"] < min(result["requests"], result["reference_requests"])
