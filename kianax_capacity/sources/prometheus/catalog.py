"""What a fetch asks: one :class:`QuerySpec` per template, and the aggregate statistics.

Adding a query is one row in :data:`QUERIES` (and its ``queries/<name>.promql``): the row says
when the query runs (its ``kind``), how its answers fold across time chunks (``fold``), which
metric family it needs to say anything (``required``) and, for counters differenced on the
client, the server-side query sent when the server refuses the first (``fallback``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from kianax_capacity.seasons import MARKET_CLOSE_MINUTE, MARKET_OPEN_MINUTE, SEASONS
from kianax_capacity.sources.prometheus.promql import rollup_arguments

__all__ = [
    "AGGREGATE_PARTS",
    "DAILY_PARTS",
    "DAILY_STATISTICS",
    "DIALECTS",
    "DIALECT_PROBE",
    "MEANS",
    "NODE_LABELS",
    "PHI_LABEL",
    "QUERIES",
    "ROLLUP_LABEL",
    "SEASON_NAMES",
    "SEASON_QUANTILES",
    "SHAPES",
    "AggregateQuery",
    "FoldSpec",
    "QuerySpec",
    "aggregate_queries",
    "names_of",
    "season_filter",
    "season_vector",
]

SHAPES = ("series", "aggregate")
#: The query languages the aggregate shape speaks. ``auto`` asks the server once (one request)
#: whether it understands MetricsQL (VictoriaMetrics), else uses PromQL.
DIALECTS = ("auto", "promql", "metricsql")


@dataclass(frozen=True)
class FoldSpec:
    """How one inventory query's answers fold across chunks.

    ``key`` labels identify a row; ``extra`` labels and (for ``last``) the value come from the
    key's row in the latest chunk (the last such row when an answer repeats a key), which is
    what assembly took from the concatenated answers (``_last``, ``groupby(...).last``).
    ``value`` is ``last``, ``min`` or ``max`` over every chunk.
    """

    key: tuple[str, ...]
    extra: tuple[str, ...] = ()
    value: str = "last"


#: ``usage``: range queries of the series shape only; ``range``: range queries of both shapes;
#: ``inventory``: instant queries at each chunk's end over the chunk, folded per key;
#: ``fallback``: sent only in place of another query the server refused; ``aggregate_range``:
#: range queries of the aggregate shape only (what it needs in place of the usage series, each
#: answer bounded by the number of HPAs, not of containers).
QueryKind = Literal["usage", "range", "inventory", "fallback", "aggregate_range"]


@dataclass(frozen=True)
class QuerySpec:
    """One template of ``queries/`` and everything the fetch needs to know about it.

    Attributes:
        name: the query's name, also its template ``queries/<name>.promql``.
        kind: when it runs (see :data:`QueryKind`).
        fold: inventory queries: how the chunks' answers fold into one row per key.
        required: the metric family without which what this query answers is unknown (an
            empty answer is then a warning in the manifest).
        fallback: range queries of counters the client differences step to step: asked from
            one step before their chunk -> the query answering the differences on the server,
            for servers that refuse the first one's ``@ end()``.
        per_day: inventory queries whose server cost grows with their window (a subquery over
            every container series): sent per aggregate chunk (a day) in both shapes.
    """

    name: str
    kind: QueryKind
    fold: FoldSpec | None = None
    required: str | None = None
    fallback: str | None = None
    per_day: bool = False

    @property
    def template(self) -> str:
        return self.name


NODE_LABELS = (
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
_PDB = ("namespace", "poddisruptionbudget")

#: Every query a fetch may send (besides the probes), in the order a chunk sends them.
QUERIES: tuple[QuerySpec, ...] = (
    QuerySpec("cpu_usage", "usage"),
    QuerySpec("memory_usage", "usage"),
    QuerySpec("cpu_throttling", "usage"),
    QuerySpec("node_cpu_busy", "usage"),
    # JVM memory by area where JVMs export it (Micrometer, client_java, jmx_exporter): the
    # optional jvm_memory table; no warning where none does (most containers are no JVM).
    QuerySpec("jvm_memory_used", "usage"),
    QuerySpec("jvm_memory_max", "usage"),
    QuerySpec("restart_counters", "range", fallback="restart_events"),
    QuerySpec("termination_reasons", "range"),
    QuerySpec("hpa_current_replicas", "range"),
    QuerySpec("hpa_desired_replicas", "range"),
    QuerySpec("restart_events", "fallback"),
    QuerySpec("hpa_demand_cpu", "aggregate_range"),
    QuerySpec("hpa_demand_memory", "aggregate_range"),
    QuerySpec("pod_first_seen", "inventory", FoldSpec(_POD, ("node",), "min"), per_day=True),
    QuerySpec("pod_last_seen", "inventory", FoldSpec(_POD, (), "max"), per_day=True),
    QuerySpec("pod_owner", "inventory", FoldSpec(_POD, _OWNER), required="kube_pod_owner"),
    QuerySpec("replicaset_owner", "inventory", FoldSpec(("namespace", "replicaset"), _OWNER)),
    QuerySpec("job_owner", "inventory", FoldSpec(("namespace", "job_name"), _OWNER)),
    QuerySpec("pod_info", "inventory", FoldSpec(_POD, ("node",)), required="kube_pod_info"),
    QuerySpec(
        "container_requests",
        "inventory",
        FoldSpec(("namespace", "pod", "container", "resource")),
        required="kube_pod_container_resource_requests",
    ),
    QuerySpec(
        "container_limits", "inventory", FoldSpec(("namespace", "pod", "container", "resource"))
    ),
    QuerySpec("pod_pvcs", "inventory", FoldSpec(_POD)),
    QuerySpec(
        "hpa_info", "inventory", FoldSpec(_HPA, ("scaletargetref_kind", "scaletargetref_name"))
    ),
    QuerySpec("hpa_min_replicas", "inventory", FoldSpec(_HPA)),
    QuerySpec("hpa_max_replicas", "inventory", FoldSpec(_HPA)),
    QuerySpec("hpa_target_metric", "inventory", FoldSpec((*_HPA, "metric_name"), ("container",))),
    QuerySpec("pdb_desired_healthy", "inventory", FoldSpec(_PDB)),
    QuerySpec("pdb_disruptions_allowed", "inventory", FoldSpec(_PDB, (), "min")),
    QuerySpec(
        "node_info",
        "inventory",
        FoldSpec(("node",), ("provider_id", "internal_ip", "kernel_version")),
        required="kube_node_info",
    ),
    QuerySpec("node_labels", "inventory", FoldSpec(("node",), NODE_LABELS)),
    QuerySpec(
        "node_dmi",
        "inventory",
        FoldSpec(("node", "instance", "board_asset_tag"), ("system_vendor", "product_name")),
    ),
    QuerySpec("node_capacity", "inventory", FoldSpec(("node", "resource"))),
    QuerySpec("node_allocatable", "inventory", FoldSpec(("node", "resource"))),
    QuerySpec("node_first_seen", "inventory", FoldSpec(("node",), (), "min")),
    QuerySpec("node_last_seen", "inventory", FoldSpec(("node",), (), "max")),
)
SPECS = {spec.name: spec for spec in QUERIES}


def names_of(*kinds: QueryKind) -> tuple[str, ...]:
    """The names of the queries of ``kinds``, in catalog order."""
    return tuple(spec.name for spec in QUERIES if spec.kind in kinds)


def folds_of(specs: Iterable[QuerySpec] = QUERIES) -> dict[str, FoldSpec]:
    """Query name -> fold, for the queries that fold."""
    return {spec.name: spec.fold for spec in specs if spec.fold is not None}


# ---------------------------------------------------------------------------------------------
# The aggregate shape's statistics

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

#: The seasons computed on the server, in the order of the kianax strategy's SEASONS.
SEASON_NAMES = SEASONS
#: Parts not combined across chunks: each chunk (day) keeps its own, per pod container.
#: The kianax strategy's seasons (queries/aggregate_cpu_seasons.promql): each season's
#: percentiles and its number of steps, so the recommender pools the days as it pools the pods
#: (a max of daily percentiles overstates the window's); and the leak screen's working-set
#: slope of the day (bytes/s, queries/aggregate_memory_slope.promql), so the screen can ask
#: on how many days a container grew (sources/prometheus/leaks.py).
#: The whole-window parts also kept per day: the quantiles, max and counts of container_stats,
#: from the same answers (no extra request), so the recommender pools days exactly too.
DAILY_STATISTICS: tuple[str, ...] = (
    *(
        f"{prefix}_{suffix}"
        for prefix in ("cpu_cores", "memory_bytes")
        for suffix in ("p50", "p90", "p95", "p99", "max")
    ),
    "cpu_cores_count",
    "samples",
)
DAILY_PARTS: dict[str, str] = {
    **{name: AGGREGATE_PARTS[name] for name in DAILY_STATISTICS},
    **{
        f"cpu_cores_{season}_{suffix}": "sum" if suffix == "count" else "max"
        for season in SEASON_NAMES
        for suffix in ("p90", "p95", "p99", "max", "count")
    },
    "memory_bytes_slope": "max",
}
#: (phi, column suffix); phi 1 is the season's max, the top of the pooled percentile's search.
SEASON_QUANTILES = (("0.9", "p90"), ("0.95", "p95"), ("0.99", "p99"), ("1", "max"))

#: container_stats mean column -> (sum part, count part).
MEANS = {
    "cpu_cores_mean": ("cpu_cores_sum", "cpu_cores_count"),
    "memory_bytes_mean": ("memory_bytes_sum", "samples"),
    "cpu_throttled_ratio_mean": ("cpu_throttled_ratio_sum", "cpu_throttled_ratio_count"),
}

PHI_LABEL = "phi"
ROLLUP_LABEL = "rollup"
#: The label the season templates add: the kianax season of the step (:func:`season_vector`).
SEASON_LABEL = "season"
#: Joins the values of several labels (``label`` a tuple) into one key of ``parts``.
LABEL_VALUE_SEPARATOR = "|"
#: MetricsQL-only expression whose answer proves the server speaks MetricsQL.
DIALECT_PROBE = 'quantiles_over_time("phi", 0.5, vector(1)[2m:1m])'


@dataclass(frozen=True)
class AggregateQuery:
    """One instant request per aggregate chunk, answering one or several parts.

    ``label`` is None when the answer is a single part; otherwise the answer holds each part as
    its own series per container, told apart by ``label`` (MetricsQL's ``phi`` of
    ``quantiles_over_time``, ``rollup`` of ``aggr_over_time``, the seasons' ``season``), mapped
    by ``parts``; with several labels, a part's key is their values joined by
    :data:`LABEL_VALUE_SEPARATOR` (``market|0.95``).
    """

    name: str
    template: str
    function: str
    arguments: str
    parts: tuple[tuple[str, str], ...]  # (label value, part); label value "" for one part
    label: str | tuple[str, ...] | None = None


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
        out.extend(_quantile_queries(prefix, template, quantiles, dialect))
        if dialect == "metricsql":
            out.append(_rollups_query(f"{prefix}_rollups", template, rollups))
            continue
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
    out.extend(_season_queries(dialect))
    out.append(
        AggregateQuery(
            "memory_bytes_slope",
            "aggregate_memory_slope",
            "deriv",
            "",
            (("", "memory_bytes_slope"),),
        )
    )
    return tuple(out)


def _season_queries(dialect: str) -> list[AggregateQuery]:
    """Every season's CPU percentiles and step counts, each request from one evaluation of the
    CPU, its series told apart by ``season`` (MetricsQL: 2 requests, PromQL: 5)."""
    template = "aggregate_cpu_seasons"
    if dialect == "metricsql":
        quantiles = [
            AggregateQuery(
                "cpu_cores_seasons_quantiles",
                template,
                "quantiles_over_time",
                rollup_arguments(
                    quantiles=[float(value) for value, _ in SEASON_QUANTILES], label=PHI_LABEL
                ),
                tuple(
                    (f"{season}{LABEL_VALUE_SEPARATOR}{value}", f"cpu_cores_{season}_{suffix}")
                    for season in SEASON_NAMES
                    for value, suffix in SEASON_QUANTILES
                ),
                label=(SEASON_LABEL, PHI_LABEL),
            )
        ]
    else:
        quantiles = [
            AggregateQuery(
                f"cpu_cores_seasons_{suffix}",
                template,
                "quantile_over_time",
                rollup_arguments(quantiles=[float(value)]),
                tuple((season, f"cpu_cores_{season}_{suffix}") for season in SEASON_NAMES),
                label=SEASON_LABEL,
            )
            for value, suffix in SEASON_QUANTILES
        ]
    count = AggregateQuery(
        "cpu_cores_seasons_count",
        "aggregate_cpu_seasons_count",
        "count_over_time",
        "",
        tuple((season, f"cpu_cores_{season}_count") for season in SEASON_NAMES),
        label=SEASON_LABEL,
    )
    return [*quantiles, count]


def season_filter(season: str) -> str:
    """The PromQL condition true at the times of ``season`` (:mod:`kianax_capacity.seasons`),
    evaluated at each step's own time; built from integers only."""
    weekday = "day_of_week() >= 1 <= 5"
    market = f"(hour() * 60 + minute()) >= {MARKET_OPEN_MINUTE} < {MARKET_CLOSE_MINUTE}"
    filters = {
        "market": f"{weekday} and on () {market}",
        "weekday": f"{weekday} unless on () {market}",
        "weekend": "day_of_week() == 0 or day_of_week() == 6",
    }
    return filters[season]


def season_vector() -> str:
    """One series whose ``season`` label is the season of the time it is evaluated at
    (:mod:`kianax_capacity.seasons`), for the season templates to multiply by; integers only."""
    return " or ".join(
        f'label_replace(vector(1), "{SEASON_LABEL}", "{season}", "__name__", ".*")'
        f" and on () ({season_filter(season)})"
        for season in SEASON_NAMES
    )


def _quantile_queries(
    prefix: str, template: str, quantiles: tuple[tuple[str, str], ...], dialect: str
) -> list[AggregateQuery]:
    """The ``quantiles`` of one subquery: one MetricsQL ``quantiles_over_time`` request for
    all of them, or one PromQL ``quantile_over_time`` request each."""
    if dialect == "metricsql":
        return [
            AggregateQuery(
                f"{prefix}_quantiles",
                template,
                "quantiles_over_time",
                rollup_arguments(quantiles=[float(v) for v, _ in quantiles], label=PHI_LABEL),
                quantiles,
                label=PHI_LABEL,
            )
        ]
    return [
        AggregateQuery(
            part,
            template,
            "quantile_over_time",
            rollup_arguments(quantiles=[float(value)]),
            (("", part),),
        )
        for value, part in quantiles
    ]


def _rollups_query(
    name: str, template: str, rollups: tuple[tuple[str, str], ...]
) -> AggregateQuery:
    return AggregateQuery(
        name,
        template,
        "aggr_over_time",
        rollup_arguments(rollups=[function for function, _ in rollups]),
        rollups,
        label=ROLLUP_LABEL,
    )


#: Every aggregate query of either dialect by job name (the names do not clash).
AGGREGATE_QUERIES = {
    query.name: query for d in ("promql", "metricsql") for query in aggregate_queries(d)
}
