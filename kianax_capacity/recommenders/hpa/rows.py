"""HPA rows: the :class:`~kianax_capacity.recommendations.HpaRow` and its reason, both built from
the typed outcome of :mod:`.choice`, so the sentence a person reads cites the numbers the row
carries."""

from __future__ import annotations

from kianax_capacity.recommendations import HpaRow
from kianax_capacity.recommenders.hpa.choice import HpaChoice, HpaRefusal
from kianax_capacity.recommenders.hpa.replay import to_hpa_settings
from kianax_capacity.units import format_cpu, format_usd

__all__ = ["hpa_reason", "hpa_row"]


def hpa_row(outcome: HpaChoice | HpaRefusal) -> HpaRow:
    """The row of one HPA."""
    item = outcome.item
    if isinstance(outcome, HpaRefusal):
        return HpaRow(
            namespace=item.namespace,
            workload=item.workload,
            current=item.current,
            recommended=item.current,
            status="insufficient_data",
            reason=outcome.reason,
            extra={"kind": item.kind, "hpa": item.hpa, **outcome.extra},
        )
    c = outcome
    before, after = c.before, c.after
    findings = c.findings
    extra = {
        "kind": item.kind,
        "hpa": item.hpa,
        "node_group": item.node_group,
        "replica_hours": {"current": before.replica_hours, "recommended": after.replica_hours},
        "scale_events_per_day": {
            "current": before.scale_events_per_day,
            "recommended": after.scale_events_per_day,
        },
        "utilisation": {
            "cpu_p50": findings.cpu_p50,
            "cpu_p95": findings.cpu_p95,
            "memory_p50": findings.memory_p50,
            "memory_p95": findings.memory_p95,
        },
        "findings": {
            "observed_saturated_minutes_per_week": findings.saturated_minutes_per_week,
            "pinned_at_min_share": findings.pinned_share,
            "scale_events_per_hour": findings.scale_events_per_hour,
            "flaps_per_day": findings.flaps_per_day,
        },
        "min_replicas_floor": c.floor,
        "window_hours": before.window_hours,
    }
    return HpaRow(
        namespace=item.namespace,
        workload=item.workload,
        current=item.current,
        recommended=item.current if c.unchanged else to_hpa_settings(c.best),
        status=c.status,
        reason=hpa_reason(c),
        monthly_savings_usd=round(c.savings, 2),
        saturated_minutes={
            "current": round(before.per_week(before.saturated_minutes), 1),
            "recommended": round(after.per_week(after.saturated_minutes), 1),
        },
        extra=extra,
        monthly_cost_usd={
            "current": before.monthly_cost_usd,
            "recommended": after.monthly_cost_usd,
        },
        # True: the recommended cost is at the right-sized request, so this row's savings
        # include the request change that the right-sizing rows also count.
        request_change_included=c.joint,
        replayed_requests={"cpu_request": c.cpu_request, "memory_request": c.memory_request},
    )


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}%"


def hpa_reason(c: HpaChoice) -> str:
    """One or more sentences a person reads: what is wrong, what changes, what it costs."""
    item, current, best, before, after = c.item, c.current, c.best, c.before, c.after
    findings, savings, floor, floor_why, goals = (
        c.findings,
        c.savings,
        c.floor,
        c.floor_why,
        c.goals,
    )
    verdict = c.verdict
    new_cpu_request = c.cpu_request if c.joint else None
    primary = "CPU" if current.target_cpu_utilization is not None else "memory"
    target = current.target_cpu_utilization or current.target_memory_utilization
    p50 = findings.cpu_p50 if primary == "CPU" else findings.memory_p50
    p95 = findings.cpu_p95 if primary == "CPU" else findings.memory_p95
    saturated_now = (
        findings.saturated_minutes_per_week
        if findings.saturated_minutes_per_week is not None
        else before.per_week(before.saturated_minutes)
    )
    parts: list[str] = []
    if best == current:
        summary = (
            f"{saturated_now:.0f} min/week saturated, {primary} p50 {_pct(p50)} / p95 {_pct(p95)} "
            f"of request vs target {_pct(target)}, "
            f"{before.scale_events_per_day:.0f} scale events/day"
        )
        pinned = findings.pinned_share or 0.0
        hint = ""
        if pinned > 0.5 and current.min_replicas <= floor:
            hint = (
                f"; pinned at min {current.min_replicas} ({floor_why}) {pinned:.0%} of the time: "
                "lower the request (right-sizing) to pay less"
            )
        if verdict.hard and verdict.soft:
            return f"current settings meet the {goals.name} goals in the replay: {summary}{hint}"
        return (
            f"no candidate within the {goals.name} limits does better than the current settings: "
            f"{summary}{hint}"
        )

    if best.max_replicas > current.max_replicas:
        parts.append(
            f"at max {current.max_replicas} for {saturated_now:.0f} min/week with {primary} at "
            f"{_pct(p95)} of request (p95, target {_pct(target)}); max {best.max_replicas} "
            f"leaves {after.per_week(after.saturated_minutes):.0f} min/week saturated in the replay"
        )
    elif best.max_replicas < current.max_replicas:
        parts.append(
            f"max {current.max_replicas} -> {best.max_replicas}: the replay never needs more "
            f"(peak need x{goals.max_headroom:g})"
        )
    if best.min_replicas < current.min_replicas:
        share = findings.pinned_share
        pinned_text = f" {share:.0%} of the time" if share is not None else ""
        parts.append(
            f"pinned at min {current.min_replicas}{pinned_text} with {primary} at {_pct(p50)} of "
            f"request (p50, target {_pct(target)}); min {best.min_replicas} ({floor_why})"
        )
    elif best.min_replicas > current.min_replicas:
        parts.append(f"min {current.min_replicas} -> {best.min_replicas} ({floor_why})")
    elif (findings.pinned_share or 0.0) > 0.5 and best.min_replicas <= floor:
        parts.append(
            f"pinned at min {best.min_replicas} ({floor_why}) {findings.pinned_share:.0%} of the "
            f"time with {primary} at {_pct(p50)} of request"
        )
    if best.scale_down_stabilization_seconds != current.scale_down_stabilization_seconds:
        parts.append(
            f"{before.scale_events_per_day:.0f} scale events/day; scale-down stabilisation "
            f"{current.scale_down_stabilization_seconds:.0f}s -> "
            f"{best.scale_down_stabilization_seconds:.0f}s "
            f"({after.scale_events_per_day:.0f}/day)"
        )
    if best.target_cpu_utilization != current.target_cpu_utilization:
        if new_cpu_request is not None and item.cpu_request is not None:
            old_point = (current.target_cpu_utilization or 0) / 100.0 * item.cpu_request
            new_point = (best.target_cpu_utilization or 0) / 100.0 * new_cpu_request
            change = (
                f"with the right-sized CPU request {format_cpu(item.cpu_request)} -> "
                f"{format_cpu(new_cpu_request)}, target {_pct(current.target_cpu_utilization)} -> "
                f"{_pct(best.target_cpu_utilization)}"
            )
            if abs(new_point - old_point) <= 0.01 * old_point + 0.001:
                change += f" keeps scaling at about {format_cpu(old_point)} per replica"
            else:
                change += (
                    f" (capped at the top of the {goals.name} band) scales at "
                    f"{format_cpu(new_point)} per replica instead of {format_cpu(old_point)}"
                )
            parts.append(change)
        else:
            parts.append(
                f"CPU target {_pct(current.target_cpu_utilization)} -> "
                f"{_pct(best.target_cpu_utilization)} (the {goals.name} band is "
                f"{goals.target_band[0]:.0f}-{goals.target_band[1]:.0f}%)"
            )
    if best.target_memory_utilization != current.target_memory_utilization:
        parts.append(
            f"memory target {_pct(current.target_memory_utilization)} -> "
            f"{_pct(best.target_memory_utilization)}"
        )
    if not parts:
        parts.append("the right-sized request changes the replayed cost")
    if savings > 0.005:
        money = f"saves {format_usd(savings)}/month"
    elif savings < -0.005:
        money = f"costs {format_usd(-savings)}/month more"
    else:
        money = "about the same cost"
    return "; ".join(parts) + f" ({money})"
