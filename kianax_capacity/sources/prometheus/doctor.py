"""``doctor``'s checks: what a server holds of what the tool reads, and what follows from it.

Pure: :func:`diagnose` takes the answers of the probe queries (:data:`PROBES`, sent by
:mod:`.doctor_probe`) and returns one :class:`Finding` per check, each with its status, what was
seen, the consequence for the recommendations, and the exact fix. No I/O, no clock.

Statuses: ``found`` (all there), ``partial`` (some of it, or there but with a catch),
``missing`` (absent), ``info`` (a measurement). A finding is ``required`` when the
recommendations cannot stand without it; :attr:`Diagnosis.ok` is False when any required
finding is not ``found``. A fix that names an argument of the fetch mentions it by its library
name in backticks (```shape``` aggregate); the ``doctor`` command shows its flag instead
(:func:`kianax_capacity.errors.respell`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "ALLOWLIST_SNIPPET",
    "NODE_LABEL_KEYS",
    "PROBES",
    "SEE_ALLOWLIST",
    "Diagnosis",
    "Finding",
    "ProbeAnswers",
    "diagnose",
]

Status = Literal["found", "partial", "missing", "info"]

#: The Kubernetes node label keys the tool reads, as ``--metric-labels-allowlist`` must name
#: them. EKS managed node groups write the capacity type as ``eks.amazonaws.com/capacityType``
#: (camelCase); kube-state-metrics exports it as ``label_eks_amazonaws_com_capacity_type``.
NODE_LABEL_KEYS = (
    "eks.amazonaws.com/nodegroup",
    "node.kubernetes.io/instance-type",
    "topology.kubernetes.io/zone",
    "eks.amazonaws.com/capacityType",
    "karpenter.sh/nodepool",
    "karpenter.sh/capacity-type",
    "kubernetes.io/arch",
)

#: kube-prometheus-stack values that make kube-state-metrics export the node labels (the
#: kube-state-metrics chart alone takes ``metricLabelsAllowlist`` at its top level; the binary
#: ``--metric-labels-allowlist=nodes=[...]``).
ALLOWLIST_SNIPPET = (
    "kube-prometheus-stack values: kube-state-metrics: {metricLabelsAllowlist: "
    f'["nodes=[{",".join(NODE_LABEL_KEYS)}]"]}}'
)
#: What rows that the allowlist also fixes say, so the snippet is printed once.
SEE_ALLOWLIST = "set the node-label allowlist (the kube_node_labels row)"

_CADVISOR = 'container!="", container!="POD"'
_LOOKBACK = "1h"

#: The probe queries, instant at the diagnosis time. ``{sel}`` is the namespace and cluster
#: matchers, ``{csel}`` the cluster matcher only (node series have no namespace of their own),
#: each ending in ", " or empty; ``{lookback}`` the window the probes look back over.
PROBES: Mapping[str, str] = {
    # Usage: cAdvisor (has image/id) and the kubelet's /metrics/resource (has neither).
    "cpu_cadvisor": f'count(last_over_time(container_cpu_usage_seconds_total{{ {{sel}}{_CADVISOR}, image!=""}}[{{lookback}}]))',
    "cpu_resource": f'count(last_over_time(container_cpu_usage_seconds_total{{ {{sel}}{_CADVISOR}, image=""}}[{{lookback}}]))',
    "memory_cadvisor": f'count(last_over_time(container_memory_working_set_bytes{{ {{sel}}{_CADVISOR}, image!=""}}[{{lookback}}]))',
    "memory_resource": f'count(last_over_time(container_memory_working_set_bytes{{ {{sel}}{_CADVISOR}, image=""}}[{{lookback}}]))',
    "cfs_periods": f"count(last_over_time(container_cpu_cfs_periods_total{{ {{sel}}{_CADVISOR}}}[{{lookback}}]))",
    # Who scrapes the kubelet's container CPU, and how often (one row per endpoint / replica).
    "cpu_endpoints": f"count by (job, metrics_path, prometheus_replica, replica) (last_over_time(container_cpu_usage_seconds_total{{ {{sel}}{_CADVISOR}}}[{{lookback}}]))",
    "intervals_kubelet": f"quantile by (job, metrics_path) (0.5, count_over_time(container_memory_working_set_bytes{{ {{sel}}{_CADVISOR}}}[{{lookback}}]))",
    "intervals_ksm": "quantile by (job) (0.5, count_over_time(kube_pod_info{ {sel}}[{lookback}]))",
    "intervals_node_exporter": "quantile by (job) (0.5, count_over_time(node_dmi_info{ {csel}}[{lookback}]))",
    # kube-state-metrics families, one count each (by name).
    "ksm_families": (
        'count by (__name__) ({ {csel}__name__=~"kube_pod_info|kube_pod_owner|'
        "kube_pod_container_resource_requests|kube_pod_container_resource_limits|"
        "kube_replicaset_owner|kube_job_owner|kube_pod_container_status_restarts_total|"
        "kube_pod_created|kube_pod_start_time|kube_horizontalpodautoscaler_info|"
        "kube_horizontalpodautoscaler_spec_target_metric|kube_poddisruptionbudget_status_desired_healthy|"
        'kube_node_info|kube_node_status_capacity|kube_node_status_allocatable|kube_node_labels"})'
    ),
    "ksm_image": 'last_over_time(kube_pod_container_info{ {csel}image=~".*kube-state-metrics:.*"}[{lookback}])',
    "hpa_targets": "last_over_time(kube_horizontalpodautoscaler_spec_target_metric{ {sel}}[{lookback}])",
    "pod_info_containers": "count by (container) (last_over_time(kube_pod_info{ {sel}}[{lookback}]))",
    # Nodes.
    "node_info": "last_over_time(kube_node_info{ {csel}}[{lookback}])",
    "node_labels": "last_over_time(kube_node_labels{ {csel}}[{lookback}])",
    "node_dmi": "last_over_time(node_dmi_info{ {csel}}[{lookback}])",
    # The cluster label (the configured one, else "cluster").
    "cluster_values": "count by ({cluster_label}) (last_over_time(kube_pod_info{ {csel}}[{lookback}]))",
}

#: ``kube_node_labels`` labels for each fact (any one of them is enough).
_LABELS_FOR = {
    "instance type": ("label_node_kubernetes_io_instance_type", "label_beta_kubernetes_io_instance_type"),
    "zone": ("label_topology_kubernetes_io_zone",),
    "node group": ("label_eks_amazonaws_com_nodegroup", "label_karpenter_sh_nodepool"),
    "capacity type": ("label_eks_amazonaws_com_capacity_type", "label_karpenter_sh_capacity_type"),
}  # fmt: skip


@dataclass(frozen=True)
class ProbeAnswers:
    """What the probes returned, and the facts of the run the checks need."""

    results: Mapping[str, Sequence[Mapping[str, Any]]]  # probe name -> the API's result list
    cluster_label: str | None  # the label that tells clusters apart, if given
    timeout_seconds: float
    step_seconds: int
    window_days: float  # the window a fetch would read (default 14)
    #: (query name, seconds) for each query of a one-day series-shape plan, slowest first.
    day_timings: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True)
class Finding:
    check: str
    status: Status
    detail: str
    consequence: str = ""
    fix: str = ""
    required: bool = False

    @property
    def blocking(self) -> bool:
        return self.required and self.status != "found"

    def as_dict(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "status": self.status,
            "required": self.required,
            "detail": self.detail,
            "consequence": self.consequence,
            "fix": self.fix,
        }


@dataclass(frozen=True)
class Diagnosis:
    findings: tuple[Finding, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        return not any(f.blocking for f in self.findings)

    def finding(self, check: str) -> Finding:
        return next(f for f in self.findings if f.check == check)


def _count(answers: ProbeAnswers, probe: str) -> int:
    rows = answers.results.get(probe, ())
    return int(sum(float(r["value"][1]) for r in rows))


def _metric_rows(answers: ProbeAnswers, probe: str) -> list[Mapping[str, str]]:
    return [r["metric"] for r in answers.results.get(probe, ())]


def diagnose(answers: ProbeAnswers) -> Diagnosis:
    """Every check, in the order of the table."""
    families = {r.get("__name__", ""): 1 for r in _metric_rows(answers, "ksm_families")}
    findings = [
        *_usage(answers),
        *_kube_state_metrics(answers, families),
        *_nodes(answers, families),
        *_endpoints(answers),
        _cluster_label(answers),
        _heaviest_query(answers),
    ]
    return Diagnosis(tuple(findings))


def _usage(answers: ProbeAnswers) -> list[Finding]:
    out = []
    for metric in ("cpu", "memory"):
        cadvisor, resource = (
            _count(answers, f"{metric}_cadvisor"),
            _count(answers, f"{metric}_resource"),
        )
        family = (
            "container_cpu_usage_seconds_total"
            if metric == "cpu"
            else "container_memory_working_set_bytes"
        )
        if cadvisor:
            status: Status = "found"
            detail = f"{cadvisor} container series from cAdvisor (/metrics/cadvisor)"
            if resource:
                detail += f", and {resource} from the kubelet's /metrics/resource"
            consequence = ""
        elif resource:
            status, detail = (
                "found",
                f"{resource} container series from /metrics/resource only (no cAdvisor)",
            )
            consequence = "usage is read from /metrics/resource; CPU throttling (cAdvisor's CFS counters) is unknown"
        else:
            status, detail = "missing", 'no container series (container!="")'
            consequence = (
                "no usage: every right-sizing, HPA and packing recommendation is insufficient_data"
            )
        out.append(Finding(
            family, status, detail, consequence,
            "" if status == "found" else "kube-prometheus-stack values: kubelet: {serviceMonitor: {cAdvisor: true}}",
            required=True,
        ))  # fmt: skip
    periods = _count(answers, "cfs_periods")
    out.append(Finding(
        "container_cpu_cfs_periods_total (throttling)",
        "found" if periods else "partial",
        f"{periods} containers with a CPU limit" if periods else "none (no CPU limits, or cAdvisor not scraped)",
        "" if periods else "throttling is NaN: the CPU-limit advice cannot cite throttling",
    ))  # fmt: skip
    return out


_KSM_FAMILIES: tuple[tuple[str, bool, str], ...] = (
    ("kube_pod_info", True, "pods have no node: nodes' pods and packing are unknown"),
    ("kube_pod_owner", True, "every pod is its own workload of kind Pod: no workload-level advice"),
    ("kube_pod_container_resource_requests", True, "requests are NaN: no savings can be computed"),
    ("kube_pod_container_resource_limits", False, "limits are NaN: limit advice is skipped"),
    ("kube_replicaset_owner", False, "Deployments show as ReplicaSets"),
    ("kube_job_owner", False, "CronJobs show as Jobs"),
    ("kube_pod_container_status_restarts_total", False, "no restarts or OOM kills are seen"),
    ("kube_horizontalpodautoscaler_info", False, "no HPAs are seen (fine if there are none)"),
    ("kube_poddisruptionbudget_status_desired_healthy", False, "no PDBs are seen: spot readiness cannot check disruption budgets"),
)  # fmt: skip


def _kube_state_metrics(answers: ProbeAnswers, families: Mapping[str, int]) -> list[Finding]:
    fix = "kube-prometheus-stack values: kubeStateMetrics: {enabled: true} (and its ServiceMonitor)"
    out = [
        Finding(
            name,
            "found" if name in families else "missing",
            "exported" if name in families else "not on this server",
            "" if name in families else consequence,
            "" if name in families else fix,
            required=required,
        )
        for name, required, consequence in _KSM_FAMILIES
    ]
    out.append(_ksm_version(answers))
    return out


def _version_of(image: str) -> tuple[int, int] | None:
    tag = image.rsplit(":", 1)[-1].lstrip("v")
    parts = tag.split(".")
    if len(parts) < 2 or not (parts[0].isdigit() and parts[1].isdigit()):
        return None
    return int(parts[0]), int(parts[1])


def _ksm_version(answers: ProbeAnswers) -> Finding:
    images = sorted({r.get("image", "") for r in _metric_rows(answers, "ksm_image")} - {""})
    versions = [v for v in (_version_of(i) for i in images) if v is not None]
    hpa_rows = _metric_rows(answers, "hpa_targets")
    # honorLabels: true gives rows that expose no `container` the scraper's own container
    # label (the kube-state-metrics container); only other values name a ContainerResource.
    scraper = {r.get("container", "") for r in _metric_rows(answers, "pod_info_containers")} - {""}
    named = sorted({r.get("container", "") for r in hpa_rows} - {""} - scraper)
    own = any(r.get("container", "") in scraper for r in hpa_rows)
    version = ".".join(map(str, min(versions))) if versions else "unknown"
    detail = f"kube-state-metrics {version} ({', '.join(images) or 'image not seen'})"
    if named:
        detail += f"; ContainerResource HPA targets on containers: {', '.join(named)}"
    old = (versions and min(versions) < (2, 19)) or own
    if hpa_rows and old:
        return Finding(
            "kube-state-metrics HPA container label",
            "partial",
            detail + "; HPA target rows carry no container of their own (before v2.19.0)",
            "a ContainerResource HPA looks like a pod-level Resource target: its replay uses the "
            "pod's summed requests (every container), so its max and target rest on a wrong utilisation",
            "upgrade kube-state-metrics to v2.19.0 or later (kube-prometheus-stack pulls it in as a subchart)",
        )
    if not versions:
        return Finding("kube-state-metrics HPA container label", "info", detail,
                       "version unknown (kube_pod_container_info of kube-state-metrics not seen)")  # fmt: skip
    return Finding("kube-state-metrics HPA container label", "found", detail)


def _nodes(answers: ProbeAnswers, families: Mapping[str, int]) -> list[Finding]:
    info = _metric_rows(answers, "node_info")
    nodes = sorted({r.get("node", "") for r in info} - {""})
    out = [
        Finding(
            "kube_node_info",
            "found" if nodes else "missing",
            f"{len(nodes)} nodes" + (f" ({_provider_summary(info)})" if nodes else ""),
            "" if nodes else "no nodes: node cost, packing and node groups are unknown",
            "" if nodes else "kube-prometheus-stack values: kubeStateMetrics: {enabled: true}",
            required=True,
        ),
        Finding(
            "kube_node_status_capacity / _allocatable",
            "found" if {"kube_node_status_capacity", "kube_node_status_allocatable"} <= set(families) else "missing",
            "exported" if "kube_node_status_allocatable" in families else "not on this server",
            "" if "kube_node_status_allocatable" in families else "node capacity unknown: packing cannot run",
            required=True,
        ),
    ]  # fmt: skip
    labelled = _label_facts(answers, nodes)
    dmi = _dmi_types(answers, info)
    out.append(_node_labels_finding(answers, nodes, labelled, "kube_node_labels" in families))
    out.append(_dmi_finding(nodes, dmi))
    out.extend(_node_facts(nodes, labelled, dmi))
    return out


def _provider_summary(info: Sequence[Mapping[str, str]]) -> str:
    aws = sum(r.get("provider_id", "").startswith("aws:///") for r in info)
    return f"{aws} with an aws:/// provider_id (zone and instance id)"


def _label_facts(answers: ProbeAnswers, nodes: Sequence[str]) -> dict[str, dict[str, str]]:
    """node -> fact -> value from kube_node_labels."""
    facts: dict[str, dict[str, str]] = defaultdict(dict)
    for row in _metric_rows(answers, "node_labels"):
        for fact, labels in _LABELS_FOR.items():
            value = next((row[label] for label in labels if row.get(label)), "")
            if value:
                facts[row.get("node", "")][fact] = value
    return {n: facts.get(n, {}) for n in nodes}


def _dmi_types(answers: ProbeAnswers, info: Sequence[Mapping[str, str]]) -> dict[str, str]:
    """node -> instance type from node_dmi_info, joined through the node's internal IP."""
    by_ip = {r.get("internal_ip", ""): r.get("node", "") for r in info if r.get("internal_ip")}
    found: dict[str, str] = {}
    for row in _metric_rows(answers, "node_dmi"):
        if row.get("system_vendor") != "Amazon EC2" or not row.get("product_name"):
            continue
        host = row.get("instance", "").rsplit(":", 1)[0]
        node = row.get("node") or row.get("nodename") or by_ip.get(host, "")
        if node:
            found[node] = row["product_name"]
    return found


def _node_labels_finding(
    answers: ProbeAnswers,
    nodes: Sequence[str],
    labelled: Mapping[str, Mapping[str, str]],
    present: bool,
) -> Finding:
    if not present:
        return Finding(
            "kube_node_labels",
            "missing",
            "not exported: kube-state-metrics' --metric-labels-allowlist is empty (the chart's default "
            "metricLabelsAllowlist: []; since v2.10.0 the family is then absent)",
            "node groups and capacity types come only from EC2 (with AWS access) or [nodegroups] "
            "config; instance types from node_dmi_info",
            ALLOWLIST_SNIPPET,
        )
    lacking = sorted(
        {fact for n in nodes for fact in _LABELS_FOR if fact not in labelled.get(n, {})}
    )
    if lacking:
        return Finding(
            "kube_node_labels",
            "partial",
            f"exported, but without {', '.join(lacking)} on some nodes",
            "those facts fall back to node_dmi_info, EC2 or config",
            ALLOWLIST_SNIPPET,
        )
    return Finding(
        "kube_node_labels",
        "found",
        f"instance type, zone, group and capacity type on all {len(nodes)} nodes",
    )


def _dmi_finding(nodes: Sequence[str], dmi: Mapping[str, str]) -> Finding:
    if not dmi:
        return Finding(
            "node_dmi_info (node-exporter)",
            "missing",
            "no EC2 DMI series (node-exporter absent, or not on EC2)",
            "without kube_node_labels the instance types are unknown",
            "kube-prometheus-stack values: nodeExporter: {enabled: true}",
        )
    status: Status = "found" if set(nodes) <= set(dmi) else "partial"
    return Finding(
        "node_dmi_info (node-exporter)",
        status,
        f"{len(dmi)} of {len(nodes)} nodes matched through their internal IP "
        f"({', '.join(sorted(set(dmi.values())))})",
    )


def _node_facts(
    nodes: Sequence[str], labelled: Mapping[str, Mapping[str, str]], dmi: Mapping[str, str]
) -> list[Finding]:
    untyped = [n for n in nodes if "instance type" not in labelled.get(n, {}) and n not in dmi]
    typed = Finding(
        "node instance types",
        "missing" if untyped else "found",
        f"{len(untyped)} of {len(nodes)} nodes have no instance type from labels or DMI"
        if untyped else f"all {len(nodes)} nodes (kube_node_labels or node_dmi_info)",
        "node cost and the savings of rows on those nodes rest on an assumed instance type "
        "(flagged 'assumed' in the summary, report and PR comment) unless EC2 DescribeInstances "
        "(AWS access) or [nodegroups] config names them" if untyped else "",
        f"{SEE_ALLOWLIST}; or nodeExporter: {{enabled: true}}; or [nodegroups] in kianax-capacity.toml"
        if untyped else "",
        required=True,
    )  # fmt: skip
    out = [typed]
    for fact, check, consequence in (
        ("node group", "node groups", "node-group advice is per 'unknown' group (never a wrong group) unless EC2 tags (AWS access) or [nodegroups] config say"),
        ("capacity type", "node capacity types (spot)", "spot nodes cannot be told from on-demand without EC2 (AWS access): spot savings and the share already on spot are not known"),
    ):  # fmt: skip
        lacking = [n for n in nodes if fact not in labelled.get(n, {})]
        out.append(Finding(
            check,
            "partial" if lacking else "found",
            f"{len(lacking)} of {len(nodes)} nodes unlabelled" if lacking else f"all {len(nodes)} nodes labelled",
            consequence if lacking else "",
            SEE_ALLOWLIST if lacking else "",
        ))  # fmt: skip
    return out


def _endpoints(answers: ProbeAnswers) -> list[Finding]:
    rows = _metric_rows(answers, "cpu_endpoints")
    groups = sorted({
        ", ".join(f"{k}={r[k]}" for k in ("job", "metrics_path", "prometheus_replica", "replica") if r.get(k))
        for r in rows
    })  # fmt: skip
    paths = {r.get("metrics_path", "") for r in rows} - {""}
    replicas = {r.get("prometheus_replica") or r.get("replica") for r in rows} - {None, ""}
    out = []
    if len(groups) > 1:
        fixes = []
        if len(paths) > 1:
            fixes.append(
                "kube-prometheus-stack values: kubelet: {serviceMonitor: {resource: false}} (cAdvisor already has these series)"
            )
        if replicas:
            fixes.append(
                "query deduplicated data (Thanos Query --query.replica-label=prometheus_replica, or one replica's own Prometheus)"
            )
        out.append(Finding(
            "duplicate kubelet endpoints",
            "partial",
            f"each container's CPU is stored {len(groups)} times: {'; '.join(groups)}",
            "the fetch counts every container once (cAdvisor's series, whatever the job, path or "
            "replica); the duplicates only cost server time",
            "; ".join(fixes) or "scrape the kubelet once",
        ))  # fmt: skip
    else:
        out.append(
            Finding(
                "duplicate kubelet endpoints", "found", f"one: {groups[0] if groups else 'none'}"
            )
        )
    intervals = []
    for probe in ("intervals_kubelet", "intervals_ksm", "intervals_node_exporter"):
        for row in answers.results.get(probe, ()):
            count = float(row["value"][1])
            if count > 0:
                seconds = 3600 / count
                name = ", ".join(f"{k}={v}" for k, v in sorted(row["metric"].items()))
                intervals.append((name or probe, seconds))
    slow = [(n, s) for n, s in intervals if s > answers.step_seconds / 2]
    out.append(Finding(
        "scrape intervals",
        "partial" if slow else "info",
        "; ".join(f"{n}: {s:.0f}s" for n, s in intervals) or "no samples in the last hour",
        f"scraped less than twice a step ({answers.step_seconds}s): rate() windows widen to two "
        "scrapes and CPU peaks flatten" if slow else "",
        "a shorter scrape interval, or a longer `step_seconds`" if slow else "",
    ))  # fmt: skip
    return out


def _cluster_label(answers: ProbeAnswers) -> Finding:
    label = answers.cluster_label or "cluster"
    values = sorted({r.get(label, "") for r in _metric_rows(answers, "cluster_values")} - {""})
    if answers.cluster_label:
        if not values:
            return Finding(
                f"cluster label {label!r}", "missing", "no kube_pod_info series carries it",
                "every query filters on it: the fetch would find nothing",
                "drop `cluster_label`, or name the label the server's external_labels set", required=True,
            )  # fmt: skip
        return Finding(f"cluster label {label!r}", "found", f"values: {', '.join(values)}")
    if len(values) > 1:
        return Finding(
            "cluster label", "partial", f"label 'cluster' has {len(values)} values: {', '.join(values)}",
            "without `cluster_label` the fetch mixes these clusters into one snapshot",
            "`cluster_label` cluster `cluster` NAME",
        )  # fmt: skip
    return Finding(
        "cluster label",
        "info",
        f"cluster={values[0]}" if values else "none: one cluster per server",
    )


def _heaviest_query(answers: ProbeAnswers) -> Finding:
    if not answers.day_timings:
        return Finding("one day of the heaviest query", "info", "not measured")
    name, seconds = answers.day_timings[0]
    total = sum(s for _, s in answers.day_timings)
    days = answers.window_days
    # A series-shape request spans up to 10,000 steps (14 days at 5 minutes in one request):
    # its time grows with the days it covers.
    estimate = seconds * days
    detail = f"{name}: {seconds:.2f}s for one day (all {len(answers.day_timings)} queries of a day: {total:.2f}s)"
    if estimate > answers.timeout_seconds:
        return Finding(
            "one day of the heaviest query", "partial", detail,
            f"a {days:g}-day fetch sends it over the whole window in one request: ~{estimate:.0f}s, past "
            f"the {answers.timeout_seconds:g}s timeout",
            f"`timeout_seconds` {int(estimate * 2)}, or `shape` aggregate (one request per day), or a narrower `namespace_regex`",
        )  # fmt: skip
    return Finding(
        "one day of the heaviest query", "info", detail,
        f"a {days:g}-day fetch: ~{estimate:.1f}s for it, within the {answers.timeout_seconds:g}s timeout",
    )  # fmt: skip
