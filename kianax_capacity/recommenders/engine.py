"""``recommend``: one call from a snapshot to a :class:`RecommendationSet`.

Pure: the snapshot, the configuration and the price catalog in, the recommendation set out. No
I/O, no clock (``generated_at`` is an argument). Each section's recommender is its own module;
this one orders them so that those that depend on right-sizing (HPA, node groups) see the new
requests, and sums the dollars into the summary.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import pandas as pd

from kianax_capacity.config import Config
from kianax_capacity.model import ResourcePrices
from kianax_capacity.prices import PriceCatalog, embedded_catalog, node_group_unit_prices
from kianax_capacity.recommendations import (
    ForecastRow,
    HpaRow,
    NodeGroupRow,
    RecommendationSet,
    RightsizingRow,
    SpotRow,
)
from kianax_capacity.recommenders.assumed import assumed_capacity_types
from kianax_capacity.recommenders.commitments import EffectiveRate
from kianax_capacity.recommenders.costs import CostAllocation, allocate_costs
from kianax_capacity.recommenders.forecast import recommend_forecast
from kianax_capacity.recommenders.hpa import recommend_hpa
from kianax_capacity.recommenders.inventory import pending_pods, workload_node_groups
from kianax_capacity.recommenders.nodegroups import recommend_nodegroups
from kianax_capacity.recommenders.rightsizing import recommend_rightsizing, requests_by_workload
from kianax_capacity.recommenders.spot import assess_spot, recommend_spot
from kianax_capacity.snapshot import Snapshot

__all__ = ["recommend", "summarize_rows"]

#: When a snapshot has no priced node at all (e.g. no kube-state-metrics): t3.medium on-demand.
FALLBACK_INSTANCE_TYPE = "t3.medium"


def recommend(
    snapshot: Snapshot,
    config: Config | None = None,
    *,
    catalog: PriceCatalog | None = None,
    generated_at: datetime | None = None,
    strategy: str | None = None,
    profile: str | None = None,
    effective_rates: Mapping[str, EffectiveRate] | None = None,
) -> RecommendationSet:
    """Every recommendation for the snapshot's cluster and window.

    Args:
        snapshot: what was observed.
        config: cluster settings (profile, strategy, exclusions, node groups); defaults if None.
        catalog: prices and instance specs (default: the embedded, dated catalog of the
            configured region).
        generated_at: the time to stamp on the set (default: the snapshot's creation time,
            so the same snapshot always gives the same file).
        strategy: right-sizing strategy name, overriding the config.
        profile: production | development | high-availability, overriding the config.
        effective_rates: billed rates per node group
            (``commitments.effective_rates(aws_costs.cur_node_rates(...))``); node-group rows
            then carry effective dollars beside the list ones.

    Example:
        >>> from kianax_capacity.sources.demo import generate_demo_snapshot
        >>> recs = recommend(generate_demo_snapshot(days=3))  # doctest: +SKIP
        >>> recs.summary["monthly_cost_usd"]  # doctest: +SKIP
    """
    config = config or Config()
    snapshot = _without_pseudo_containers(snapshot)
    strategy = strategy or config.strategy
    profile = profile or config.profile
    pricing = _pricing(snapshot, catalog or embedded_catalog(config.aws.region))
    sections = _sections(
        snapshot,
        config,
        pricing,
        strategy=strategy,
        profile=profile,
        effective_rates=effective_rates,
    )
    start, end = snapshot.window
    return RecommendationSet(
        cluster=snapshot.cluster,
        generated_at=generated_at or snapshot.manifest.created_at,
        window_start=start,
        window_end=end,
        step_seconds=snapshot.step_seconds,
        profile=profile,
        strategy=strategy,
        summary=_summary(
            sections.costs,
            rightsizing=sections.rightsizing,
            hpa=sections.hpa,
            spot=sections.spot,
            nodegroups=sections.nodegroups,
            warnings=(*snapshot.manifest.warnings, *pricing.catalog.warnings),
            assumed=sections.assumed,
        )
        | {
            "assumed_capacity_type": assumed_capacity_types(
                snapshot, sections.costs, pricing.catalog
            )
        },
        rightsizing=sections.rightsizing,
        hpa=sections.hpa,
        spot=sections.spot,
        nodegroups=sections.nodegroups,
        forecast=sections.forecast,
    )


@dataclass(frozen=True)
class _Pricing:
    """The prices every section uses: the catalog, each node group's unit prices, and the
    average of those for workloads whose node group is unknown."""

    catalog: PriceCatalog
    unit_prices: Mapping[str, ResourcePrices]
    default_prices: ResourcePrices


@dataclass(frozen=True)
class _Sections:
    """Every section's rows (assumed-price rows already flagged), the cost allocation, and
    which dollars rest on an assumed instance type: what the set and its summary are made of."""

    costs: CostAllocation
    rightsizing: tuple[RightsizingRow, ...]
    hpa: tuple[HpaRow, ...]
    spot: tuple[SpotRow, ...]
    nodegroups: tuple[NodeGroupRow, ...]
    forecast: tuple[ForecastRow, ...]
    assumed: Mapping[str, Any]


def _pricing(snapshot: Snapshot, catalog: PriceCatalog) -> _Pricing:
    unit_prices = node_group_unit_prices(
        snapshot.nodes, catalog, step_seconds=snapshot.step_seconds
    )
    return _Pricing(catalog, unit_prices, _default_prices(unit_prices, catalog))


def _sections(
    snapshot: Snapshot,
    config: Config,
    pricing: _Pricing,
    *,
    strategy: str,
    profile: str,
    effective_rates: Mapping[str, EffectiveRate] | None,
) -> _Sections:
    """Each recommender in the order their inputs need: right-sizing, then the HPA and node
    groups with its new requests; spot, node groups and forecast share their assessments."""
    costs = allocate_costs(snapshot, pricing.catalog)
    rightsizing_rows, hpa_rows = _workload_sections(
        snapshot, config, pricing, strategy=strategy, profile=profile
    )
    new_requests = {row.key: row.recommended for row in rightsizing_rows if row.status == "ok"}
    # Spot rows and the node groups' spot-ready share read the same assessments: made once.
    spot_assessments = assess_spot(snapshot, overrides=config.spot_overrides)
    spot_rows = recommend_spot(
        snapshot,
        pricing.catalog,
        unit_prices=pricing.unit_prices,
        overrides=config.spot_overrides,
        assessments=spot_assessments,
    )
    # Node groups and the forecast both add the pods HPAs left Pending: found once.
    pending = pending_pods(snapshot)
    nodegroup_rows = recommend_nodegroups(
        snapshot,
        pricing.catalog,
        allow_graviton=config.aws.allow_graviton,
        new_requests=new_requests,
        nodegroup_config=config.nodegroups or None,
        commitment_discount=config.aws.commitment_discount,
        ha_min_nodes=3 if profile == "high-availability" else 2,
        spot_overrides=config.spot_overrides,
        pending=pending,
        spot_assessments=spot_assessments,
        effective_rates=effective_rates,
    )
    max_nodes = {name: ng.max_size for name, ng in config.nodegroups.items() if ng.max_size}
    forecast_rows = recommend_forecast(
        snapshot, pricing.catalog, max_nodes=max_nodes or None, pending=pending
    )
    assumed = assumed_instance_types(snapshot)
    if assumed["assumed"]:
        groups = set(assumed["node_groups"])
        rightsizing_rows, hpa_rows, spot_rows = (
            _flag_assumed(rows, snapshot, groups)
            for rows in (rightsizing_rows, hpa_rows, spot_rows)
        )
    return _Sections(
        costs=costs,
        rightsizing=rightsizing_rows,
        hpa=hpa_rows,
        spot=spot_rows,
        nodegroups=nodegroup_rows,
        forecast=forecast_rows,
        assumed=assumed,
    )


def _workload_sections(
    snapshot: Snapshot, config: Config, pricing: _Pricing, *, strategy: str, profile: str
) -> tuple[tuple[RightsizingRow, ...], tuple[HpaRow, ...]]:
    """Right-sizing, then the HPA replayed with its new requests."""
    rightsizing_rows = recommend_rightsizing(
        snapshot,
        strategy=strategy,
        profile=profile,
        unit_prices=pricing.unit_prices,
        default_prices=pricing.default_prices,
        exclusions=config.exclusions,
        guardrails=config.workloads,
    )
    # One combined answer per workload: the HPA replay and the node packing see the new
    # requests, so the HPA target keeps its scale point and node groups are sized for them.
    hpa_rows = recommend_hpa(
        snapshot,
        profile=profile,
        unit_prices=pricing.unit_prices,
        default_prices=pricing.default_prices,
        new_requests={
            key: (cpu, int(memory))
            for key, (cpu, memory) in requests_by_workload(rightsizing_rows).items()
        },
    )
    return rightsizing_rows, hpa_rows


#: Where an instance type came from when nobody knew it (``nodes.instance_type_source``).
_UNKNOWN_SOURCES = ("unknown", "assumed")
ASSUMED_FIX = (
    "run `kianax-capacity doctor`; set the kube-state-metrics node-label allowlist "
    "(kube-state-metrics.metricLabelsAllowlist: nodes=[node.kubernetes.io/instance-type,...]), "
    "enable node-exporter, or name the instance type under [nodegroups] in kianax-capacity.toml"
)


def assumed_instance_types(snapshot: Snapshot) -> dict[str, Any]:
    """Whether any dollar figure rests on an assumed instance type, and on which nodes.

    True when the snapshot has no nodes (every price is the fallback type's) or some nodes
    have no known instance type (``instance_type_source`` "unknown"/"assumed", or none).
    """
    nodes = snapshot.nodes
    if nodes.empty:
        unknown, groups = 0, []
        assumed = not snapshot.pods.empty  # pods but no nodes: every price is assumed
    else:
        source = (
            nodes["instance_type_source"].astype(str)
            if "instance_type_source" in nodes
            else pd.Series("", index=nodes.index)
        )
        mask = source.isin(_UNKNOWN_SOURCES) | nodes["instance_type"].astype(str).isin(("", "nan"))
        unknown = int(mask.sum())
        groups = sorted({str(g) for g in nodes.loc[mask, "node_group"]})
        assumed = unknown > 0
    banner = ""
    if assumed:
        which = (
            f"{unknown} of {len(nodes)} nodes have no known instance type"
            if unknown
            else "the snapshot has no nodes"
        )
        banner = (
            f"Dollars rest on an assumed instance type: {which}, so their prices are "
            f"{FALLBACK_INSTANCE_TYPE}'s or the node groups' average. Fix: {ASSUMED_FIX}."
        )
    return {
        "assumed": assumed,
        "nodes": unknown,
        "of": len(nodes),
        "node_groups": groups,
        "fallback_instance_type": FALLBACK_INSTANCE_TYPE,
        "banner": banner,
    }


def _flag_assumed(rows: tuple[Any, ...], snapshot: Snapshot, groups: set[str]) -> tuple[Any, ...]:
    """Rows priced on an assumed instance type get ``extra["prices_assumed"] = True``: those on
    a node group with such nodes, or whose group is unknown (priced at the default)."""
    placement = {
        (str(r.namespace), str(r.workload)): r.node_group
        for r in workload_node_groups(snapshot).itertuples(index=False)
    }
    out = []
    for row in rows:
        group = row.extra.get("node_group") or placement.get((row.namespace, row.workload))
        if not isinstance(group, str) or not group or group in groups or snapshot.nodes.empty:
            row = replace(row, extra={**row.extra, "prices_assumed": True})
        out.append(row)
    return tuple(out)


def _default_prices(
    unit_prices: Mapping[str, ResourcePrices], catalog: PriceCatalog
) -> ResourcePrices:
    """The average of the node groups' unit prices, for workloads whose node group is unknown."""
    if not unit_prices:
        return catalog.unit_prices(FALLBACK_INSTANCE_TYPE, "ON_DEMAND")
    values = list(unit_prices.values())
    return ResourcePrices(
        cpu_core_hour_usd=sum(v.cpu_core_hour_usd for v in values) / len(values),
        memory_gib_hour_usd=sum(v.memory_gib_hour_usd for v in values) / len(values),
    )


def _savings(rows: tuple[Any, ...]) -> float:
    return round(sum(r.monthly_savings_usd or 0.0 for r in rows if r.status == "ok"), 2)


def _summary(
    costs: CostAllocation,
    *,
    rightsizing: tuple[RightsizingRow, ...],
    hpa: tuple[HpaRow, ...],
    spot: tuple[SpotRow, ...],
    nodegroups: tuple[NodeGroupRow, ...],
    warnings: tuple[str, ...],
    assumed: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    summary = costs.summary()
    if assumed is not None:
        summary["assumed_instance_type"] = dict(assumed)
    summary.update(
        summarize_rows(rightsizing=rightsizing, hpa=hpa, spot=spot, nodegroups=nodegroups)
    )
    summary["warnings"] = list(warnings)
    return summary


def summarize_rows(
    *,
    rightsizing: tuple[RightsizingRow, ...],
    hpa: tuple[HpaRow, ...],
    spot: tuple[SpotRow, ...],
    nodegroups: tuple[NodeGroupRow, ...],
) -> dict[str, Any]:
    """The summary's figures made from the rows, each workload's dollars counted once.

    Returns:
        ``monthly_savings_by_section_usd`` (right-sizing ``ok`` rows of workloads whose HPA row
        did not price the new requests; HPA ``ok`` rows and every row that priced them; spot
        rows that are ready; node groups, all), ``nodegroup_cost_basis``,
        ``monthly_savings_usd`` (right-sizing + HPA + spot: node-group savings overlap with
        right-sizing, so they sit beside the total) and ``counts``; dollars rounded to cents.
    """
    # One combined answer per workload: where the HPA replay already priced the new requests
    # with the new replica counts, its row carries the workload's dollars and the right-sizing
    # rows of that workload are not added again.
    joint = {(r.namespace, r.workload) for r in hpa if r.request_change_included}
    rightsizing_only = tuple(r for r in rightsizing if (r.namespace, r.workload) not in joint)
    hpa_counted = tuple(r for r in hpa if r.status == "ok" or (r.namespace, r.workload) in joint)
    sections = {
        "rightsizing": _savings(rightsizing_only),
        "hpa": round(sum(r.monthly_savings_usd or 0.0 for r in hpa_counted), 2),
        "spot": round(sum(r.monthly_savings_usd or 0.0 for r in spot if r.ready), 2),
        # Node-group savings overlap with right-sizing (smaller requests need fewer nodes):
        # reported beside the total, not added to it.
        "nodegroups": round(sum(r.monthly_savings_usd or 0.0 for r in nodegroups), 2),
    }
    # Node-group dollars are list prices plus surplus CPU credits; effective ones sit beside
    # them (``effective_monthly_cost_usd``) when billed data was given.
    effective = any(r.current.effective_monthly_cost_usd is not None for r in nodegroups)
    return {
        "monthly_savings_by_section_usd": sections,
        "nodegroup_cost_basis": "list and effective" if effective else "list",
        "monthly_savings_usd": round(
            sections["rightsizing"] + sections["hpa"] + sections["spot"], 2
        ),
        "counts": {
            "rightsizing_changes": sum(r.status == "ok" for r in rightsizing),
            "rightsizing_insufficient_data": sum(
                r.status == "insufficient_data" for r in rightsizing
            ),
            "high_risk": sum(r.risk == "high" for r in rightsizing),
            "hpa_changes": sum(r.status == "ok" for r in hpa),
            "spot_ready": sum(r.ready for r in spot),
            "nodegroups": len(nodegroups),
        },
    }


#: cAdvisor's pod-level cgroup (``container=""``) and the pause container (``POD``): not
#: containers anyone sets requests on, and counted beside the real ones they double totals.
_PSEUDO_CONTAINERS = ("", "POD")


def _without_pseudo_containers(snapshot: Snapshot) -> Snapshot:
    """``snapshot`` without pause or pod-level container rows (a source normally drops them)."""
    tables = dict(snapshot.tables)
    changed = False
    for name in ("containers", "usage", "terminations", "container_stats"):
        frame = tables.get(name)
        if frame is None or frame.empty:
            continue
        pseudo = frame["container"].astype(str).isin(_PSEUDO_CONTAINERS).to_numpy()
        if pseudo.any():
            tables[name] = frame[~pseudo].reset_index(drop=True)
            changed = True
    return Snapshot(manifest=snapshot.manifest, tables=tables) if changed else snapshot
