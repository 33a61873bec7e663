"""One-call charts for JupyterLab: ``kc.plot_costs(snap)``, ``kc.plot_requests(snap, recs)`` ...

Each function builds the frame with :mod:`kianax_capacity.outputs.frames` and the figure with
:mod:`kianax_capacity.outputs.charts`, and returns the figure (JupyterLab shows it; ``.show()``
elsewhere).
"""

from __future__ import annotations

from typing import Literal

from kianax_capacity._optional import missing_dependency

try:
    import plotly.graph_objects as go
except ImportError as exc:  # the [report] extra is not installed
    raise missing_dependency("plotly", extra="report") from exc

from kianax_capacity.outputs import charts, frames
from kianax_capacity.recommendations import RecommendationSet
from kianax_capacity.snapshot import Snapshot

__all__ = [
    "plot_costs",
    "plot_forecast",
    "plot_hpa",
    "plot_packing",
    "plot_requests",
    "plot_usage",
]


def plot_costs(
    snapshot: Snapshot, by: Literal["namespace", "node_group"] = "namespace"
) -> go.Figure:
    """Daily cost split by namespace (idle included) or node group, on the embedded prices."""
    allocation = frames.cost_allocation(snapshot)
    return charts.cost_over_time(None if allocation is None else allocation.daily, by=by)


def plot_requests(
    snapshot: Snapshot,
    recommendations: RecommendationSet | None = None,
    resource: Literal["cpu", "memory"] = "cpu",
    top: int = 15,
) -> go.Figure:
    """Requested vs used per container (top by request), with the recommended request."""
    frame = frames.requests_vs_usage(snapshot, recommendations, resource, top)
    return charts.requested_vs_used(frame, resource)


def plot_usage(
    snapshot: Snapshot,
    namespace: str,
    workload: str,
    container: str,
    resource: Literal["cpu", "memory"] = "cpu",
    recommendations: RecommendationSet | None = None,
) -> go.Figure:
    """One container's usage distribution with percentiles, request and recommendation."""
    samples, marks = frames.container_usage(
        snapshot, namespace, workload, container, resource, recommendations
    )
    return charts.usage_distribution(
        samples, marks, resource, title=f"{namespace}/{workload} · {container}: {resource} usage"
    )


def plot_hpa(
    snapshot: Snapshot,
    namespace: str,
    workload: str,
    recommendations: RecommendationSet | None = None,
) -> go.Figure:
    """An HPA's replicas against min/max, saturation shaded, before/after when replayed."""
    frame, current, recommended = frames.hpa_replay_frame(
        snapshot, namespace, workload, recommendations
    )
    return charts.hpa_replicas(frame, current, recommended, title=f"HPA {namespace}/{workload}")


def plot_packing(snapshot: Snapshot, resource: Literal["cpu", "memory"] = "cpu") -> go.Figure:
    """Requests stacked per node at the busiest moment, against allocatable."""
    return charts.node_packing(frames.packing_frame(snapshot), resource)


def plot_forecast(
    snapshot: Snapshot,
    scope: str | None = None,
    resource: Literal["cpu", "memory"] = "cpu",
    recommendations: RecommendationSet | None = None,
) -> go.Figure:
    """Daily peak requests, trend and interval against capacity for a node group."""
    scope = scope or frames.forecast_scope(snapshot, recommendations, resource)
    return charts.capacity_forecast(
        frames.forecast_frame(snapshot, scope, resource), resource, scope=scope or ""
    )
