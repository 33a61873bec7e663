"""The per-day cache and ``--shape auto`` against real Prometheus and VictoriaMetrics.

The servers hold the demo's 3 days ending at DEMO_END (a UTC midnight; conftest). A 2-day
window ending a day early is fetched cold into an empty cache, then the window moved by one
day: the shared day comes from the cache, only the new day from the server, and the snapshot
equals a ``--no-cache`` fetch of the moved window table by table (benchmarks/compare_snapshots).
"""

from __future__ import annotations

import json
import shutil
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from kianax_capacity.cli import main
from kianax_capacity.config import PrometheusConfig
from kianax_capacity.snapshot import Snapshot
from kianax_capacity.sources.prometheus import cache as cache_module
from kianax_capacity.sources.prometheus import fetch_prometheus_snapshot
from tests.integration.conftest import DEMO_END, DEMO_STEP_SECONDS, SCALED_CLUSTER, DemoServer
from tests.integration.servers import CountingProxy, VictoriaMetricsServer

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from compare_snapshots import compare

pytestmark = pytest.mark.integration

DAY = timedelta(days=1)


def fetch(
    server: DemoServer,
    out: Path,
    cache: Path | None,
    *,
    end: datetime = DEMO_END,
    days: float = 2,
    step_seconds: int = DEMO_STEP_SECONDS,
    now: datetime | None = None,
    namespace_regex: str | None = None,
    url: str | None = None,
    **config: Any,
) -> Snapshot:
    return fetch_prometheus_snapshot(
        PrometheusConfig(url=url or server.url, **config),
        start=end - timedelta(days=days),
        end=end,
        step_seconds=step_seconds,
        out=out,
        cluster_label=server.cluster_label,
        shape="aggregate",
        cache_dir=cache,
        now=now,
        namespace_regex=namespace_regex,
    )


def cached(snapshot: Snapshot) -> dict[str, Any]:
    stats = snapshot.manifest.extra["prometheus"]["cache"]
    assert stats is not None
    return stats


def entries(cache: Path) -> list[str]:
    return sorted(p.name for p in cache.glob("*/*") if p.is_dir() and not p.name.startswith("."))


def test_a_window_moved_by_a_day_asks_for_one_day_and_equals_a_cold_fetch(
    demo_server: DemoServer, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    cold = fetch(demo_server, tmp_path / "cold", cache, end=DEMO_END - DAY)
    assert cached(cold)["misses"] == 2 and cached(cold)["hits"] == 0
    assert len(entries(cache)) == 2
    warm = fetch(demo_server, tmp_path / "warm", cache)
    reference = fetch(demo_server, tmp_path / "reference", None)
    assert cached(warm)["hits"] == 1 and cached(warm)["misses"] == 1
    assert reference.manifest.extra["prometheus"]["cache"] is None
    assert compare(tmp_path / "warm", tmp_path / "reference") == []

    # Requests: the probes plus the new day's queries, as a cold fetch of that day alone sends
    # (how many a day needs depends on its weekday: the seasons it has steps in); the leak
    # screen's hourly peaks span the window, so every run asks for them.
    def sent(snap: Snapshot) -> int:
        extra = snap.manifest.extra["prometheus"]
        return int(extra["requests"]) - int(extra["leak_screen"]["requests"])

    new_day = fetch(demo_server, tmp_path / "new-day", None, days=1)
    requests = {
        name: sent(snap)
        for name, snap in (("cold", cold), ("warm", warm), ("reference", reference))
    }
    probes = 2  # the scrape interval and the dialect
    assert requests["warm"] == sent(new_day)
    assert requests["warm"] - probes > 30
    assert requests["reference"] - requests["warm"] > 30  # the cached day's queries
    assert len(warm.table("container_stats")) > 30
    # Everything from the cache: only the probes are sent, and the snapshot is the same.
    again = fetch(demo_server, tmp_path / "again", cache)
    assert cached(again)["hits"] == 2
    assert sent(again) == probes
    assert compare(tmp_path / "again", tmp_path / "reference") == []


@pytest.fixture
def vm(victoria_metrics_server: VictoriaMetricsServer) -> DemoServer:
    return DemoServer("victoria-metrics", victoria_metrics_server.url, "cluster")


def test_each_key_invalidates(
    vm: DemoServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Step, selector, config that changes the queries, the templates and the server each miss
    every day; the same fetch again hits every day."""
    cache = tmp_path / "cache"
    assert cached(fetch(vm, tmp_path / "first", cache))["misses"] == 2
    assert cached(fetch(vm, tmp_path / "same", cache))["hits"] == 2
    variants: dict[str, dict[str, Any]] = {
        "step": {"step_seconds": 600},
        "selector": {"namespace_regex": "kianax"},
        "rate window": {"rate_window": "15m"},
        "dialect": {"dialect": "promql"},
        "server": {"url": vm.url.replace("127.0.0.1", "localhost")},
    }
    for name, change in variants.items():
        stats = cached(fetch(vm, tmp_path / name.replace(" ", "-"), cache, **change))
        assert (stats["hits"], stats["misses"]) == (0, 2), name
    monkeypatch.setattr(cache_module, "templates_digest", lambda: "edited templates")
    stats = cached(fetch(vm, tmp_path / "templates", cache))
    assert (stats["hits"], stats["misses"]) == (0, 2)


def test_credentials_are_not_part_of_the_key_nor_written(vm: DemoServer, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    fetch(vm, tmp_path / "plain", cache)
    secret_url = vm.url.replace("http://", "http://alice:s3cret-pass@")
    stats = cached(fetch(vm, tmp_path / "secret", cache, url=secret_url))
    assert stats["hits"] == 2
    for path in cache.rglob("*"):
        if path.is_file():
            assert b"s3cret-pass" not in path.read_bytes(), path


def test_an_unsettled_or_partial_day_is_never_stored(vm: DemoServer, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    # Half an hour after the window's end the last day has not settled: fetched, not stored.
    early = fetch(vm, tmp_path / "early", cache, now=DEMO_END + timedelta(minutes=30))
    assert cached(early) | {"directory": ""} == {
        "directory": "",
        "hits": 0,
        "misses": 1,
        "uncacheable": 1,
        "invalid": 0,
    }
    assert entries(cache) == ["20261121T000000Z-20261122T000000Z"]
    # Two hours after it, the day has settled: fetched (not read from the earlier run) and stored.
    late = fetch(vm, tmp_path / "late", cache, now=DEMO_END + timedelta(hours=2))
    assert (cached(late)["hits"], cached(late)["misses"]) == (1, 1)
    assert len(entries(cache)) == 2
    assert compare(tmp_path / "early", tmp_path / "late") == []
    # A window ending 6 hours before midnight: its partial days are fetched and never stored.
    partial = fetch(vm, tmp_path / "partial", cache, end=DEMO_END - timedelta(hours=6), days=1)
    assert cached(partial)["uncacheable"] == 2 and cached(partial)["hits"] == 0
    assert len(entries(cache)) == 2


def test_a_corrupt_entry_is_ignored_with_a_warning_and_replaced(
    vm: DemoServer, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    fetch(vm, tmp_path / "first", cache)
    newest = Path(sorted(str(p) for p in cache.glob("*/2026*"))[-1])
    (newest / "parts.parquet").write_bytes(b"PAR1 not really")
    second = fetch(vm, tmp_path / "second", cache)
    assert (cached(second)["hits"], cached(second)["misses"], cached(second)["invalid"]) == (
        1,
        1,
        1,
    )
    assert any("cache entry" in w and "ignored" in w for w in second.manifest.warnings)
    assert compare(tmp_path / "first", tmp_path / "second") == []
    third = fetch(vm, tmp_path / "third", cache)
    assert cached(third)["hits"] == 2 and cached(third)["invalid"] == 0
    shutil.rmtree(newest)
    newest.mkdir()
    (newest / "meta.json").write_text("{not json")
    fourth = fetch(vm, tmp_path / "fourth", cache)
    assert cached(fourth)["invalid"] == 1
    assert compare(tmp_path / "first", tmp_path / "fourth") == []


def _cli(*args: str) -> int:
    return main(["--quiet", *args])


def test_cli_cache_flags_and_shape_auto_on_a_small_and_a_big_cluster(
    vm: DemoServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    end = DEMO_END.strftime("%Y-%m-%dT%H:%M:%SZ")
    with CountingProxy(vm.url) as proxy:
        common = ["--prometheus-url", proxy.url, "--cluster-label", "cluster", "--end", end,
                  "--window", "1d", "--ec2-nodes", "off"]  # fmt: skip
        # The demo cluster (~60 containers) under a threshold of 100: series.
        small = tmp_path / "small"
        assert _cli("fetch", "--source", "prometheus", *common, "--cluster", "kianax-production",
                    "--auto-shape-max-containers", "100", "--cache", str(tmp_path / "c"),
                    "--out", str(small)) == 0  # fmt: skip
        # The scale-5 cluster (~220 containers): aggregate, with the cache.
        big = tmp_path / "big"
        sent = len(proxy.requests)
        with caplog.at_level("INFO"):
            assert _cli("fetch", "--source", "prometheus", *common, "--cluster", SCALED_CLUSTER,
                        "--auto-shape-max-containers", "100", "--cache", str(tmp_path / "c"),
                        "--out", str(big)) == 0  # fmt: skip
        big_requests = len(proxy.requests) - sent
        again = tmp_path / "again"
        assert _cli("fetch", "--source", "prometheus", *common, "--cluster", SCALED_CLUSTER,
                    "--auto-shape-max-containers", "100", "--cache", str(tmp_path / "c"),
                    "--out", str(again)) == 0  # fmt: skip
        again_requests = len(proxy.requests) - sent - big_requests
        nocache = tmp_path / "nocache"
        assert _cli("fetch", "--source", "prometheus", *common, "--cluster", SCALED_CLUSTER,
                    "--auto-shape-max-containers", "100", "--no-cache",
                    "--out", str(nocache)) == 0  # fmt: skip
    manifests = {
        name: json.loads((tmp_path / name / "manifest.json").read_text())
        for name in ("small", "big", "again", "nocache")
    }
    prom = {name: m["extra"]["prometheus"] for name, m in manifests.items()}
    assert manifests["small"]["shape"] == "series" and manifests["big"]["shape"] == "aggregate"
    assert prom["small"]["shape_requested"] == "auto"
    small_count = prom["small"]["shape_auto"]["containers"]
    big_count = prom["big"]["shape_auto"]["containers"]
    assert 30 < small_count <= 100 < big_count
    assert prom["big"]["shape_auto"]["max_containers_for_series"] == 100
    # The count went to the progress output too.
    assert any(f"shape auto: {big_count} containers" in r.getMessage() for r in caplog.records)
    assert any("day(s) from the cache" in r.getMessage() for r in caplog.records)
    # Series shape: no per-day cache; aggregate: stored, then read back (probes + count only,
    # and the leak screen's window-wide hourly peaks).
    assert prom["small"]["cache"] is None
    assert (prom["big"]["cache"]["misses"], prom["again"]["cache"]["hits"]) == (1, 1)
    assert again_requests == 3 + prom["again"]["leak_screen"]["requests"] and big_requests > 20
    assert prom["nocache"]["cache"] is None
    assert compare(tmp_path / "again", tmp_path / "nocache") == []


def test_every_request_bypasses_the_servers_response_cache(vm: DemoServer, tmp_path: Path) -> None:
    # VictoriaMetrics answers from its response cache unless a request says nocache=1, and a
    # deployed server has the cache on: on the 1k benchmark cluster it dropped season rows,
    # differently from one fetch to the next (docs/scaling.md). Every request must say so.
    with CountingProxy(vm.url) as proxy:
        fetch(vm, tmp_path / "snap", None, days=1, url=proxy.url)
    queries = [path for _method, path, _headers in proxy.requests if "/api/v1/query" in path]
    assert len(queries) > 30
    assert all("nocache=1" in urlsplit(path).query.split("&") for path in queries)
