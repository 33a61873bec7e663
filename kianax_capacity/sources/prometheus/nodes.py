"""The ``nodes`` table from what a cluster's Prometheus really has, each fact with its source.

A default kube-prometheus-stack install exports no ``kube_node_labels`` (kube-state-metrics'
``metricLabelsAllowlist`` is empty), so node facts come from the first source that has them:

=============  ==================================================================================
fact           sources, first that answers wins
=============  ==================================================================================
identity       ``kube_node_info`` (always exported), ``kube_node_labels``, ``kube_node_status_*``
instance type  ``kube_node_labels`` -> node-exporter's ``node_dmi_info{product_name}`` (EC2 only,
               joined by node name, the instance's host = the node's IP or name, or the instance
               id) -> EC2 ``DescribeInstances`` -> ``[nodegroups]`` config (a group of one type)
zone           ``kube_node_labels`` -> ``kube_node_info{provider_id="aws:///<zone>/<id>"}`` -> EC2
capacity type  ``kube_node_labels`` -> EC2 ``InstanceLifecycle`` -> ``[nodegroups]`` config
node group     ``kube_node_labels`` -> EC2 tags (``eks:nodegroup-name``, ``karpenter.sh/nodepool``,
               ``aws:autoscaling:groupName``) -> ``[nodegroups]`` config (the one group listing
               the node's instance type)
=============  ==================================================================================

A fact no source has stays unknown (``""``, ``UNKNOWN`` or ``"unknown"``, its ``*_source``
``unknown``), never guessed; :func:`node_warnings` names the fix.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from kianax_capacity.config import NodeGroupConfig
from kianax_capacity.snapshot import empty_table
from kianax_capacity.sources.ec2_nodes import Ec2Instance, region_of_zone
from kianax_capacity.sources.prometheus.catalog import NODE_LABELS
from kianax_capacity.sources.prometheus.fold import Results, utc_times

__all__ = [
    "ALLOWLIST_FIX",
    "instances_to_describe",
    "node_facts",
    "node_usage",
    "node_warnings",
    "resolve_nodes",
]

UNKNOWN = "unknown"
#: The kube-prometheus-stack values that make kube-state-metrics export the node labels read here.
ALLOWLIST_FIX = (
    'kube-state-metrics.metricLabelsAllowlist: ["nodes=[eks.amazonaws.com/nodegroup,'
    "node.kubernetes.io/instance-type,topology.kubernetes.io/zone,"
    "eks.amazonaws.com/capacityType,karpenter.sh/nodepool,karpenter.sh/capacity-type,"
    'kubernetes.io/arch]"]'
)
_PROVIDER_ID = re.compile(r"^aws:///(?P<zone>[a-z0-9-]+)/(?P<id>i-[0-9a-f]+)$")
_EC2_TYPE = re.compile(r"^[a-z][a-z0-9-]*\.[a-z0-9]+$")
_DMI = ["node", "instance", "board_asset_tag", "system_vendor", "product_name"]


def _blank(values: pd.Series) -> pd.Series:
    return values.fillna("").astype(object).replace("", np.nan)


def _first(*columns: pd.Series) -> pd.Series:
    out = _blank(columns[0])
    for column in columns[1:]:
        out = out.fillna(_blank(column))
    return out.fillna("")


def _host(instance: str) -> str:
    """``10.0.1.17:9100`` -> ``10.0.1.17`` (IPv6 ``[::1]:9100`` -> ``::1``)."""
    if instance.startswith("["):
        return instance[1:].split("]", 1)[0]
    return instance.rsplit(":", 1)[0] if instance.count(":") == 1 else instance


def _dmi_types(results: Results, nodes: pd.DataFrame) -> pd.Series:
    """The EC2 instance type node-exporter's DMI collector read on each node ("" if none)."""
    dmi = results.vector("node_dmi", _DMI)
    out = pd.Series("", index=nodes.index, dtype=object)
    if dmi.empty:
        return out
    dmi = dmi[(dmi["system_vendor"] == "Amazon EC2") & dmi["product_name"].str.match(_EC2_TYPE)]
    by_key: dict[str, str] = {}
    for row in dmi.itertuples(index=False):
        for key in (row.node, _host(str(row.instance)), row.board_asset_tag):
            if key:
                by_key.setdefault(str(key), str(row.product_name))
    for position, (name, ip, instance_id) in enumerate(
        zip(nodes["node"], nodes["internal_ip"], nodes["instance_id"], strict=True)
    ):
        for key in (name, ip, instance_id):
            if key and key in by_key:
                out.iloc[position] = by_key[key]
                break
    return out


def node_facts(results: Results) -> pd.DataFrame:
    """One row per node seen in any node series: what Prometheus says, before any lookup.

    Columns: the nodes table's capacities and times, and the raw facts ``label_*`` (from
    ``kube_node_labels``), ``provider_zone``, ``instance_id``, ``internal_ip``, ``dmi_type``.
    """
    labels = results.vector("node_labels", ["node", *NODE_LABELS]).drop_duplicates(
        "node", keep="last"
    )
    info = results.vector(
        "node_info", ["node", "provider_id", "internal_ip", "kernel_version"]
    ).drop_duplicates("node", keep="last")
    resources = {
        which: results.vector(f"node_{which}", ["node", "resource"]).drop_duplicates(
            ["node", "resource"], keep="last"
        )
        for which in ("capacity", "allocatable")
    }
    names = pd.concat(
        [labels["node"], info["node"], *(frame["node"] for frame in resources.values())]
    )
    names = names[names.fillna("") != ""].drop_duplicates()
    if names.empty:
        return pd.DataFrame()
    nodes = pd.DataFrame({"node": names.astype(object).to_numpy()})
    nodes = nodes.merge(labels.drop(columns=["value"]), on="node", how="left")
    nodes = nodes.merge(info.drop(columns=["value"]), on="node", how="left")
    for column in (*NODE_LABELS, "provider_id", "internal_ip", "kernel_version"):
        nodes[column] = nodes[column].fillna("").astype(object)
    parsed = nodes["provider_id"].str.extract(_PROVIDER_ID)
    nodes["provider_zone"] = parsed["zone"].fillna("").astype(object)
    nodes["instance_id"] = parsed["id"].fillna("").astype(object)
    nodes["dmi_type"] = _dmi_types(results, nodes)
    for which, frame in resources.items():
        wide = (
            frame.pivot_table(index="node", columns="resource", values="value", aggfunc="last")
            if not frame.empty
            else pd.DataFrame(index=pd.Index([], name="node"))
        ).reindex(columns=["cpu", "memory", "pods"])
        wide.columns = [f"cpu_{which}_cores", f"memory_{which}_bytes", f"pods_{which}"]
        nodes = nodes.merge(wide.reset_index(), on="node", how="left")
    first = results.vector("node_first_seen", ["node"]).groupby("node")["value"].min()
    last = results.vector("node_last_seen", ["node"]).groupby("node")["value"].max()
    for column, values in (("first_seen", first), ("last_seen", last)):
        seconds = nodes["node"].map(values).astype(float).to_numpy()
        nodes[column] = pd.Series(utc_times(seconds), index=nodes.index)
    return nodes


def _node_of_instance(facts: pd.DataFrame) -> dict[str, str]:
    """A scrape target's host (the node's IP or name) or node label -> the node's name."""
    out: dict[str, str] = {}
    for name, ip in zip(facts["node"], facts["internal_ip"], strict=True):
        out[str(name)] = str(name)
        if ip:
            out[str(ip)] = str(name)
    return out


def node_usage(results: Results, facts: pd.DataFrame) -> pd.DataFrame:
    """The optional ``node_usage`` table: busy CPU cores per node and step from node-exporter
    (``node_cpu_busy``), joined to nodes as :func:`_dmi_types` joins ``node_dmi_info``."""
    busy = results.matrix("node_cpu_busy", ["node", "instance"])
    columns = ["timestamp", "node", "cpu_cores"]
    if busy.empty or facts.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
    lookup = _node_of_instance(facts)
    by_label = busy["node"].map(lookup)
    by_host = busy["instance"].map(lambda instance: lookup.get(_host(str(instance))))
    busy["node"] = by_label.fillna(by_host)
    busy = busy[busy["node"].notna()]
    # One exporter per node; if two answered (a moved label), the busier reading is kept.
    out = busy.groupby(["timestamp", "node"], as_index=False).agg(cpu_cores=("value", "max"))
    return out.sort_values(["node", "timestamp"], kind="stable").reset_index(drop=True)[columns]


def _unknown_fact(nodes: pd.DataFrame) -> pd.Series:
    return (
        (nodes["label_node_kubernetes_io_instance_type"] == "")
        & (nodes["label_beta_kubernetes_io_instance_type"] == "")
        | (nodes["label_eks_amazonaws_com_nodegroup"] == "")
        & (nodes["label_karpenter_sh_nodepool"] == "")
        | (nodes["label_eks_amazonaws_com_capacity_type"] == "")
        & (nodes["label_karpenter_sh_capacity_type"] == "")
    )


def instances_to_describe(facts: pd.DataFrame) -> dict[str, list[str]]:
    """Region -> the instance ids of the nodes that lack a fact the node labels would give."""
    if facts.empty:
        return {}
    out: dict[str, list[str]] = {}
    wanted = facts[_unknown_fact(facts) & (facts["instance_id"] != "")]
    for zone, instance_id in zip(wanted["provider_zone"], wanted["instance_id"], strict=True):
        region = region_of_zone(str(zone))
        if region is not None:
            out.setdefault(region, []).append(str(instance_id))
    return out


@dataclass(frozen=True)
class _Fact:
    value: str
    source: str


def _capacity(raw: str) -> str:
    # EKS writes ON_DEMAND/SPOT, Karpenter on-demand/spot.
    return raw.upper().replace("-", "_") if raw else ""


def _resolve_one(
    row: Mapping[str, str],
    ec2: Ec2Instance | None,
    nodegroups: Mapping[str, NodeGroupConfig],
) -> dict[str, str]:
    """Every fact of one node and where it came from (see the module's table)."""
    labelled_type = (
        row["label_node_kubernetes_io_instance_type"]
        or row["label_beta_kubernetes_io_instance_type"]
    )
    if labelled_type:
        itype = _Fact(labelled_type, "kube_node_labels")
    elif row["dmi_type"]:
        itype = _Fact(row["dmi_type"], "node_dmi_info")
    elif ec2 is not None and ec2.instance_type:
        itype = _Fact(ec2.instance_type, "ec2")
    else:
        itype = _Fact("", UNKNOWN)
    if row["label_topology_kubernetes_io_zone"]:
        zone = _Fact(row["label_topology_kubernetes_io_zone"], "kube_node_labels")
    elif row["provider_zone"]:
        zone = _Fact(row["provider_zone"], "provider_id")
    elif ec2 is not None and ec2.zone:
        zone = _Fact(ec2.zone, "ec2")
    else:
        zone = _Fact("", UNKNOWN)
    labelled_capacity = _capacity(
        row["label_eks_amazonaws_com_capacity_type"] or row["label_karpenter_sh_capacity_type"]
    )
    if labelled_capacity:
        capacity = _Fact(labelled_capacity, "kube_node_labels")
    elif ec2 is not None:
        capacity = _Fact(ec2.capacity_type, "ec2")
    else:
        capacity = _Fact("UNKNOWN", UNKNOWN)
    if row["label_eks_amazonaws_com_nodegroup"]:
        group, provisioner = (
            _Fact(row["label_eks_amazonaws_com_nodegroup"], "kube_node_labels"),
            "managed",
        )
    elif row["label_karpenter_sh_nodepool"]:
        group, provisioner = (
            _Fact(row["label_karpenter_sh_nodepool"], "kube_node_labels"),
            "karpenter",
        )
    elif ec2 is not None and ec2.node_group:
        group, provisioner = _Fact(ec2.node_group, "ec2"), "managed"
    elif ec2 is not None and ec2.nodepool:
        group, provisioner = _Fact(ec2.nodepool, "ec2"), "karpenter"
    elif ec2 is not None and ec2.autoscaling_group:
        group, provisioner = _Fact(ec2.autoscaling_group, "ec2"), "self-managed"
    else:
        group, provisioner = _Fact(UNKNOWN, UNKNOWN), UNKNOWN
    # The [nodegroups] config fills what no cluster source had, and only where it is unambiguous.
    if group.source == UNKNOWN and itype.value:
        matches = [
            name
            for name, spec in nodegroups.items()
            if itype.value in spec.instance_types
            and capacity.value in ("UNKNOWN", spec.capacity_type.upper())
        ]
        if len(matches) == 1:
            group = _Fact(matches[0], "config")
    configured = nodegroups.get(group.value) if group.source != UNKNOWN else None
    if configured is not None:
        if not itype.value and len(configured.instance_types) == 1:
            itype = _Fact(configured.instance_types[0], "config")
        if capacity.source == UNKNOWN:
            capacity = _Fact(configured.capacity_type.upper(), "config")
    return {
        "node_group": group.value,
        "node_group_source": group.source,
        "instance_type": itype.value,
        "instance_type_source": itype.source,
        "zone": zone.value,
        "zone_source": zone.source,
        "capacity_type": capacity.value,
        "capacity_type_source": capacity.source,
        "provisioner": provisioner,
    }


def resolve_nodes(
    facts: pd.DataFrame,
    ec2: Mapping[str, Ec2Instance] | None = None,
    nodegroups: Mapping[str, NodeGroupConfig] | None = None,
) -> pd.DataFrame:
    """The ``nodes`` table (untyped) from :func:`node_facts`, EC2's answers and the config."""
    if facts.empty:
        return empty_table("nodes")
    ec2 = ec2 or {}
    groups = nodegroups or {}
    columns = [*NODE_LABELS, "dmi_type", "provider_zone", "instance_id"]
    resolved = pd.DataFrame(
        [
            _resolve_one(dict(zip(columns, values, strict=True)), ec2.get(values[-1]), groups)
            for values in zip(*(facts[c].astype(str) for c in columns), strict=True)
        ],
        index=facts.index,
    )
    nodes = pd.concat([facts[["node"]], resolved], axis=1)
    # kube_node_info's kernel_version ends in the machine (uname -r): x86_64 or aarch64.
    kernel = facts["kernel_version"].astype(str)
    from_kernel = np.where(
        kernel.str.endswith("x86_64"),
        "amd64",
        np.where(kernel.str.endswith("aarch64"), "arm64", ""),
    )
    nodes["architecture"] = facts["label_kubernetes_io_arch"].where(
        facts["label_kubernetes_io_arch"] != "", pd.Series(from_kernel, index=facts.index)
    )
    for column in (
        "cpu_capacity_cores",
        "memory_capacity_bytes",
        "cpu_allocatable_cores",
        "memory_allocatable_bytes",
        "pods_allocatable",
        "first_seen",
        "last_seen",
        "instance_id",
    ):
        nodes[column] = facts[column]
    return nodes.sort_values("node", kind="stable")


def node_warnings(nodes: pd.DataFrame, *, ec2_tried: bool) -> list[str]:
    """One line per fact some nodes lack: how many, what it costs, and the exact fix."""
    if nodes.empty:
        return []
    total = len(nodes)
    ec2_fix = (
        "grant ec2:DescribeInstances to the credentials of this run"
        if ec2_tried
        else "let the fetch ask EC2 (AWS credentials and --ec2-nodes auto or on)"
    )
    out = []
    no_type = int((nodes["instance_type_source"] == UNKNOWN).sum())
    if no_type:
        out.append(
            f"{no_type} of {total} nodes have no instance type (no kube_node_labels, no "
            "node_dmi_info from node-exporter, no EC2 answer): their prices are unknown; fix: "
            f"set {ALLOWLIST_FIX} in the kube-prometheus-stack values, enable node-exporter, "
            f"{ec2_fix}, or list the group's instance type under [nodegroups]"
        )
    no_group = int((nodes["node_group_source"] == UNKNOWN).sum())
    if no_group:
        out.append(
            f"{no_group} of {total} nodes have no node group (node_group 'unknown'): node-group "
            f"recommendations cannot place them; fix: set {ALLOWLIST_FIX} in the "
            f"kube-prometheus-stack values, {ec2_fix}, or list each group's instance types "
            "under [nodegroups]"
        )
    no_capacity = int((nodes["capacity_type_source"] == UNKNOWN).sum())
    if no_capacity:
        out.append(
            f"{no_capacity} of {total} nodes have no capacity type (capacity_type UNKNOWN, "
            "priced as on-demand; a spot node among them is not known to be spot); fix: set "
            f"{ALLOWLIST_FIX} in the kube-prometheus-stack values, or {ec2_fix}"
        )
    return out
