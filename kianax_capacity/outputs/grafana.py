"""The Grafana dashboard over the ``kianax_capacity_*`` metrics that ``export`` writes.

The panels are data (:data:`PANELS`: title, what it shows, its PromQL), so tests and docs read
them without Grafana; :func:`build_dashboard` turns them into a dashboard with Grafana's own
``grafana-foundation-sdk`` (extra ``dashboard``, needed only to rebuild), and
``scripts/make_dashboard.py`` writes the JSON that ships in ``kianax_capacity/data/`` and
``docs/examples/`` (a test checks the committed file equals a fresh build). Users import the
shipped JSON; :func:`dashboard_json` reads it.

Variables: ``datasource`` (any Prometheus), ``cluster`` and ``namespace`` (multi-value, "All"
= ``.*``). Every query filters on ``cluster=~"$cluster"``; the container and workload panels also
on ``namespace=~"$namespace"``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any, Literal

from kianax_capacity._optional import import_optional

__all__ = [
    "DASHBOARD_FILE",
    "DASHBOARD_UID",
    "PANELS",
    "VARIABLES",
    "PanelSpec",
    "QuerySpec",
    "build_dashboard",
    "dashboard_json",
    "dashboard_queries",
    "render_dashboard",
]

DASHBOARD_FILE = "grafana-dashboard.json"
DASHBOARD_UID = "kianax-capacity"
PanelKind = Literal["stat", "timeseries", "table"]

_C = 'cluster=~"$cluster"'
_CN = 'cluster=~"$cluster", namespace=~"$namespace"'
_CONTAINER = "cluster, namespace, kind, workload, container"
_TOP_CHANGES = f"topk(15, abs(kianax_capacity_rightsizing_monthly_savings_usd{{{_CN}}}))"


@dataclass(frozen=True)
class QuerySpec:
    """One PromQL target: its expression, legend and whether it is an instant table query."""

    expr: str
    legend: str = ""
    instant: bool = False


@dataclass(frozen=True)
class PanelSpec:
    """One panel: what it shows (the description Grafana displays), unit, size and queries."""

    title: str
    kind: PanelKind
    description: str
    queries: tuple[QuerySpec, ...]
    unit: str = ""
    width: int = 12
    height: int = 8
    row: str = ""
    #: Table panels: column renames of the merged instant queries ("Value #A" -> "savings").
    columns: Mapping[str, str] = field(default_factory=dict)


def _top(metric: str) -> str:
    """``metric`` for the containers of the top right-sizing changes only."""
    return f"kianax_capacity_{metric}{{{_CN}}} and on ({_CONTAINER}) {_TOP_CHANGES}"


#: Every panel, in dashboard order (rows are started by the first panel naming one).
PANELS: tuple[PanelSpec, ...] = (
    PanelSpec(
        "Savings on offer",
        "stat",
        "USD per month the latest recommendations would save, all sections combined.",
        (
            QuerySpec(
                f"sum by (cluster) (kianax_capacity_monthly_savings_usd{{{_C}}})", "{{cluster}}"
            ),
        ),
        unit="currencyUSD",
        width=6,
        height=5,
        row="Savings on offer",
    ),
    PanelSpec(
        "Cluster cost",
        "stat",
        "What each cluster costs per month (nodes and control plane) at the prices of the run.",
        (
            QuerySpec(
                f"sum by (cluster) (kianax_capacity_cluster_monthly_cost_usd{{{_C}}})",
                "{{cluster}}",
            ),
        ),
        unit="currencyUSD",
        width=6,
        height=5,
    ),
    PanelSpec(
        "Idle share",
        "stat",
        "Share of node cost that no pod requests.",
        (
            QuerySpec(
                f"max by (cluster) (kianax_capacity_cluster_idle_ratio{{{_C}}})", "{{cluster}}"
            ),
        ),
        unit="percentunit",
        width=6,
        height=5,
    ),
    PanelSpec(
        "Spot-ready workloads",
        "stat",
        "Workloads with nothing stopping a move to spot, and what moving them saves.",
        (
            QuerySpec(
                f"sum by (cluster) (kianax_capacity_spot_ready{{{_CN}}})", "{{cluster}} ready"
            ),
            QuerySpec(
                f"sum by (cluster) (kianax_capacity_spot_monthly_savings_usd{{{_CN}}})",
                "{{cluster}} USD/month",
            ),
        ),
        width=6,
        height=5,
    ),
    PanelSpec(
        "Savings on offer over time, by section",
        "timeseries",
        "Each export adds a point: right-sizing, HPA, spot and node-group savings (USD/month) "
        "as recommended at the time. A section going to zero means its changes were applied.",
        (
            QuerySpec(
                f"sum by (cluster, section) (kianax_capacity_section_monthly_savings_usd{{{_C}}})",
                "{{cluster}} {{section}}",
            ),
        ),
        unit="currencyUSD",
    ),
    PanelSpec(
        "Right-sizing savings over time, by namespace",
        "timeseries",
        "Monthly savings of the right-sizing recommendations per namespace (negative: the "
        "namespace needs more than it requests).",
        (
            QuerySpec(
                f"sum by (cluster, namespace) (kianax_capacity_rightsizing_monthly_savings_usd{{{_CN}}})",
                "{{cluster}} {{namespace}}",
            ),
        ),
        unit="currencyUSD",
    ),
    PanelSpec(
        "Top right-sizing changes",
        "table",
        "The 15 containers whose recommendation moves the most money (either way): savings, "
        "CPU and memory requests now and recommended, and risk (0 low, 1 medium, 2 high).",
        (
            QuerySpec(_top("rightsizing_monthly_savings_usd"), instant=True),
            QuerySpec(_top("rightsizing_current_cpu_request_cores"), instant=True),
            QuerySpec(_top("rightsizing_recommended_cpu_request_cores"), instant=True),
            QuerySpec(_top("rightsizing_current_memory_request_bytes"), instant=True),
            QuerySpec(_top("rightsizing_recommended_memory_request_bytes"), instant=True),
            QuerySpec(_top("rightsizing_risk_level"), instant=True),
        ),
        width=24,
        height=10,
        row="Top changes",
        columns={
            "Value #A": "USD/month saved",
            "Value #B": "CPU request (cores)",
            "Value #C": "recommended CPU (cores)",
            "Value #D": "memory request",
            "Value #E": "recommended memory",
            "Value #F": "risk",
        },
    ),
    PanelSpec(
        "Node-group cost: current and recommended",
        "timeseries",
        "Monthly list-price cost of each node group as it runs and with the recommended shape.",
        (
            QuerySpec(
                f"sum by (cluster, nodegroup) (kianax_capacity_nodegroup_current_monthly_cost_usd{{{_C}}})",
                "{{cluster}} {{nodegroup}} current",
            ),
            QuerySpec(
                f"sum by (cluster, nodegroup) (kianax_capacity_nodegroup_recommended_monthly_cost_usd{{{_C}}})",
                "{{cluster}} {{nodegroup}} recommended",
            ),
        ),
        unit="currencyUSD",
        row="Node groups and forecast",
    ),
    PanelSpec(
        "Node count: current and recommended",
        "timeseries",
        "Average nodes of each node group now, and with the recommended instance type.",
        (
            QuerySpec(
                f"sum by (cluster, nodegroup) (kianax_capacity_nodegroup_current_nodes{{{_C}}})",
                "{{cluster}} {{nodegroup}} current",
            ),
            QuerySpec(
                f"sum by (cluster, nodegroup) (kianax_capacity_nodegroup_recommended_nodes{{{_C}}})",
                "{{cluster}} {{nodegroup}} recommended",
            ),
        ),
    ),
    PanelSpec(
        "Capacity forecast: days until exhausted",
        "table",
        "Days from now until a node group or namespace runs out of CPU, memory or pods at the "
        "current trend (negative: already past). Scopes with no exhaustion within the "
        "horizon are not listed.",
        (
            QuerySpec(
                f"(kianax_capacity_forecast_exhaustion_timestamp_seconds{{{_C}}} - time()) / 86400",
                instant=True,
            ),
        ),
        width=24,
        height=7,
        columns={"Value": "days until exhausted"},
    ),
    PanelSpec(
        "HPA saturation: minutes per week at maxReplicas",
        "timeseries",
        "How long each HPA sat at its ceiling per week with its current settings, and in the "
        "replay with the recommended ones.",
        (
            QuerySpec(
                f"kianax_capacity_hpa_current_saturated_seconds{{{_CN}}} / 60",
                "{{cluster}} {{namespace}}/{{workload}} current",
            ),
            QuerySpec(
                f"kianax_capacity_hpa_recommended_saturated_seconds{{{_CN}}} / 60",
                "{{cluster}} {{namespace}}/{{workload}} recommended",
            ),
        ),
        unit="m",
        row="HPA",
    ),
    PanelSpec(
        "HPA maxReplicas: current and recommended",
        "table",
        "Each HPA's maxReplicas and minReplicas now and recommended.",
        (
            QuerySpec(f"kianax_capacity_hpa_current_max_replicas{{{_CN}}}", instant=True),
            QuerySpec(f"kianax_capacity_hpa_recommended_max_replicas{{{_CN}}}", instant=True),
            QuerySpec(f"kianax_capacity_hpa_current_min_replicas{{{_CN}}}", instant=True),
            QuerySpec(f"kianax_capacity_hpa_recommended_min_replicas{{{_CN}}}", instant=True),
        ),
        columns={
            "Value #A": "max now",
            "Value #B": "max recommended",
            "Value #C": "min now",
            "Value #D": "min recommended",
        },
    ),
)

#: (name, label_values query): the dashboard's query variables.
VARIABLES: tuple[tuple[str, str], ...] = (
    ("cluster", "label_values(kianax_capacity_run_info, cluster)"),
    (
        "namespace",
        'label_values(kianax_capacity_rightsizing_monthly_savings_usd{cluster=~"$cluster"}, namespace)',
    ),
)


def _target(sdk: Any, query: QuerySpec, ref_id: str) -> Any:
    target = sdk.prometheus.Dataquery().expr(query.expr).ref_id(ref_id)
    if query.instant:
        return target.instant().format(sdk.prometheus_models.PromQueryFormat.TABLE)
    return target.range().legend_format(query.legend or "__auto")


def _panel(sdk: Any, spec: PanelSpec, panel_id: int) -> Any:
    builder = {"stat": sdk.stat, "timeseries": sdk.timeseries, "table": sdk.table}[spec.kind]
    panel = (
        builder.Panel()
        .id(panel_id)
        .title(spec.title)
        .description(spec.description)
        .datasource(sdk.datasource)
        .span(spec.width)
        .height(spec.height)
    )
    if spec.unit:
        panel = panel.unit(spec.unit)
    for index, query in enumerate(spec.queries):
        panel = panel.with_target(_target(sdk, query, chr(ord("A") + index)))
    if spec.kind == "table":
        Transformation = sdk.dashboard_models.DataTransformerConfig
        hidden = {name: True for name in ("Time", "__name__", "job", "instance")}
        panel = panel.with_transformation(Transformation(id_val="merge", options={}))
        panel = panel.with_transformation(
            Transformation(
                id_val="organize",
                options={"excludeByName": hidden, "renameByName": dict(spec.columns)},
            )
        )
    return panel


class _Sdk:
    """The grafana-foundation-sdk modules the builder uses (imported only to rebuild)."""

    def __init__(self) -> None:
        load = lambda name: import_optional(f"grafana_foundation_sdk.{name}", extra="dashboard")  # noqa: E731
        self.dashboard = load("builders.dashboard")
        self.prometheus = load("builders.prometheus")
        self.stat = load("builders.stat")
        self.timeseries = load("builders.timeseries")
        self.table = load("builders.table")
        self.dashboard_models = load("models.dashboard")
        self.prometheus_models = load("models.prometheus")
        self.encoder = load("cog.encoder")
        self.datasource = self.dashboard_models.DataSourceRef(
            type_val="prometheus", uid="${datasource}"
        )


def build_dashboard() -> Any:
    """The dashboard as a grafana-foundation-sdk ``Dashboard`` builder (call ``.build()``)."""
    sdk = _Sdk()
    models = sdk.dashboard_models
    dashboard = (
        sdk.dashboard.Dashboard("kianax-capacity: savings and capacity")
        .uid(DASHBOARD_UID)
        .description(
            "Recommendations of kianax-capacity exported as kianax_capacity_* metrics "
            "(kianax-capacity export): savings on offer, top changes, node groups, "
            "forecast and HPA saturation."
        )
        .tags(["kianax-capacity", "capacity", "cost"])
        .editable()
        .time("now-30d", "now")
        .timezone("utc")
        .refresh("1h")
        .with_variable(
            sdk.dashboard.DatasourceVariable("datasource").label("Data source").type("prometheus")
        )
    )
    for name, query in VARIABLES:
        dashboard = dashboard.with_variable(
            sdk.dashboard.QueryVariable(name)
            .label(name)
            .datasource(sdk.datasource)
            .query({"query": query, "refId": f"{name}-variable", "qryType": 1})
            .refresh(models.VariableRefresh.ON_TIME_RANGE_CHANGED)
            .sort(models.VariableSort.ALPHABETICAL_ASC)
            .multi(True)
            .include_all(True)
            .all_value(".*")
        )
    for panel_id, spec in enumerate(PANELS, start=1):
        if spec.row:
            dashboard = dashboard.with_row(sdk.dashboard.Row(spec.row))
        dashboard = dashboard.with_panel(_panel(sdk, spec, panel_id))
    return dashboard


def render_dashboard() -> str:
    """The dashboard's JSON text as shipped (sorted keys, two-space indent, final newline)."""
    sdk = _Sdk()
    text: str = sdk.encoder.JSONEncoder(sort_keys=True, indent=2).encode(build_dashboard().build())
    return text + "\n"


@cache
def _shipped_text() -> str:
    return resources.files("kianax_capacity.data").joinpath(DASHBOARD_FILE).read_text()


def dashboard_json() -> dict[str, Any]:
    """The shipped dashboard (``kianax_capacity/data/grafana-dashboard.json``) as a dict."""
    data: dict[str, Any] = json.loads(_shipped_text())
    return data


def _walk_panels(panels: list[Mapping[str, Any]]) -> Iterator[Mapping[str, Any]]:
    for panel in panels:
        yield panel
        yield from _walk_panels(list(panel.get("panels") or []))


def dashboard_queries(dashboard: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(panel title, PromQL) of every target of a dashboard's panels, in order."""
    return [
        (str(panel.get("title", "")), str(target["expr"]))
        for panel in _walk_panels(list(dashboard.get("panels") or []))
        for target in panel.get("targets") or []
        if target.get("expr")
    ]


#: ``$name`` / ``${name}`` references to dashboard variables in a query.
VARIABLE_REFERENCE = re.compile(r"\$\{?(\w+)\}?")
