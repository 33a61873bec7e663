"""CPU-credit simulation of burstable nodes (T2, T3, T3a, T4g): surplus dollars and throttling.

A burstable node earns ``credits_per_hour`` credits (one credit = one vCPU busy for a minute)
and spends ``60 x busy cores`` credits an hour. The simulation follows the rules of the EC2 User
Guide ("Key concepts", "Unlimited mode concepts", "Standard mode concepts"), step by step over
the snapshot's window, for every node at once:

* **Balance.** What is earned and not spent accrues, up to ``max_accrued_credits`` (a day's
  earnings); earnings past the cap are lost.
* **Unlimited mode** (default of T3/T3a/T4g). Spending past the balance draws *surplus*
  credits; later earnings pay them down first. Surplus beyond ``max_accrued_credits`` is
  charged at the end of the hour (here: of the step), and whatever surplus a node still carries
  when it stops is charged then. A node still running at the window's end is treated as if it
  stopped there: the window stands for the month, so the surplus it carries out is counted,
  as the surplus it may have carried in (nodes start the window with no balance) is not.
  Charged credits / 60 x the type's rate per vCPU-hour = surplus USD.
* **Standard mode** (default of T2, or ``[nodegroups.NAME] cpu_credits = "standard"``). No
  surplus: a node whose balance is empty is held at its baseline. That is a *risk*, not a cost:
  the result counts the node-hours held and the CPU demand (core-hours) they could not serve.
* **Launch credits**: T2 nodes in standard mode get ``launch_credits`` at launch, spent before
  earned credits and outside the cap. T3, T3a and T4g get none, and unlimited mode has none.
* **Node CPU.** node-exporter's busy cores (the optional ``node_usage`` table) where it was
  scraped; else the sum of the node's containers' usage plus an allowance for what runs outside
  containers (kubelet, container runtime, kernel). The default allowance is the CPU the EKS AMI
  reserves for the kubelet and runtime on that type (70 millicores on 2 vCPUs): a stated
  assumption, set per group with ``[nodegroups.NAME] system_cpu_allowance_cores``.

Pure: arrays in, arrays and numbers out; no clock, no I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from kianax_capacity.prices.credits import CreditMode, CreditSpec
from kianax_capacity.recommenders.packing import kube_reserved_cpu_cores
from kianax_capacity.snapshot import Snapshot

__all__ = [
    "NOT_BURSTABLE",
    "CreditResult",
    "NodeCpu",
    "SurplusEstimate",
    "default_system_allowance_cores",
    "group_surplus",
    "node_cpu",
    "pooled_surplus",
    "simulate_credits",
]


@dataclass(frozen=True)
class CreditResult:
    """What the credit simulation of one or more nodes of one type found.

    Credits are vCPU-minutes; ``balance`` and ``surplus_balance`` are summed over the nodes at
    each step (for a chart of the group's balance over time).
    """

    instance_type: str
    mode: CreditMode
    vcpu: int
    baseline_per_vcpu: float
    node_hours: float
    cpu_core_hours: float  # what the nodes were asked to run
    earned_credits: float  # earned while running, before the cap
    surplus_credits_charged: float  # unlimited: not paid down, so billed
    surplus_usd: float
    throttled_node_hours: float  # standard: node-hours held at baseline
    throttled_core_hours: float  # standard: CPU asked for and not served
    balance: np.ndarray
    surplus_balance: np.ndarray

    @property
    def mean_utilisation(self) -> float:
        """Mean CPU over the node-hours, as a share of the nodes' vCPUs."""
        return self.cpu_core_hours / self.node_hours / self.vcpu if self.node_hours else 0.0


def simulate_credits(
    cpu_cores: np.ndarray,
    step_hours: float,
    spec: CreditSpec,
    *,
    mode: CreditMode | None = None,
    alive: np.ndarray | None = None,
) -> CreditResult:
    """Run the credit accounting of ``spec`` over a CPU series, one column per node.

    Args:
        cpu_cores: busy cores at each step, shape (steps,) for one node or (steps, nodes);
            NaN where a node did not run.
        step_hours: the length of one step in hours (each value is the mean over its step).
        spec: the instance type's credit figures.
        mode: ``unlimited`` or ``standard``; default the type's launch default.
        alive: where each node ran (same shape); default: where ``cpu_cores`` is not NaN. A
            node that stops (alive, then not) has its surplus charged and its balance dropped.

    Returns:
        Totals over all nodes and the summed balance per step.

    Example:
        >>> from kianax_capacity.prices.credits import credit_spec
        >>> spec = credit_spec("t3.medium")
        >>> result = simulate_credits(np.full(24, 1.2), 1.0, spec)  # 60% of 2 vCPU for 24 h
        >>> round(result.surplus_usd, 2)
        0.96
    """
    mode = mode or spec.default_mode
    cpu = np.asarray(cpu_cores, dtype=float)
    if cpu.ndim == 1:
        cpu = cpu[:, None]
        alive = None if alive is None else np.asarray(alive, dtype=bool)[:, None]
    running = ~np.isnan(cpu) if alive is None else np.asarray(alive, dtype=bool)
    cpu = np.where(running, np.nan_to_num(cpu, nan=0.0), 0.0)
    steps, nodes = cpu.shape
    if nodes == 1:
        return _simulate_one(cpu[:, 0], running[:, 0], step_hours, spec, mode)
    cap = spec.max_accrued_credits
    earn_step = spec.credits_per_hour * step_hours
    balance = np.zeros(nodes)
    surplus = np.zeros(nodes)
    launch = np.zeros(nodes)
    charged = 0.0
    throttled_credits = 0.0
    throttled_steps = 0
    balance_sum = np.zeros(steps)
    surplus_sum = np.zeros(steps)
    was_running = np.zeros(nodes, dtype=bool)
    for t in range(steps):
        now = running[t]
        started = now & ~was_running
        if mode == "standard" and spec.launch_credits:
            launch = np.where(started, spec.launch_credits, launch)
        stopped = was_running & ~now
        # A stopping node's surplus is billed; its balance goes with it.
        charged += float(surplus[stopped].sum())
        surplus[stopped] = 0.0
        balance[stopped | started] = 0.0
        launch[stopped] = 0.0
        earn = np.where(now, earn_step, 0.0)
        spend = cpu[t] * 60.0 * step_hours
        if mode == "standard":
            from_launch = np.minimum(launch, spend)
            launch -= from_launch
            left = balance + earn - (spend - from_launch)
            short = np.maximum(-left, 0.0)
            throttled_credits += float(short.sum())
            throttled_steps += int((short > 1e-9).sum())
            balance = np.minimum(np.maximum(left, 0.0), cap)
        else:
            net = earn - spend
            paid = np.minimum(surplus, np.maximum(net, 0.0))
            surplus -= paid
            from_balance = np.minimum(balance, np.maximum(-net, 0.0))
            surplus += np.maximum(-net, 0.0) - from_balance
            balance = np.minimum(balance - from_balance + np.maximum(net, 0.0) - paid, cap)
            over = np.maximum(surplus - cap, 0.0)
            charged += float(over.sum())
            surplus -= over
        balance_sum[t] = float(balance[now].sum() + launch[now].sum())
        surplus_sum[t] = float(surplus[now].sum())
        was_running = now
    # Nodes still running at the end: treated as stopping there (see the module docstring).
    charged += float(surplus[was_running].sum())
    return _result(
        spec,
        mode,
        running,
        cpu,
        step_hours,
        charged,
        throttled_steps,
        throttled_credits,
        balance_sum,
        surplus_sum,
    )


def _simulate_one(
    cpu: np.ndarray, running: np.ndarray, step_hours: float, spec: CreditSpec, mode: CreditMode
) -> CreditResult:
    """:func:`simulate_credits` for one node, in plain floats (numpy is slow on one value)."""
    cap = spec.max_accrued_credits
    earn_step = spec.credits_per_hour * step_hours
    balance = surplus = launch = charged = throttled = 0.0
    throttled_steps = 0
    balances = np.zeros(len(cpu))
    surpluses = np.zeros(len(cpu))
    was = False
    for t, (used, now) in enumerate(zip(cpu.tolist(), running.tolist(), strict=True)):
        if was and not now:
            charged += surplus
            surplus = balance = launch = 0.0
        if now and not was:
            balance = 0.0
            launch = spec.launch_credits if mode == "standard" else 0.0
        was = now
        if not now:
            continue
        spend = used * 60.0 * step_hours
        if mode == "standard":
            from_launch = min(launch, spend)
            launch -= from_launch
            left = balance + earn_step - (spend - from_launch)
            if left < -1e-9:
                throttled += -left
                throttled_steps += 1
            balance = min(max(left, 0.0), cap)
        else:
            net = earn_step - spend
            if net >= 0:
                paid = min(surplus, net)
                surplus -= paid
                balance = min(balance + net - paid, cap)
            else:
                from_balance = min(balance, -net)
                balance -= from_balance
                surplus += -net - from_balance
                if surplus > cap:
                    charged += surplus - cap
                    surplus = cap
        balances[t] = balance + launch
        surpluses[t] = surplus
    if was:
        charged += surplus
    return _result(
        spec,
        mode,
        running,
        cpu,
        step_hours,
        charged,
        throttled_steps,
        throttled,
        balances,
        surpluses,
    )


def _result(
    spec: CreditSpec,
    mode: CreditMode,
    running: np.ndarray,
    cpu: np.ndarray,
    step_hours: float,
    charged: float,
    throttled_steps: int,
    throttled_credits: float,
    balance: np.ndarray,
    surplus_balance: np.ndarray,
) -> CreditResult:
    """The totals both simulations report, from what their step loops accumulated."""
    node_hours = float(running.sum()) * step_hours
    return CreditResult(
        instance_type=spec.instance_type,
        mode=mode,
        vcpu=spec.vcpu,
        baseline_per_vcpu=spec.baseline_per_vcpu,
        node_hours=node_hours,
        cpu_core_hours=float(cpu.sum()) * step_hours,
        earned_credits=node_hours * spec.credits_per_hour,
        surplus_credits_charged=charged,
        surplus_usd=charged * spec.surplus_usd_per_credit,
        throttled_node_hours=throttled_steps * step_hours,
        throttled_core_hours=throttled_credits / 60.0,
        balance=balance,
        surplus_balance=surplus_balance,
    )


def default_system_allowance_cores(vcpu: int) -> float:
    """CPU used outside containers on a node: the EKS AMI's kube-reserved CPU (an assumption)."""
    return kube_reserved_cpu_cores(vcpu)


@dataclass(frozen=True)
class NodeCpu:
    """Busy cores of each node at each step of the window.

    Attributes:
        times: the step instants (the usage samples' timestamps).
        nodes: node names, one per column.
        cpu_cores: (steps, nodes), NaN where the node did not run.
        source: node -> ``"node_usage"`` (node-exporter) or ``"containers"`` (containers'
            usage plus the allowance).
        allowance_cores: node -> the allowance added (0 for node-exporter series).
        workload_cores: (steps, nodes): the part of it used by workload (not DaemonSet) pods.
    """

    times: pd.DatetimeIndex
    nodes: tuple[str, ...]
    cpu_cores: np.ndarray
    source: Mapping[str, str]
    allowance_cores: Mapping[str, float]
    workload_cores: np.ndarray

    def columns(self, names: list[str]) -> np.ndarray:
        index = {n: i for i, n in enumerate(self.nodes)}
        return self.cpu_cores[:, [index[n] for n in names]]


def node_cpu(snapshot: Snapshot, allowance: Callable[[str, str], float]) -> NodeCpu:
    """Every node's busy cores over the window, from node-exporter or from its containers.

    Args:
        snapshot: nodes, pods, usage and (optional) node_usage tables.
        allowance: (node_group, instance_type) -> cores run outside containers on such a node.
    """
    nodes = snapshot.table("nodes")
    usage = snapshot.table("usage")
    times = pd.DatetimeIndex(pd.unique(usage["timestamp"])).sort_values() if len(usage) else None
    if times is None or nodes.empty:
        return NodeCpu(pd.DatetimeIndex([]), (), np.zeros((0, 0)), {}, {}, np.zeros((0, 0)))
    names = tuple(str(n) for n in nodes["node"])
    column = {n: i for i, n in enumerate(names)}
    grid = times.as_unit("ns").asi8
    first = pd.DatetimeIndex(nodes["first_seen"]).as_unit("ns").asi8
    last = pd.DatetimeIndex(nodes["last_seen"]).as_unit("ns").asi8
    alive = (grid[:, None] >= first[None, :]) & (grid[:, None] <= last[None, :])
    from_containers = np.zeros((len(times), len(names)))
    from_workloads = np.zeros((len(times), len(names)))
    pods = snapshot.table("pods")[["namespace", "pod", "node", "kind"]]
    placed = usage[["timestamp", "namespace", "pod", "cpu_cores"]].merge(
        pods, on=["namespace", "pod"], how="inner"
    )
    placed = placed[placed["node"].astype(str).isin(column)]
    if len(placed):
        rows = np.searchsorted(grid, pd.DatetimeIndex(placed["timestamp"]).as_unit("ns").asi8)
        cols = placed["node"].astype(str).map(column).to_numpy(int)
        values = placed["cpu_cores"].fillna(0.0).to_numpy(float)
        np.add.at(from_containers, (rows, cols), values)
        workload = (placed["kind"].astype(str) != "DaemonSet").to_numpy()
        np.add.at(from_workloads, (rows[workload], cols[workload]), values[workload])
    extra = {
        n: float(allowance(str(g), str(t)))
        for n, g, t in zip(names, nodes["node_group"], nodes["instance_type"], strict=True)
    }
    cpu = from_containers + np.array([extra[n] for n in names])[None, :]
    source = dict.fromkeys(names, "containers")
    node_usage = snapshot.tables.get("node_usage")
    if node_usage is not None and len(node_usage):
        exporter = node_usage[node_usage["node"].astype(str).isin(column)]
        for node, series in exporter.groupby("node", observed=True):
            j = column[str(node)]
            stamps = pd.DatetimeIndex(series["timestamp"]).as_unit("ns").asi8
            samples = pd.Series(series["cpu_cores"].to_numpy(float), index=stamps)
            samples = samples[~samples.index.duplicated()].sort_index()
            # On the usage grid: the nearest earlier node-exporter sample, within one step.
            aligned = samples.reindex(
                grid, method="ffill", tolerance=int(snapshot.step_seconds * 1e9)
            )
            if aligned.notna().any():
                cpu[:, j] = aligned.to_numpy()
                source[str(node)] = "node_usage"
                extra[str(node)] = 0.0
    cpu = np.where(alive, cpu, np.nan)
    return NodeCpu(times, names, cpu, source, extra, np.where(alive, from_workloads, 0.0))


@dataclass(frozen=True)
class SurplusEstimate:
    """A node group's (or candidate's) surplus-credit cost per month, or why there is none.

    ``monthly_usd`` is None where it cannot be computed (``reason`` says why); 0 for types
    that are not burstable and for standard mode, whose cost of running out of credits is
    throttling (``throttled_*``), not dollars.
    """

    monthly_usd: float | None
    mode: CreditMode | None  # None: not burstable
    reason: str
    mean_utilisation: float | None = None
    baseline_per_vcpu: float | None = None
    throttled_node_hours_monthly: float = 0.0
    throttled_core_hours_monthly: float = 0.0
    source: str = ""  # node_usage | containers | mixed
    balance: np.ndarray | None = None  # accrued credits summed over nodes, per step
    times: pd.DatetimeIndex | None = None

    def summary(self) -> dict[str, object]:
        """The JSON-friendly part (no series)."""
        return {
            "monthly_usd": None if self.monthly_usd is None else round(self.monthly_usd, 2),
            "mode": self.mode,
            "reason": self.reason,
            "mean_cpu_utilisation": None
            if self.mean_utilisation is None
            else round(self.mean_utilisation, 4),
            "baseline_per_vcpu": self.baseline_per_vcpu,
            "throttled_node_hours_monthly": round(self.throttled_node_hours_monthly, 1),
            "throttled_core_hours_monthly": round(self.throttled_core_hours_monthly, 1),
            "cpu_source": self.source,
        }


NOT_BURSTABLE = SurplusEstimate(0.0, None, "not a burstable type: no CPU credits")


def group_surplus(
    cpu: NodeCpu,
    nodes: pd.DataFrame,
    specs: Mapping[str, CreditSpec | None],
    *,
    mode: CreditMode | None,
    step_hours: float,
    window_hours: float,
) -> SurplusEstimate:
    """The surplus credits a group's own nodes ran up over the window, per month (730 h).

    Args:
        cpu: every node's busy cores (:func:`node_cpu`).
        nodes: the group's rows of the nodes table.
        specs: instance type -> credit figures (None = not burstable).
        mode: the group's configured credit mode; None = each type's launch default.
        step_hours: length of one usage step.
        window_hours: length of the window (the month is 730 of its hours).
    """
    burstable = [
        (n, specs.get(str(t)))
        for n, t in zip(nodes["node"].astype(str), nodes["instance_type"], strict=True)
        if specs.get(str(t)) is not None
    ]
    if not burstable:
        return NOT_BURSTABLE
    known = set(cpu.nodes)
    if not len(cpu.times) or not all(n in known for n, _ in burstable):
        first = burstable[0][1]
        return SurplusEstimate(
            None,
            mode or (first.default_mode if first is not None else None),
            "no usage series to simulate CPU credits on (aggregate fetch shape, or no cAdvisor "
            "samples): surplus credits are not in the cost; fetch with --shape series",
        )
    scale = 730.0 / max(window_hours, 1e-9)
    usd = throttled_nodes = throttled_cores = core_hours = node_hours = 0.0
    balance = np.zeros(len(cpu.times))
    modes: set[str] = set()
    baselines: set[float] = set()
    for instance_type in sorted({s.instance_type for _, s in burstable if s is not None}):
        spec = specs[instance_type]
        assert spec is not None
        chosen = [n for n, s in burstable if s is not None and s.instance_type == instance_type]
        result = simulate_credits(cpu.columns(chosen), step_hours, spec, mode=mode)
        modes.add(result.mode)
        baselines.add(spec.baseline_per_vcpu)
        usd += result.surplus_usd
        throttled_nodes += result.throttled_node_hours
        throttled_cores += result.throttled_core_hours
        core_hours += result.cpu_core_hours
        node_hours += result.node_hours * spec.vcpu
        balance += result.balance
    sources = {cpu.source[n] for n, _ in burstable}
    source = sources.pop() if len(sources) == 1 else "mixed"
    how = (
        "node-exporter busy CPU"
        if source == "node_usage"
        else "containers' CPU + the kubelet/system allowance"
        if source == "containers"
        else "node-exporter where scraped, else containers + allowance"
    )
    run_mode: CreditMode = "standard" if modes == {"standard"} else "unlimited"
    mean = core_hours / node_hours if node_hours else None
    if run_mode == "standard":
        reason = (
            f"standard credit mode: held at baseline {throttled_nodes * scale:.0f} node-hours a "
            f"month ({throttled_cores * scale:.1f} core-hours of CPU not served); no surplus charge"
        )
    else:
        reason = (
            f"credit simulation per node over the window ({how}): mean CPU "
            f"{(mean or 0):.0%} of vCPU against a {'/'.join(f'{b:.0%}' for b in sorted(baselines))}"
            f" baseline; surplus credits not paid down are billed at the unlimited rate"
        )
    return SurplusEstimate(
        monthly_usd=usd * scale,
        mode=run_mode,
        reason=reason,
        mean_utilisation=mean,
        baseline_per_vcpu=min(baselines),
        throttled_node_hours_monthly=throttled_nodes * scale,
        throttled_core_hours_monthly=throttled_cores * scale,
        source=source,
        balance=balance,
        times=cpu.times,
    )


def pooled_surplus(
    per_node_cores: np.ndarray,
    node_counts: np.ndarray,
    spec: CreditSpec | None,
    *,
    mode: CreditMode | None,
    step_hours: float,
    window_hours: float,
) -> SurplusEstimate:
    """A candidate type's surplus per month when its nodes share the group's CPU evenly.

    Each of ``node_counts[t]`` nodes runs ``per_node_cores[t]``; one such node is simulated
    over the window and its charge scaled by the mean node count. Even sharing is optimistic
    where the scheduler leaves some nodes busier than others (one node's spare credits cannot
    pay another's surplus), and the node churn of the group is not replayed: the figure ranks
    candidates on the same footing rather than reproducing a bill.
    """
    if spec is None:
        return NOT_BURSTABLE
    if not len(per_node_cores):
        return SurplusEstimate(None, mode, "no usage series to simulate CPU credits on")
    result = simulate_credits(per_node_cores, step_hours, spec, mode=mode)
    mean_nodes = float(np.mean(node_counts)) if len(node_counts) else 0.0
    scale = 730.0 / max(window_hours, 1e-9) * mean_nodes
    return SurplusEstimate(
        monthly_usd=result.surplus_usd * scale,
        mode=result.mode,
        reason=(
            f"{result.mode} credits, CPU shared evenly over the candidate's nodes: mean "
            f"{result.mean_utilisation:.0%} of vCPU against a {spec.baseline_per_vcpu:.0%} baseline"
        ),
        mean_utilisation=result.mean_utilisation,
        baseline_per_vcpu=spec.baseline_per_vcpu,
        throttled_node_hours_monthly=result.throttled_node_hours * scale,
        throttled_core_hours_monthly=result.throttled_core_hours * scale,
    )
