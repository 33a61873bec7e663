"""The fleet view: several clusters' recommendations side by side, read from their files.

Everything here is computed from each cluster's ``recommendations.json`` (the report folders
``reports/<cluster>/<week>/`` or a fleet ``recommend`` output), so the fleet page, the index
and the PR comment can never disagree with the per-cluster figures they add up:

* :func:`cluster_figures`: one cluster's headline dollars (cost, savings on offer, idle);
* :func:`fleet_totals`: their sums over the clusters of one week;
* :func:`compare_workloads`: the same workload in every cluster (replicas, requests and usage
  per pod, allocated cost a month);
* :func:`write_fleet_page`: ``reports/fleet/<week>.html`` from the week's folders.
"""

from __future__ import annotations

import html
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kianax_capacity.errors import UserInputError
from kianax_capacity.units import format_cpu, format_memory, format_usd

__all__ = [
    "FLEET_DIR",
    "ClusterFigures",
    "FleetTotals",
    "WorkloadAcross",
    "WorkloadFigures",
    "cluster_figures",
    "compare_workloads",
    "fleet_totals",
    "load_fleet_recommendations",
    "render_fleet_page",
    "write_fleet_page",
]

#: The folder of fleet pages under the reports root (never a cluster's name).
FLEET_DIR = "fleet"


@dataclass(frozen=True)
class ClusterFigures:
    """One cluster's headline dollars a month, from its ``summary``."""

    cluster: str
    profile: str
    monthly_cost_usd: float
    monthly_savings_usd: float
    idle_monthly_usd: float
    containers: int


@dataclass(frozen=True)
class FleetTotals:
    """The sums over a fleet's clusters (USD per month)."""

    clusters: tuple[ClusterFigures, ...]
    monthly_cost_usd: float
    monthly_savings_usd: float
    idle_monthly_usd: float


@dataclass(frozen=True)
class WorkloadFigures:
    """One workload in one cluster: per-pod sums over its containers, and its cost a month."""

    replicas: float
    cpu_request_cores: float
    cpu_p95_cores: float | None
    memory_request_bytes: float
    memory_p99_bytes: float | None
    monthly_cost_usd: float | None


@dataclass(frozen=True)
class WorkloadAcross:
    namespace: str
    kind: str
    workload: str
    by_cluster: Mapping[str, WorkloadFigures] = field(default_factory=dict)


def _number(value: Any) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0


def cluster_figures(data: Mapping[str, Any]) -> ClusterFigures:
    """The headline figures of one parsed ``recommendations.json``."""
    summary = data.get("summary") or {}
    return ClusterFigures(
        cluster=str(data.get("cluster", "")),
        profile=str(data.get("profile", "")),
        monthly_cost_usd=_number(summary.get("monthly_cost_usd")),
        monthly_savings_usd=_number(summary.get("monthly_savings_usd")),
        idle_monthly_usd=_number(summary.get("idle_monthly_usd")),
        containers=len(data.get("rightsizing") or []),
    )


def fleet_totals(clusters: Sequence[ClusterFigures]) -> FleetTotals:
    """Sum the clusters' figures (rounded to cents, as each cluster's are)."""
    return FleetTotals(
        clusters=tuple(clusters),
        monthly_cost_usd=round(sum(c.monthly_cost_usd for c in clusters), 2),
        monthly_savings_usd=round(sum(c.monthly_savings_usd for c in clusters), 2),
        idle_monthly_usd=round(sum(c.idle_monthly_usd for c in clusters), 2),
    )


def compare_workloads(recommendations: Mapping[str, Mapping[str, Any]]) -> list[WorkloadAcross]:
    """Every workload of any cluster, with its figures in each cluster that runs it.

    Args:
        recommendations: cluster name -> parsed ``recommendations.json``.

    Usage is the right-sizing evidence of each container (CPU p95, memory p99 per pod, summed
    over the pod's containers); cost is the allocated cost of ``summary.workload_monthly_usd``
    (None for files written before it was recorded).
    """
    rows: dict[tuple[str, str, str], dict[str, WorkloadFigures]] = {}
    for cluster, data in recommendations.items():
        costs = (data.get("summary") or {}).get("workload_monthly_usd") or {}
        sums: dict[tuple[str, str, str], dict[str, Any]] = {}
        for row in data.get("rightsizing") or []:
            key = (str(row["namespace"]), str(row["kind"]), str(row["workload"]))
            current = row.get("current") or {}
            evidence = row.get("evidence") or {}
            into = sums.setdefault(
                key, {"replicas": 0.0, "cpu": 0.0, "cpu_p95": 0.0, "mem": 0.0, "mem_p99": 0.0}
            )
            into["replicas"] = max(into["replicas"], _number(row.get("replicas")))
            into["cpu"] += _number(current.get("cpu_request"))
            into["mem"] += _number(current.get("memory_request"))
            for name, source in (("cpu_p95", "cpu_p95_cores"), ("mem_p99", "memory_p99_bytes")):
                value = evidence.get(source)
                if isinstance(value, int | float) and into[name] is not None:
                    into[name] += float(value)
                else:
                    into[name] = None  # a container without usage: the pod's usage is unknown
        for key, into in sums.items():
            cost = costs.get("/".join(key))
            rows.setdefault(key, {})[cluster] = WorkloadFigures(
                replicas=into["replicas"],
                cpu_request_cores=into["cpu"],
                cpu_p95_cores=into["cpu_p95"],
                memory_request_bytes=into["mem"],
                memory_p99_bytes=into["mem_p99"],
                monthly_cost_usd=float(cost) if isinstance(cost, int | float) else None,
            )
    return [
        WorkloadAcross(namespace, kind, workload, by_cluster)
        for (namespace, kind, workload), by_cluster in sorted(rows.items())
    ]


def load_fleet_recommendations(files: Sequence[Path]) -> dict[str, dict[str, Any]]:
    """Parse several clusters' files into cluster -> data (two files of one cluster: an error)."""
    out: dict[str, dict[str, Any]] = {}
    for file in files:
        try:
            data = json.loads(file.read_text())
        except (OSError, ValueError) as exc:
            raise UserInputError(f"{file}: cannot read recommendations ({exc})") from None
        cluster = str(data.get("cluster", ""))
        if cluster in out:
            raise UserInputError(f"{file}: a second recommendations file for cluster {cluster!r}")
        out[cluster] = data
    return out


# --- HTML --------------------------------------------------------------------------------------


def _usd(value: float | None) -> str:
    return "-" if value is None else format_usd(value)


def _totals_table(totals: FleetTotals) -> str:
    head = (
        "<tr><th>cluster</th><th>profile</th><th>cost $/month</th>"
        "<th>savings on offer $/month</th><th>idle $/month</th><th>containers</th></tr>"
    )
    rows = "".join(
        f"<tr><td>{html.escape(c.cluster)}</td><td>{html.escape(c.profile)}</td>"
        f"<td class='num'>{_usd(c.monthly_cost_usd)}</td>"
        f"<td class='num'>{_usd(c.monthly_savings_usd)}</td>"
        f"<td class='num'>{_usd(c.idle_monthly_usd)}</td><td class='num'>{c.containers}</td></tr>"
        for c in totals.clusters
    )
    rows += (
        f"<tr class='total'><td>fleet</td><td></td><td class='num'>{_usd(totals.monthly_cost_usd)}</td>"
        f"<td class='num'>{_usd(totals.monthly_savings_usd)}</td>"
        f"<td class='num'>{_usd(totals.idle_monthly_usd)}</td>"
        f"<td class='num'>{sum(c.containers for c in totals.clusters)}</td></tr>"
    )
    return f"<table>{head}{rows}</table>"


def _pair(request: str, used: str) -> str:
    return f"{request} / {used}"


def _workloads_table(clusters: Sequence[str], workloads: Sequence[WorkloadAcross]) -> str:
    top = "<tr><th rowspan='2'>workload</th>" + "".join(
        f"<th colspan='4' class='group'>{html.escape(c)}</th>" for c in clusters
    )
    sub = "<tr>" + (
        "<th>replicas</th><th>CPU request / p95 per pod</th>"
        "<th>memory request / p99 per pod</th><th>cost $/month</th>"
    ) * len(clusters)
    body = []
    for item in workloads:
        cells = [
            f"<td>{html.escape(f'{item.namespace}/{item.workload}')} <span class='kind'>{html.escape(item.kind)}</span></td>"
        ]
        for cluster in clusters:
            figures = item.by_cluster.get(cluster)
            if figures is None:
                cells.append("<td colspan='4' class='absent'>not running here</td>")
                continue
            cells.append(
                f"<td class='num'>{figures.replicas:.1f}</td>"
                f"<td>{_pair(format_cpu(figures.cpu_request_cores), format_cpu(figures.cpu_p95_cores))}</td>"
                f"<td>{_pair(format_memory(figures.memory_request_bytes), format_memory(figures.memory_p99_bytes))}</td>"
                f"<td class='num'>{_usd(figures.monthly_cost_usd)}</td>"
            )
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table class='wide'>{top}</tr>{sub}</tr>{''.join(body)}</table>"


FLEET_STYLE = """
.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.total td { font-weight: 600; border-top: 2px solid #1d2733; }
th.group { text-align: center; border-bottom: 2px solid #0b5cad; }
.absent { color: #8a949e; font-style: italic; } .kind { color: #8a949e; font-size: 0.85em; }
table.wide { font-size: 0.85rem; } body { max-width: 90rem; }
"""


def render_fleet_page(week: str, recommendations: Mapping[str, Mapping[str, Any]]) -> str:
    """The fleet page of one week: totals per cluster and fleet, then workloads side by side."""
    from kianax_capacity.outputs.report import page

    clusters = list(recommendations)
    totals = fleet_totals([cluster_figures(recommendations[c]) for c in clusters])
    links = " · ".join(
        f"<a href='../{html.escape(c)}/{html.escape(week)}/index.html'>{html.escape(c)}</a>"
        for c in clusters
    )
    body = (
        "<p><a href='../index.html'>← all reports</a></p>"
        f"<h1>Fleet · {html.escape(week)}</h1>"
        f"<p class='meta'>{len(clusters)} clusters: {links}. Figures from each cluster's "
        "recommendations.json; dollars per month of 730 hours.</p>"
        f"<h2>Totals</h2>{_totals_table(totals)}"
        "<h2>The same workload across clusters</h2>"
        "<p class='meta'>Per pod: the requests of its containers today and what they used "
        "(CPU p95, memory p99); replicas on average over the window; cost allocated to the "
        "workload (max(request, usage) of node prices).</p>"
        f"{_workloads_table(clusters, compare_workloads(recommendations))}"
    )
    return page(f"fleet {week}", body, extra_style=FLEET_STYLE)


def week_files(out_dir: Path, week: str) -> list[Path]:
    """The week's ``recommendations.json`` of every cluster under a reports root."""
    if not out_dir.is_dir():
        return []
    return sorted(
        child / week / "recommendations.json"
        for child in out_dir.iterdir()
        if child.is_dir()
        and not child.name.startswith(".")
        and child.name != FLEET_DIR
        and (child / week / "recommendations.json").is_file()
    )


def write_fleet_page(out_dir: Path, week: str) -> Path:
    """(Re)write ``out_dir/fleet/<week>.html`` from the week's folders, atomically."""
    recommendations = load_fleet_recommendations(week_files(out_dir, week))
    folder = out_dir / FLEET_DIR
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{week}.html"
    tmp = folder / f".{week}.html.{os.getpid()}"
    tmp.write_text(render_fleet_page(week, recommendations), encoding="utf-8")
    os.replace(tmp, target)
    return target
