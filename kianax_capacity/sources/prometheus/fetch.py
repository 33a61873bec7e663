"""The fetch: probe the server, plan, send every query on a thread pool, assemble, write."""

from __future__ import annotations

import logging
import math
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from kianax_capacity.config import NodeGroupConfig, PrometheusConfig
from kianax_capacity.errors import AwsError, MissingDependencyError, UserInputError
from kianax_capacity.snapshot import TABLE_COLUMNS, Snapshot, SnapshotWriter, TablesOnDisk
from kianax_capacity.sources.ec2_nodes import Ec2Instance, describe_instances
from kianax_capacity.sources.prometheus._memory import GC_PAUSED, release_free_memory
from kianax_capacity.sources.prometheus.cache import CacheStats, DayCache, cache_key
from kianax_capacity.sources.prometheus.catalog import DIALECT_PROBE, DIALECTS, PHI_LABEL, SHAPES
from kianax_capacity.sources.prometheus.client import PrometheusClient, QueryRejectedError
from kianax_capacity.sources.prometheus.fold import Results
from kianax_capacity.sources.prometheus.jvm import JVM_QUERIES, jvm_memory
from kianax_capacity.sources.prometheus.leaks import (
    SCREEN_DAILY_PARTS,
    SCREEN_PARTS,
    hourly_peaks,
    leak_candidates,
    leak_jobs,
)
from kianax_capacity.sources.prometheus.nodes import (
    instances_to_describe,
    node_facts,
    node_usage,
    node_warnings,
    resolve_nodes,
)
from kianax_capacity.sources.prometheus.plan import QueryJob, QueryPlan, TimeGrid, plan_queries
from kianax_capacity.sources.prometheus.promql import Selector, format_duration, render
from kianax_capacity.sources.prometheus.send import run_days, run_pool
from kianax_capacity.sources.prometheus.tables import TableSink, assemble, typed
from kianax_capacity.units import parse_duration

__all__ = ["EC2_MODES", "fetch_prometheus_snapshot"]

#: When the fetch asks EC2 about nodes (see :func:`fetch_prometheus_snapshot`).
EC2_MODES = ("off", "auto", "on")

_LOGGER = logging.getLogger(__name__)

_DEFAULT_SCRAPE_SECONDS = 30.0
_SCRAPE_PROBE_SECONDS = 3600.0


def _aware(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def fetch_prometheus_snapshot(
    config: PrometheusConfig,
    *,
    start: datetime,
    end: datetime,
    step_seconds: int,
    out: Path,
    namespace_regex: str | None = None,
    cluster_label: str | None = None,
    cluster: str = "kianax-production",
    shape: str = "series",
    progress: Any = None,
    environ: Mapping[str, str] | None = None,
    ec2_nodes: str = "off",
    nodegroups: Mapping[str, NodeGroupConfig] | None = None,
    aws_session: Any = None,
    cache_dir: Path | None = None,
    now: datetime | None = None,
    auto_shape_max_containers: int | None = None,
) -> Snapshot:
    """Query a Prometheus-compatible server and write a snapshot folder to ``out``.

    Args:
        config: server URL, auth, TLS, timeout, retries, concurrency (``[prometheus]``).
        start: window start (UTC; naive is taken as UTC).
        end: window end; the last step ends here. Fix it for reproducible reports.
        step_seconds: the usage step (e.g. 300).
        out: the snapshot folder, replaced atomically; untouched on failure.
        namespace_regex: only namespaces matching this RE2 regex (anchored, as in PromQL).
        cluster_label: label that tells clusters apart on a shared server (e.g. ``cluster``);
            its value is ``cluster``.
        cluster: the cluster's name in the snapshot (and the label value, when filtering).
        shape: ``series`` (usage time series), ``aggregate`` (server-side statistics) or
            ``auto``: one count query of the containers seen in the window's last hour picks
            ``aggregate`` above ``auto_shape_max_containers`` (default
            ``[prometheus] auto_shape_max_containers``), else ``series``.
        progress: called as ``progress(done, total)`` after each request, or the CLI's
            ``Progress`` (anything with ``task(description, total)``), which gets one bar.
        environ: where ``*_env`` secrets are read (default ``os.environ``).
        ec2_nodes: ask EC2 ``DescribeInstances`` about the nodes whose instance type, group or
            capacity type no Prometheus series gave: ``off``; ``auto`` (when AWS access is
            configured, see :func:`aws_configured`, or ``aws_session`` is given; a failure
            becomes a warning); ``on`` (the whole credential chain; a failure is an error).
        nodegroups: the ``[nodegroups]`` config, the last source of node facts.
        aws_session: boto3 session for EC2 (default: the standard credential chain).
        cache_dir: the per-day cache's folder (aggregate shape; :mod:`.cache`); None: no cache.
        now: the clock that says which days have settled (default: the current time).
        auto_shape_max_containers: see ``shape``.

    Returns:
        The snapshot written.

    Raises:
        UserInputError: bad window, step, shape, regex, label or URL.
        ConfigError: the auth settings lack a secret.
        PrometheusError: the server failed; one line, no credentials.
        OutputError: ``out`` cannot be written.
    """
    start, end = _aware(start), _aware(end)
    grid = _grid(start, end, step_seconds)
    _check_choices(shape, ec2_nodes, config)
    threshold = _auto_threshold(config, auto_shape_max_containers)
    label = cluster_label or config.cluster_label
    label_value = (config.cluster_value or cluster) if label else None
    selector = Selector.build(
        namespace_regex=namespace_regex, cluster_label=label, cluster=label_value
    )
    warnings: list[str] = []
    with _spill_folder(Path(out)) as spill:
        answers = _ask(
            config,
            environ,
            grid,
            selector,
            shape,
            threshold,
            progress,
            cache_dir,
            now,
            warnings,
            spill,
        )
        stats = answers.cache_stats
        if stats is not None:  # the CLI prints the summary once the snapshot is written
            _LOGGER.debug("cache %s: %s", stats.directory, stats.summary())
            warnings.extend(stats.warnings)
        release_free_memory()
        plan, screen = answers.plan, answers.screen
        with SnapshotWriter(out) as writer:
            _tables(answers, ec2_nodes, aws_session, nodegroups, warnings, writer.add)
            for message in warnings:
                _LOGGER.warning("%s", message)
            manifest = writer.finish(
                cluster=cluster,
                window_start=grid.window_start,
                window_end=grid.end,
                step_seconds=step_seconds,
                source="prometheus",
                shape=answers.shape,
                warnings=tuple(warnings),
                extra={
                    "prometheus": {
                        "url": answers.safe_url,
                        "namespace_regex": namespace_regex,
                        "cluster_label": label,
                        "scrape_interval_seconds": answers.scrape_interval_seconds,
                        "rate_window_seconds": plan.rate_window_seconds,
                        "sample_window_seconds": plan.sample_window_seconds,
                        "time_chunks": len(plan.chunks),
                        "aggregate_chunks": len(plan.aggregate_chunks),
                        "aggregate_chunk_seconds": parse_duration(config.aggregate_chunk),
                        "dialect": answers.dialect,
                        **({"leak_screen": screen[1]} if screen is not None else {}),
                        "shape_requested": shape,
                        "shape_auto": None
                        if answers.counted is None
                        else {
                            "containers": answers.counted,
                            "max_containers_for_series": threshold,
                        },
                        "cache": None if stats is None else stats.manifest(),
                        "requests": answers.requests,
                        "bytes_received": answers.bytes_received,
                    }
                },
            )
        # The tables were written as they were built and dropped; the snapshot reads each back
        # from its file only when asked for.
        return Snapshot(manifest=manifest, tables=TablesOnDisk(Path(out), manifest.tables))


@contextmanager
def _spill_folder(out: Path) -> Iterator[Path]:
    """A private folder beside ``out`` (on the disk the user chose for the snapshot, not a
    /tmp that may be memory) where answers wait for assembly; removed however the fetch ends."""
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        folder = Path(tempfile.mkdtemp(prefix=f".{out.name}.spill.", dir=out.parent))
    except OSError as exc:
        raise UserInputError(
            f"cannot write under {out.parent}: {exc.strerror or exc}; choose a writable `out`"
        ) from exc
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _grid(start: datetime, end: datetime, step_seconds: int) -> TimeGrid:
    """The window's steps; a step or window that cannot hold one step is the caller's error."""
    if step_seconds <= 0:
        raise UserInputError(f"must be positive, got {step_seconds}s", parameter="step_seconds")
    points = int((end - start).total_seconds() // step_seconds)
    if points < 1:
        raise UserInputError(
            f"the window {start:%Y-%m-%dT%H:%M:%SZ}..{end:%Y-%m-%dT%H:%M:%SZ} is shorter than "
            f"one step ({step_seconds}s); widen the window or shorten the step"
        )
    return TimeGrid(end=end, step_seconds=step_seconds, points=points)


def _check_choices(shape: str, ec2_nodes: str, config: PrometheusConfig) -> None:
    if shape not in (*SHAPES, "auto"):
        raise UserInputError(
            f"{shape!r} is not one of {', '.join(SHAPES)}, auto", parameter="shape"
        )
    if ec2_nodes not in EC2_MODES:
        raise UserInputError(
            f"{ec2_nodes!r} is not one of {', '.join(EC2_MODES)}", parameter="ec2_nodes"
        )
    if config.dialect not in DIALECTS:
        raise UserInputError(
            f"[prometheus] dialect {config.dialect!r} is not one of {', '.join(DIALECTS)}"
        )


@dataclass(frozen=True)
class _Answers:
    """What the server said, and how it was asked (one fetch)."""

    results: Results
    plan: QueryPlan
    shape: str  # the shape fetched (``auto`` resolved)
    counted: int | None  # containers counted by ``--shape auto``; None when not asked
    dialect: str
    scrape_interval_seconds: float
    screen: tuple[pd.DataFrame, dict[str, int]] | None  # the leak screen (aggregate shape)
    cache_stats: CacheStats | None
    safe_url: str
    requests: int
    bytes_received: int


def _ask(
    config: PrometheusConfig,
    environ: Mapping[str, str] | None,
    grid: TimeGrid,
    selector: Selector,
    shape: str,
    threshold: int,
    progress: Any,
    cache_dir: Path | None,
    now: datetime | None,
    warnings: list[str],
    spill: Path | None,
) -> _Answers:
    """Every request of the fetch: probes, the shape's count, the plan, the leak screen."""
    client = PrometheusClient(config, environ)
    counted = None
    try:
        scrape = _scrape_interval(client, config, grid, selector, warnings)
        if shape == "auto":
            shape, counted = _auto_shape(client, grid, selector, threshold)
        rate_window = parse_duration(config.rate_window) if config.rate_window else None
        dialect = _dialect(client, config, grid) if shape == "aggregate" else "promql"
        plan = plan_queries(
            grid=grid,
            shape=shape,
            selector=selector,
            scrape_interval_seconds=scrape,
            rate_window_seconds=rate_window,
            max_points_per_series=config.max_points_per_series,
            aggregate_chunk_seconds=parse_duration(config.aggregate_chunk),
            dialect=dialect,
        )
        results, cache_stats = _send(
            client, config, plan, shape, dialect, selector, progress, cache_dir, now, spill
        )
        screen = (
            _leak_peaks(client, results, plan, selector, config.concurrency, progress, warnings)
            if shape == "aggregate"
            else None
        )
    finally:
        client.close()
    return _Answers(
        results=results,
        plan=plan,
        shape=shape,
        counted=counted,
        dialect=dialect,
        scrape_interval_seconds=scrape,
        screen=screen,
        cache_stats=cache_stats,
        safe_url=client.safe_url,
        requests=client.requests_sent,
        bytes_received=client.bytes_received,
    )


def _tables(
    answers: _Answers,
    ec2_nodes: str,
    aws_session: Any,
    nodegroups: Mapping[str, NodeGroupConfig] | None,
    warnings: list[str],
    write: TableSink,
) -> None:
    """The snapshot's tables from the answers, each to ``write``: nodes (with EC2 and config),
    the rest assembled."""
    results = answers.results
    facts = node_facts(results)
    instances, ec2_tried = _ec2_instances(facts, ec2_nodes, aws_session, warnings)
    nodes = resolve_nodes(facts, instances, nodegroups)
    warnings.extend(node_warnings(nodes, ec2_tried=ec2_tried))
    busy = node_usage(results, facts)
    results.release("node_cpu_busy")
    if len(busy) and "node_usage" in TABLE_COLUMNS:  # optional: where node-exporter is scraped
        write("node_usage", typed(busy, "node_usage"))
    del busy
    jvm = jvm_memory(results)
    results.release(*JVM_QUERIES)
    if len(jvm):  # optional: where JVMs export their memory gauges
        write("jvm_memory", typed(jvm, "jvm_memory"))
    del jvm
    with GC_PAUSED:  # assembly builds millions of short-lived objects, no cycles
        pod_keys = assemble(results, answers.plan, answers.shape, warnings, nodes, write)
    if answers.screen is not None:  # aggregate shape: the leak candidates' hourly peaks
        peaks = answers.screen[0].merge(pod_keys, on=["namespace", "pod"])
        write("memory_peaks", typed(peaks, "memory_peaks"))


def _leak_peaks(
    client: PrometheusClient,
    results: Results,
    plan: QueryPlan,
    selector: Selector,
    concurrency: int,
    progress: Any,
    warnings: list[str],
) -> tuple[pd.DataFrame, dict[str, int]]:
    """The leak screen's second step (:mod:`.leaks`): hourly peaks of the candidates only."""
    daily = [held.frame(SCREEN_DAILY_PARTS) for _, held in sorted(results.daily_parts.items())]
    parts = results.parts.frame(SCREEN_PARTS)
    candidates, passed = leak_candidates(daily, parts, plan.grid.step_seconds)
    del parts
    if passed > len(candidates):
        warnings.append(
            f"leak screen: {passed} pod containers grow fast enough to be leak candidates; "
            f"only the {len(candidates)} growing most persistently were checked for leaks (fetch "
            "with --shape "
            "series, or a narrower --namespace, to check them all)"
        )
    jobs = leak_jobs(candidates, plan, selector)
    peaks = _run_all(client, jobs, concurrency, progress) if jobs else Results()
    matrix = peaks.matrix("memory_hourly_peaks", ["namespace", "pod", "container"])
    summary = {"candidates": passed, "checked": len(candidates), "requests": len(jobs)}
    return hourly_peaks(matrix, candidates), summary


def _ec2_instances(
    facts: pd.DataFrame, mode: str, session: Any, warnings: list[str]
) -> tuple[dict[str, Ec2Instance], bool]:
    """EC2's answers for the nodes that lack a fact, and whether EC2 was asked."""
    wanted = instances_to_describe(facts)
    if mode == "off" or not wanted:
        return {}, False
    if mode == "auto" and session is None and not aws_configured(os.environ):
        return {}, False
    found: dict[str, Ec2Instance] = {}
    for region, ids in sorted(wanted.items()):
        try:
            found.update(describe_instances(ids, region=region, session=session))
        except (AwsError, MissingDependencyError) as exc:
            if mode == "on":
                raise
            warnings.append(f"EC2 lookup of {len(ids)} nodes in {region} failed: {exc}")
    return found, True


#: Environment variables that mean "this run has AWS access": keys, a profile, IRSA (EKS
#: service-account roles) or ECS/EKS Pod Identity container credentials.
_AWS_ENV = (
    "AWS_ACCESS_KEY_ID",
    "AWS_PROFILE",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
)


def aws_configured(environ: Mapping[str, str]) -> bool:
    """Whether AWS access is configured without asking the network: credentials in the
    environment or an ``~/.aws`` config. (An EC2 instance role alone is found only through the
    metadata service, a network call ``auto`` does not make: pass ``on`` there.)"""
    if any(environ.get(name) for name in _AWS_ENV):
        return True
    home = Path(environ.get("HOME", "~")).expanduser()
    files = (
        environ.get("AWS_SHARED_CREDENTIALS_FILE") or home / ".aws" / "credentials",
        environ.get("AWS_CONFIG_FILE") or home / ".aws" / "config",
    )
    return any(Path(file).is_file() for file in files)


def _scrape_interval(
    client: PrometheusClient,
    config: PrometheusConfig,
    grid: TimeGrid,
    selector: Selector,
    warnings: list[str],
) -> float:
    """The kubelet scrape interval: configured, or the probe window / samples in it."""
    if config.scrape_interval:
        return parse_duration(config.scrape_interval)
    probe = min(_SCRAPE_PROBE_SECONDS, grid.points * grid.step_seconds)
    # One second short of the probe, so closed and left-open ranges count the same samples.
    window = probe - min(1.0, probe / 2)
    job = QueryJob(
        "scrape_interval",
        render(
            "scrape_interval", selector=selector.namespaced, probe_window=format_duration(window)
        ),
        0,
        time=grid.end,
    )
    result = client.run(job)
    count = float(result[0]["value"][1]) if result else math.nan
    if not math.isfinite(count) or count < 1:
        warnings.append(
            "could not detect the scrape interval (no container_memory_working_set_bytes samples "
            f"in the last {format_duration(probe)} of the window); assuming "
            f"{_DEFAULT_SCRAPE_SECONDS:g}s, set [prometheus] scrape_interval to override"
        )
        return _DEFAULT_SCRAPE_SECONDS
    return max(1.0, round(probe / count))


def _send(
    client: PrometheusClient,
    config: PrometheusConfig,
    plan: QueryPlan,
    shape: str,
    dialect: str,
    selector: Selector,
    progress: Any,
    cache_dir: Path | None,
    now: datetime | None,
    spill: Path | None,
) -> tuple[Results, CacheStats | None]:
    """Every answer of the plan: the aggregate shape day by day through the cache (when
    ``cache_dir`` is given), the series shape all at once."""
    if shape != "aggregate":
        if cache_dir is not None:
            _LOGGER.debug(
                "cache: the series shape is fetched whole (the cache is per day of the "
                "aggregate shape)"
            )
        return _run_all(client, plan.jobs, config.concurrency, progress), None
    cache, stats = None, None
    if cache_dir is not None:
        cache = DayCache(cache_dir, _cache_key(config, selector, plan, shape, dialect))
        stats = CacheStats(directory=str(cache.directory))
    clock = _aware(now) if now is not None else datetime.now(UTC)
    results = run_days(client, plan, config.concurrency, progress, cache, stats, clock, spill)
    return results, stats


def _cache_key(
    config: PrometheusConfig, selector: Selector, plan: QueryPlan, shape: str, dialect: str
) -> dict[str, Any]:
    return cache_key(
        url=config.url or "",
        headers=config.headers,
        selector=selector,
        step_seconds=plan.grid.step_seconds,
        shape=shape,
        dialect=dialect,
        rate_window_seconds=plan.rate_window_seconds,
        sample_window_seconds=plan.sample_window_seconds,
        aggregate_chunk_seconds=parse_duration(config.aggregate_chunk),
    )


def _auto_shape(
    client: PrometheusClient, grid: TimeGrid, selector: Selector, threshold: int
) -> tuple[str, int]:
    """``aggregate`` when more than ``threshold`` containers were seen in the window's last
    hour, else ``series``; and that count (one instant query, a number as its answer)."""
    probe = min(_SCRAPE_PROBE_SECONDS, grid.points * grid.step_seconds)
    job = QueryJob(
        "container_count",
        render(
            "container_count", selector=selector.namespaced, probe_window=format_duration(probe)
        ),
        0,
        time=grid.end,
    )
    result = client.run(job)
    value = float(result[0]["value"][1]) if result else 0.0
    count = int(value) if math.isfinite(value) else 0
    shape = "aggregate" if count > threshold else "series"
    _LOGGER.debug("shape auto: %d containers -> %s (threshold %d)", count, shape, threshold)
    return shape, count


def _dialect(client: PrometheusClient, config: PrometheusConfig, grid: TimeGrid) -> str:
    """``config.dialect``, or for ``auto`` what the server answers to a MetricsQL-only query.

    VictoriaMetrics answers the probe; Prometheus, Thanos, Mimir and AMP reject it (HTTP 400 or
    422: unknown function), which means PromQL. Any other failure is the server's and is raised.
    """
    if config.dialect != "auto":
        return config.dialect
    probe = QueryJob("dialect_probe", DIALECT_PROBE, 0, time=grid.end)
    try:
        result = client.run(probe)
    except QueryRejectedError:
        return "promql"
    speaks = any(PHI_LABEL in series.get("metric", {}) for series in result)
    return "metricsql" if speaks else "promql"


def _run_all(
    client: PrometheusClient,
    jobs: tuple[QueryJob, ...],
    concurrency: int,
    progress: Any,
) -> Results:
    results = Results()
    run_pool(
        client, jobs, concurrency, progress, lambda _asked, job, result: results.add(job, result)
    )
    return results


def _auto_threshold(config: PrometheusConfig, auto_shape_max_containers: int | None) -> int:
    """``--shape auto``'s container count above which the fetch is aggregate."""
    threshold = (
        config.auto_shape_max_containers
        if auto_shape_max_containers is None
        else auto_shape_max_containers
    )
    if threshold < 0:
        raise UserInputError(
            f"must be 0 or more, got {threshold}", parameter="auto_shape_max_containers"
        )
    return threshold
