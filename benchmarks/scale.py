#!/usr/bin/env python
"""Scale benchmark: N containers over D days, fetched (aggregate shape) and recommended.

    python benchmarks/scale.py --containers 10000 --days 14 [--step 5m] [--runs 3]
        [--shape aggregate] [--keep] [--workdir DIR] [--concurrency 4]

1. **generate**: simulate the demo cluster at the ``--scale`` that gives about N containers
   (N = containers running at once, averaged over the window; the mapping is measured on
   scales 1 and 2 of the same window and printed).
2. **import**: stream the cluster as VictoriaMetrics JSON lines (the same series and samples as
   the Prometheus text export, a tenth of the bytes) into a local VictoriaMetrics on 127.0.0.1
   (``/api/v1/import``), then ``/internal/force_flush``. Nothing holds the serialised body.
3. **fetch**: ``kianax-capacity fetch --source prometheus --shape aggregate`` as a child process.
4. **recommend**: ``kianax-capacity recommend`` on that snapshot, as a child process.
5. **floor**: the very requests the fetch sent (same PromQL, same times, same concurrency), sent
   bare on one ``requests`` session, bodies read and dropped: what the server and the wire cost.
   ``fetch / floor`` is our overhead.
6. **scan floor** (once, after the runs): every metric the fetch reads, counted over the whole
   window with ``sum(count_over_time(metric[window]))``, one request per metric: the server
   reading each sample the fetch needs exactly once, with the cheapest rollup and a one-number
   answer. No query design can cost the server less; it bounds what any fetch can reach on
   this machine.

The server's CPU time (user + system, from ``/proc/<pid>/stat``) is read around the fetch, the
floor and the scan, so the table shows how the machine's cores were shared.

7. **warm** (``--warm``, the default): the server holds one day more than the window; the cold
   fetch of step 3 reads the window ending a day before the data's end into an empty per-day
   cache (``fetch --cache``), then the **warm** fetch reads the window moved by one day with that
   cache (the server is asked for the new day only), and a **reference** fetch reads the same
   moved window with ``--no-cache``: the warm snapshot must equal it table by table
   (``compare_snapshots.py``). Wall time, peak RSS and requests of warm and cold are printed.

``--server-cache`` runs VictoriaMetrics as it is deployed, with its response (rollup result)
cache, emptied (``/internal/resetRollupResultCache``) before every fetch, floor and scan. Every
request says ``nocache=1`` (as the fetch's own do), so this checks that a deployed server gives
the same snapshots at the same cost. Off by default (``-search.disableCache``).

Each child's peak RSS and CPU time come from ``os.wait4`` (the kernel's rusage of that child).
Steps 3-5 repeat ``--runs`` times; the table shows medians, and the last line is the same as
JSON. ``--keep`` keeps the VictoriaMetrics data in ``--workdir`` and reuses it on the next run
with the same scale, days and step (generate and import then print as cached).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import pandas as pd  # noqa: E402
import requests  # noqa: E402

from kianax_capacity.sources.demo import (  # noqa: E402
    DEFAULT_END,
    DemoCluster,
    simulate_demo_cluster,
)
from kianax_capacity.sources.openmetrics import write_victoriametrics_jsonl  # noqa: E402
from kianax_capacity.sources.prometheus import QueryPlan, TimeGrid, plan_queries  # noqa: E402
from kianax_capacity.sources.prometheus.catalog import DIALECT_PROBE  # noqa: E402
from kianax_capacity.sources.prometheus.client import RESPONSE_CACHE_BYPASS  # noqa: E402
from kianax_capacity.sources.prometheus.leaks import leak_jobs  # noqa: E402
from kianax_capacity.sources.prometheus.promql import Selector, format_duration, render  # noqa: E402
from kianax_capacity.units import parse_duration  # noqa: E402
from tests.integration.servers import VictoriaMetricsServer  # noqa: E402

sys.path.insert(0, str(REPO / "benchmarks"))
from compare_snapshots import compare  # noqa: E402

#: Long aggregate queries at 10,000 containers outlast VictoriaMetrics' 30 s default.
VM_FLAGS = ("-search.maxQueryDuration=10m", "-search.maxUniqueTimeseries=5000000")
CLIENT_TIMEOUT_SECONDS = 600
_METRIC_SELECTOR = re.compile(r"\b([a-zA-Z_:][a-zA-Z0-9_:]*)\{")


def containers_of(demo: DemoCluster) -> tuple[float, int]:
    """(containers running at once, averaged over the window; distinct pod containers)."""
    steps = len(demo.timestamps)
    running = sum((p.stop - p.start) * len(p.containers) for p in demo.pods)
    return running / max(steps, 1), sum(len(p.containers) for p in demo.pods)


def pick_scale(containers: int, days: float, step_seconds: int) -> tuple[int, float, float]:
    """(scale, containers at scale 1, containers each extra copy adds), measured on this window."""
    one, _ = containers_of(simulate_demo_cluster(days=days, step_seconds=step_seconds, scale=1))
    two, _ = containers_of(simulate_demo_cluster(days=days, step_seconds=step_seconds, scale=2))
    per_copy = max(two - one, 1.0)
    scale = max(1, round((containers - one) / per_copy) + 1)
    return scale, one, per_copy


def _stream(demo: DemoCluster) -> tuple[Iterator[bytes], dict[str, Any]]:
    """The JSON-lines body as a chunk iterator, written by a thread into a pipe (bounded memory)."""
    read_fd, write_fd = os.pipe()
    stats: dict[str, Any] = {}

    def writer() -> None:
        try:
            with os.fdopen(write_fd, "w", buffering=1 << 20) as handle:
                stats["series"], stats["samples"] = write_victoriametrics_jsonl(demo, handle)
        except BaseException as exc:  # surfaced by the reader below
            stats["error"] = exc

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    reader = os.fdopen(read_fd, "rb")

    def chunks() -> Iterator[bytes]:
        total = 0
        with reader:
            while chunk := reader.read(1 << 20):
                total += len(chunk)
                yield chunk
        thread.join()
        stats["bytes"] = total

    return chunks(), stats


def load(server: VictoriaMetricsServer, demo: DemoCluster) -> dict[str, Any]:
    """Stream the cluster into VictoriaMetrics and flush; series, samples and bytes sent."""
    body, stats = _stream(demo)
    response = requests.post(f"{server.url}/api/v1/import", data=body, timeout=3600)
    if "error" in stats:
        raise stats["error"]
    response.raise_for_status()
    requests.get(f"{server.url}/internal/force_flush", timeout=600).raise_for_status()
    return stats


def run_child(command: list[str]) -> dict[str, float]:
    """Run a child to completion; its wall time, peak RSS and CPU seconds (from wait4)."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=REPO, env=env, stderr=subprocess.PIPE)
    # wait4 reaps this child and returns its own rusage (RUSAGE_CHILDREN would mix children).
    _pid, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    assert process.stderr is not None
    stderr = process.stderr.read().decode(errors="replace")
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(command[2:5])} failed ({process.returncode}):\n{stderr}")
    return {
        "wall_s": wall,
        "peak_rss_mib": usage.ru_maxrss / 1024,  # Linux reports KiB
        "cpu_s": usage.ru_utime + usage.ru_stime,
    }


#: The benchmark fetches the whole cluster: no namespace or cluster matchers.
SELECTOR = Selector.build(namespace_regex=None, cluster_label=None, cluster=None)


def fetch_plan(manifest: dict[str, Any]) -> QueryPlan:
    """The requests the fetch that wrote ``manifest`` sent (window, step, shape, dialect)."""
    prom = manifest["extra"]["prometheus"]
    step = int(manifest["window"]["step_seconds"])
    start, end = (_time(manifest["window"][edge]) for edge in ("start", "end"))
    points = int((end - start).total_seconds() // step)
    return plan_queries(
        grid=TimeGrid(end=end, step_seconds=step, points=points),
        shape=str(manifest["shape"]),
        selector=SELECTOR,
        scrape_interval_seconds=float(prom["scrape_interval_seconds"]),
        aggregate_chunk_seconds=float(prom.get("aggregate_chunk_seconds", 86_400.0)),
        dialect=str(prom.get("dialect", "promql")),
    )


def floor(
    url: str, manifest: dict[str, Any], concurrency: int, snapshot: Path | None = None
) -> dict[str, float]:
    """The fetch's own requests sent bare: same PromQL and times, one session, no parsing.

    The aggregate shape's leak-screen requests depend on the candidates the server's slopes
    picked; they are rebuilt from the snapshot's ``memory_peaks`` (the candidates answered).
    """
    plan = fetch_plan(manifest)
    jobs = list(plan.jobs)
    peaks_file = snapshot / "memory_peaks.parquet" if snapshot is not None else None
    if peaks_file is not None and peaks_file.exists():
        peaks = pd.read_parquet(peaks_file, columns=["namespace", "pod", "container"])
        candidates = peaks.astype(str).drop_duplicates().reset_index(drop=True)
        jobs.extend(leak_jobs(candidates, plan, SELECTOR))
    end = plan.grid.end
    probe = min(3600.0, plan.grid.points * plan.grid.step_seconds)
    scrape = render(
        "scrape_interval",
        selector=SELECTOR.namespaced,
        probe_window=format_duration(probe - min(1.0, probe / 2)),
    )
    # the fetch's own parameters: a timeout, and no answer from the response cache
    timeout = {"timeout": format_duration(CLIENT_TIMEOUT_SECONDS), **RESPONSE_CACHE_BYPASS}
    session = requests.Session()
    requests_sent = 0
    received = 0
    lock = threading.Lock()

    def send(params: dict[str, Any], path: str) -> None:
        nonlocal requests_sent, received
        response = session.get(f"{url}{path}", params={**params, **timeout}, timeout=3600)
        response.raise_for_status()
        with lock:
            requests_sent += 1
            received += len(response.content)

    started = time.perf_counter()
    send({"query": scrape, "time": end.timestamp()}, "/api/v1/query")
    if manifest["shape"] == "aggregate":  # the fetch asked the server once for its dialect
        send({"query": DIALECT_PROBE, "time": end.timestamp()}, "/api/v1/query")
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        futures = []
        for job in jobs:
            if job.grid is not None:
                params = {
                    "query": job.promql,
                    "start": job.grid.first.timestamp(),
                    "end": job.grid.end.timestamp(),
                    "step": job.grid.step_seconds,
                }
                futures.append(pool.submit(send, params, "/api/v1/query_range"))
            else:
                assert job.time is not None
                params = {"query": job.promql, "time": job.time.timestamp()}
                futures.append(pool.submit(send, params, "/api/v1/query"))
        for future in futures:
            future.result()
    return {
        "wall_s": time.perf_counter() - started,
        "requests": requests_sent,
        "bytes": received,
    }


def metrics_read(plan_promql: list[str]) -> list[str]:
    """The metric names the fetch's PromQL selects (a name followed by ``{``)."""
    names = set()
    for text in plan_promql:
        names.update(_METRIC_SELECTOR.findall(text))
    return sorted(names)


def scan_floor(url: str, manifest: dict[str, Any], pid: int) -> dict[str, float]:
    """Every sample the fetch needs, read once by the server with the cheapest rollup."""
    plan = fetch_plan(manifest)
    end = plan.grid.end
    window = format_duration(plan.grid.points * plan.grid.step_seconds)
    session = requests.Session()
    timeout = format_duration(CLIENT_TIMEOUT_SECONDS)
    samples = 0.0
    cpu_before = server_cpu_seconds(pid)
    started = time.perf_counter()
    names = metrics_read([job.promql for job in plan.jobs])
    for name in names:
        response = session.get(
            f"{url}/api/v1/query",
            params={
                "query": f"sum(count_over_time({name}[{window}]))",
                "time": str(end.timestamp()),
                "timeout": timeout,
                **RESPONSE_CACHE_BYPASS,
            },
            timeout=3600,
        )
        response.raise_for_status()
        for series in response.json()["data"]["result"]:
            samples += float(series["value"][1])
    return {
        "wall_s": time.perf_counter() - started,
        "server_cpu_s": server_cpu_seconds(pid) - cpu_before,
        "samples": samples,
        "metrics": len(names),
    }


def server_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds the server process has used so far (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    # After the command name: state is field 3, utime 14 and stime 15 (1-based, man 5 proc).
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--containers", type=int, required=True, help="containers running at once")
    parser.add_argument("--days", type=float, required=True, help="window length in days")
    parser.add_argument("--step", default="5m", help="sample step (default 5m)")
    parser.add_argument("--runs", type=int, default=3, help="fetch/recommend/floor repeats")
    parser.add_argument("--shape", default="aggregate", choices=("aggregate", "series"))
    parser.add_argument("--concurrency", type=int, default=4, help="parallel requests")
    parser.add_argument("--keep", action="store_true", help="keep (and reuse) the loaded data")
    parser.add_argument("--workdir", type=Path, default=None, help="where data and outputs go")
    parser.add_argument(
        "--warm",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also fetch the window moved by one day with the per-day cache (default on)",
    )
    parser.add_argument(
        "--server-cache",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="run VictoriaMetrics with its response (rollup result) cache, as deployed, emptied "
        "before every fetch (default off: -search.disableCache)",
    )
    parser.add_argument(
        "--floor",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also send the bare floor and the scan floor (default on; --no-floor: 0 printed)",
    )
    args = parser.parse_args(argv)
    step = int(parse_duration(args.step))

    scale, base, per_copy = pick_scale(args.containers, args.days, step)
    # The warm run moves the window by a day: the server holds that day too.
    data_days = args.days + 1 if args.warm else args.days
    key = f"scale{scale}-days{data_days:g}-step{step}"
    workdir = args.workdir or Path(tempfile.gettempdir()) / f"kianax-bench-{key}"
    if not args.keep and args.workdir is None and workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    marker = workdir / "loaded.json"
    loaded = json.loads(marker.read_text()) if args.keep and marker.exists() else None
    if loaded is not None and loaded.get("key") != key:
        shutil.rmtree(workdir / "vm-data", ignore_errors=True)
        loaded = None
    if loaded is None:
        shutil.rmtree(workdir / "vm-data", ignore_errors=True)

    print(
        f"# {args.containers} containers over {args.days:g} days at {args.step}: demo --scale "
        f"{scale} (containers running at once = {base:.1f} at scale 1 + {per_copy:.1f} per "
        "extra copy of the kianax namespace)",
        flush=True,
    )
    server = VictoriaMetricsServer(workdir, extra_flags=VM_FLAGS, response_cache=args.server_cache)
    try:
        if loaded is None:
            started = time.perf_counter()
            demo = simulate_demo_cluster(days=data_days, step_seconds=step, scale=scale)
            generate_s = time.perf_counter() - started
            running, distinct = containers_of(demo)
            started = time.perf_counter()
            export = load(server, demo)
            import_s = time.perf_counter() - started
            del demo
            loaded = {
                "key": key,
                "generate_s": generate_s,
                "import_s": import_s,
                "containers_running": running,
                "container_series": distinct,
                "series": export["series"],
                "samples": export["samples"],
                "import_bytes": export["bytes"],
            }
            marker.write_text(json.dumps(loaded))
            cached = False
        else:
            cached = True
        print(
            f"# loaded: {loaded['containers_running']:.0f} containers running at once, "
            f"{loaded['container_series']} container series over the window, "
            f"{loaded['series']} series, {loaded['samples']} samples "
            f"({loaded['import_bytes'] / 2**30:.2f} GiB of JSON lines)"
            + (" [cached]" if cached else ""),
            flush=True,
        )
        pid = server.process.pid
        before_fetch = server.reset_response_cache if args.server_cache else _nothing
        runs = [
            one_run(server.url, workdir, args, run, pid, before_fetch) for run in range(args.runs)
        ]
        before_fetch()
        scan = (
            scan_floor(server.url, runs[-1]["manifest"], pid)
            if args.floor
            else {"wall_s": 0.0, "server_cpu_s": 0.0, "samples": 0.0, "metrics": 0}
        )
    finally:
        server.stop()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    report(args, scale, loaded, cached, runs, scan)
    return 0


def _nothing() -> None:
    pass


def one_run(
    url: str,
    workdir: Path,
    args: argparse.Namespace,
    run: int,
    pid: int,
    before_fetch: Callable[[], None],
) -> dict[str, Any]:
    snapshot = workdir / f"snapshot-{run}"
    shutil.rmtree(snapshot, ignore_errors=True)
    config = workdir / "kianax-capacity.toml"
    config.write_text(
        f"[prometheus]\nconcurrency = {args.concurrency}\ntimeout_seconds = {CLIENT_TIMEOUT_SECONDS}\n"
    )
    python = sys.executable
    moved = DEFAULT_END if args.warm else None
    cold_end = DEFAULT_END - timedelta(days=1) if args.warm else DEFAULT_END
    cache = workdir / f"cache-{run}"
    shutil.rmtree(cache, ignore_errors=True)

    def fetch_command(end: datetime, out: Path, *cache_flags: str) -> list[str]:
        return [
            python, "-m", "kianax_capacity", "--config", str(config), "fetch",
            "--source", "prometheus", "--prometheus-url", url,
            "--window", f"{args.days * 24 * 60:g}m", "--end", end.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "--step", args.step, "--shape", args.shape, "--out", str(out), *cache_flags,
        ]  # fmt: skip

    before_fetch()
    cpu_before = server_cpu_seconds(pid)
    cold_flags = ("--cache", str(cache)) if args.warm else ("--no-cache",)
    fetch = run_child(fetch_command(cold_end, snapshot, *cold_flags))
    fetch_server_cpu = server_cpu_seconds(pid) - cpu_before
    recs = workdir / f"recommendations-{run}.json"
    recommend = run_child(
        [python, "-m", "kianax_capacity", "--config", str(config), "recommend", str(snapshot),
         "--out", str(recs)]
    )  # fmt: skip
    manifest = json.loads((snapshot / "manifest.json").read_text())
    before_fetch()
    cpu_before = server_cpu_seconds(pid)
    bare = (
        floor(url, manifest, args.concurrency, snapshot)
        if args.floor
        else {"wall_s": 0.0, "requests": 0, "bytes": 0}
    )
    floor_server_cpu = server_cpu_seconds(pid) - cpu_before
    prom = manifest["extra"]["prometheus"]
    result = json.loads(recs.read_text())
    warm = (
        warm_run(fetch_command, moved, workdir, run, cache, before_fetch)
        if moved is not None
        else {}
    )
    row = {
        **warm,
        "fetch_s": fetch["wall_s"],
        "fetch_rss_mib": fetch["peak_rss_mib"],
        "fetch_cpu_s": fetch["cpu_s"],
        "fetch_server_cpu_s": fetch_server_cpu,
        "recommend_s": recommend["wall_s"],
        "recommend_rss_mib": recommend["peak_rss_mib"],
        "recommend_cpu_s": recommend["cpu_s"],
        "requests": prom["requests"],
        "bytes_received": prom.get("bytes_received"),
        "floor_s": bare["wall_s"],
        "floor_requests": bare["requests"],
        "floor_bytes": bare["bytes"],
        "floor_server_cpu_s": floor_server_cpu,
        "container_stats_rows": manifest["tables"].get("container_stats", {}).get("rows", 0),
        "rightsizing_rows": len(result["rightsizing"]),
        "manifest": manifest,  # for the scan floor: which window, step and queries
    }
    print(
        f"# run {run + 1}: fetch {row['fetch_s']:.1f}s ({row['fetch_rss_mib']:.0f} MiB), "
        f"recommend {row['recommend_s']:.1f}s ({row['recommend_rss_mib']:.0f} MiB), "
        f"floor {row['floor_s']:.1f}s"
        + (
            f"; warm {row['warm_s']:.1f}s ({row['warm_rss_mib']:.0f} MiB, "
            f"{row['warm_requests']} requests), reference {row['reference_s']:.1f}s, "
            f"warm == reference: {row['warm_equal']}"
            if warm
            else ""
        ),
        flush=True,
    )
    if not args.keep:
        shutil.rmtree(snapshot, ignore_errors=True)
    return row


def warm_run(
    fetch_command: Any,
    moved: datetime,
    workdir: Path,
    run: int,
    cache: Path,
    before_fetch: Callable[[], None],
) -> dict[str, Any]:
    """The window moved by a day: warm (with the cold run's cache), then a cold reference
    (``--no-cache``) of the same window, compared table by table."""
    warm_out, reference_out = workdir / f"warm-{run}", workdir / f"reference-{run}"
    for folder in (warm_out, reference_out):
        shutil.rmtree(folder, ignore_errors=True)
    before_fetch()
    warm = run_child(fetch_command(moved, warm_out, "--cache", str(cache)))
    before_fetch()
    reference = run_child(fetch_command(moved, reference_out, "--no-cache"))
    warm_prom = json.loads((warm_out / "manifest.json").read_text())["extra"]["prometheus"]
    ref_prom = json.loads((reference_out / "manifest.json").read_text())["extra"]["prometheus"]
    problems = compare(warm_out, reference_out)
    for line in problems:
        print(f"# warm != reference: {line}", flush=True)
    return {
        "warm_s": warm["wall_s"],
        "warm_rss_mib": warm["peak_rss_mib"],
        "warm_cpu_s": warm["cpu_s"],
        "warm_requests": warm_prom["requests"],
        "warm_cache": warm_prom.get("cache"),
        "reference_s": reference["wall_s"],
        "reference_rss_mib": reference["peak_rss_mib"],
        "reference_requests": ref_prom["requests"],
        "warm_equal": not problems,
    }


def report(
    args: argparse.Namespace,
    scale: int,
    loaded: dict[str, Any],
    cached: bool,
    runs: list[dict[str, Any]],
    scan: dict[str, float],
) -> None:
    def median(name: str) -> float:
        return float(statistics.median(float(r[name]) for r in runs))

    fetch, recommend, floor_s = median("fetch_s"), median("recommend_s"), median("floor_s")
    out = {
        "containers": args.containers,
        "days": args.days,
        "step": args.step,
        "shape": args.shape,
        "server_cache": args.server_cache,
        "runs": len(runs),
        "scale": scale,
        "containers_running": round(loaded["containers_running"], 1),
        "container_series": loaded["container_series"],
        "samples": loaded["samples"],
        "generate_s": round(loaded["generate_s"], 2),
        "import_s": round(loaded["import_s"], 2),
        "load_cached": cached,
        "fetch_s": round(fetch, 2),
        "recommend_s": round(recommend, 2),
        "fetch_plus_recommend_s": round(
            float(statistics.median(r["fetch_s"] + r["recommend_s"] for r in runs)), 2
        ),
        "fetch_peak_rss_mib": round(median("fetch_rss_mib"), 1),
        "recommend_peak_rss_mib": round(median("recommend_rss_mib"), 1),
        "fetch_cpu_s": round(median("fetch_cpu_s"), 2),
        "recommend_cpu_s": round(median("recommend_cpu_s"), 2),
        "requests": int(median("requests")),
        "bytes_received": int(median("bytes_received")),
        "floor_s": round(floor_s, 2),
        "floor_requests": int(median("floor_requests")),
        "ours_over_floor": round(fetch / floor_s, 2) if floor_s > 0 else None,
        "fetch_server_cpu_s": round(median("fetch_server_cpu_s"), 2),
        "floor_server_cpu_s": round(median("floor_server_cpu_s"), 2),
        "scan_s": round(scan["wall_s"], 2),
        "scan_server_cpu_s": round(scan["server_cpu_s"], 2),
        "scan_samples": int(scan["samples"]),
        "scan_metrics": int(scan["metrics"]),
        "container_stats_rows": int(median("container_stats_rows")),
        "rightsizing_rows": int(median("rightsizing_rows")),
        "cpus": os.cpu_count(),
        "commit": _commit(),
    }
    if args.warm:
        out.update(
            warm_s=round(median("warm_s"), 2),
            warm_peak_rss_mib=round(median("warm_rss_mib"), 1),
            warm_requests=int(median("warm_requests")),
            warm_over_cold=round(median("warm_s") / fetch, 3) if fetch > 0 else None,
            reference_s=round(median("reference_s"), 2),
            reference_peak_rss_mib=round(median("reference_rss_mib"), 1),
            reference_requests=int(median("reference_requests")),
            warm_equal_runs=sum(bool(r["warm_equal"]) for r in runs),
            warm_cache=runs[-1]["warm_cache"],
        )
    rows = [
        ("generate (simulate)", f"{out['generate_s']:.1f} s" + (" (cached)" if cached else "")),
        ("import (stream + flush)", f"{out['import_s']:.1f} s" + (" (cached)" if cached else "")),
        ("fetch (aggregate)", f"{fetch:.1f} s, peak RSS {out['fetch_peak_rss_mib']:.0f} MiB"),
        ("recommend", f"{recommend:.1f} s, peak RSS {out['recommend_peak_rss_mib']:.0f} MiB"),
        ("fetch + recommend", f"{out['fetch_plus_recommend_s']:.1f} s"),
        ("HTTP requests", f"{out['requests']} (floor sent {out['floor_requests']})"),
        ("bytes received", f"{out['bytes_received'] / 2**20:.1f} MiB"),
        ("floor (bare queries)", f"{floor_s:.1f} s"),
        ("fetch / floor", f"{out['ours_over_floor']}"),
        (
            "server CPU",
            f"{out['fetch_server_cpu_s']:.1f} s in the fetch, {out['floor_server_cpu_s']:.1f} s "
            f"in the floor; fetch client {out['fetch_cpu_s']:.1f} s, recommend "
            f"{out['recommend_cpu_s']:.1f} s ({out['cpus']} cores)",
        ),
        (
            "scan floor (read once)",
            f"{out['scan_s']:.1f} s, server CPU {out['scan_server_cpu_s']:.1f} s for "
            f"{out['scan_samples'] / 1e6:.1f} M samples of {out['scan_metrics']} metrics",
        ),
    ]
    if args.warm:
        rows[2] = (f"fetch ({args.shape}) cold, into the cache", rows[2][1])
        rows += [
            (
                "fetch warm (window +1 day)",
                f"{out['warm_s']:.1f} s, peak RSS {out['warm_peak_rss_mib']:.0f} MiB, "
                f"{out['warm_requests']} requests, {out['warm_over_cold']:.1%} of cold",
            ),
            (
                "fetch cold, no cache (same window)",
                f"{out['reference_s']:.1f} s, peak RSS {out['reference_peak_rss_mib']:.0f} MiB, "
                f"{out['reference_requests']} requests",
            ),
            ("warm == cold (tables)", f"{out['warm_equal_runs']} of {len(runs)} run(s) identical"),
        ]
    width = max(len(name) for name, _ in rows)
    cache_note = (
        ", server response cache on (emptied before each fetch)" if args.server_cache else ""
    )
    print(f"\nmedians of {len(runs)} run(s), commit {out['commit']}{cache_note}")
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    print(json.dumps(out, sort_keys=True))


def _commit() -> str:
    try:
        done = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
        )
        return done.stdout.strip() or "unknown"
    except OSError:
        return "unknown"


if __name__ == "__main__":
    sys.exit(main())
