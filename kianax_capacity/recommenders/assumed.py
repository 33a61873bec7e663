"""The capacity type the dollars assume where no source said it, and what that means.

A node's capacity type (on-demand or spot) comes from its node labels, EC2 or the
``[nodegroups]`` config (``nodes.capacity_type_source``). Where none said it, the node is priced
on-demand: the only price that is never below the bill. That is an assumption, and this module
states it: how many nodes (and which groups and instance types) carry it, their node cost as
priced, what the same nodes would cost on spot, and the fix that makes the fact known.

Pure: no I/O, no clock.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from kianax_capacity.errors import UserInputError
from kianax_capacity.prices.catalog import PriceCatalog
from kianax_capacity.recommenders.costs import CostAllocation
from kianax_capacity.snapshot import Snapshot
from kianax_capacity.units import format_usd

__all__ = ["ASSUMED_CAPACITY_TYPE", "CAPACITY_FIX", "assumed_capacity_types"]

#: What a node without a known capacity type is priced as.
ASSUMED_CAPACITY_TYPE = "ON_DEMAND"
#: The fixes, most direct first: the node labels, EC2, or the config (then fetch again).
CAPACITY_FIX = (
    "set kube-state-metrics' --metric-labels-allowlist=nodes=[eks.amazonaws.com/capacityType,"
    "karpenter.sh/capacity-type] (kube-prometheus-stack values: kube-state-metrics."
    'metricLabelsAllowlist: ["nodes=[eks.amazonaws.com/capacityType,karpenter.sh/capacity-type]"]), '
    "or fetch with `--ec2-nodes on` (ec2:DescribeInstances gives each node's lifecycle), or "
    "declare the group in kianax-capacity.toml: [nodegroups.NAME] instance_types = [...] and "
    'capacity_type = "SPOT" (or "ON_DEMAND"); then fetch again'
)


def assumed_capacity_types(
    snapshot: Snapshot, costs: CostAllocation, catalog: PriceCatalog
) -> dict[str, Any]:
    """Which nodes are priced on an assumed capacity type, and what it means for the dollars.

    Returns the summary's ``assumed_capacity_type``: ``assumed`` (bool), ``nodes`` / ``of``,
    ``node_groups``, ``instance_types``, ``assumed_as`` (``ON_DEMAND``), ``node_monthly_usd``
    (those nodes as priced) and ``node_monthly_usd_if_spot`` (the same nodes at spot prices:
    the bound on the other side), ``banner`` and ``fix``.
    """
    nodes = snapshot.nodes
    out: dict[str, Any] = {
        "assumed": False,
        "nodes": 0,
        "of": len(nodes),
        "node_groups": [],
        "instance_types": [],
        "assumed_as": ASSUMED_CAPACITY_TYPE,
        "node_monthly_usd": 0.0,
        "node_monthly_usd_if_spot": 0.0,
        "banner": "",
        "fix": CAPACITY_FIX,
    }
    if nodes.empty:
        return out
    mask = _unknown_capacity(nodes)
    if not mask.any():
        return out
    names = set(nodes.loc[mask, "node"].astype(str))
    priced = costs.nodes[costs.nodes["node"].astype(str).isin(names)]
    as_priced = costs.monthly(float(priced["cost_usd"].sum()))
    if_spot = costs.monthly(_spot_cost(priced, catalog))
    groups = sorted({str(g) for g in nodes.loc[mask, "node_group"]})
    types = sorted({str(t) for t in nodes.loc[mask, "instance_type"] if str(t) not in ("", "nan")})
    count = int(mask.sum())
    out.update(
        assumed=True,
        nodes=count,
        node_groups=groups,
        instance_types=types,
        node_monthly_usd=round(as_priced, 2),
        node_monthly_usd_if_spot=round(if_spot, 2),
    )
    out["banner"] = (
        f"{count} of {len(nodes)} nodes (node groups {', '.join(groups)}; instance types "
        f"{', '.join(types) or 'unknown'}) have no known capacity type: no node label, EC2 answer "
        "or [nodegroups] entry says whether they are spot, so they are priced on-demand, "
        f"{format_usd(as_priced)}/month. Where any of them is spot, node cost and the savings "
        f"priced on these nodes are an upper bound (all on spot: {format_usd(if_spot)}/month). "
        f"Fix: {CAPACITY_FIX}."
    )
    return out


def _unknown_capacity(nodes: pd.DataFrame) -> pd.Series:
    """Nodes whose capacity type no source gave: the Prometheus source writes ``UNKNOWN``
    (``capacity_type_source`` "unknown"). A snapshot from before the ``*_source`` columns has
    the source defaulted to "unknown" beside a real value, so the value decides."""
    return (
        nodes["capacity_type"]
        .astype(str)
        .map(lambda v: v.strip().upper() in ("", "UNKNOWN", "NAN", "NONE"))
        .astype(bool)
    )


def _spot_cost(priced: pd.DataFrame, catalog: PriceCatalog) -> float:
    """The window cost of ``priced`` (costs.nodes rows) had every node run on spot."""
    total = 0.0
    for itype, hours, cost in zip(
        priced["instance_type"].astype(str), priced["hours"], priced["cost_usd"], strict=True
    ):
        try:
            total += catalog.node_hourly_usd(itype, "SPOT") * float(hours)
        except UserInputError:  # a type the catalog does not price keeps its cost as priced
            total += float(cost)
    return total
