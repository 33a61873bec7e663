"""Plotly figures for the reports: pure functions from frames to ``plotly.graph_objects.Figure``.

Every builder takes plain DataFrames (from :mod:`kianax_capacity.outputs.frames` or the
recommenders) and returns a figure; an empty input gives a figure that says there is no data yet,
never an exception, so one missing section never breaks a report. Colours come from
:mod:`kianax_capacity.outputs.palette`, units are in the axis titles (cores, GiB, USD), legends
sit above the plot area so they never cover data, and long category labels go on the y axis of
horizontal bars where they have room.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import numpy as np
import pandas as pd

from kianax_capacity._optional import missing_dependency

try:
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots
except ImportError as exc:  # the [report] extra is not installed
    raise missing_dependency("plotly", extra="report") from exc

from kianax_capacity.outputs.palette import IDLE_COLOR, ROLE_COLORS, color_for

__all__ = [
    "capacity_forecast",
    "cost_by_group",
    "cost_over_time",
    "hpa_replicas",
    "no_data",
    "node_packing",
    "requested_vs_used",
    "usage_distribution",
]

_UNITS = {"cpu": "cores", "memory": "GiB"}
_FONT = {"family": "Inter, Segoe UI, Helvetica, Arial, sans-serif", "size": 13}


def _layout(fig: go.Figure, title: str, height: int = 420, **extra: Any) -> go.Figure:
    fig.update_layout(
        title={"text": title, "x": 0.0, "xanchor": "left", "font": {"size": 16}},
        template="plotly_white",
        font=_FONT,
        height=height,
        margin={"l": 70, "r": 30, "t": 90, "b": 50},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "xanchor": "left", "x": 0.0},
        hoverlabel={"namelength": -1},
        **extra,
    )
    return fig


def no_data(title: str, message: str) -> go.Figure:
    """A small figure that says why a chart is empty (instead of an empty pair of axes)."""
    fig = go.Figure()
    fig.add_annotation(
        text=message,
        x=0.5,
        y=0.5,
        xref="paper",
        yref="paper",
        showarrow=False,
        font={"size": 14, "color": "#555555"},
    )
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return _layout(fig, title, height=200)


# --- costs -------------------------------------------------------------------------------------


def cost_over_time(
    daily: pd.DataFrame | None,
    by: Literal["namespace", "node_group"] = "namespace",
    title: str | None = None,
) -> go.Figure:
    """Stacked daily cost, split by namespace (idle included) or by node group.

    Args:
        daily: one row per (day, node_group, namespace) with ``cost_usd`` (the cost allocation's
            ``daily`` frame; namespace ``"(idle)"`` is the unallocated part).
        by: the split.
    """
    label = "namespace" if by == "namespace" else "node group"
    title = title or f"Daily cost by {label}"
    if daily is None or daily.empty:
        return no_data(title, "No cost data yet: prices or cost allocation are not available.")
    totals = daily.groupby(["day", by], observed=True)["cost_usd"].sum().reset_index()
    # The window's end falls on a midnight: that last "day" holds no cost and only adds an empty slot.
    per_day = totals.groupby("day")["cost_usd"].transform("sum")
    totals = totals[per_day > 0]
    order = totals.groupby(by, observed=True)["cost_usd"].sum().sort_values(ascending=False)
    fig = go.Figure()
    for name in order.index:
        part = totals[totals[by] == name].sort_values("day")
        fig.add_bar(
            x=part["day"],
            y=part["cost_usd"],
            name=str(name),
            marker_color=color_for(str(name)),
            hovertemplate="%{x|%a %d %b}<br>" + str(name) + ": $%{y:,.2f}<extra></extra>",
        )
    fig.update_layout(barmode="stack", bargap=0.15)
    fig.update_yaxes(title_text="USD per day", tickprefix="$", separatethousands=True)
    fig.update_xaxes(title_text="day (UTC)", tickformat="%d %b")
    return _layout(fig, title)


def cost_by_group(totals: pd.DataFrame | None, key: str, title: str, top: int = 15) -> go.Figure:
    """Horizontal bars of monthly cost per group (namespace, workload, node group).

    Args:
        totals: rows with ``key`` and ``monthly_usd`` (and optionally ``idle_monthly_usd``,
            drawn as a grey segment).
        key: the column naming the group.
    """
    if totals is None or totals.empty:
        return no_data(title, "No cost data yet.")
    frame = totals.sort_values("monthly_usd", ascending=False).head(top).iloc[::-1]
    names = frame[key].astype(str)
    has_idle = "idle_monthly_usd" in frame
    fig = go.Figure()
    allocated = frame["monthly_usd"] - (frame["idle_monthly_usd"] if has_idle else 0.0)
    fig.add_bar(
        y=names,
        x=allocated,
        orientation="h",
        name="allocated",
        showlegend=False,
        marker_color=[color_for(n.split("/")[0]) for n in names],
        hovertemplate="%{y}: $%{x:,.2f}/month allocated<extra></extra>",
    )
    if has_idle:
        fig.add_bar(
            y=names,
            x=frame["idle_monthly_usd"],
            orientation="h",
            name="idle (nobody requested it)",
            marker_color=IDLE_COLOR,
            hovertemplate="%{y}: $%{x:,.2f}/month idle<extra></extra>",
        )
    # Totals as text right of each bar: a stacked bar's own text would land inside a segment.
    fig.add_scatter(
        y=names,
        x=frame["monthly_usd"],
        mode="text",
        text=[f"  ${v:,.0f}" for v in frame["monthly_usd"]],
        textposition="middle right",
        showlegend=False,
        hoverinfo="skip",
        cliponaxis=False,
    )
    fig.update_layout(barmode="stack", showlegend=has_idle)
    fig.update_xaxes(title_text="USD per month", tickprefix="$", separatethousands=True)
    fig.update_yaxes(automargin=True)
    return _layout(fig, title, height=max(260, 110 + 28 * len(frame)))


# --- right-sizing ------------------------------------------------------------------------------


def requested_vs_used(
    frame: pd.DataFrame | None, resource: Literal["cpu", "memory"] = "cpu", title: str | None = None
) -> go.Figure:
    """Per container: request bar, p95 usage bar, max usage tick and the recommended request.

    Args:
        frame: :func:`kianax_capacity.outputs.frames.requests_vs_usage` (label, request, used_p95,
            used_max, recommended), display units.
    """
    unit = _UNITS[resource]
    title = title or f"{'CPU' if resource == 'cpu' else 'Memory'} requested vs used ({unit})"
    if frame is None or frame.empty:
        return no_data(title, "No containers with usage data in this snapshot.")
    data = frame.iloc[::-1]
    fig = go.Figure()
    fig.add_bar(
        y=data["label"],
        x=data["request"],
        orientation="h",
        name="requested",
        marker_color=ROLE_COLORS["requested"],
        hovertemplate="%{y}<br>requested %{x:.3f} " + unit + "<extra></extra>",
    )
    fig.add_bar(
        y=data["label"],
        x=data["used_p95"],
        orientation="h",
        name="used (p95)",
        marker_color=ROLE_COLORS["used"],
        hovertemplate="%{y}<br>p95 used %{x:.3f} " + unit + "<extra></extra>",
    )
    fig.add_scatter(
        y=data["label"],
        x=data["used_max"],
        mode="markers",
        name="used (max)",
        marker={
            "symbol": "line-ns-open",
            "size": 16,
            "color": ROLE_COLORS["observed"],
            "line": {"width": 2},
        },
        hovertemplate="%{y}<br>max used %{x:.3f} " + unit + "<extra></extra>",
    )
    if data["recommended"].notna().any():
        fig.add_scatter(
            y=data["label"],
            x=data["recommended"],
            mode="markers",
            name="recommended request",
            marker={
                "symbol": "diamond",
                "size": 11,
                "color": ROLE_COLORS["recommended"],
                "line": {"width": 1, "color": "white"},
            },
            hovertemplate="%{y}<br>recommended %{x:.3f} " + unit + "<extra></extra>",
        )
    fig.update_layout(barmode="group", bargap=0.25, bargroupgap=0.05)
    fig.update_xaxes(title_text=unit, rangemode="tozero")
    fig.update_yaxes(automargin=True)
    return _layout(fig, title, height=max(320, 120 + 34 * len(data)))


def usage_distribution(
    samples: pd.Series | None,
    marks: Mapping[str, float] | None,
    resource: Literal["cpu", "memory"] = "cpu",
    title: str = "Usage distribution",
) -> go.Figure:
    """Histogram of one container's usage samples with percentile, request and recommendation lines.

    Args:
        samples: usage values in display units (cores, GiB), every pod and step.
        marks: label -> value (``p50``, ``p95``, ``p99``, ``max``, ``request``, ``limit``,
            ``recommended``) from :func:`kianax_capacity.outputs.frames.container_usage`.
    """
    unit = _UNITS[resource]
    if samples is None or samples.empty:
        return no_data(title, "No usage samples for this container.")
    marks = dict(marks or {})
    fig = go.Figure()
    fig.add_histogram(
        x=samples,
        nbinsx=60,
        name="samples",
        marker_color=ROLE_COLORS["used"],
        opacity=0.75,
        hovertemplate="%{x} " + unit + ": %{y} samples<extra></extra>",
    )
    styles = {
        "p50": ("#555555", "dot"),
        "p95": ("#333333", "dash"),
        "p99": ("#000000", "dashdot"),
        "max": ("#000000", "solid"),
        "request": (ROLE_COLORS["limit"], "solid"),
        "limit": ("#B00020", "longdash"),
        "recommended": (ROLE_COLORS["recommended"], "solid"),
    }
    # Lines are drawn as legend entries, not text on the plot: labels of close lines would overlap.
    for name, value in sorted(marks.items(), key=lambda item: item[1]):
        color, dash = styles.get(name, ("#777777", "dot"))
        fig.add_scatter(
            x=[value, value],
            y=[0, 1],
            yaxis="y2",
            mode="lines",
            name=f"{name} {value:.3g} {unit}",
            line={"color": color, "dash": dash, "width": 2.5},
            hoverinfo="name",
        )
    fig.update_layout(
        yaxis2={"overlaying": "y", "range": [0, 1], "visible": False, "fixedrange": True},
        bargap=0.02,
    )
    # Room to the right so a request or limit line at the far end is not cut by the frame.
    right = max([float(samples.max()), *marks.values()]) * 1.06
    fig.update_xaxes(title_text=unit, range=[0, right])
    fig.update_yaxes(title_text="samples")
    return _layout(fig, title, height=400)


# --- HPA ---------------------------------------------------------------------------------------


def _saturation_spans(timestamps: pd.Series, flags: pd.Series) -> list[tuple[str, str]]:
    """Contiguous runs of true flags as (start, end) ISO strings, for shading.

    Strings, because plotly serialises a numpy datetime64 shape coordinate as a number that the
    date axis does not place.
    """
    spans: list[tuple[str, str]] = []
    values = flags.fillna(False).astype(bool).to_numpy()
    stamps = pd.to_datetime(timestamps).to_numpy()
    if len(stamps) == 0:
        return spans
    step = np.median(np.diff(stamps)) if len(stamps) > 1 else np.timedelta64(1, "h")
    start = None
    for index, flag in enumerate(values):
        if flag and start is None:
            start = stamps[index]
        if not flag and start is not None:
            spans.append((_iso(start), _iso(stamps[index])))
            start = None
    if start is not None:
        spans.append((_iso(start), _iso(stamps[-1] + step)))
    return spans


def _iso(moment: Any) -> str:
    return pd.Timestamp(moment).isoformat()


def hpa_replicas(
    frame: pd.DataFrame | None,
    current: Any,
    recommended: Any | None = None,
    title: str = "HPA replicas",
) -> go.Figure:
    """Replicas over time against min and max, saturation shaded; before/after when replayed.

    Args:
        frame: :func:`kianax_capacity.outputs.frames.hpa_replay_frame` (timestamp,
            replicas_observed, optional replicas_current_sim / replicas_recommended_sim and
            saturated / saturated_recommended flags), hourly.
        current: the HPA's current ``HpaSettings`` (min_replicas, max_replicas).
        recommended: the recommended ``HpaSettings``, or None.
    """
    if frame is None or frame.empty:
        return no_data(title, "No replica history for this HPA.")
    replayed = "replicas_recommended_sim" in frame and recommended is not None
    rows = 2 if replayed else 1
    if recommended is not None and replayed:
        subtitles: tuple[str, ...] = (
            f"current settings (min {current.min_replicas}, max {current.max_replicas})",
            f"recommended settings (min {recommended.min_replicas}, max {recommended.max_replicas}), replayed",
        )
    else:
        subtitles = (f"observed (min {current.min_replicas}, max {current.max_replicas})",)
    fig = make_subplots(
        rows=rows, cols=1, shared_xaxes=True, vertical_spacing=0.12, subplot_titles=subtitles
    )
    panels: list[tuple[int, Any, str | None, str]] = [(1, current, "saturated", "observed")]
    if replayed:
        panels.append((2, recommended, "saturated_recommended", "recommended"))
    for row, settings, flag, role in panels:
        if flag and flag in frame:
            for start, end in _saturation_spans(frame["timestamp"], frame[flag]):
                fig.add_vrect(
                    x0=start,
                    x1=end,
                    fillcolor=ROLE_COLORS["saturated"],
                    line_width=0,
                    layer="below",
                    row=row,
                    exclude_empty_subplots=False,  # shading goes in before the traces
                    col=1,
                )
        if role == "observed":
            fig.add_scatter(
                x=frame["timestamp"],
                y=frame["replicas_observed"],
                mode="lines",
                name="observed replicas",
                line={"color": ROLE_COLORS["observed"], "width": 1.8, "shape": "hv"},
                row=row,
                col=1,
            )
            if "replicas_current_sim" in frame:
                fig.add_scatter(
                    x=frame["timestamp"],
                    y=frame["replicas_current_sim"],
                    mode="lines",
                    name="replay, current settings",
                    line={
                        "color": ROLE_COLORS["current"],
                        "width": 1.2,
                        "dash": "dot",
                        "shape": "hv",
                    },
                    row=row,
                    col=1,
                )
        else:
            fig.add_scatter(
                x=frame["timestamp"],
                y=frame["replicas_recommended_sim"],
                mode="lines",
                name="replay, recommended settings",
                line={"color": ROLE_COLORS["recommended"], "width": 1.8, "shape": "hv"},
                row=row,
                col=1,
            )
        for bound, value in (("min", settings.min_replicas), ("max", settings.max_replicas)):
            if value is not None:
                fig.add_hline(
                    y=value,
                    line={"color": ROLE_COLORS["bounds"], "dash": "dash", "width": 1},
                    row=row,
                    col=1,
                )
                fig.add_annotation(
                    x=1.0,
                    xref="x domain" if row == 1 else "x2 domain",
                    y=value,
                    yref="y" if row == 1 else "y2",
                    text=f"{bound} {value}",
                    showarrow=False,
                    xanchor="left",
                    xshift=4,
                    font={"size": 11, "color": "#666666"},
                )
        fig.update_yaxes(title_text="replicas", rangemode="tozero", row=row, col=1)
    # A legend entry for the shading, which has no trace of its own.
    fig.add_scatter(
        x=[None],
        y=[None],
        mode="markers",
        name="saturated (at max, above target)",
        marker={"symbol": "square", "size": 12, "color": ROLE_COLORS["saturated"]},
    )
    fig.update_xaxes(title_text="time (UTC)", row=rows, col=1)
    fig = _layout(fig, title, height=300 + 230 * rows)
    # Subplot titles sit at the top of each panel: lift the legend above them.
    height = 300 + 230 * rows
    plot_height = height - 120 - 50
    fig.update_layout(margin={"r": 60, "t": 120}, legend={"y": 1.0 + 30 / plot_height})
    return fig


# --- node groups -------------------------------------------------------------------------------


def node_packing(
    frame: pd.DataFrame | None,
    resource: Literal["cpu", "memory"] = "cpu",
    title: str | None = None,
) -> go.Figure:
    """Requests stacked per node (by namespace) against each node's allocatable.

    Args:
        frame: :func:`kianax_capacity.outputs.frames.packing_frame` (node, node_group, namespace,
            cpu_request_cores / memory_request_gib, cpu_allocatable_cores /
            memory_allocatable_gib, timestamp).
    """
    unit = _UNITS[resource]
    value = "cpu_request_cores" if resource == "cpu" else "memory_request_gib"
    allocatable = "cpu_allocatable_cores" if resource == "cpu" else "memory_allocatable_gib"
    if frame is None or frame.empty:
        return no_data(title or "Node packing", "No pods placed on known nodes.")
    moment = pd.Timestamp(frame["timestamp"].iloc[0])
    title = title or (
        f"{'CPU' if resource == 'cpu' else 'Memory'} requests per node ({unit}), "
        f"{moment:%a %d %b %H:%M} UTC"
    )
    nodes = frame[["node", "node_group", allocatable]].drop_duplicates("node")
    nodes = nodes.sort_values(["node_group", "node"])
    # Short node labels: the group and a counter read better than 30-character EC2 host names.
    labels = {}
    for group, part in nodes.groupby("node_group", observed=True, sort=False):
        for index, node in enumerate(part["node"], start=1):
            labels[node] = f"{group} #{index}"
    order = [labels[n] for n in nodes["node"]]
    fig = go.Figure()
    for namespace in sorted(frame["namespace"].astype(str).unique()):
        part = frame[frame["namespace"] == namespace]
        fig.add_bar(
            x=[labels[n] for n in part["node"]],
            y=part[value],
            name=namespace,
            marker_color=color_for(namespace),
            customdata=part["node"],
            hovertemplate="%{customdata}<br>"
            + namespace
            + ": %{y:.2f} "
            + unit
            + "<extra></extra>",
        )
    fig.add_scatter(
        x=order,
        y=nodes[allocatable],
        mode="markers",
        name="allocatable",
        marker={
            "symbol": "line-ew-open",
            "size": 26,
            "color": ROLE_COLORS["capacity"],
            "line": {"width": 3},
        },
        hovertemplate="%{x}<br>allocatable %{y:.2f} " + unit + "<extra></extra>",
    )
    fig.update_layout(barmode="stack", bargap=0.3)
    fig.update_xaxes(
        categoryorder="array",
        categoryarray=order,
        tickangle=-45 if len(order) > 8 else 0,
        title_text="node",
    )
    fig.update_yaxes(title_text=unit, rangemode="tozero")
    return _layout(fig, title, height=440)


# --- forecast ----------------------------------------------------------------------------------


def capacity_forecast(
    frame: pd.DataFrame | None,
    resource: Literal["cpu", "memory"] = "cpu",
    scope: str = "",
    title: str | None = None,
) -> go.Figure:
    """Daily peak requests (and usage), the trend with its interval, against the capacity.

    Args:
        frame: :func:`kianax_capacity.outputs.frames.forecast_frame` (date, actual, usage, fitted,
            lower, upper, capacity) in display units.
    """
    unit = _UNITS[resource]
    what = "CPU" if resource == "cpu" else "memory"
    title = title or f"{scope} {what} requests: daily peak and forecast ({unit})".strip()
    if frame is None or frame.empty:
        return no_data(
            title, "Not enough history for a forecast yet (two days or more are needed)."
        )
    data = frame.sort_values("date")
    fig = go.Figure()
    if data["upper"].notna().any():
        fig.add_scatter(
            x=data["date"],
            y=data["upper"],
            mode="lines",
            line={"width": 0},
            showlegend=False,
            hoverinfo="skip",
        )
        fig.add_scatter(
            x=data["date"],
            y=data["lower"],
            mode="lines",
            line={"width": 0},
            fill="tonexty",
            fillcolor=ROLE_COLORS["interval"],
            name="forecast interval",
            hoverinfo="skip",
        )
        fig.add_scatter(
            x=data["date"],
            y=data["fitted"],
            mode="lines",
            name="trend",
            line={"color": ROLE_COLORS["forecast"], "width": 2, "dash": "dash"},
            hovertemplate="%{x|%d %b}: trend %{y:.2f} " + unit + "<extra></extra>",
        )
    fig.add_scatter(
        x=data["date"],
        y=data["actual"],
        mode="lines+markers",
        name="requests (daily peak)",
        line={"color": ROLE_COLORS["observed"], "width": 1.5},
        marker={"size": 5},
        hovertemplate="%{x|%d %b}: requests %{y:.2f} " + unit + "<extra></extra>",
    )
    if data["usage"].notna().any():
        fig.add_scatter(
            x=data["date"],
            y=data["usage"],
            mode="lines",
            name="usage (daily peak)",
            line={"color": ROLE_COLORS["used"], "width": 1.5},
            hovertemplate="%{x|%d %b}: usage %{y:.2f} " + unit + "<extra></extra>",
        )
    if data["capacity"].notna().any():
        fig.add_scatter(
            x=data["date"],
            y=data["capacity"],
            mode="lines",
            name="capacity",
            line={"color": ROLE_COLORS["capacity"], "width": 1.5, "shape": "hv"},
            hovertemplate="%{x|%d %b}: capacity %{y:.2f} " + unit + "<extra></extra>",
        )
    fig.update_xaxes(title_text="day (UTC)")
    fig.update_yaxes(title_text=unit, rangemode="tozero")
    return _layout(fig, title)


# --- burstable node groups ---------------------------------------------------------------------


def credit_balance(frame: pd.DataFrame | None, title: str | None = None) -> go.Figure:
    """CPU-credit balance (above zero) and outstanding surplus credits (below) per group.

    Args:
        frame: :func:`kianax_capacity.outputs.frames.credit_balance_frame`.
    """
    title = title or "CPU credits of burstable node groups (credits = vCPU-minutes)"
    if frame is None or frame.empty:
        return no_data(title, "No burstable (T2/T3/T3a/T4g) nodes, or no usage series.")
    fig = go.Figure()
    for group, part in frame.groupby("node_group", sort=True):
        color = color_for(str(group))
        fig.add_scatter(
            x=part["timestamp"],
            y=part["balance_credits"],
            name=f"{group}: balance",
            mode="lines",
            line={"color": color},
        )
        fig.add_scatter(
            x=part["timestamp"],
            y=-part["surplus_credits"],
            name=f"{group}: surplus owed",
            mode="lines",
            line={"color": color, "dash": "dot"},
        )
    fig.update_layout(
        title=title,
        xaxis_title="time (UTC)",
        yaxis_title="credits (surplus owed shown below zero)",
        legend_title="node group",
    )
    return fig
