"""The Prometheus source: a snapshot from any server speaking the Prometheus HTTP API.

Prometheus, Thanos, Mimir, VictoriaMetrics and Amazon Managed Service for Prometheus answer the
same ``/api/v1/query`` and ``/api/v1/query_range``; :func:`fetch_prometheus_snapshot` sends the
templates of ``queries/*.promql`` and writes the same tables as the demo source
(``kianax_capacity.snapshot.TABLE_COLUMNS``). The modules are the data flow:

* :mod:`.catalog` — every query (:class:`~.catalog.QuerySpec`: template, kind, fold, required
  metric) and the aggregate statistics; :mod:`.promql` renders the templates safely;
* :mod:`.plan` — which requests, over which time chunks (a pure function of the window);
* :mod:`.client` and :mod:`.auth` — HTTP, retries, auth, TLS; errors as
  :class:`~kianax_capacity.errors.PrometheusError` with ``status``/``query``/``elapsed_seconds``;
* :mod:`.fold` — answers folded per key as they arrive;
* :mod:`.tables` — the folded answers assembled into the snapshot tables;
* :mod:`.fetch` — the whole run; :mod:`._memory` — GC pause and ``malloc_trim``.

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

from kianax_capacity.sources.prometheus.catalog import (
    AGGREGATE_PARTS,
    DIALECTS,
    QUERIES,
    SHAPES,
    AggregateQuery,
    QuerySpec,
    aggregate_queries,
)
from kianax_capacity.sources.prometheus.client import PrometheusClient, QueryRejectedError
from kianax_capacity.sources.prometheus.fetch import fetch_prometheus_snapshot
from kianax_capacity.sources.prometheus.fold import ChunkCombiner
from kianax_capacity.sources.prometheus.plan import QueryJob, QueryPlan, TimeGrid, plan_queries
from kianax_capacity.sources.prometheus.tables import container_stats_from_parts

__all__ = [
    "AGGREGATE_PARTS",
    "DIALECTS",
    "QUERIES",
    "SHAPES",
    "AggregateQuery",
    "ChunkCombiner",
    "PrometheusClient",
    "QueryJob",
    "QueryPlan",
    "QueryRejectedError",
    "QuerySpec",
    "TimeGrid",
    "aggregate_queries",
    "container_stats_from_parts",
    "fetch_prometheus_snapshot",
    "plan_queries",
]
