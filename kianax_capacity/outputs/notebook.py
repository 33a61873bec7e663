"""What the shipped notebooks call: load the inputs once, then show sections in one line each.

The notebooks hold a parameters cell and calls into this module, nothing else, so the logic is
tested as library code and a notebook stays readable. Every ``show_*``/``section`` helper
displays an honest note ("no data yet: ...") when its input is empty rather than raising, so one
recommender that found nothing never breaks a report.

Example (in JupyterLab)::

    from kianax_capacity.outputs import notebook as nb
    ctx = nb.load("demo")
    nb.show(nb.charts.cost_over_time(ctx.daily_costs))
"""

from __future__ import annotations

import html
import logging
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import pandas as pd

from kianax_capacity._optional import import_optional
from kianax_capacity.outputs import charts, frames, tables
from kianax_capacity.outputs.report import window_week
from kianax_capacity.recommendations import RecommendationSet, load_recommendations
from kianax_capacity.snapshot import Snapshot, load_snapshot
from kianax_capacity.units import format_usd

log = logging.getLogger(__name__)

__all__ = [
    "ReportContext",
    "charts",
    "frames",
    "load",
    "note",
    "setup",
    "show",
    "show_table",
    "tables",
    "title",
]

#: The snapshot parameter value that means "simulate the embedded demo cluster".
DEMO = "demo"


def setup() -> None:
    """Render plotly figures as self-contained HTML, with plotly.js embedded once per notebook.

    The "notebook" renderer writes the library into the first output and every later figure
    reuses it: the HTML report renders offline and stays a few MB, where embedding per figure
    would repeat 4 MB of JavaScript for every chart.
    """
    pio = import_optional("plotly.io", extra="report")
    pio.renderers.default = "notebook"
    pd.set_option("display.max_colwidth", 120)


@dataclass
class ReportContext:
    """The inputs of one report, loaded once per notebook, and the views derived from them."""

    snapshot: Snapshot
    recommendations: RecommendationSet
    cluster: str
    week: str
    profile: str
    previous: RecommendationSet | None = None
    notes: list[str] = field(default_factory=list)

    @cached_property
    def allocation(self) -> Any | None:
        """The cost allocation (``CostAllocation``) or None when prices are unavailable."""
        return frames.cost_allocation(self.snapshot)

    @property
    def daily_costs(self) -> pd.DataFrame | None:
        return None if self.allocation is None else self.allocation.daily

    @cached_property
    def headline(self) -> frames.Headline:
        return frames.headline(self.recommendations, self.allocation)


def load(
    snapshot: str | Path | Snapshot = DEMO,
    recommendations: str | Path | RecommendationSet | None = "",
    *,
    cluster: str = "",
    week: str = "",
    profile: str = "production",
    previous: str | Path | None = "",
) -> ReportContext:
    """Load a snapshot and its recommendations (computing them when no file is given).

    Args:
        snapshot: a snapshot folder, a loaded :class:`Snapshot`, or ``"demo"`` for the embedded
            demo cluster.
        recommendations: a ``recommendations.json`` path or set; empty = run ``recommend``.
        cluster: the name shown in titles (default: the snapshot's).
        week: ISO week (default: the week of the snapshot's end).
        profile: the recommendation profile, used when recommending here.
        previous: last week's ``recommendations.json`` for "what changed"; empty or missing =
            none.
    """
    if isinstance(snapshot, Snapshot):
        snap = snapshot
    elif str(snapshot) == DEMO:
        from kianax_capacity.sources.demo import generate_demo_snapshot

        snap = generate_demo_snapshot()
    else:
        snap = load_snapshot(snapshot)
    if isinstance(recommendations, RecommendationSet):
        recs = recommendations
    elif recommendations:
        recs = load_recommendations(recommendations)
    else:
        from kianax_capacity.recommenders.engine import recommend

        recs = recommend(snap, profile=profile)
    before = None
    notes = []
    if previous:
        path = Path(previous)
        if path.is_file():
            before = load_recommendations(path)
        else:
            notes.append(f"previous recommendations {path} not found")
    return ReportContext(
        snapshot=snap,
        recommendations=recs,
        cluster=cluster or snap.cluster,
        week=week or window_week(snap.window[1]),
        profile=profile,
        previous=before,
        notes=notes,
    )


def _display(obj: Any) -> None:
    from IPython.display import display

    display(obj)


def note(text: str) -> None:
    """A grey one-paragraph note (Markdown) in the output."""
    from IPython.display import Markdown

    _display(Markdown(f"> {text}"))


def show(figure: Any) -> None:
    """Display a plotly figure (or anything IPython can display)."""
    if hasattr(figure, "to_plotly_json"):
        figure.show()
    else:
        _display(figure)


def show_table(
    frame: pd.DataFrame | None, empty: str, caption: str | None = None, ranked: bool = False
) -> None:
    """A styled table, or the ``empty`` note when the frame has no rows."""
    if frame is None or frame.empty:
        note(empty)
        return
    _display(tables.style_table(frame, caption=caption, ranked=ranked))


def title(ctx: ReportContext, heading: str) -> None:
    """The report heading: what, for which cluster and week, over which window."""
    from IPython.display import HTML

    start, end = ctx.snapshot.window
    window = f"{start:%a %d %b %Y %H:%M} → {end:%a %d %b %Y %H:%M} UTC"
    lines = [
        f"<h1 style='margin-bottom:0'>{html.escape(heading)}</h1>",
        f"<p style='color:#555;margin-top:4px'><b>{html.escape(ctx.cluster)}</b> · "
        f"week {html.escape(ctx.week)} · {window} · profile {html.escape(ctx.profile)} · "
        f"source {html.escape(ctx.snapshot.manifest.source)}</p>",
    ]
    assumed = ctx.recommendations.summary.get("assumed_instance_type") or {}
    if assumed.get("assumed"):
        # Before anything else: every dollar below is on an assumed instance type.
        lines.append(
            "<p style='color:#fff;background:#b3261e;padding:8px 12px;border-radius:4px'>"
            f"<b>Assumed instance type.</b> {html.escape(str(assumed.get('banner', '')))}</p>"
        )
    capacity = ctx.recommendations.summary.get("assumed_capacity_type") or {}
    if capacity.get("assumed"):
        # Node dollars on an assumed on-demand capacity type: an upper bound where spot runs.
        lines.append(
            "<p style='color:#fff;background:#9a5b00;padding:8px 12px;border-radius:4px'>"
            f"<b>Assumed capacity type.</b> {html.escape(str(capacity.get('banner', '')))}</p>"
        )
    for text in [*ctx.snapshot.manifest.warnings, *ctx.notes]:
        lines.append(f"<p style='color:#8a5a00'>⚠ {html.escape(str(text))}</p>")
    _display(HTML("\n".join(lines)))


def headline(ctx: ReportContext) -> None:
    """Cards with the monthly cost, the savings available, idle cost and the number of actions."""
    from IPython.display import HTML

    numbers = ctx.headline
    cards = [
        (
            "Monthly cost",
            format_usd(numbers.monthly_cost_usd)
            if numbers.monthly_cost_usd is not None
            else "no price data yet",
        ),
        ("Savings available", f"{format_usd(numbers.savings_available_usd)}/month"),
        (
            "Idle capacity",
            format_usd(numbers.idle_monthly_usd) + "/month"
            if numbers.idle_monthly_usd is not None
            else "-",
        ),
        ("Actions proposed", str(numbers.actions)),
    ]
    body = "".join(
        "<div style='flex:1;min-width:180px;padding:12px 16px;border:1px solid #dde3ea;"
        "border-radius:8px;background:#f8fafc'>"
        f"<div style='color:#555;font-size:13px'>{html.escape(label)}</div>"
        f"<div style='font-size:24px;font-weight:600;margin-top:4px'>{html.escape(value)}</div>"
        "</div>"
        for label, value in cards
    )
    caption = (
        f"<p style='color:#666;font-size:12px'>USD per 730-hour month, extrapolated from the "
        f"{numbers.window_days:g}-day window. Net of the changes that cost money: "
        f"{format_usd(numbers.net_change_usd, signed=True)}/month.</p>"
    )
    _display(HTML(f"<div style='display:flex;gap:12px;flex-wrap:wrap'>{body}</div>{caption}"))


def cost_trend(ctx: ReportContext) -> None:
    """Daily cost by namespace and by node group, or a note when prices are unavailable."""
    if ctx.daily_costs is None:
        note("No cost data yet: the cost allocation or the price catalog is not available.")
        return
    show(charts.cost_over_time(ctx.daily_costs, by="namespace"))
    show(charts.cost_over_time(ctx.daily_costs, by="node_group"))


def cost_breakdowns(ctx: ReportContext) -> None:
    """Monthly cost per namespace, workload and node group (idle shown on node groups)."""
    allocation = ctx.allocation
    if allocation is None:
        note("No cost data yet: the cost allocation or the price catalog is not available.")
        return
    monthly = allocation.monthly
    by_namespace = allocation.by_namespace.assign(
        monthly_usd=lambda f: f["cost_usd"].astype(float).map(monthly)
    )
    show(charts.cost_by_group(by_namespace, "namespace", "Monthly cost by namespace"))
    by_workload = allocation.by_workload.assign(
        label=lambda f: f["namespace"].astype(str) + "/" + f["workload"].astype(str),
        monthly_usd=lambda f: f["cost_usd"].astype(float).map(monthly),
    )
    show(charts.cost_by_group(by_workload, "label", "Monthly cost by workload (top 15)"))
    by_group = allocation.by_node_group.assign(
        monthly_usd=lambda f: f["cost_usd"].astype(float).map(monthly),
        idle_monthly_usd=lambda f: f["idle_usd"].astype(float).map(monthly),
    )
    show(charts.cost_by_group(by_group, "node_group", "Monthly cost by node group (grey: idle)"))


def changes(ctx: ReportContext) -> None:
    """What changed since last week's recommendations."""
    frame = frames.change_table(ctx.previous, ctx.recommendations)
    if frame is None:
        note("No previous week's recommendations.json found: nothing to compare yet.")
        return
    show_table(frame.head(20), "No significant change since last week.")


def forecast(ctx: ReportContext, resource: frames.Resource = "cpu", all_rows: bool = True) -> None:
    """The forecast chart of the scope that runs out first (else the busiest node group), and
    the forecast rows of the recommendation set (only those that run out, unless ``all_rows``)."""
    scope = frames.forecast_scope(ctx.snapshot, ctx.recommendations, resource)
    frame = frames.forecast_frame(ctx.snapshot, scope, resource)
    show(charts.capacity_forecast(frame, resource=resource, scope=scope or ""))
    rows = [
        {
            "scope": row.scope,
            "resource": row.resource,
            "status": row.status,
            "runs out on": row.exhausted_on or f"not within {row.horizon_days} days",
            "why": str(row.extra.get("reason", "")),
        }
        for row in ctx.recommendations.forecast
        if all_rows or row.exhausted_on
    ]
    checked = len(ctx.recommendations.forecast)
    if rows:
        show_table(pd.DataFrame(rows), "")
    elif checked:
        horizon = max(row.horizon_days for row in ctx.recommendations.forecast)
        note(
            f"Nothing runs out within {horizon} days at the current trend "
            f"({checked} scope and resource pairs checked)."
        )
    else:
        note("No forecast rows in this recommendation set yet.")


def requests_vs_usage(ctx: ReportContext) -> None:
    """Requested vs used per container (CPU, then memory), with the recommended request."""
    for resource in ("cpu", "memory"):
        frame = frames.requests_vs_usage(ctx.snapshot, ctx.recommendations, resource)
        show(charts.requested_vs_used(frame, resource))


def node_packing(ctx: ReportContext) -> None:
    """Requests per node at the busiest moment (CPU, then memory), against allocatable."""
    frame = frames.packing_frame(ctx.snapshot)
    for resource in ("cpu", "memory"):
        show(charts.node_packing(frame, resource))


def container_detail(ctx: ReportContext, rank: int = 0) -> None:
    """Usage histograms (CPU and memory) of the ``rank``-th container worth a look."""
    choices = frames.container_choices(ctx.snapshot, ctx.recommendations)
    if len(choices) <= rank:
        note("No container with usage data in this snapshot.")
        return
    pick = choices.iloc[rank]
    namespace, workload, container = (
        str(pick["namespace"]),
        str(pick["workload"]),
        str(pick["container"]),
    )
    for resource in ("cpu", "memory"):
        samples, marks = frames.container_usage(
            ctx.snapshot, namespace, workload, container, resource, ctx.recommendations
        )
        unit = "cores" if resource == "cpu" else "GiB"
        show(
            charts.usage_distribution(
                samples,
                marks,
                resource,
                title=f"{namespace}/{workload} · {container}: {resource.upper() if resource == 'cpu' else 'memory'} usage ({unit})",
            )
        )


def hpa_charts(ctx: ReportContext, top: int = 3) -> None:
    """Replica charts of the ``top`` HPAs that were saturated most."""
    choices = frames.hpa_choices(ctx.snapshot, ctx.recommendations)
    if choices.empty:
        note("No HorizontalPodAutoscalers in this snapshot.")
        return
    for _, pick in choices.head(top).iterrows():
        namespace, workload = str(pick["namespace"]), str(pick["workload"])
        frame, current, recommended = frames.hpa_replay_frame(
            ctx.snapshot, namespace, workload, ctx.recommendations
        )
        show(
            charts.hpa_replicas(
                frame, current, recommended, title=f"HPA {namespace}/{workload}: replicas"
            )
        )


def estimated_vs_billed(ctx: ReportContext) -> None:
    """Estimated node cost per node group and day against the bill, when a bill was fetched."""
    allocation = ctx.allocation
    if allocation is None:
        note("No cost data yet: the cost allocation or the price catalog is not available.")
        return
    estimated = allocation.node_daily.groupby("node_group", observed=True)["cost_usd"].sum()
    frame = pd.DataFrame(
        {
            "node group": estimated.index.astype(str),
            "estimated_usd": estimated.to_numpy(dtype=float),
            "monthly_usd": [allocation.monthly(float(v)) for v in estimated.to_numpy(dtype=float)],
        }
    )
    billed = ctx.snapshot.manifest.extra.get("billed_usd") if ctx.snapshot.manifest.extra else None
    if isinstance(billed, dict) and billed:
        frame["billed_usd"] = [billed.get(group) for group in frame["node group"]]
    show_table(
        frame,
        "No node cost in this snapshot.",
        caption=f"Node cost over the window ({allocation.prices_source} prices as of {allocation.prices_as_of})",
    )
    if not isinstance(billed, dict) or not billed:
        note(
            "No billed amounts in this snapshot: fetch with Cost Explorer or CUR configured "
            "([aws] cost_explorer / cur_manifest) to compare the estimate with the bill."
        )


def burstable_credits(ctx: ReportContext) -> None:
    """Per burstable node group: its CPU-credit balance over time and the surplus dollars."""
    show(charts.credit_balance(frames.credit_balance_frame(ctx.snapshot, ctx.recommendations)))
    rows = []
    for row in ctx.recommendations.nodegroups:
        burstable = row.extra.get("burstable")
        current = burstable.get("current") if isinstance(burstable, dict) else None
        if not isinstance(current, dict) or current.get("mode") is None:
            continue
        rows.append(
            {
                "node group": row.name,
                "credit mode": current["mode"],
                "mean CPU": f"{(current.get('mean_cpu_utilisation') or 0):.0%}",
                "baseline": f"{(current.get('baseline_per_vcpu') or 0):.0%}",
                "surplus_usd": row.current.burstable_surplus_usd,
                "recommended surplus_usd": row.recommended.burstable_surplus_usd,
                "list monthly_usd": row.current.list_monthly_cost_usd,
                "effective monthly_usd": row.current.effective_monthly_cost_usd,
                "throttled node-hours/month": current.get("throttled_node_hours_monthly"),
                "how": current.get("reason"),
            }
        )
    show_table(
        pd.DataFrame.from_records(rows),
        "No burstable node groups: no CPU credits to account for.",
    )
