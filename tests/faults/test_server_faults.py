"""Server faults in the middle of a fetch, injected by the fault proxy in front of a real Prometheus.

Two outcomes only: the retries absorb the fault and the snapshot is identical, table for table,
to a fault-free one; or the retries run out, the CLI prints one line and exits 1, and the
snapshot already at ``--out`` is untouched (no partial snapshot, no temporary folder left).
"""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from kianax_capacity.config import PrometheusConfig
from kianax_capacity.snapshot import Snapshot, load_snapshot
from kianax_capacity.sources.prometheus import fetch_prometheus_snapshot
from tests.faults.conftest import DEMO_END, DEMO_STEP_SECONDS, FETCH_START, RestartablePrometheus
from tests.faults.helpers import assert_one_line_error, run_cli, tree_digest
from tests.faults.proxy import FaultProxy

pytestmark = [pytest.mark.faults, pytest.mark.integration]


def prom_config(url: str, **changes: object) -> PrometheusConfig:
    values: dict[str, object] = {
        "url": url,
        "timeout_seconds": 5.0,
        "max_retries": 2,
        "retry_backoff_seconds": 0.0,
        "concurrency": 4,
    }
    values.update(changes)
    return PrometheusConfig(**values)  # type: ignore[arg-type]


def fetch(url: str, out: Path, **changes: object) -> Snapshot:
    return fetch_prometheus_snapshot(
        prom_config(url, **changes),
        start=FETCH_START,
        end=DEMO_END,
        step_seconds=DEMO_STEP_SECONDS,
        out=out,
        environ={},
    )


@pytest.fixture(scope="module")
def baseline(
    session_proxy: FaultProxy, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, Snapshot]:
    """A fault-free fetch through the proxy: what every recovered fetch must equal."""
    session_proxy.reset()
    out = tmp_path_factory.mktemp("baseline") / "snapshot"
    fetch(session_proxy.url, out)
    assert session_proxy.faults() == 0
    return out, load_snapshot(out)


def assert_same_snapshot(folder: Path, baseline: tuple[Path, Snapshot]) -> None:
    expected_folder, expected = baseline
    got = load_snapshot(folder)
    assert set(got.tables) == set(expected.tables)
    assert not expected.tables["usage"].empty and not expected.tables["containers"].empty
    for name, frame in expected.tables.items():
        pd.testing.assert_frame_equal(got.tables[name], frame, check_exact=True, obj=name)
    manifest_got = json.loads((folder / "manifest.json").read_text())
    manifest_expected = json.loads((expected_folder / "manifest.json").read_text())
    for manifest in (manifest_got, manifest_expected):
        manifest.pop("created_at")
        manifest["extra"]["prometheus"].pop(
            "requests"
        )  # retries add requests; nothing else may differ
    assert manifest_got == manifest_expected


@pytest.mark.parametrize("mode", ["reset", "drop", "500", "502", "503", "429"])
def test_each_query_failing_once_is_retried_to_an_identical_snapshot(
    mode: str, proxy: FaultProxy, baseline: tuple[Path, Snapshot], tmp_path: Path
) -> None:
    proxy.inject(mode, per_query=True)
    fetch(proxy.url, tmp_path / "snapshot")
    queries = {s.path for s in proxy.seen}
    assert proxy.faults() == len(queries) > 10  # every distinct query failed once
    assert_same_snapshot(tmp_path / "snapshot", baseline)


def test_answers_slower_than_the_timeout_are_retried_to_an_identical_snapshot(
    proxy: FaultProxy, baseline: tuple[Path, Snapshot], tmp_path: Path
) -> None:
    proxy.inject("slow", times=2)  # at most max_retries faults can hit any one query
    fetch(proxy.url, tmp_path / "snapshot", timeout_seconds=0.4)
    assert proxy.faults() == 2
    assert_same_snapshot(tmp_path / "snapshot", baseline)


def test_retry_after_is_honoured(
    proxy: FaultProxy, baseline: tuple[Path, Snapshot], tmp_path: Path
) -> None:
    proxy.retry_after = "1"
    proxy.inject("429", times=1)
    fetch(proxy.url, tmp_path / "snapshot", concurrency=1)
    first, second = proxy.seen[0], proxy.seen[1]
    assert first.fault == "429" and second.fault is None and first.path == second.path
    assert second.at - first.at >= 0.9  # waited for Retry-After: 1 before asking again
    assert_same_snapshot(tmp_path / "snapshot", baseline)


def test_connections_dropped_for_a_while_then_recovering(
    proxy: FaultProxy, baseline: tuple[Path, Snapshot], tmp_path: Path
) -> None:
    proxy.inject("drop", times=2)
    fetch(proxy.url, tmp_path / "snapshot", concurrency=1)
    assert [s.fault for s in proxy.seen[:3]] == ["drop", "drop", None]
    assert_same_snapshot(tmp_path / "snapshot", baseline)


def test_prometheus_killed_and_restarted_during_a_fetch(
    proxy: FaultProxy,
    fault_prometheus: RestartablePrometheus,
    baseline: tuple[Path, Snapshot],
    tmp_path: Path,
) -> None:
    restarted = threading.Thread(target=fault_prometheus.start)

    def kill_on_fifth(number: int) -> None:
        if number == 5:
            fault_prometheus.kill()  # SIGKILL while queries are in flight
            restarted.start()  # a real restart on the same port and data, as systemd would

    proxy.on_request = kill_on_fifth
    # Backoff 0.1 s doubling to 0.8 s: eight retries cover a restart of a few seconds.
    fetch(proxy.url, tmp_path / "snapshot", max_retries=8, retry_backoff_seconds=0.1)
    restarted.join()
    assert proxy.upstream_down >= 1  # some queries really met the dead server
    assert_same_snapshot(tmp_path / "snapshot", baseline)


def _kill_on_third(prometheus: RestartablePrometheus) -> Callable[[int], None]:
    def hook(number: int) -> None:
        if number == 3:
            prometheus.kill()

    return hook


PERSISTENT = {
    "reset": "connection reset",
    "500": "HTTP 500 after 3 attempts",
    "502": "HTTP 502 after 3 attempts",
    "503": "HTTP 503 after 3 attempts",
    "429": "429 Too Many Requests after 3 attempts",
    "slow": "did not answer",
    "truncated": "truncated",
    "not_json": "not Prometheus API JSON",
    "killed": "HTTP 502 after 3 attempts",
}


@pytest.mark.parametrize("mode", list(PERSISTENT))
def test_a_fault_that_lasts_fails_in_one_line_and_keeps_the_previous_snapshot(
    mode: str,
    proxy: FaultProxy,
    fault_prometheus: RestartablePrometheus,
    baseline: tuple[Path, Snapshot],
    tmp_path: Path,
) -> None:
    out = tmp_path / "snapshots" / "current"
    shutil.copytree(baseline[0], out)  # last week's good snapshot
    before = tree_digest(out.parent)
    config = tmp_path / "kianax-capacity.toml"
    config.write_text(
        "[prometheus]\nmax_retries = 2\nretry_backoff_seconds = 0.0\ntimeout_seconds = 0.5\n"
        "concurrency = 2\n"
    )
    if mode == "killed":
        proxy.on_request = _kill_on_third(fault_prometheus)  # and never restarted
    else:
        proxy.inject(mode)
    result = run_cli(
        "--config",
        str(config),
        "fetch",
        "--source",
        "prometheus",
        "--prometheus-url",
        proxy.url,
        "--end",
        DEMO_END.isoformat(),
        "--window",
        "2h",
        "--out",
        str(out),
    )
    assert_one_line_error(result, 1, PERSISTENT[mode], proxy.url)
    assert tree_digest(out.parent) == before  # no partial snapshot, no temporary folder
    # Bounded: each query in flight (2 workers, plus one a worker may pick up before the
    # failure cancels the rest) was tried 3 times, no more.
    failed = proxy.faults() + proxy.upstream_down
    assert 1 <= failed <= 3 * (2 + 1)  # body faults (truncated, not JSON) are not retried
