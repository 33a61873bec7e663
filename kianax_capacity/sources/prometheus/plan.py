"""Planning: which queries a fetch sends, over which time chunks.

A pure function of the window, the shape and the selector (:func:`plan_queries`), never of the
cluster's size: every query selects all containers at once (grouped ``by`` labels), so the
number of HTTP requests is (number of templates) x (number of time chunks) + probes. Time chunks
keep each range query under the 11,000-points-per-series limit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from kianax_capacity.errors import UserInputError
from kianax_capacity.sources.prometheus.catalog import (
    SHAPES,
    SPECS,
    AggregateQuery,
    aggregate_queries,
    names_of,
    season_vector,
)
from kianax_capacity.sources.prometheus.promql import (
    Selector,
    format_duration,
    render,
    template_parameters,
)

__all__ = [
    "API_MAX_POINTS_PER_SERIES",
    "DAY_SECONDS",
    "QueryJob",
    "QueryPlan",
    "TimeGrid",
    "aggregate_day_chunks",
    "plan_queries",
]

#: The API refuses range queries returning more points per series than this.
API_MAX_POINTS_PER_SERIES = 11_000
#: Instant queries run this long after their chunk's end (see :func:`plan_queries`).
INSTANT_NUDGE_SECONDS = 1
_INVENTORY = names_of("inventory")
_PER_DAY_INVENTORY = tuple(name for name in _INVENTORY if SPECS[name].per_day)
_WHOLE_CHUNK_INVENTORY = tuple(name for name in _INVENTORY if not SPECS[name].per_day)


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

    def aligned_chunks(self, period_seconds: int) -> list[TimeGrid]:
        """Sub-grids whose ends fall on multiples of ``period_seconds`` since the epoch (UTC
        midnights for a day): the first and last may be partial. A point at ``t`` stands for
        the step ``(t - step, t]``, so a point exactly at a boundary closes the period before.

        A window moved by whole periods then has the same full chunks as before (the per-day
        cache's unit), whatever its end; with an end on a boundary this is :meth:`chunks` with
        ``period_seconds // step`` points each.
        """
        step = self.step_seconds
        end_s = self.end.timestamp()
        times = end_s - step * np.arange(self.points - 1, -1, -1, dtype=np.float64)
        period_of = np.ceil(times / period_seconds).astype(np.int64)
        starts = np.flatnonzero(np.diff(period_of, prepend=period_of[0] - 1))
        sizes = np.diff(np.append(starts, self.points))
        return [
            TimeGrid(
                self.end - timedelta(seconds=step * (self.points - 1 - int(start + size - 1))),
                step,
                int(size),
            )
            for start, size in zip(starts.tolist(), sizes.tolist(), strict=True)
        ]


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
    #: Points of a whole aggregate chunk (a day at the step, by default): shorter ones are
    #: the window's partial first or last day.
    chunk_points: int = 0


#: Seconds in a UTC day: aggregate chunks that divide it are aligned to UTC midnights.
DAY_SECONDS = 86_400


def aggregate_day_chunks(grid: TimeGrid, per_chunk: int) -> tuple[TimeGrid, ...]:
    """The aggregate shape's chunks of ``per_chunk`` points: aligned to UTC (midnights, for
    one day) when the chunk's length divides a day, so that a window moved by a day shares
    all its full chunks with the previous one (:mod:`.cache`); else counted back from the end.
    """
    period = per_chunk * grid.step_seconds
    if DAY_SECONDS % period == 0:
        return tuple(grid.aligned_chunks(period))
    return tuple(grid.chunks(per_chunk))


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
        aggregate_chunk_seconds: aggregate shape: the statistics and the inventory are
            instant queries at the end of each chunk of this length (counted back from the
            window's end), so the request count is (parts x chunks) whatever the cluster size
            and each request only touches the series alive in its chunk. Series shape: the
            chunk of the inventory queries marked ``per_day`` (subqueries).
        dialect: ``promql`` or ``metricsql`` (aggregate shape: see :func:`aggregate_queries`).
    """
    step = grid.step_seconds
    _check_arguments(shape, max_points_per_series, aggregate_chunk_seconds, step)
    rate_window = rate_window_seconds or max(float(step), 2.0 * scrape_interval_seconds)
    # One step minus a second: (t - step, t] on every engine, whether its ranges are closed
    # (Prometheus 2) or left-open (Prometheus 3, VictoriaMetrics).
    sample_window = step - min(1.0, step / 2)
    templates = _Templates(
        {
            "selector": selector.namespaced,
            "cluster_selector": selector.cluster_only,
            "step": format_duration(step),
            "rate_window": format_duration(rate_window),
            "sample_window": format_duration(sample_window),
            "season_vector": season_vector(),
        },
        step,
    )
    chunks = tuple(grid.chunks(max_points_per_series))
    per_chunk = max(1, min(int(aggregate_chunk_seconds // step), max_points_per_series))
    if shape == "aggregate":
        aggregate_chunks = aggregate_day_chunks(grid, per_chunk)
        jobs = _aggregate_jobs(templates, aggregate_chunks, aggregate_queries(dialect))
    else:
        aggregate_chunks = ()
        jobs = _series_jobs(templates, chunks, tuple(grid.chunks(per_chunk)))
    return QueryPlan(
        grid, chunks, tuple(jobs), rate_window, sample_window, aggregate_chunks, per_chunk
    )


def _check_arguments(
    shape: str, max_points_per_series: int, aggregate_chunk_seconds: float, step: float
) -> None:
    if shape not in SHAPES:
        raise UserInputError(f"{shape!r} is not one of {', '.join(SHAPES)}", parameter="shape")
    if not 1 <= max_points_per_series <= API_MAX_POINTS_PER_SERIES:
        raise UserInputError(
            f"max_points_per_series must be between 1 and {API_MAX_POINTS_PER_SERIES}"
        )
    if shape == "aggregate" and aggregate_chunk_seconds < step:
        raise UserInputError(
            f"aggregate_chunk ({format_duration(aggregate_chunk_seconds)}) is shorter than "
            f"the step ({format_duration(step)}); set [prometheus] aggregate_chunk to e.g. 1d"
        )


@dataclass(frozen=True)
class _Templates:
    """The templates of one plan filled in: the parameters they all share (``common``) plus each
    job's own (its window, a statistic's function)."""

    common: dict[str, str]
    step: float

    def fill(self, template: str, **extra: str) -> str:
        wanted = template_parameters(template)
        params = {k: v for k, v in {**self.common, **extra}.items() if k in wanted}
        return render(template, **params)

    def instant(self, name: str, index: int, chunk: TimeGrid) -> QueryJob:
        """An inventory query over the chunk, asked one second after its end."""
        window = format_duration(chunk.points * self.step + INSTANT_NUDGE_SECONDS)
        return QueryJob(name, self.fill(name, window=window), index, time=_instant_time(chunk))

    def range(self, name: str, index: int, chunk: TimeGrid) -> QueryJob:
        fallback = SPECS[name].fallback
        if fallback is None:
            return QueryJob(name, self.fill(name), index, grid=chunk)
        # One step before the chunk, so its first step has a previous one to difference
        # against; the filter's window spans the whole range and one step more (it only asks
        # whether the counter was ever above zero, so a wider window changes nothing).
        extended = TimeGrid(chunk.end, chunk.step_seconds, chunk.points + 1)
        window = format_duration((chunk.points + 2) * self.step)
        return QueryJob(
            name,
            self.fill(name, window=window),
            index,
            grid=extended,
            fallback=QueryJob(fallback, self.fill(fallback), index, grid=chunk),
        )


def _instant_time(chunk: TimeGrid) -> datetime:
    # Instant queries run one second after the chunk's end over one second more: VictoriaMetrics
    # does not show a series whose only sample is exactly at the evaluation instant, so a pod
    # born in the last step would lose its owner. Both engines then see [start, end].
    return chunk.end + timedelta(seconds=INSTANT_NUDGE_SECONDS)


def _series_jobs(
    templates: _Templates, chunks: tuple[TimeGrid, ...], day_chunks: tuple[TimeGrid, ...]
) -> list[QueryJob]:
    """The series shape: the usage range queries and the whole-chunk inventory per range
    chunk; the subquery inventory (pod lifetimes: a dense series x steps matrix on the server,
    which grows with the window) per day, so no single request grows with the window (min/max
    over the days is the window's)."""
    jobs: list[QueryJob] = []
    for index, chunk in enumerate(chunks):
        jobs.extend(templates.range(name, index, chunk) for name in names_of("usage", "range"))
        jobs.extend(templates.instant(name, index, chunk) for name in _WHOLE_CHUNK_INVENTORY)
    for index, chunk in enumerate(day_chunks):
        jobs.extend(templates.instant(name, index, chunk) for name in _PER_DAY_INVENTORY)
    return jobs


def _aggregate_jobs(
    templates: _Templates,
    aggregate_chunks: tuple[TimeGrid, ...],
    statistics: tuple[AggregateQuery, ...],
) -> list[QueryJob]:
    """The aggregate shape: per aggregate chunk (a day), its range queries, the inventory and
    the statistics. An inventory answer then holds the pods alive that day (not every pod of the
    window, ~800 bytes each once parsed), pod_first_seen / pod_last_seen (subqueries) stay
    small, and a range answer (the HPA replicas: millions of points over 14 days on a big
    cluster) is one day's. Chunks combine as in the series shape (min/max, or the latest)."""
    jobs: list[QueryJob] = []
    for index, chunk in enumerate(aggregate_chunks):
        jobs.extend(
            templates.range(name, index, chunk) for name in names_of("range", "aggregate_range")
        )
        jobs.extend(templates.instant(name, index, chunk) for name in _INVENTORY)
        # The statistics' subqueries span exactly the chunk's points (no extra second): at
        # end + 1 s the range [end + 1 s - points x step, end + 1 s] holds the chunk's steps
        # and not the previous chunk's last one, on closed (Prometheus 2) and left-open
        # (Prometheus 3, VictoriaMetrics) ranges alike, so sums and counts add up exactly.
        window = format_duration(chunk.points * templates.step)
        for query in statistics:
            promql = templates.fill(
                query.template, window=window, function=query.function, arguments=query.arguments
            )
            jobs.append(QueryJob(query.name, promql, index, time=_instant_time(chunk)))
    return jobs
