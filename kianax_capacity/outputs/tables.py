"""The few tables a report shows: the top actions with dollars and risk, and section summaries.

Frames are built by pure functions of a :class:`RecommendationSet`; :func:`style_table` turns
any of them into a pandas ``Styler`` with money, CPU and memory formatted for people.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, cast

import pandas as pd
from pandas.io.formats.style import Styler

from kianax_capacity.recommendations import RecommendationSet, RightsizingRow
from kianax_capacity.recommenders.confidence import backtest_sentence
from kianax_capacity.units import format_cpu, format_memory, format_usd

__all__ = [
    "TOP_ACTION_COLUMNS",
    "hpa_table",
    "nodegroup_table",
    "rightsizing_table",
    "spot_table",
    "style_table",
    "top_actions",
]

TOP_ACTION_COLUMNS = ["area", "action", "monthly_savings_usd", "risk", "why"]

_RISK_ORDER = {"low": 0, "medium": 1, "high": 2}
_RISK_COLORS = {"low": "#E3F2E1", "medium": "#FFF3D6", "high": "#FBE0DC"}


def _arrow(before: str, after: str) -> str:
    return before if before == after else f"{before} → {after}"


def _joint_workloads(recs: RecommendationSet) -> set[tuple[str, str]]:
    """Workloads whose HPA row already priced the right-sized requests: one action each."""
    return {
        (r.namespace, r.workload)
        for r in recs.hpa
        if r.status == "ok" and r.request_change_included
    }


def _container_change(row: RightsizingRow) -> str:
    cpu = _arrow(format_cpu(row.current.cpu_request), format_cpu(row.recommended.cpu_request))
    memory = _arrow(
        format_memory(row.current.memory_request), format_memory(row.recommended.memory_request)
    )
    return f"{row.container}: CPU {cpu}, memory {memory}"


def _rightsizing_actions(recs: RecommendationSet) -> Iterable[dict[str, Any]]:
    joint = _joint_workloads(recs)
    for row in recs.rightsizing:
        if row.status != "ok" or (row.namespace, row.workload) in joint:
            continue
        yield {
            "area": "right-sizing",
            "action": f"{row.namespace}/{row.workload} · {_container_change(row)}",
            "monthly_savings_usd": row.monthly_savings_usd,
            "risk": row.risk or "-",
            "why": row.reason,
        }


def _hpa_actions(recs: RecommendationSet) -> Iterable[dict[str, Any]]:
    joint = _joint_workloads(recs)
    containers: dict[tuple[str, str], list[RightsizingRow]] = {}
    for sized in recs.rightsizing:
        if sized.status == "ok" and (sized.namespace, sized.workload) in joint:
            containers.setdefault((sized.namespace, sized.workload), []).append(sized)
    for row in recs.hpa:
        if row.status != "ok":
            continue
        sized_rows = containers.get((row.namespace, row.workload), [])
        changes = []
        for name, label in (
            ("min_replicas", "min"),
            ("max_replicas", "max"),
            ("target_cpu_utilization", "CPU target %"),
        ):
            before, after = getattr(row.current, name), getattr(row.recommended, name)
            if after is not None and before != after:
                changes.append(f"{label} {_number(before)} → {_number(after)}")
        hpa_change = ", ".join(changes) or "tune"
        if sized_rows:
            # One combined action: the new requests and the HPA settings that keep scaling right.
            risks = [r.risk for r in sized_rows if r.risk] + [str(row.extra.get("risk") or "")]
            yield {
                "area": "right-sizing + HPA",
                "action": f"{row.namespace}/{row.workload}: "
                + "; ".join(_container_change(r) for r in sized_rows)
                + f"; HPA {hpa_change}",
                "monthly_savings_usd": row.monthly_savings_usd,
                "risk": max(risks, key=lambda r: _RISK_ORDER.get(r, -1)) or "-",
                "why": " ".join([row.reason, *(r.reason for r in sized_rows)]),
            }
            continue
        yield {
            "area": "HPA",
            "action": f"{row.namespace}/{row.workload}: {hpa_change}",
            "monthly_savings_usd": row.monthly_savings_usd,
            "risk": str(row.extra.get("risk") or "-"),
            "why": row.reason,
        }


def _spot_actions(recs: RecommendationSet) -> Iterable[dict[str, Any]]:
    for row in recs.spot:
        if not row.ready:
            continue
        yield {
            "area": "spot",
            "action": f"{row.namespace}/{row.workload}: run on spot",
            "monthly_savings_usd": row.monthly_savings_usd,
            "risk": str(row.extra.get("risk") or "medium"),
            "why": f"interruption frequency {row.interruption_range or 'unknown'}",
        }


def _nodegroup_actions(recs: RecommendationSet) -> Iterable[dict[str, Any]]:
    for row in recs.nodegroups:
        if not row.monthly_savings_usd:
            continue
        before = ", ".join(row.current.instance_types) or "?"
        after = ", ".join(row.recommended.instance_types) or before
        yield {
            "area": "node group",
            "action": f"{row.name}: {_arrow(before, after)}, "
            f"min/max {row.recommended.min_size}/{row.recommended.max_size}",
            "monthly_savings_usd": row.monthly_savings_usd,
            "risk": str(row.extra.get("risk") or "-"),
            "why": row.reason,
        }


def _number(value: Any) -> str:
    if value is None:
        return "unset"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def action_rows(recs: RecommendationSet) -> pd.DataFrame:
    """Every proposed action, one per workload change (right-sizing and HPA of one workload
    merged), in section order. Columns as :func:`top_actions`."""
    rows = [
        *_rightsizing_actions(recs),
        *_hpa_actions(recs),
        *_spot_actions(recs),
        *_nodegroup_actions(recs),
    ]
    return pd.DataFrame(rows, columns=TOP_ACTION_COLUMNS)


def top_actions(recs: RecommendationSet, n: int = 10) -> pd.DataFrame:
    """The ``n`` changes worth the most dollars a month, across every section.

    Only actionable rows are listed (status ``ok``, spot-ready, node groups that change); an
    action that costs money (an HPA that needs a higher max) has negative savings and comes after
    those that save. Ties go to the lower risk.

    Returns:
        Columns area, action, monthly_savings_usd, risk, why.
    """
    frame = action_rows(recs)
    frame = frame[frame["monthly_savings_usd"].astype(float).fillna(0.0) != 0]
    frame = frame.assign(_risk=frame["risk"].map(_RISK_ORDER).fillna(1))
    frame = frame.sort_values(["monthly_savings_usd", "_risk"], ascending=[False, True])
    frame = frame.drop(columns="_risk").head(n).reset_index(drop=True)
    frame.index = frame.index + 1
    return frame


def rightsizing_table(recs: RecommendationSet) -> pd.DataFrame:
    """One row per container: request/limit before and after (as people write them), dollars."""
    records = []
    for row in sorted(recs.rightsizing, key=lambda r: -(r.monthly_savings_usd or 0.0)):
        records.append(
            {
                "workload": f"{row.namespace}/{row.workload}",
                "container": row.container,
                "status": row.status,
                "CPU request": _arrow(
                    format_cpu(row.current.cpu_request), format_cpu(row.recommended.cpu_request)
                ),
                "CPU limit": _arrow(
                    format_cpu(row.current.cpu_limit), format_cpu(row.recommended.cpu_limit)
                ),
                "memory request": _arrow(
                    format_memory(row.current.memory_request),
                    format_memory(row.recommended.memory_request),
                ),
                "memory limit": _arrow(
                    format_memory(row.current.memory_limit),
                    format_memory(row.recommended.memory_limit),
                ),
                "monthly_savings_usd": row.monthly_savings_usd,
                "risk": row.risk or "-",
                "confidence": row.confidence or "-",
                "backtest": backtest_sentence(row.evidence.get("backtest")) or "no replay",
                "why": row.reason,
            }
        )
    return pd.DataFrame.from_records(records)


def hpa_table(recs: RecommendationSet) -> pd.DataFrame:
    """One row per HPA: min/max/target before and after, saturated minutes, dollars."""
    records = []
    for row in recs.hpa:
        records.append(
            {
                "workload": f"{row.namespace}/{row.workload}",
                "status": row.status,
                "min": _arrow(
                    _number(row.current.min_replicas), _number(row.recommended.min_replicas)
                ),
                "max": _arrow(
                    _number(row.current.max_replicas), _number(row.recommended.max_replicas)
                ),
                "CPU target %": _arrow(
                    _number(row.current.target_cpu_utilization),
                    _number(row.recommended.target_cpu_utilization),
                ),
                "saturated min (now → after)": _arrow(
                    _number(row.saturated_minutes.get("current")),
                    _number(row.saturated_minutes.get("recommended")),
                ),
                "monthly_savings_usd": row.monthly_savings_usd,
                "why": row.reason,
            }
        )
    return pd.DataFrame.from_records(records)


def spot_table(recs: RecommendationSet) -> pd.DataFrame:
    """One row per workload: spot-ready or the blockers that stop it."""
    records = [
        {
            "workload": f"{row.namespace}/{row.workload}",
            "kind": row.kind,
            "ready": "yes" if row.ready else "no",
            "blockers": "; ".join(row.blockers) or "-",
            "interruption": row.interruption_range or "-",
            "monthly_savings_usd": row.monthly_savings_usd,
        }
        for row in sorted(recs.spot, key=lambda r: (not r.ready, -(r.monthly_savings_usd or 0.0)))
    ]
    return pd.DataFrame.from_records(records)


def _money(value: float | None, unknown: str = "-") -> str:
    return unknown if value is None else f"${value:,.2f}"


def nodegroup_table(recs: RecommendationSet) -> pd.DataFrame:
    """One row per node group: shape and monthly cost before and after.

    ``monthly_cost_usd`` is list node-hours plus surplus CPU credits; the arrows show the list
    part, the surplus credits and, when billed data was given, the effective (amortized) cost.
    """
    records = []
    for row in recs.nodegroups:
        records.append(
            {
                "node group": row.name,
                "instance types": _arrow(
                    ", ".join(row.current.instance_types) or "?",
                    ", ".join(row.recommended.instance_types) or "?",
                ),
                "capacity": _arrow(
                    str(row.current.capacity_type), str(row.recommended.capacity_type)
                ),
                "nodes (avg)": _arrow(
                    f"{row.current.nodes_avg or 0:.1f}", f"{row.recommended.nodes_avg or 0:.1f}"
                ),
                "min/max": _arrow(
                    f"{row.current.min_size}/{row.current.max_size}",
                    f"{row.recommended.min_size}/{row.recommended.max_size}",
                ),
                "monthly_cost_usd": row.current.monthly_cost_usd,
                "list USD/month": _arrow(
                    _money(row.current.list_monthly_cost_usd),
                    _money(row.recommended.list_monthly_cost_usd),
                ),
                "surplus credits USD/month": _arrow(
                    _money(row.current.burstable_surplus_usd, unknown="unknown"),
                    _money(row.recommended.burstable_surplus_usd, unknown="unknown"),
                ),
                "effective USD/month": _arrow(
                    _money(row.current.effective_monthly_cost_usd, unknown="no bill"),
                    _money(row.recommended.effective_monthly_cost_usd, unknown="no bill"),
                ),
                "cost basis": row.current.cost_basis or "list",
                "monthly_savings_usd": row.monthly_savings_usd,
                "why": row.reason,
            }
        )
    return pd.DataFrame.from_records(records)


def style_table(frame: pd.DataFrame, caption: str | None = None, ranked: bool = False) -> Styler:
    """A readable HTML table: dollars formatted, risk coloured, long reasons wrapped.

    Columns ending in ``_usd`` are shown as dollars with their name made readable
    (``monthly_savings_usd`` -> ``USD/month saved``). ``ranked`` keeps the index as a rank
    column (the top actions); other tables hide it.
    """
    names = {
        "monthly_savings_usd": "USD/month saved",
        "monthly_cost_usd": "USD/month",
        "monthly_usd": "USD/month",
        "monthly_usd_delta": "Δ USD/month",
        "estimated_usd": "USD over the window (estimated)",
        "billed_usd": "USD billed",
    }
    money = [c for c in frame.columns if str(c).endswith("_usd") or str(c).endswith("_usd_delta")]
    formats: dict[str, Any] = {
        c: (lambda v: format_usd(v, signed=True)) if "delta" in str(c) else format_usd
        for c in money
    }
    styler = frame.style.format(formats, na_rep="-")
    if "risk" in frame.columns:
        styler = styler.map(
            lambda v: f"background-color: {_RISK_COLORS[v]}" if v in _RISK_COLORS else "",
            subset=["risk"],
        )
    styler = styler.set_table_styles(
        [
            {"selector": "th", "props": "text-align: left; padding: 4px 8px; background: #F4F6F8;"},
            {"selector": "td", "props": "padding: 4px 8px; vertical-align: top; text-align: left;"},
            {"selector": "", "props": "border-collapse: collapse; font-size: 13px;"},
        ]
    )
    if money:
        styler = styler.set_properties(
            subset=cast(Any, money), **{"text-align": "right", "white-space": "nowrap"}
        )
    wrap = [c for c in ("why", "action", "blockers", "change") if c in frame.columns]
    if wrap:
        styler = styler.set_properties(
            subset=cast(Any, wrap), **{"max-width": "420px", "white-space": "normal"}
        )
    styler = styler.relabel_index([names.get(str(c), str(c)) for c in frame.columns], axis=1)
    if caption:
        styler = styler.set_caption(caption)
    if not ranked:
        styler = styler.hide(axis="index")
    return styler
