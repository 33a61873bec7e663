"""The Prometheus source: a snapshot from any server speaking the Prometheus HTTP API.

Prometheus, Thanos, Mimir, VictoriaMetrics and Amazon Managed Service for Prometheus answer the
same ``/api/v1/query`` and ``/api/v1/query_range``; :func:`fetch_prometheus_snapshot` sends the
templates of ``queries/*.promql`` through ``prometheus-api-client`` and writes the same tables
as the demo source (``kianax_capacity.snapshot.TABLE_COLUMNS``).

Request budget: every query selects all containers at once (grouped ``by`` labels), so the
number of HTTP requests is (number of templates) x (number of time chunks) + 1, whatever the
size of the cluster. Time chunks keep each range query under the 11,000-points-per-series limit.

Two shapes:

* ``series``: usage time series at the step (CPU rate, peak working set, throttling).
* ``aggregate``: the server computes per-container statistics one day (``aggregate_chunk``) at
  a time with ``quantile_over_time`` / ``max_over_time`` / ``sum_over_time`` /
  ``count_over_time`` on subqueries; the client folds the days into running per-container
  aggregates (:class:`ChunkCombiner`) and writes a ``container_stats`` table (O(containers)
  numbers) and an empty ``usage`` table.

Errors are :class:`~kianax_capacity.errors.PrometheusError` with one line naming the server (no
credentials) and what to check; nothing is written unless every query succeeded.
"""

from __future__ import annotations

import ast
import ctypes
import gc
import json
import logging
import math
import re
import sys
import threading
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd
import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from kianax_capacity.config import PrometheusConfig
from kianax_capacity.errors import PrometheusError, UserInputError
from kianax_capacity.snapshot import Snapshot, empty_table, write_snapshot
from kianax_capacity.sources.prom_auth import (
    build_auth,
    build_headers,
    configure_tls,
    redact_url,
)
from kianax_capacity.sources.promql import (
    Selector,
    format_duration,
    render,
    rollup_arguments,
    template_parameters,
)
from kianax_capacity.units import parse_duration

__all__ = [
    "AGGREGATE_PARTS",
    "DIALECTS",
    "SHAPES",
    "AggregateQuery",
    "ChunkCombiner",
    "PrometheusClient",
    "QueryJob",
    "QueryPlan",
    "TimeGrid",
    "aggregate_queries",
    "container_stats_from_parts",
    "fetch_prometheus_snapshot",
    "plan_queries",
]

_LOGGER = logging.getLogger(__name__)

SHAPES = ("series", "aggregate")
#: The API refuses range queries returning more points per series than this.
API_MAX_POINTS_PER_SERIES = 11_000
_DEFAULT_SCRAPE_SECONDS = 30.0
_SCRAPE_PROBE_SECONDS = 3600.0
_INSTANT_NUDGE_SECONDS = 1
#: Two range-answer timestamps closer than this are the same instant (they are whole seconds
#: or milliseconds, read as floats).
_SAME_INSTANT_SECONDS = 0.5
_EPOCH = pd.Timestamp(0, tz="UTC")

#: The query languages the aggregate shape speaks. ``auto`` asks the server once (one request)
#: whether it understands MetricsQL (VictoriaMetrics), else uses PromQL.
DIALECTS = ("auto", "promql", "metricsql")

#: container_stats part -> how the chunks' values combine.
#: Each part comes from an instant query per aggregate chunk (one day by default) over that chunk
#: only, so the server's dense subquery matrix holds the series alive that day, not the whole
#: window. ``max``/``sum`` combine exactly and means are the sums over the counts. A quantile
#: combines as the max of the chunks' quantiles: never above the window's max, and at or above
#: the window's quantile whenever each chunk's samples are many (if every chunk has the share q
#: of its samples at or below x, so has the window); interpolation between neighbouring samples
#: can put it a little below on tiny chunks. It errs on the side of more capacity.
AGGREGATE_PARTS: dict[str, str] = {
    "cpu_cores_p50": "max",
    "cpu_cores_p90": "max",
    "cpu_cores_p95": "max",
    "cpu_cores_p99": "max",
    "cpu_cores_max": "max",
    "cpu_cores_sum": "sum",
    "cpu_cores_count": "sum",
    "memory_bytes_p50": "max",
    "memory_bytes_p90": "max",
    "memory_bytes_p95": "max",
    "memory_bytes_p99": "max",
    "memory_bytes_max": "max",
    "memory_bytes_sum": "sum",
    "samples": "sum",
    "cpu_throttled_ratio_sum": "sum",
    "cpu_throttled_ratio_count": "sum",
}


@dataclass(frozen=True)
class AggregateQuery:
    """One instant request per aggregate chunk, answering one or several parts.

    ``label`` is None when the answer is a single part; otherwise the answer holds each part as
    its own series per container, told apart by ``label`` (MetricsQL's ``phi`` of
    ``quantiles_over_time``, ``rollup`` of ``aggr_over_time``), mapped by ``parts``.
    """

    name: str
    template: str
    function: str
    arguments: str
    parts: tuple[tuple[str, str], ...]  # (label value, part); label value "" for one part
    label: str | None = None


_QUANTILES = (("0.5", "p50"), ("0.9", "p90"), ("0.95", "p95"), ("0.99", "p99"))
_STATISTICS = (
    # (template, part prefix, the parts from plain rollups: (rollup function, part))
    (
        "aggregate_cpu",
        "cpu_cores",
        (
            ("max_over_time", "cpu_cores_max"),
            ("sum_over_time", "cpu_cores_sum"),
            ("count_over_time", "cpu_cores_count"),
        ),
    ),
    (
        "aggregate_memory",
        "memory_bytes",
        (
            ("max_over_time", "memory_bytes_max"),
            ("sum_over_time", "memory_bytes_sum"),
            ("count_over_time", "samples"),
        ),
    ),
)
_THROTTLING = (
    ("sum_over_time", "cpu_throttled_ratio_sum"),
    ("count_over_time", "cpu_throttled_ratio_count"),
)


def aggregate_queries(dialect: str) -> tuple[AggregateQuery, ...]:
    """The aggregate-shape statistic queries of one chunk in ``promql`` or ``metricsql``.

    PromQL has one rollup per query, so each part is its own request (16 per chunk) and the
    server evaluates the CPU ``rate`` subquery seven times. MetricsQL's ``quantiles_over_time``
    and ``aggr_over_time`` return several statistics from one evaluation (5 per chunk): the
    same numbers for a third of the server's work (docs/scaling.md).
    """
    if dialect not in ("promql", "metricsql"):
        raise ValueError(f"dialect {dialect!r} is neither promql nor metricsql")
    out: list[AggregateQuery] = []
    for template, prefix, rollups in _STATISTICS:
        quantiles = tuple((value, f"{prefix}_{suffix}") for value, suffix in _QUANTILES)
        if dialect == "metricsql":
            out.append(
                AggregateQuery(
                    f"{prefix}_quantiles",
                    template,
                    "quantiles_over_time",
                    rollup_arguments(quantiles=[float(v) for v, _ in quantiles], label=_PHI_LABEL),
                    quantiles,
                    label=_PHI_LABEL,
                )
            )
            out.append(_rollups_query(f"{prefix}_rollups", template, rollups))
            continue
        out.extend(
            AggregateQuery(
                part,
                template,
                "quantile_over_time",
                rollup_arguments(quantiles=[float(value)]),
                (("", part),),
            )
            for value, part in quantiles
        )
        out.extend(
            AggregateQuery(part, template, function, "", (("", part),))
            for function, part in rollups
        )
    if dialect == "metricsql":
        out.append(
            _rollups_query("cpu_throttled_ratio_rollups", "aggregate_cpu_throttling", _THROTTLING)
        )
    else:
        out.extend(
            AggregateQuery(part, "aggregate_cpu_throttling", function, "", (("", part),))
            for function, part in _THROTTLING
        )
    return tuple(out)


def _rollups_query(
    name: str, template: str, rollups: tuple[tuple[str, str], ...]
) -> AggregateQuery:
    return AggregateQuery(
        name,
        template,
        "aggr_over_time",
        rollup_arguments(rollups=[function for function, _ in rollups]),
        rollups,
        label=_ROLLUP_LABEL,
    )


_PHI_LABEL = "phi"
_ROLLUP_LABEL = "rollup"
#: Every aggregate query of either dialect by job name (the names do not clash).
_AGGREGATE_QUERIES = {
    query.name: query for d in ("promql", "metricsql") for query in aggregate_queries(d)
}
#: MetricsQL-only expression whose answer proves the server speaks MetricsQL.
_DIALECT_PROBE = 'quantiles_over_time("phi", 0.5, vector(1)[2m:1m])'

#: container_stats mean column -> (sum part, count part).
_MEANS = {
    "cpu_cores_mean": ("cpu_cores_sum", "cpu_cores_count"),
    "memory_bytes_mean": ("memory_bytes_sum", "samples"),
    "cpu_throttled_ratio_mean": ("cpu_throttled_ratio_sum", "cpu_throttled_ratio_count"),
}

# Range queries (one per time chunk). Usage only in the series shape.
_USAGE_RANGE = ("cpu_usage", "memory_usage", "cpu_throttling")
_EVENT_RANGE = (
    "restart_counters",
    "termination_reasons",
    "hpa_current_replicas",
    "hpa_desired_replicas",
)
#: Range queries of counters the client differences step to step: asked from one step before
#: their chunk (see restart_counters.promql) -> the query that answers the differences on the
#: server, for servers that refuse the first one's ``@ end()``.
_DIFFERENCED_RANGE = {"restart_counters": "restart_events"}
# Instant queries at each chunk's end over the chunk.
_INVENTORY = (
    "pod_first_seen",
    "pod_last_seen",
    "pod_owner",
    "replicaset_owner",
    "job_owner",
    "pod_info",
    "container_requests",
    "container_limits",
    "pod_pvcs",
    "hpa_info",
    "hpa_min_replicas",
    "hpa_max_replicas",
    "hpa_target_metric",
    "pdb_desired_healthy",
    "pdb_disruptions_allowed",
    "node_labels",
    "node_capacity",
    "node_allocatable",
    "node_first_seen",
    "node_last_seen",
)
# kube-state-metrics series without which requests, owners or nodes are unknown.
_REQUIRED_KSM = {
    "pod_owner": "kube_pod_owner",
    "container_requests": "kube_pod_container_resource_requests",
    "pod_info": "kube_pod_info",
    "node_labels": "kube_node_labels",
}


# ---------------------------------------------------------------------------------------------
# Planning: which queries, over which time chunks


@dataclass(frozen=True)
class TimeGrid:
    """Evaluation times ``end - k*step`` (k = n-1 .. 0): each is the end of one step."""

    end: datetime
    step_seconds: int
    points: int

    @property
    def first(self) -> datetime:
        return self.end - timedelta(seconds=self.step_seconds * (self.points - 1))

    @property
    def window_start(self) -> datetime:
        return self.end - timedelta(seconds=self.step_seconds * self.points)

    def chunks(self, max_points: int) -> list[TimeGrid]:
        """Consecutive, non-overlapping sub-grids of at most ``max_points`` points each."""
        out: list[TimeGrid] = []
        remaining = self.points
        chunk_end = self.end
        while remaining > 0:
            size = min(max_points, remaining)
            out.append(TimeGrid(chunk_end, self.step_seconds, size))
            chunk_end -= timedelta(seconds=self.step_seconds * size)
            remaining -= size
        return out[::-1]


@dataclass(frozen=True)
class QueryJob:
    """One HTTP request: an instant query at ``time`` or a range query over ``grid``."""

    name: str  # template name, or the container_stats column for aggregate queries
    promql: str
    chunk: int
    time: datetime | None = None
    grid: TimeGrid | None = None
    #: The same answer from a query older servers accept, sent if the server rejects this one.
    fallback: QueryJob | None = None


@dataclass(frozen=True)
class QueryPlan:
    grid: TimeGrid
    chunks: tuple[TimeGrid, ...]
    jobs: tuple[QueryJob, ...]
    rate_window_seconds: float
    sample_window_seconds: float
    aggregate_chunks: tuple[TimeGrid, ...] = ()


def plan_queries(
    *,
    grid: TimeGrid,
    shape: str,
    selector: Selector,
    scrape_interval_seconds: float,
    rate_window_seconds: float | None = None,
    max_points_per_series: int = 10_000,
    aggregate_chunk_seconds: float = 86_400.0,
    dialect: str = "promql",
) -> QueryPlan:
    """Every request a fetch sends: a pure function of the window, never of the cluster size.

    Args:
        grid: the evaluation times.
        shape: ``series`` or ``aggregate``.
        selector: the namespace / cluster matchers.
        scrape_interval_seconds: how often the server scraped the kubelet.
        rate_window_seconds: the ``rate()`` window; default max(step, 2 x scrape interval),
            because ``rate`` needs two samples inside its window and should span a whole step.
        max_points_per_series: points per range query and series (below the API's 11,000).
        aggregate_chunk_seconds: aggregate shape only: the statistics and the inventory are
            instant queries at the end of each chunk of this length (counted back from the
            window's end), so the request count is (parts x chunks) whatever the cluster size
            and each request only touches the series alive in its chunk.
        dialect: ``promql`` or ``metricsql`` (aggregate shape: see :func:`aggregate_queries`).
    """
    if shape not in SHAPES:
        raise UserInputError(f"--shape {shape!r} is not one of {', '.join(SHAPES)}")
    if not 1 <= max_points_per_series <= API_MAX_POINTS_PER_SERIES:
        raise UserInputError(
            f"max_points_per_series must be between 1 and {API_MAX_POINTS_PER_SERIES}"
        )
    step = grid.step_seconds
    rate_window = rate_window_seconds or max(float(step), 2.0 * scrape_interval_seconds)
    # One step minus a second: (t - step, t] on every engine, whether its ranges are closed
    # (Prometheus 2) or left-open (Prometheus 3, VictoriaMetrics).
    sample_window = step - min(1.0, step / 2)
    common = {
        "selector": selector.namespaced,
        "cluster_selector": selector.cluster_only,
        "step": format_duration(step),
        "rate_window": format_duration(rate_window),
        "sample_window": format_duration(sample_window),
    }

    def fill(template: str, **extra: str) -> str:
        wanted = template_parameters(template)
        params = {k: v for k, v in {**common, **extra}.items() if k in wanted}
        return render(template, **params)

    def range_job(name: str, index: int, chunk: TimeGrid) -> QueryJob:
        if name not in _DIFFERENCED_RANGE:
            return QueryJob(name, fill(name), index, grid=chunk)
        # One step before the chunk, so its first step has a previous one to difference
        # against; the filter's window spans the whole range and one step more (it only asks
        # whether the counter was ever above zero, so a wider window changes nothing).
        extended = TimeGrid(chunk.end, chunk.step_seconds, chunk.points + 1)
        window = format_duration((chunk.points + 2) * step)
        fallback = _DIFFERENCED_RANGE[name]
        return QueryJob(
            name,
            fill(name, window=window),
            index,
            grid=extended,
            fallback=QueryJob(fallback, fill(fallback), index, grid=chunk),
        )

    statistics = aggregate_queries(dialect) if shape == "aggregate" else ()
    chunks = tuple(grid.chunks(max_points_per_series))
    aggregate_chunks: tuple[TimeGrid, ...] = ()
    if shape == "aggregate":
        if aggregate_chunk_seconds < step:
            raise UserInputError(
                f"aggregate_chunk ({format_duration(aggregate_chunk_seconds)}) is shorter than "
                f"the step ({format_duration(step)}); set [prometheus] aggregate_chunk to e.g. 1d"
            )
        per_chunk = min(int(aggregate_chunk_seconds // step), max_points_per_series)
        aggregate_chunks = tuple(grid.chunks(per_chunk))
    jobs: list[QueryJob] = []
    range_names = (*(_USAGE_RANGE if shape == "series" else ()), *_EVENT_RANGE)
    # The aggregate shape runs the inventory and the range queries per aggregate chunk: an
    # inventory answer then holds
    # the pods alive that day (not every pod of the window, ~800 bytes each once parsed), and
    # pod_first_seen / pod_last_seen (subqueries: a dense series x steps matrix on the server)
    # stay small. Chunks combine as in the series shape (min/max, or the latest chunk).
    range_chunk_inventory = _INVENTORY if shape != "aggregate" else ()
    # Instant queries run one second after the chunk's end over one second more: VictoriaMetrics
    # does not show a series whose only sample is exactly at the evaluation instant, so a pod
    # born in the last step would lose its owner. Both engines then see [start, end].
    nudge = timedelta(seconds=_INSTANT_NUDGE_SECONDS)
    for index, chunk in enumerate(chunks):
        window = format_duration(chunk.points * step + _INSTANT_NUDGE_SECONDS)
        for name in range_names if shape != "aggregate" else ():
            jobs.append(range_job(name, index, chunk))
        for name in range_chunk_inventory:
            jobs.append(QueryJob(name, fill(name, window=window), index, time=chunk.end + nudge))
    for index, chunk in enumerate(aggregate_chunks):
        window = format_duration(chunk.points * step + _INSTANT_NUDGE_SECONDS)
        # Range answers per day too: the HPA replica series of a big cluster over 14 days are
        # millions of points, several hundred MB while one answer is being parsed.
        for name in range_names:
            jobs.append(range_job(name, index, chunk))
        for name in _INVENTORY:
            jobs.append(QueryJob(name, fill(name, window=window), index, time=chunk.end + nudge))
        # The statistics' subqueries span exactly the chunk's points (no extra second): at
        # end + 1 s the range [end + 1 s - points x step, end + 1 s] holds the chunk's steps
        # and not the previous chunk's last one, on closed (Prometheus 2) and left-open
        # (Prometheus 3, VictoriaMetrics) ranges alike, so sums and counts add up exactly.
        stat_window = format_duration(chunk.points * step)
        for query in statistics:
            promql = fill(
                query.template,
                window=stat_window,
                function=query.function,
                arguments=query.arguments,
            )
            jobs.append(QueryJob(query.name, promql, index, time=chunk.end + nudge))
    return QueryPlan(grid, chunks, tuple(jobs), rate_window, sample_window, aggregate_chunks)


# ---------------------------------------------------------------------------------------------
# HTTP: prometheus-api-client with bounded retries, translated errors


class QueryRejectedError(PrometheusError):
    """The server refused the query itself (HTTP 400 or 422: bad_data), not a server failure."""


class _BoundedRetry(Retry):
    """urllib3 Retry that honours Retry-After but never waits longer than a cap."""

    max_retry_after: float = 30.0

    def parse_retry_after(self, retry_after: str) -> float:
        return min(super().parse_retry_after(retry_after), self.max_retry_after)


def _make_retry(config: PrometheusConfig) -> Retry:
    class _CappedRetry(_BoundedRetry):
        max_retry_after = config.max_retry_after_seconds

    attempts = max(0, config.max_retries)
    return _CappedRetry(
        total=attempts,
        connect=attempts,
        read=attempts,
        status=attempts,
        other=0,
        backoff_factor=config.retry_backoff_seconds,
        backoff_max=max(config.retry_backoff_seconds * 8, 0.0),
        status_forcelist=(429, 500, 502, 503, 504),
        allowed_methods=None,  # GET and POST queries are both read-only
        respect_retry_after_header=True,
        raise_on_status=False,  # the last response reaches us and is reported with its status
    )


class _RetryLogToDebug(logging.Filter):
    """Moves urllib3's per-retry WARNING to our DEBUG log.

    A retry that then succeeds is not worth a warning, and one that fails ends in our one-line
    PrometheusError; without this the CLI would print a line per retry before it.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno == logging.WARNING and record.getMessage().startswith("Retrying"):
            _LOGGER.debug("urllib3: %s", record.getMessage())
            return False
        return True


def _quiet_urllib3_retries() -> None:
    pool_logger = logging.getLogger("urllib3.connectionpool")
    if not any(isinstance(f, _RetryLogToDebug) for f in pool_logger.filters):
        pool_logger.addFilter(_RetryLogToDebug())


class _GcPause:
    """Pauses the cyclic garbage collector while any thread is inside (re-entrant, counted).

    Parsing an answer allocates hundreds of thousands of dicts, lists and strings, and every
    few hundred allocations start a collection that walks the whole live heap (the answers
    folded so far): measured at 4-5x the parse itself. JSON has no reference cycles, so
    nothing collectable piles up while paused; the collector resumes when the last thread
    leaves (and is left alone if the caller had disabled it).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._inside = 0
        self._was_enabled = False

    def __enter__(self) -> None:
        with self._lock:
            if self._inside == 0:
                self._was_enabled = gc.isenabled()
                gc.disable()
            self._inside += 1

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self._inside -= 1
            if self._inside == 0 and self._was_enabled:
                gc.enable()


_GC_PAUSED = _GcPause()


def _libc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim``, or None where there is none (musl, macOS, Windows)."""
    try:
        trim = ctypes.CDLL(None).malloc_trim
    except (AttributeError, OSError):
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


_MALLOC_TRIM = _libc_trim()


def _release_free_memory() -> None:
    """Give the C heap's free pages back to the system (glibc ``malloc_trim``).

    The worker threads parse answers in their own malloc arenas, and numpy arrays past the
    (dynamic, up to 32 MB) mmap threshold come from the heap too: what they free stays
    resident, and the main thread's assembly cannot reuse another arena's free chunks, so it
    was paid for twice at 10,000 containers over 14 days.
    """
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)


class PrometheusClient:
    """A thin, thread-safe wrapper on ``PrometheusConnect`` that raises PrometheusError.

    Args:
        config: URL, auth, TLS, timeout, retries and concurrency.
        environ: where ``*_env`` secrets are read (default ``os.environ``).
    """

    def __init__(self, config: PrometheusConfig, environ: Mapping[str, str] | None = None) -> None:
        from prometheus_api_client import PrometheusConnect

        if not config.url:
            raise UserInputError("no Prometheus URL: pass --prometheus-url or set [prometheus] url")
        url = config.url.rstrip("/")
        if not re.match(r"^https?://[^/]", url):
            raise UserInputError(
                f"--prometheus-url {redact_url(url)!r} must start with http:// or https://"
            )
        self.url = url
        self.safe_url = redact_url(url)
        self.config = config
        self.requests_sent = 0
        self.bytes_received = 0  # response bodies as decoded (after gzip), for the benchmark
        self._count_lock = threading.Lock()
        _quiet_urllib3_retries()
        auth = build_auth(config, environ)
        self._secrets = _secrets_of(auth)
        session = requests.Session()
        session.hooks["response"].append(self._count_bytes)
        configure_tls(session, config)
        retry = _make_retry(config)
        self._connect = PrometheusConnect(
            url=url,
            headers=build_headers(config) or None,
            auth=auth,
            session=session,
            retry=retry,
            timeout=config.timeout_seconds,
        )
        # The library mounts a default-sized pool; size it for our concurrency.
        pool = max(10, config.concurrency)
        session.mount(url, HTTPAdapter(max_retries=retry, pool_maxsize=pool, pool_connections=pool))

    def close(self) -> None:
        self._connect.close()

    def _count_bytes(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        size = len(response.content)  # the client reads the whole body anyway
        with self._count_lock:
            self.bytes_received += size

    def run(self, job: QueryJob) -> list[dict[str, Any]]:
        """Send one query; the ``result`` list of the answer.

        The request goes through the library's session (auth, headers, TLS, retries) exactly
        as ``custom_query``/``custom_query_range`` send it, but the body is parsed here with
        orjson: the standard ``json`` module was the largest client cost at 10,000 containers
        (an aggregate answer is ~30 MB of JSON).
        """
        from prometheus_api_client.exceptions import PrometheusApiClientException

        with self._count_lock:
            self.requests_sent += 1
        connect = self._connect
        params: dict[str, Any] = {"query": job.promql}
        if job.grid is not None:
            path = "/api/v1/query_range"
            params["start"] = round(job.grid.first.timestamp())
            params["end"] = round(job.grid.end.timestamp())
            params["step"] = str(job.grid.step_seconds)
        else:
            assert job.time is not None
            path = "/api/v1/query"
            params["time"] = job.time.timestamp()
        params["timeout"] = format_duration(self.config.timeout_seconds)
        try:
            response = connect._session.request(
                method=connect._method,
                url=f"{connect.url}{path}",
                params=params,
                verify=connect._session.verify,
                headers=connect.headers,
                auth=connect.auth,
                cert=connect._session.cert,
                timeout=connect._timeout,
            )
            if response.status_code != 200:
                # The library's exception and text, so _translate reads status and detail.
                raise PrometheusApiClientException(
                    f"HTTP Status Code {response.status_code} ({response.content!r})"
                )
            with _GC_PAUSED:
                result = orjson.loads(response.content)["data"]["result"]
        except Exception as exc:
            raise self._translate(exc, job) from exc
        if not isinstance(result, list):
            raise PrometheusError(
                f"Prometheus at {self.safe_url} answered {job.name} with an unexpected body "
                "(no result list); check that the URL points at the Prometheus HTTP API"
            )
        return result

    def _translate(self, exc: Exception, job: QueryJob) -> PrometheusError:
        from prometheus_api_client.exceptions import PrometheusApiClientException

        where = f"Prometheus at {self.safe_url}"
        attempts = self.config.max_retries + 1
        if isinstance(exc, PrometheusApiClientException):
            text = str(exc)
            match = re.search(r"HTTP Status Code (\d+)", text)
            status = int(match.group(1)) if match else 0
            detail = _server_error_detail(text)
            if status == 404:
                message = (
                    f"{where} answered 404 Not Found for /api/v1/query; check the URL path "
                    "(Mimir needs .../prometheus, VictoriaMetrics cluster .../select/0/prometheus, "
                    "AMP .../workspaces/ws-ID)"
                )
            elif status in (401, 403):
                message = (
                    f"{where} answered {status} (not authorised); check --auth and the token, "
                    "password or AWS credentials it uses"
                )
            elif status == 429:
                message = (
                    f"{where} kept answering 429 Too Many Requests after {attempts} attempts; "
                    "lower [prometheus] concurrency or retry later"
                )
            elif status >= 500:
                message = (
                    f"{where} answered HTTP {status} after {attempts} attempts{detail}; check the "
                    "server's health and logs, or retry later"
                )
            else:
                message = (
                    f"{where} rejected query {job.name} with HTTP {status}{detail}; check "
                    "--namespace/--cluster-label and that the server speaks PromQL"
                )
                if status in (400, 422):
                    return QueryRejectedError(self._scrub(message))
        elif isinstance(exc, ValueError | KeyError | TypeError):
            # requests' JSONDecodeError is a ValueError: a cut-off or non-JSON body.
            message = (
                f"{where} sent a body that is not Prometheus API JSON (truncated or an HTML page) "
                f"for {job.name}; check the URL points at the Prometheus HTTP API and any proxy "
                "in between"
            )
        elif isinstance(
            exc, requests.exceptions.ChunkedEncodingError | requests.exceptions.ContentDecodingError
        ):
            message = (
                f"{where} closed the connection in the middle of the answer to {job.name} "
                "(truncated body); check the server and any proxy in between, or shorten --window"
            )
        elif isinstance(exc, requests.exceptions.SSLError):
            message = (
                f"TLS handshake with {where} failed; check --ca-bundle (or --insecure for a "
                "test server)"
            )
        elif _is_timeout(exc):
            message = (
                f"{where} did not answer {job.name} within {self.config.timeout_seconds:g}s "
                f"({attempts} attempts); check the server's load, raise [prometheus] "
                "timeout_seconds or shorten --window"
            )
        elif isinstance(exc, requests.exceptions.ConnectionError):
            message = (
                f"cannot connect to {where} ({_connection_reason(exc)}); check --prometheus-url "
                "and that the server is up and reachable"
            )
        elif isinstance(exc, requests.exceptions.RequestException):
            message = f"request to {where} failed ({type(exc).__name__}); check --prometheus-url"
        else:
            raise exc
        return PrometheusError(self._scrub(message))

    def _scrub(self, message: str) -> str:
        for secret in self._secrets:
            message = message.replace(secret, "<redacted>")
        return " ".join(message.split())


def _secrets_of(auth: object) -> tuple[str, ...]:
    found = []
    for attribute in ("_token", "password"):
        value = getattr(auth, attribute, None)
        if isinstance(value, str) and value:
            found.append(value)
    return tuple(found)


def _server_error_detail(text: str) -> str:
    """The ``error`` field of a Prometheus error body quoted in the client's exception text."""
    match = re.search(r"\((b'.*'|b\".*\")\)\s*$", text, flags=re.DOTALL)
    if not match:
        return ""
    try:
        body = ast.literal_eval(match.group(1))
        detail = str(json.loads(body)["error"])
    except (ValueError, SyntaxError, TypeError, KeyError):
        return ""
    detail = " ".join(detail.split())
    if len(detail) > 200:
        detail = detail[:200] + "..."
    return f": {detail}"


def _causes(exc: BaseException) -> Iterable[BaseException]:
    seen: set[int] = set()
    stack: list[BaseException] = [exc]
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        stack.extend(arg for arg in current.args if isinstance(arg, BaseException))
        reason = getattr(current, "reason", None)
        if isinstance(reason, BaseException):
            stack.append(reason)
        if current.__cause__ is not None:
            stack.append(current.__cause__)
        if current.__context__ is not None:
            stack.append(current.__context__)


def _is_timeout(exc: BaseException) -> bool:
    from urllib3.exceptions import ConnectTimeoutError, NewConnectionError, ReadTimeoutError

    causes = list(_causes(exc))
    # urllib3 derives NewConnectionError (refused, unknown host) from ConnectTimeoutError.
    if any(isinstance(c, NewConnectionError | ConnectionRefusedError) for c in causes):
        return False
    return any(
        isinstance(
            c, requests.exceptions.Timeout | ReadTimeoutError | ConnectTimeoutError | TimeoutError
        )
        for c in causes
    )


def _connection_reason(exc: BaseException) -> str:
    for cause in _causes(exc):
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused"
        if "Name or service not known" in str(cause) or "nodename nor servname" in str(cause):
            return "unknown host name"
        if isinstance(cause, ConnectionResetError):
            return "connection reset"
    return type(exc).__name__


# ---------------------------------------------------------------------------------------------
# Fetch


def _ids_of(ids: dict[tuple[str, ...], int], keys: Iterable[tuple[str, ...]]) -> np.ndarray:
    """The id of each key in ``ids``, adding unseen keys with the next ids.

    An unseen key is stored with interned strings: a key's strings come from one parsed answer
    and would otherwise each stay allocated among that answer's freed objects (a pod's name in
    every fold and for every day it is first seen), which fragmented the heap to GBs at 10,000
    containers over 14 days.
    """
    found = ids.get
    out: list[int] = []
    append = out.append
    for key in keys:
        index = found(key)
        if index is None:
            index = ids[tuple([sys.intern(part) for part in key])] = len(ids)
        append(index)
    return np.array(out, dtype=np.intp)


class ChunkCombiner:
    """Running per-container aggregates of the aggregate parts, combined as answers arrive.

    Each (namespace, pod, container) gets an integer id on first sight; every part is a numpy
    column indexed by id, combined in place with the part's rule (``max``, ``min`` or ``sum``).
    Memory is O(pod containers x parts) whatever the number of chunks, and no chunk's answer is
    kept once combined. Thread-safe: the fetch's worker threads call :meth:`add` concurrently.

    Args:
        rules: part name -> ``max``, ``min`` or ``sum``.
    """

    def __init__(self, rules: Mapping[str, str]) -> None:
        unknown = sorted(set(rules.values()) - {"max", "min", "sum"})
        if unknown:
            raise ValueError(f"unknown combination rule(s) {unknown}")
        self._rules = dict(rules)
        self._ids: dict[tuple[str, ...], int] = {}
        self._columns = {name: np.full(0, np.nan) for name in self._rules}
        self._lock = threading.Lock()

    def add_answer(self, part: str, result: list[dict[str, Any]]) -> None:
        """Combine one instant answer (Prometheus JSON ``result``) into ``part``."""
        self.add_labelled({"": part}, None, result)

    def add_labelled(
        self, parts: Mapping[str, str], label: str | None, result: list[dict[str, Any]]
    ) -> None:
        """Combine one instant answer holding several parts, told apart by ``label``.

        ``parts`` maps a label value to its part; values compare as numbers when they are
        numbers (``phi="0.50"`` is ``0.5``). A series whose value names no part (a server adding
        statistics it was not asked for) is ignored rather than mixed into another part. With
        ``label`` None every series belongs to the one part of ``parts``.

        One pass over the answer: at 10,000 containers a day's MetricsQL answers are ~500,000
        series, and splitting them by part first, then reading each part's keys and values,
        was most of the client's CPU after parsing.
        """
        names = list(dict.fromkeys(parts.values()))
        code_of = {_label_key(value): names.index(part) for value, part in parts.items()}
        seen: dict[str, int] = {}  # raw label value -> part index (-1: not asked for)
        keys: list[tuple[str, str, str]] = []
        codes: list[int] = []
        values: list[str] = []
        for series in result:
            metric = series.get("metric", {})
            code = 0
            if label is not None:
                raw = metric.get(label, "")
                found = seen.get(raw)
                if found is None:
                    found = seen[raw] = code_of.get(_label_key(raw), -1)
                if found < 0:
                    continue
                code = found
            keys.append(
                (metric.get("namespace", ""), metric.get("pod", ""), metric.get("container", ""))
            )
            codes.append(code)
            values.append(series["value"][1])
        numbers = np.array(values, dtype=float)
        part_codes = np.array(codes, dtype=np.intp)
        with self._lock:
            ids = _ids_of(self._ids, keys)
            self._grow(len(self._ids))
            for code, part in enumerate(names):
                chosen = part_codes == code if len(names) > 1 else slice(None)
                self._combine(part, ids[chosen], numbers[chosen])

    def add(self, part: str, keys: list[tuple[str, str, str]], values: np.ndarray) -> None:
        """Combine one chunk's ``values`` (one per key) into the running ``part``."""
        values = np.asarray(values, dtype=float)
        with self._lock:
            ids = _ids_of(self._ids, keys)
            self._grow(len(self._ids))
            self._combine(part, ids, values)

    def _combine(self, part: str, ids: np.ndarray, values: np.ndarray) -> None:
        """Fold ``values`` into ``part`` at ``ids`` with the part's rule (lock held)."""
        rule = self._rules[part]
        column = self._columns[part]
        # ufunc.at applies repeated ids one after the other, so a key listed twice in one
        # answer still combines correctly. fmax/fmin ignore the NaN of "not seen yet".
        if rule == "max":
            np.fmax.at(column, ids, values)
        elif rule == "min":
            np.fmin.at(column, ids, values)
        else:
            fresh = ids[np.isnan(column[ids])]
            column[fresh] = 0.0
            np.add.at(column, ids, values)

    def _grow(self, size: int) -> None:
        for name, column in self._columns.items():
            if len(column) < size:
                grown = np.full(max(size, 2 * len(column)), np.nan)
                grown[: len(column)] = column
                self._columns[name] = grown

    def frame(self) -> pd.DataFrame:
        """One row per key seen: ``namespace``, ``pod``, ``container`` and one column per part
        (NaN where the part never had a value for that key)."""
        size = len(self._ids)
        keys = list(self._ids)  # insertion order = id order
        out = pd.DataFrame(
            {
                label: np.array([key[i] for key in keys], dtype=object)
                for i, label in enumerate(_CONTAINER)
            }
        )
        for name, column in self._columns.items():
            out[name] = column[:size]
        return out


def _objects(values: np.ndarray) -> pd.Series:
    """Label values as an object column of the (shared, interned) Python strings.

    pandas 3 would otherwise copy every string into an Arrow buffer (the ``str`` dtype): seconds
    and hundreds of MB for the millions of replica rows, only for the snapshot table contract to
    turn them back into objects.
    """
    return pd.Series(values, dtype=object, copy=False)


@dataclass(frozen=True)
class _FoldSpec:
    """How one inventory query's answers fold across chunks.

    ``key`` labels identify a row; ``extra`` labels and (for ``last``) the value come from the
    key's row in the latest chunk (the last such row when an answer repeats a key), which is
    what assembly took from the concatenated answers (``_last``, ``groupby(...).last``).
    ``value`` is ``last``, ``min`` or ``max`` over every chunk.
    """

    key: tuple[str, ...]
    extra: tuple[str, ...] = ()
    value: str = "last"


_NODE_LABELS = (
    "label_eks_amazonaws_com_nodegroup",
    "label_karpenter_sh_nodepool",
    "label_node_kubernetes_io_instance_type",
    "label_beta_kubernetes_io_instance_type",
    "label_topology_kubernetes_io_zone",
    "label_eks_amazonaws_com_capacity_type",
    "label_karpenter_sh_capacity_type",
    "label_kubernetes_io_arch",
)
_POD = ("namespace", "pod")
_HPA = ("namespace", "horizontalpodautoscaler")
_OWNER = ("owner_kind", "owner_name")
#: Inventory template -> how its answers fold; only what assembly reads is kept.
_FOLDS: dict[str, _FoldSpec] = {
    "pod_first_seen": _FoldSpec(_POD, ("node",), "min"),
    "pod_last_seen": _FoldSpec(_POD, (), "max"),
    "pod_owner": _FoldSpec(_POD, _OWNER),
    "replicaset_owner": _FoldSpec(("namespace", "replicaset"), _OWNER),
    "job_owner": _FoldSpec(("namespace", "job_name"), _OWNER),
    "pod_info": _FoldSpec(_POD, ("node",)),
    "container_requests": _FoldSpec(("namespace", "pod", "container", "resource")),
    "container_limits": _FoldSpec(("namespace", "pod", "container", "resource")),
    "pod_pvcs": _FoldSpec(_POD),
    "hpa_info": _FoldSpec(_HPA, ("scaletargetref_kind", "scaletargetref_name")),
    "hpa_min_replicas": _FoldSpec(_HPA),
    "hpa_max_replicas": _FoldSpec(_HPA),
    "hpa_target_metric": _FoldSpec((*_HPA, "metric_name")),
    "pdb_desired_healthy": _FoldSpec(("namespace", "poddisruptionbudget")),
    "pdb_disruptions_allowed": _FoldSpec(("namespace", "poddisruptionbudget"), (), "min"),
    "node_labels": _FoldSpec(("node",), _NODE_LABELS),
    "node_capacity": _FoldSpec(("node", "resource")),
    "node_allocatable": _FoldSpec(("node", "resource")),
    "node_first_seen": _FoldSpec(("node",), (), "min"),
    "node_last_seen": _FoldSpec(("node",), (), "max"),
}


class _Fold:
    """One inventory query's answers folded as they arrive (see :class:`_FoldSpec`).

    Memory is O(distinct keys) whatever the number of chunks: at 10,000 containers over 14 days
    the pod inventory is ~27k rows a day, and keeping every day's answer until assembly was the
    fetch's peak. Answers may arrive in any chunk order (the worker pool); a key's extra labels
    are replaced only by a chunk at or after the one they came from. Not thread-safe on its
    own: :class:`_Results` serialises :meth:`add`.
    """

    def __init__(self, spec: _FoldSpec, ids: dict[tuple[str, ...], int] | None = None) -> None:
        self.spec = spec
        self.rows = 0  # rows received, over all answers
        # Folds with the same key labels may share one key -> id dict (a key costs ~150 bytes
        # there, and the pod inventory has five folds keyed by (namespace, pod)); a fold's own
        # rows are the ids it has a chunk for.
        self._ids: dict[tuple[str, ...], int] = {} if ids is None else ids
        self._chunk = np.full(0, -1, dtype=np.int64)
        self._value = np.full(0, np.nan)
        self._extra = [np.full(0, "", dtype=object) for _ in spec.extra]

    def add(self, chunk: int, result: list[dict[str, Any]]) -> None:
        if not result:
            return
        spec = self.spec
        self.rows += len(result)
        metrics = [series.get("metric", {}) for series in result]
        ids_of = self._ids
        if len(spec.key) == 1:
            (label,) = spec.key
            keys: Iterable[tuple[str, ...]] = [(m.get(label, ""),) for m in metrics]
        else:
            keys = [tuple([m.get(label, "") for label in spec.key]) for m in metrics]
        ids = _ids_of(ids_of, keys)
        self._grow(len(ids_of))
        values = np.array([series["value"][1] for series in result], dtype=float)
        # The last row of each key in this answer (np.unique gives first positions: reverse).
        unique, first_reversed = np.unique(ids[::-1], return_index=True)
        last_rows = len(ids) - 1 - first_reversed
        newer = chunk >= self._chunk[unique]
        take, rows = unique[newer], last_rows[newer]
        self._chunk[take] = chunk
        for label, column in zip(spec.extra, self._extra, strict=True):
            picked = [metrics[i].get(label, "") for i in rows.tolist()]
            column[take] = np.array([sys.intern(v) for v in picked], dtype=object)
        if spec.value == "last":
            self._value[take] = values[rows]
        elif spec.value == "min":
            np.fmin.at(self._value, ids, values)
        else:
            np.fmax.at(self._value, ids, values)

    def _grow(self, size: int) -> None:
        if len(self._chunk) >= size:
            return
        new_size = max(size, 2 * len(self._chunk), 64)
        chunk = np.full(new_size, -1, dtype=np.int64)
        chunk[: len(self._chunk)] = self._chunk
        value = np.full(new_size, np.nan)
        value[: len(self._value)] = self._value
        extras = []
        for column in self._extra:
            grown = np.full(new_size, "", dtype=object)
            grown[: len(column)] = column
            extras.append(grown)
        self._chunk, self._value, self._extra = chunk, value, extras

    def frame(self, labels: Iterable[str]) -> pd.DataFrame:
        """One row per key: the requested ``labels`` (key or extra) and ``value``."""
        self._grow(len(self._ids))
        mine = np.flatnonzero(self._chunk[: len(self._ids)] >= 0)
        keys = list(self._ids)  # insertion order = id order
        out: dict[str, Any] = {}
        for label in labels:
            if label in self.spec.key:
                position = self.spec.key.index(label)
                every = np.array([key[position] for key in keys], dtype=object)
                out[label] = _objects(every[mine] if len(keys) else every)
            else:
                out[label] = _objects(self._extra[self.spec.extra.index(label)][mine])
        out["value"] = self._value[mine]
        return pd.DataFrame(out)


def _folds(specs: Mapping[str, _FoldSpec]) -> dict[str, _Fold]:
    """A fold per template; folds with the same key labels share their key -> id dict."""
    shared: dict[tuple[str, ...], dict[tuple[str, ...], int]] = {}
    return {name: _Fold(spec, shared.setdefault(spec.key, {})) for name, spec in specs.items()}


@dataclass
class _Results:
    """Answers by template name.

    Inventory answers (:data:`_FOLDS`) are folded into one row per key as they arrive, on the
    worker thread, so neither the JSON nor the rows of a day outlive its answer. Other instant
    answers become compact frames; range answers are kept as (labels, points array) per series.
    """

    by_name: dict[str, list[tuple[int, Any]]] = field(default_factory=dict)
    folds: dict[str, _Fold] = field(default_factory=lambda: _folds(_FOLDS))
    parts: ChunkCombiner = field(default_factory=lambda: ChunkCombiner(AGGREGATE_PARTS))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, job: QueryJob, result: list[dict[str, Any]]) -> None:
        query = _AGGREGATE_QUERIES.get(job.name)
        if query is not None:
            # Folded into the running aggregates at once: no chunk's answer is kept.
            self.parts.add_labelled(dict(query.parts), query.label, result)
            return
        if job.grid is None and job.name in self.folds:
            with self._lock:
                self.folds[job.name].add(job.chunk, result)
            return
        answer: Any = _instant_frame(result) if job.grid is None else _range_series(result)
        with self._lock:
            self.by_name.setdefault(job.name, []).append((job.chunk, answer))

    def vector(self, name: str, labels: Iterable[str]) -> pd.DataFrame:
        """Instant answers as a frame: label columns and ``value`` (plus ``chunk`` for answers
        that are not folded; folded ones have one row per key)."""
        labels = list(labels)
        if name in self.folds:
            return self.folds[name].frame(labels)
        frames = []
        for chunk, frame in sorted(self.by_name.get(name, []), key=lambda item: item[0]):
            out = pd.DataFrame(
                {
                    label: (
                        frame[label].fillna("").to_numpy(dtype=object)
                        if label in frame.columns
                        else np.full(len(frame), "", dtype=object)
                    )
                    for label in labels
                }
            )
            out["value"] = frame["value"].to_numpy(dtype=float)
            out["chunk"] = chunk
            frames.append(out)
        if not frames:
            return pd.DataFrame(columns=[*labels, "value", "chunk"])
        return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]

    def series_points(
        self, name: str, labels: Iterable[str], *, consume: bool = False
    ) -> tuple[list[tuple[str, ...]], np.ndarray, np.ndarray]:
        """Range answers in chunk order: each non-empty series' ``labels`` values (absent: ""),
        its number of points, and every point as one (seconds, value) array.

        ``consume`` drops the answers once copied (the HPA replicas are ~100 MB a side at
        10,000 containers over 14 days, and nothing reads them twice).
        """
        labels = list(labels)
        keys: list[tuple[str, ...]] = []
        arrays: list[np.ndarray] = []
        answers = self.by_name.pop(name, []) if consume else self.by_name.get(name, [])
        for _chunk, result in sorted(answers, key=lambda item: item[0]):
            for metric, values in result:
                if len(values):
                    keys.append(tuple([metric.get(label, "") for label in labels]))
                    arrays.append(values)
        lengths = np.fromiter((len(values) for values in arrays), dtype=np.intp, count=len(arrays))
        points = np.concatenate(arrays) if arrays else np.zeros((0, 2))
        return keys, lengths, points

    def matrix(self, name: str, labels: Iterable[str]) -> pd.DataFrame:
        """Range answers in long form: label columns, ``timestamp`` (UTC) and ``value``.

        Built column by column from every series' points at once (no frame per series).
        """
        labels = list(labels)
        keys, lengths, points = self.series_points(name, labels)
        if not len(points):
            return pd.DataFrame(
                {
                    **{label: pd.Series(dtype=object) for label in labels},
                    "timestamp": pd.Series(dtype="datetime64[ns, UTC]"),
                    "value": pd.Series(dtype=float),
                }
            )
        out = pd.DataFrame(
            {
                label: _objects(
                    np.repeat(np.array([key[i] for key in keys], dtype=object), lengths)
                )
                for i, label in enumerate(labels)
            }
        )
        out["timestamp"] = _utc_times(points[:, 0])
        out["value"] = points[:, 1]
        return out

    def release(self, *names: str) -> None:
        """Drop the answers (folded or not) of ``names``: assembly has built what reads them."""
        for name in names:
            self.folds.pop(name, None)
            self.by_name.pop(name, None)

    def release_parts(self) -> None:
        """Drop the combined aggregate parts (after ``container_stats`` is built from them)."""
        self.parts = ChunkCombiner({})

    def empty(self, name: str) -> bool:
        if name in self.folds:
            return self.folds[name].rows == 0
        return not any(len(answer) for _chunk, answer in self.by_name.get(name, []))


def _label_key(value: str) -> str:
    try:
        return repr(float(value))
    except ValueError:
        return value


def _range_series(result: list[dict[str, Any]]) -> list[tuple[dict[str, str], np.ndarray]]:
    """A range answer as (interned labels, float array of (seconds, value) rows) per series.

    Parsed JSON holds each point as a list of a float and a string (~150 bytes); the array
    holds it in 16, so an answer shrinks ~10x as soon as it arrives, on the worker thread.
    """
    return [
        (
            {name: sys.intern(value) for name, value in series.get("metric", {}).items()},
            np.asarray(series.get("values", []), dtype=float).reshape(-1, 2),
        )
        for series in result
    ]


def _instant_frame(result: list[dict[str, Any]]) -> pd.DataFrame:
    """An instant answer as object label columns (absent label: None) and a float ``value``."""
    if not result:
        return pd.DataFrame({"value": np.zeros(0)})
    # Label values interned and kept as object columns: shared, they cost one pointer per row.
    # (from_records would infer pandas' string dtype and copy every value into its own buffer.)
    metrics = [series.get("metric", {}) for series in result]
    names = sorted({name for metric in metrics for name in metric})
    frame = pd.DataFrame(
        {
            name: pd.Series(
                np.array(
                    [sys.intern(v) if (v := m.get(name)) is not None else None for m in metrics],
                    dtype=object,
                ),
                dtype=object,
            )
            for name in names
        }
    )
    frame["value"] = np.array([series["value"][1] for series in result], dtype=float)
    return frame


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
        shape: ``series`` (usage time series) or ``aggregate`` (server-side statistics).
        progress: called as ``progress(done, total)`` after each request, or the CLI's
            ``Progress`` (anything with ``task(description, total)``), which gets one bar.
        environ: where ``*_env`` secrets are read (default ``os.environ``).

    Returns:
        The snapshot written.

    Raises:
        UserInputError: bad window, step, shape, regex, label or URL.
        ConfigError: the auth settings lack a secret.
        PrometheusError: the server failed; one line, no credentials.
        OutputError: ``out`` cannot be written.
    """
    start, end = _aware(start), _aware(end)
    if step_seconds <= 0:
        raise UserInputError(f"--step must be positive, got {step_seconds}s")
    points = int((end - start).total_seconds() // step_seconds)
    if points < 1:
        raise UserInputError(
            f"the window {start:%Y-%m-%dT%H:%M:%SZ}..{end:%Y-%m-%dT%H:%M:%SZ} is shorter than "
            f"one step ({step_seconds}s); widen --window or shorten --step"
        )
    if shape not in SHAPES:
        raise UserInputError(f"--shape {shape!r} is not one of {', '.join(SHAPES)}")
    if config.dialect not in DIALECTS:
        raise UserInputError(
            f"[prometheus] dialect {config.dialect!r} is not one of {', '.join(DIALECTS)}"
        )
    label = cluster_label or config.cluster_label
    label_value = (config.cluster_value or cluster) if label else None
    selector = Selector.build(
        namespace_regex=namespace_regex, cluster_label=label, cluster=label_value
    )
    grid = TimeGrid(end=end, step_seconds=step_seconds, points=points)
    client = PrometheusClient(config, environ)
    warnings: list[str] = []
    try:
        scrape = _scrape_interval(client, config, grid, selector, warnings)
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
        results = _run_all(client, plan.jobs, config.concurrency, progress)
    finally:
        client.close()
    _release_free_memory()
    with _GC_PAUSED:  # assembly builds millions of short-lived objects, no cycles
        tables = _assemble(results, plan, shape, warnings)
    for message in warnings:
        _LOGGER.warning("%s", message)
    return write_snapshot(
        out,
        tables,
        cluster=cluster,
        window_start=grid.window_start,
        window_end=grid.end,
        step_seconds=step_seconds,
        source="prometheus",
        shape=shape,
        warnings=tuple(warnings),
        extra={
            "prometheus": {
                "url": client.safe_url,
                "namespace_regex": namespace_regex,
                "cluster_label": label,
                "scrape_interval_seconds": scrape,
                "rate_window_seconds": plan.rate_window_seconds,
                "sample_window_seconds": plan.sample_window_seconds,
                "time_chunks": len(plan.chunks),
                "aggregate_chunks": len(plan.aggregate_chunks),
                "aggregate_chunk_seconds": parse_duration(config.aggregate_chunk),
                "dialect": dialect,
                "requests": client.requests_sent,
                "bytes_received": client.bytes_received,
            }
        },
    )


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


def _dialect(client: PrometheusClient, config: PrometheusConfig, grid: TimeGrid) -> str:
    """``config.dialect``, or for ``auto`` what the server answers to a MetricsQL-only query.

    VictoriaMetrics answers the probe; Prometheus, Thanos, Mimir and AMP reject it (HTTP 400 or
    422: unknown function), which means PromQL. Any other failure is the server's and is raised.
    """
    if config.dialect != "auto":
        return config.dialect
    probe = QueryJob("dialect_probe", _DIALECT_PROBE, 0, time=grid.end)
    try:
        result = client.run(probe)
    except QueryRejectedError:
        return "promql"
    speaks = any(_PHI_LABEL in series.get("metric", {}) for series in result)
    return "metricsql" if speaks else "promql"


def _run_all(
    client: PrometheusClient,
    jobs: tuple[QueryJob, ...],
    concurrency: int,
    progress: Any,
) -> _Results:
    if progress is not None and hasattr(progress, "task"):
        # The CLI's Progress: a bar with a known total, advanced once per answer.
        with progress.task(f"querying {client.safe_url}", total=len(jobs)) as advance:
            return _run_pool(client, jobs, concurrency, lambda _done, _total: advance(1))
    return _run_pool(client, jobs, concurrency, progress)


def _run_pool(
    client: PrometheusClient,
    jobs: tuple[QueryJob, ...],
    concurrency: int,
    progress: Callable[[int, int], None] | None,
) -> _Results:
    results = _Results()
    total = len(jobs)
    done = 0

    rejected: set[str] = set()  # names whose query the server refused: use their fallback

    def fetch_one(job: QueryJob) -> None:
        if job.fallback is not None and job.name in rejected:
            job = job.fallback
        try:
            result = client.run(job)
        except QueryRejectedError:
            if job.fallback is None:
                raise
            rejected.add(job.name)
            job = job.fallback
            result = client.run(job)
        # Converted on the worker thread, so no finished Future keeps a parsed JSON answer.
        with _GC_PAUSED:
            results.add(job, result)

    with ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="promql") as pool:
        pending: set[Future[None]] = {pool.submit(fetch_one, job) for job in jobs}
        while pending:
            finished, pending = wait(pending, return_when=FIRST_EXCEPTION)
            for future in finished:
                error = future.exception()
                if error is not None:
                    for other in pending:
                        other.cancel()
                    raise error
                done += 1
                if progress is not None:
                    progress(done, total)
    return results


# ---------------------------------------------------------------------------------------------
# Assembly: answers -> snapshot tables

_CONTAINER = ["namespace", "pod", "container"]


def _typed(frame: pd.DataFrame, table: str) -> pd.DataFrame:
    """``frame`` with exactly the table's columns, in order, with the contract's dtypes."""
    template = empty_table(table)
    if frame.empty:
        return template
    # Column by column into a frame that shares them (copy=False): a deep copy here doubled the
    # 7-million-row replicas table at 10,000 containers.
    columns: dict[str, pd.Series] = {}
    for column in template.columns:
        values = frame[column]
        dtype = template[column].dtype
        if isinstance(values.dtype, pd.CategoricalDtype):
            pass  # a "str" column may be categorical: kept so (no copy into strings)
        elif str(dtype) == "object":
            values = values.astype(object)
        elif str(dtype) != str(values.dtype):
            values = values.astype(dtype)
        columns[column] = values
    return pd.DataFrame(columns, copy=False).reset_index(drop=True)


def _last(frame: pd.DataFrame, key: list[str]) -> pd.DataFrame:
    """The row of the latest chunk for each key (answers are sorted by chunk)."""
    return frame.drop_duplicates(key, keep="last")


def _whole_millis(seconds: np.ndarray) -> np.ndarray:
    """Answer timestamps (float seconds) as int64 milliseconds, the instant they name."""
    return np.round(seconds * 1000).astype("int64")


def _utc_times(seconds: np.ndarray) -> pd.DatetimeIndex:
    """Answer timestamps (float seconds) as UTC times at millisecond precision."""
    return pd.to_datetime(_whole_millis(seconds), unit="ms", utc=True)


def _seconds_to_time(values: pd.Series) -> pd.Series:
    return pd.Series(_utc_times(values.to_numpy(dtype=float)), index=values.index)


def _assemble(
    results: _Results, plan: QueryPlan, shape: str, warnings: list[str]
) -> dict[str, pd.DataFrame]:
    missing = [metric for name, metric in _REQUIRED_KSM.items() if results.empty(name)]
    if missing:
        warnings.append(
            "kube-state-metrics series missing: "
            + ", ".join(missing)
            + "; without them requests/limits, workload owners or nodes are unknown and "
            "recommendations that need them report insufficient_data (is kube-state-metrics "
            "scraped, and does --namespace/--cluster-label match it?)"
        )
    if results.empty("pod_first_seen"):
        warnings.append(
            "no container_memory_working_set_bytes series matched: the snapshot has no "
            "containers (is the kubelet/cAdvisor scraped, and does --namespace match?)"
        )
    warnings.append(
        "workloads.has_emptydir is not exported by kube-state-metrics; it is False for every "
        "workload"
    )

    # Each table is built, typed and its inputs dropped before the next: at 10,000 containers
    # over 14 days the folded inventory, the statistics and the replica points are each
    # hundreds of MB, and holding all of them while every table was built set the peak.
    pods = _pods(results)
    results.release(
        "pod_first_seen", "pod_last_seen", "pod_info", "pod_owner", "replicaset_owner", "job_owner"
    )
    _release_free_memory()
    usage = _usage(results) if shape == "series" else empty_table("usage")
    if shape == "series" and not usage.empty:
        usage = usage.merge(pods[["namespace", "pod"]], on=["namespace", "pod"], how="inner")
    results.release("memory_usage", "cpu_usage", "cpu_throttling")
    terminations, restarts = _terminations(results, plan.grid.step_seconds)
    results.release("termination_reasons")  # restart_counters: consumed by _terminations
    stats = _container_stats(results) if shape == "aggregate" else None
    results.release_parts()
    _release_free_memory()
    containers = _typed(
        _containers(results, pods, usage, stats, restarts, terminations), "containers"
    )
    results.release("container_requests", "container_limits")
    _release_free_memory()
    workloads = _typed(_workloads(results, pods), "workloads")
    nodes = _typed(_nodes(results), "nodes")
    hpas = _typed(_hpas(results), "hpas")
    replicas = _typed(_replicas(results), "replicas")
    tables = {
        "nodes": nodes,
        "workloads": workloads,
        "pods": _typed(pods, "pods"),
        "containers": containers,
        "usage": _typed(usage, "usage"),
        "hpas": hpas,
        "replicas": replicas,
        "terminations": _typed(terminations, "terminations"),
    }
    if stats is not None:
        stats = stats.merge(pods[["namespace", "pod"]], on=["namespace", "pod"], how="inner")
        tables["container_stats"] = _typed(stats, "container_stats")
    return tables


def _pods(results: _Results) -> pd.DataFrame:
    key = ["namespace", "pod"]
    first = results.vector("pod_first_seen", [*key, "node"])
    last = results.vector("pod_last_seen", key)
    if first.empty:
        return empty_table("pods")
    first = first.groupby(key, as_index=False).agg(
        first_seen=("value", "min"), node=("node", "last")
    )
    last = last.groupby(key, as_index=False).agg(last_seen=("value", "max"))
    pods = first.merge(last, on=key, how="left")
    pods["last_seen"] = pods["last_seen"].fillna(pods["first_seen"])
    info = _last(results.vector("pod_info", [*key, "node"]), key)
    if not info.empty:
        pods = pods.merge(
            info[[*key, "node"]].rename(columns={"node": "ksm_node"}), on=key, how="left"
        )
        pods["node"] = pods["ksm_node"].where(pods["ksm_node"].fillna("") != "", pods["node"])
    owners = _owners(results)
    pods = pods.merge(owners, on=key, how="left")
    no_owner = pods["kind"].isna()
    pods.loc[no_owner, "kind"] = "Pod"
    pods.loc[no_owner, "workload"] = pods.loc[no_owner, "pod"]
    pods["first_seen"] = _seconds_to_time(pods["first_seen"])
    pods["last_seen"] = _seconds_to_time(pods["last_seen"])
    return pods[["namespace", "pod", "kind", "workload", "node", "first_seen", "last_seen"]]


def _owners(results: _Results) -> pd.DataFrame:
    """(namespace, pod) -> (kind, workload) through ReplicaSet->Deployment and Job->CronJob."""
    pod_owner = _last(
        results.vector("pod_owner", ["namespace", "pod", "owner_kind", "owner_name"]),
        ["namespace", "pod"],
    )
    columns = ["namespace", "pod", "kind", "workload"]
    if pod_owner.empty:
        return pd.DataFrame(columns=columns)
    owners = pod_owner.rename(columns={"owner_kind": "kind", "owner_name": "workload"})
    for parent, child_label in (("replicaset_owner", "replicaset"), ("job_owner", "job_name")):
        child_kind = "ReplicaSet" if parent == "replicaset_owner" else "Job"
        lookup = _last(
            results.vector(parent, ["namespace", child_label, "owner_kind", "owner_name"]),
            ["namespace", child_label],
        ).rename(columns={child_label: "workload"})
        lookup = lookup[lookup["owner_name"] != ""]
        if lookup.empty:
            continue
        owners = owners.merge(
            lookup[["namespace", "workload", "owner_kind", "owner_name"]],
            on=["namespace", "workload"],
            how="left",
        )
        hit = (owners["kind"] == child_kind) & owners["owner_name"].notna()
        owners.loc[hit, "kind"] = owners.loc[hit, "owner_kind"]
        owners.loc[hit, "workload"] = owners.loc[hit, "owner_name"]
        owners = owners.drop(columns=["owner_kind", "owner_name"])
    return owners[columns]


def _usage(results: _Results) -> pd.DataFrame:
    memory = results.matrix("memory_usage", _CONTAINER).rename(columns={"value": "memory_bytes"})
    cpu = results.matrix("cpu_usage", _CONTAINER).rename(columns={"value": "cpu_cores"})
    throttled = results.matrix("cpu_throttling", _CONTAINER).rename(
        columns={"value": "cpu_throttled_ratio"}
    )
    key = ["timestamp", *_CONTAINER]
    # A container exists at a step when it has a working-set sample in that step; a rate value
    # without one is the lookback echo of a container that already stopped.
    usage = memory.merge(cpu, on=key, how="left").merge(throttled, on=key, how="left")
    return usage.sort_values(["namespace", "pod", "container", "timestamp"], kind="stable")


def _restart_events(results: _Results, step_seconds: int) -> pd.DataFrame:
    """Restart events from the restart counters: container labels, ``timestamp`` and ``value``
    (restarts counted at that step).

    An event is a rise of the counter between two consecutive steps of one series, as
    ``counter - counter offset step > 0`` evaluated at each step: a step whose previous step
    has no sample (the container's first step, or a gap) is no event, and neither is a fall
    (a pod recreated under the same name starts again from zero).
    """
    # Chunks whose restart_counters the server refused came as server-side differences.
    differenced = results.matrix("restart_events", _CONTAINER)
    results.release("restart_events")
    keys, lengths, points = results.series_points("restart_counters", _CONTAINER, consume=True)
    series = np.repeat(np.arange(len(keys)), lengths)
    seconds, counts = points[:, 0], points[:, 1]
    consecutive = (series[1:] == series[:-1]) & (
        np.abs(np.diff(seconds) - step_seconds) < _SAME_INSTANT_SECONDS
    )
    rises = np.diff(counts)
    at = np.flatnonzero(consecutive & (rises > 0)) + 1
    key_index = series[at]
    events = pd.DataFrame(
        {
            **{
                label: _objects(np.array([keys[k][i] for k in key_index], dtype=object))
                for i, label in enumerate(_CONTAINER)
            },
            "timestamp": _utc_times(seconds[at]),
            "value": rises[at - 1],
        }
    )
    if differenced.empty:
        return events
    differenced = differenced[differenced["value"] > 0]
    return pd.concat([events, differenced], ignore_index=True) if len(events) else differenced


def _reasons_at(results: _Results, events: pd.DataFrame) -> pd.DataFrame:
    """The termination reason each container showed at the steps of its restart events.

    The reason series hold every step of every container that ever terminated (3.4 M points at
    10,000 containers over 14 days, against ~3,500 restarts): only the points at an event's
    step are made into rows, series of containers without an event are skipped whole, and the
    answers are dropped as they are read.
    """
    labels = [*_CONTAINER, "reason"]
    keys, lengths, points = results.series_points("termination_reasons", labels, consume=True)
    millis = (events["timestamp"] - _EPOCH) // pd.Timedelta(milliseconds=1)
    wanted: dict[tuple[str, ...], list[int]] = {}
    columns = [events[label].tolist() for label in _CONTAINER]
    for container, at in zip(zip(*columns, strict=True), millis.tolist(), strict=True):
        wanted.setdefault(container, []).append(at)
    ends = np.cumsum(lengths)
    rows_labels: list[tuple[str, ...]] = []
    rows_millis: list[np.ndarray] = []
    for key, end, length in zip(keys, ends.tolist(), lengths.tolist(), strict=True):
        times = wanted.get(key[:3])
        if times is None:
            continue
        series_millis = _whole_millis(points[end - length : end, 0])
        hit = series_millis[np.isin(series_millis, times)]
        rows_labels.extend([key] * len(hit))
        rows_millis.append(hit)
    out = pd.DataFrame(
        {
            label: _objects(np.array([row[i] for row in rows_labels], dtype=object))
            for i, label in enumerate(labels)
        }
    )
    picked = np.concatenate(rows_millis) if rows_millis else np.zeros(0, dtype="int64")
    out["timestamp"] = pd.to_datetime(picked, unit="ms", utc=True)
    return out


def _terminations(results: _Results, step_seconds: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Terminations (one row per restart event) and restarts/OOM kills per container."""
    events = _restart_events(results, step_seconds)
    key = ["timestamp", *_CONTAINER]
    counts_columns = [*_CONTAINER, "restarts", "oom_kills"]
    if events.empty:
        return empty_table("terminations"), pd.DataFrame(columns=counts_columns)
    reasons = _reasons_at(results, events)
    reasons = reasons.drop_duplicates(key, keep="last")[[*key, "reason"]]
    events = events.merge(reasons, on=key, how="left")
    events["reason"] = events["reason"].fillna("Unknown")
    events["count"] = events["value"].round().astype("int64")
    events["oom"] = np.where(events["reason"] == "OOMKilled", events["count"], 0)
    counts = events.groupby(_CONTAINER, as_index=False).agg(
        restarts=("count", "sum"), oom_kills=("oom", "sum")
    )
    terminations = events[[*key, "reason"]].sort_values(key, kind="stable")
    return terminations, counts


def _resources(results: _Results, name: str, prefix: str) -> pd.DataFrame:
    frame = _last(results.vector(name, [*_CONTAINER, "resource"]), [*_CONTAINER, "resource"])
    columns = [*_CONTAINER, f"cpu_{prefix}_cores", f"memory_{prefix}_bytes"]
    if frame.empty:
        return pd.DataFrame(columns=columns)
    wide = frame.pivot_table(index=_CONTAINER, columns="resource", values="value", aggfunc="last")
    wide = wide.reindex(columns=["cpu", "memory"])
    wide.columns = [f"cpu_{prefix}_cores", f"memory_{prefix}_bytes"]
    return wide.reset_index()


def _containers(
    results: _Results,
    pods: pd.DataFrame,
    usage: pd.DataFrame,
    stats: pd.DataFrame | None,
    restarts: pd.DataFrame,
    terminations: pd.DataFrame,
) -> pd.DataFrame:
    requests_ = _resources(results, "container_requests", "request")
    limits = _resources(results, "container_limits", "limit")
    seen = [requests_[_CONTAINER], limits[_CONTAINER], usage[_CONTAINER]]
    if stats is not None:
        seen.append(stats[_CONTAINER])
    keys = pd.concat(seen, ignore_index=True).astype(object).drop_duplicates()
    keys = keys.merge(pods[["namespace", "pod"]], on=["namespace", "pod"], how="inner")
    out = keys.merge(requests_, on=_CONTAINER, how="left").merge(limits, on=_CONTAINER, how="left")
    out = out.merge(restarts, on=_CONTAINER, how="left")
    for column in ("restarts", "oom_kills"):
        out[column] = out[column].fillna(0).astype("int64")
    for column in (
        "cpu_request_cores",
        "cpu_limit_cores",
        "memory_request_bytes",
        "memory_limit_bytes",
    ):
        out[column] = out[column].astype(float)
    return out.sort_values(_CONTAINER, kind="stable")


def _workloads(results: _Results, pods: pd.DataFrame) -> pd.DataFrame:
    key = ["namespace", "kind", "workload"]
    workloads = pods[key].drop_duplicates().reset_index(drop=True)
    pvcs = results.vector("pod_pvcs", ["namespace", "pod"])
    with_pvc = pods.merge(pvcs[["namespace", "pod"]].drop_duplicates(), on=["namespace", "pod"])
    pvc_keys = set(map(tuple, with_pvc[key].to_numpy().tolist()))
    workloads["has_pvc"] = [tuple(row) in pvc_keys for row in workloads[key].to_numpy().tolist()]
    workloads["has_emptydir"] = False
    # kube-state-metrics does not say which pods a PDB selects; a PDB named after its workload
    # (the Helm chart convention, and the demo's) is matched to it by name.
    healthy = _last(
        results.vector("pdb_desired_healthy", ["namespace", "poddisruptionbudget"]),
        ["namespace", "poddisruptionbudget"],
    )
    allowed_raw = results.vector("pdb_disruptions_allowed", ["namespace", "poddisruptionbudget"])
    allowed = allowed_raw.groupby(["namespace", "poddisruptionbudget"], as_index=False).agg(
        value=("value", "min")
    )
    pdb = healthy[["namespace", "poddisruptionbudget", "value"]].rename(
        columns={"poddisruptionbudget": "workload", "value": "pdb_min_available"}
    )
    pdb = pdb.merge(
        allowed.rename(
            columns={"poddisruptionbudget": "workload", "value": "pdb_disruptions_allowed"}
        ),
        on=["namespace", "workload"],
        how="outer",
    )
    workloads = workloads.merge(pdb, on=["namespace", "workload"], how="left")
    workloads["pdb_max_unavailable"] = math.nan
    for column in ("pdb_min_available", "pdb_disruptions_allowed"):
        workloads[column] = workloads[column].astype(float)
    return workloads


def _nodes(results: _Results) -> pd.DataFrame:
    label_names = ["node", *_NODE_LABELS]
    labels = _last(results.vector("node_labels", label_names), ["node"])
    first = results.vector("node_first_seen", ["node"]).groupby("node")["value"].min()
    last = results.vector("node_last_seen", ["node"]).groupby("node")["value"].max()
    if labels.empty:
        return empty_table("nodes")

    def pick(*columns: str) -> pd.Series:
        out = labels[columns[0]].replace("", np.nan)
        for column in columns[1:]:
            out = out.fillna(labels[column].replace("", np.nan))
        return out.fillna("")

    capacity_raw = pick("label_eks_amazonaws_com_capacity_type", "label_karpenter_sh_capacity_type")
    capacity = capacity_raw.str.upper().str.replace("-", "_")
    nodes = pd.DataFrame(
        {
            "node": labels["node"],
            "node_group": pick("label_eks_amazonaws_com_nodegroup", "label_karpenter_sh_nodepool"),
            "instance_type": pick(
                "label_node_kubernetes_io_instance_type", "label_beta_kubernetes_io_instance_type"
            ),
            "zone": pick("label_topology_kubernetes_io_zone"),
            # EKS writes ON_DEMAND/SPOT, Karpenter on-demand/spot; unlabeled nodes are on-demand.
            "capacity_type": capacity.where(capacity != "", "ON_DEMAND"),
            "architecture": pick("label_kubernetes_io_arch"),
        }
    )
    for name, column in (("node_capacity", "capacity"), ("node_allocatable", "allocatable")):
        frame = _last(results.vector(name, ["node", "resource"]), ["node", "resource"])
        wide = (
            frame.pivot_table(index="node", columns="resource", values="value", aggfunc="last")
            if not frame.empty
            else pd.DataFrame(index=pd.Index([], name="node"))
        ).reindex(columns=["cpu", "memory", "pods"])
        wide.columns = [f"cpu_{column}_cores", f"memory_{column}_bytes", f"pods_{column}"]
        nodes = nodes.merge(wide.reset_index(), on="node", how="left")
    nodes["first_seen"] = _seconds_to_time(nodes["node"].map(first).astype(float))
    nodes["last_seen"] = _seconds_to_time(nodes["node"].map(last).astype(float))
    return nodes.drop(columns=["pods_capacity"]).sort_values("node", kind="stable")


def _hpas(results: _Results) -> pd.DataFrame:
    key = ["namespace", "horizontalpodautoscaler"]
    info = _last(
        results.vector("hpa_info", [*key, "scaletargetref_kind", "scaletargetref_name"]), key
    )
    if info.empty:
        return empty_table("hpas")
    out = info.rename(
        columns={
            "horizontalpodautoscaler": "hpa",
            "scaletargetref_kind": "kind",
            "scaletargetref_name": "workload",
        }
    )[["namespace", "hpa", "kind", "workload"]]
    for name, column in (
        ("hpa_min_replicas", "min_replicas"),
        ("hpa_max_replicas", "max_replicas"),
    ):
        values = _last(results.vector(name, key), key).rename(
            columns={"horizontalpodautoscaler": "hpa", "value": column}
        )
        out = out.merge(values[["namespace", "hpa", column]], on=["namespace", "hpa"], how="inner")
    targets = _last(
        results.vector("hpa_target_metric", [*key, "metric_name"]), [*key, "metric_name"]
    )
    for metric in ("cpu", "memory"):
        values = targets[targets["metric_name"] == metric].rename(
            columns={"horizontalpodautoscaler": "hpa", "value": f"target_{metric}_utilization"}
        )
        out = out.merge(
            values[["namespace", "hpa", f"target_{metric}_utilization"]],
            on=["namespace", "hpa"],
            how="left",
        )
    out["min_replicas"] = out["min_replicas"].round().astype("int64")
    out["max_replicas"] = out["max_replicas"].round().astype("int64")
    out["scale_down_stabilization_seconds"] = math.nan  # not exported by kube-state-metrics
    return out.sort_values(["namespace", "hpa"], kind="stable")


def _replicas(results: _Results) -> pd.DataFrame:
    """Current and desired replicas per HPA and step, outer-joined on (HPA, timestamp).

    At 10,000 containers over 14 days this is ~7 million rows: the join runs on one int64 per
    row (HPA number, then milliseconds) instead of pandas' merge on string columns, which
    needed several GB. Rows come out sorted by (namespace, hpa, timestamp).
    """
    labels = ("namespace", "horizontalpodautoscaler")
    if _has_repeated_series(results, "hpa_current_replicas", labels) or _has_repeated_series(
        results, "hpa_desired_replicas", labels
    ):
        return _replicas_merged(results)  # repeated (HPA, step) rows: pandas' merge semantics
    current = _replica_points(results, "hpa_current_replicas", labels)
    desired = _replica_points(results, "hpa_desired_replicas", labels)
    if not len(current[2]) and not len(desired[2]):
        return empty_table("replicas")
    pairs = sorted(set(current[0]) | set(desired[0]))
    number = {pair: index for index, pair in enumerate(pairs)}

    def encoded(keys: list[tuple[str, ...]], lengths: np.ndarray, millis: np.ndarray) -> None:
        """Turns ``millis`` in place into (HPA number, milliseconds) join keys."""
        codes = np.fromiter((number[key] for key in keys), dtype=np.int64, count=len(keys))
        millis += np.repeat(codes, lengths) << _MILLIS_BITS

    encoded(*current[:3])
    encoded(*desired[:3])
    left, left_values = current[2], current[3]
    right, right_values = desired[2], desired[3]
    del current, desired
    # Each side's keys are distinct (one series per HPA and chunk, checked above, and chunks do
    # not overlap). Union sorted and deduplicated by hand: numpy 2's hash-based unique/union1d
    # took seconds here.
    keys = np.concatenate([left, right])
    keys.sort()
    keys = keys[np.concatenate([[True], keys[1:] != keys[:-1]])]
    columns: dict[str, Any] = {}
    sides = [("desired_replicas", right, right_values), ("current_replicas", left, left_values)]
    del left, right, left_values, right_values
    while sides:  # current, then desired; each side's arrays are freed once placed
        column, side_keys, side_values = sides.pop()
        values = np.full(len(keys), np.nan)
        values[np.searchsorted(keys, side_keys)] = side_values
        columns[column] = values
        del side_keys, side_values
    codes = keys >> _MILLIS_BITS
    # Categorical labels (the contract allows it for "str" columns): two small code arrays
    # instead of 7 million strings per label at 10,000 containers, in memory and in Parquet.
    for position, label in enumerate(("namespace", "hpa")):
        names = [pair[position] for pair in pairs]
        categories = sorted(set(names))
        code_of = {name: index for index, name in enumerate(categories)}
        pair_codes = np.array([code_of[name] for name in names], dtype=np.int32)
        columns[label] = pd.Categorical.from_codes(
            pair_codes[codes], categories=pd.Index(categories, dtype=object)
        )
    del codes
    columns["timestamp"] = pd.to_datetime(keys & ((1 << _MILLIS_BITS) - 1), unit="ms", utc=True)
    return pd.DataFrame(columns)


def _replica_points(
    results: _Results, name: str, labels: tuple[str, ...]
) -> tuple[list[tuple[str, ...]], np.ndarray, np.ndarray, np.ndarray]:
    """The range answers of ``name`` in chunk order, consumed: each non-empty series' ``labels``
    values, its number of points, and every point's milliseconds (int64) and value.

    Each answer is dropped as soon as its points are copied, so a side's ~7 million points at
    10,000 containers over 14 days are held once, not as answers plus a concatenated copy.
    """
    answers = sorted(results.by_name.pop(name, []), key=lambda item: item[0])
    total = sum(len(values) for _chunk, result in answers for _metric, values in result)
    millis = np.empty(total, dtype=np.int64)
    values_out = np.empty(total, dtype=float)
    keys: list[tuple[str, ...]] = []
    lengths: list[int] = []
    at = 0
    answers.reverse()  # popped from the end, in chunk order
    while answers:
        _chunk, result = answers.pop()
        for metric, values in result:
            size = len(values)
            if size:
                keys.append(tuple([metric.get(label, "") for label in labels]))
                lengths.append(size)
                millis[at : at + size] = np.round(values[:, 0] * 1000)
                values_out[at : at + size] = values[:, 1]
                at += size
        del result
    # The answers were many small arrays: their pages go back now, before the join's big ones.
    _release_free_memory()
    return keys, np.array(lengths, dtype=np.intp), millis, values_out


def _has_repeated_series(results: _Results, name: str, labels: tuple[str, ...]) -> bool:
    """Whether one answer of ``name`` has two non-empty series with the same ``labels``."""
    for _chunk, result in results.by_name.get(name, []):
        keys = [
            tuple([metric.get(label, "") for label in labels]) for metric, v in result if len(v)
        ]
        if len(set(keys)) < len(keys):
            return True
    return False


#: Bits of the milliseconds part of an (HPA, timestamp) join key: 2^42 ms after 1970 is 2109.
_MILLIS_BITS = 42


def _replicas_merged(results: _Results) -> pd.DataFrame:
    labels = ["namespace", "horizontalpodautoscaler"]
    current = results.matrix("hpa_current_replicas", labels).rename(
        columns={"value": "current_replicas"}
    )
    desired = results.matrix("hpa_desired_replicas", labels).rename(
        columns={"value": "desired_replicas"}
    )
    out = current.merge(desired, on=["timestamp", *labels], how="outer")
    out = out.rename(columns={"horizontalpodautoscaler": "hpa"})
    return out.sort_values(["namespace", "hpa", "timestamp"], kind="stable")


def _container_stats(results: _Results) -> pd.DataFrame:
    return container_stats_from_parts(results.parts.frame())


def container_stats_from_parts(parts: pd.DataFrame) -> pd.DataFrame:
    """``container_stats`` rows from the combined aggregate parts (see :class:`ChunkCombiner`).

    Means are the combined sums over the combined counts; rows without a memory sample count
    (a key seen only by the CPU queries) are dropped, as the table requires ``samples``.
    """
    out = parts[parts["samples"].notna()].copy()
    for mean, (total, count) in _MEANS.items():
        counts = out[count].to_numpy(dtype=float)
        totals = out[total].to_numpy(dtype=float)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[mean] = np.where(counts > 0, totals / counts, np.nan)
    out["samples"] = out["samples"].round().astype("int64")
    return out.sort_values(_CONTAINER, kind="stable").reset_index(drop=True)
