"""Replay of the Kubernetes HPA algorithm over observed demand.

The replay answers "what would this HPA have done last week with these settings?" for the
current settings and for candidates, so that a recommendation is simulated before it is proposed.

The model (``pkg/controller/podautoscaler`` in Kubernetes, reduced to what a 1-5 minute data
step can resolve):

* Demand is the workload's total usage at each step (cores, optionally bytes), assumed to be
  independent of the replica count: the same work spread over more or fewer pods.
* Per metric, the replicas needed at the target are ``need = demand / (request x target)``.
  The usage ratio is ``need / current``; inside the tolerance band (``|ratio - 1| <= 0.1``)
  the metric proposes ``current``, otherwise ``ceil(need)`` (which equals
  ``ceil(current x utilisation / target)``). The proposal is the max over metrics.
* Scale-down stabilisation: the recommendation is the max of the raw proposals whose step
  started within ``scale_down_stabilization_seconds`` before now (inclusive), so with a
  300 s window and a 300 s step it is the max of this step and the previous one. This errs
  by at most one step towards more replicas.
* Scale-up policy: Kubernetes allows ``max(4 pods, 100 %)`` per 15 s period. With data steps
  longer than the period the limit is applied once per elapsed period inside the step
  (``step_seconds // period``, at least once): the replica count may grow to
  ``max(r + 4, 2 r)`` repeatedly, which is what 20 HPA syncs in a 5-minute step allow.
* Clamp to ``[min_replicas, max_replicas]``. The first step starts from the clamped need
  (steady state), not from an arbitrary count.

Saturated steps are those at ``max_replicas`` with demand above what ``max_replicas`` serve at
the target (``need > max``), which is what Kubernetes shows as current = max with utilisation
above target. The loop over steps is sequential (each step depends on the previous replica
count) but is vectorised over candidates, so 50 candidates cost about as much as one.

Example:
    >>> import numpy as np
    >>> settings = ReplaySettings(min_replicas=2, max_replicas=10, target_cpu_utilization=50)
    >>> replay = simulate_hpa(np.array([0.5, 2.0, 0.5]), cpu_request_cores=0.5,
    ...                       settings=settings, step_seconds=300)
    >>> replay.replicas.tolist()
    [2, 8, 8]
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from kianax_capacity.errors import UserInputError
from kianax_capacity.units import HOURS_PER_MONTH

__all__ = [
    "DEFAULT_SCALE_DOWN_STABILIZATION_SECONDS",
    "DEFAULT_TOLERANCE",
    "HpaReplay",
    "ReplaySettings",
    "simulate_hpa",
    "simulate_hpa_batch",
]

DEFAULT_TOLERANCE = 0.1
DEFAULT_SCALE_DOWN_STABILIZATION_SECONDS = 300
# Floating-point slack so that need = 3.0000000001 (from 0.7 / 0.1 / 0.7 ...) is not ceil'd to 4.
_EPS = 1e-9


@dataclass(frozen=True)
class ReplaySettings:
    """One HPA configuration to replay. Targets are percent of request; None = no such metric.

    Attributes:
        min_replicas: lower clamp.
        max_replicas: upper clamp.
        target_cpu_utilization: CPU target, percent of the pod's CPU request.
        target_memory_utilization: memory target, percent of the pod's memory request.
        scale_down_stabilization_seconds: look-back of the scale-down window.
        tolerance: the band around ratio 1 in which the HPA does nothing.
        scale_up_pods: the "Pods" scale-up policy value per period.
        scale_up_percent: the "Percent" scale-up policy value per period.
        scale_up_period_seconds: the scale-up policies' period.
    """

    min_replicas: int
    max_replicas: int
    target_cpu_utilization: float | None = None
    target_memory_utilization: float | None = None
    scale_down_stabilization_seconds: float = DEFAULT_SCALE_DOWN_STABILIZATION_SECONDS
    tolerance: float = DEFAULT_TOLERANCE
    scale_up_pods: int = 4
    scale_up_percent: float = 100.0
    scale_up_period_seconds: float = 15.0

    def __post_init__(self) -> None:
        if self.min_replicas < 1 or self.max_replicas < self.min_replicas:
            raise UserInputError(
                f"HPA replay needs 1 <= min_replicas <= max_replicas, got {self.min_replicas}.."
                f"{self.max_replicas}; fix the HPA bounds"
            )
        for name in ("target_cpu_utilization", "target_memory_utilization"):
            value = getattr(self, name)
            if value is not None and not (math.isfinite(value) and value > 0):
                raise UserInputError(f"HPA replay: {name} must be a positive percent, got {value}")
        if self.target_cpu_utilization is None and self.target_memory_utilization is None:
            raise UserInputError("HPA replay needs a CPU or memory utilisation target; set one")


@dataclass(frozen=True, eq=False)
class HpaReplay:
    """What one configuration did over the replayed window.

    Attributes:
        replicas: replica count at each step (int64 array, one per demand step).
        saturated: per step, at max with demand above what max serves at the target.
        replica_hours: sum of replicas x step duration, in hours.
        saturated_minutes: minutes of saturated steps.
        low_utilisation_minutes: minutes with utilisation (of the primary metric: CPU when
            targeted, else memory) below the floor.
        scale_events: steps whose replica count differs from the previous step's.
        monthly_cost_usd: replica-hours scaled to a 730-hour month times the replica price.
        window_hours: duration replayed, hours.
    """

    replicas: npt.NDArray[np.int64]
    saturated: npt.NDArray[np.bool_]
    replica_hours: float
    saturated_minutes: float
    low_utilisation_minutes: float
    scale_events: int
    monthly_cost_usd: float
    window_hours: float

    def per_week(self, minutes: float) -> float:
        """Scale a minute count over the window to minutes per 7 days."""
        return minutes * (7 * 24) / self.window_hours if self.window_hours > 0 else 0.0

    @property
    def scale_events_per_day(self) -> float:
        return self.scale_events * 24 / self.window_hours if self.window_hours > 0 else 0.0


def simulate_hpa(
    cpu_demand_cores: npt.ArrayLike,
    *,
    cpu_request_cores: float | None,
    settings: ReplaySettings,
    step_seconds: float,
    memory_demand_bytes: npt.ArrayLike | None = None,
    memory_request_bytes: float | None = None,
    replica_hourly_usd: float = 0.0,
    utilisation_floor_percent: float = 0.0,
) -> HpaReplay:
    """Replay one HPA configuration over a demand series.

    Args:
        cpu_demand_cores: total CPU cores used by the workload's pods at each step.
        cpu_request_cores: per-pod CPU request (sum over containers); needed for a CPU target.
        settings: the configuration.
        step_seconds: the data step.
        memory_demand_bytes: total working-set bytes at each step (for a memory target).
        memory_request_bytes: per-pod memory request; needed for a memory target.
        replica_hourly_usd: price of one replica-hour, for ``monthly_cost_usd``.
        utilisation_floor_percent: threshold for ``low_utilisation_minutes``.

    Returns:
        The replay.

    Raises:
        UserInputError: a targeted metric has no request or no demand series.
    """
    return simulate_hpa_batch(
        cpu_demand_cores,
        cpu_request_cores=cpu_request_cores,
        candidates=[settings],
        step_seconds=step_seconds,
        memory_demand_bytes=memory_demand_bytes,
        memory_request_bytes=memory_request_bytes,
        replica_hourly_usd=replica_hourly_usd,
        utilisation_floor_percent=utilisation_floor_percent,
    )[0]


def simulate_hpa_batch(
    cpu_demand_cores: npt.ArrayLike,
    *,
    cpu_request_cores: float | None,
    candidates: Sequence[ReplaySettings],
    step_seconds: float,
    memory_demand_bytes: npt.ArrayLike | None = None,
    memory_request_bytes: float | None = None,
    replica_hourly_usd: float = 0.0,
    utilisation_floor_percent: float = 0.0,
) -> list[HpaReplay]:
    """Replay many configurations over the same demand at once (vectorised over candidates).

    Arguments as :func:`simulate_hpa`; returns one :class:`HpaReplay` per candidate, in order.
    """
    if step_seconds <= 0:
        raise UserInputError(f"HPA replay: step_seconds must be positive, got {step_seconds}")
    cpu = np.nan_to_num(np.asarray(cpu_demand_cores, dtype=float), nan=0.0)
    steps = cpu.shape[0]
    memory = (
        None
        if memory_demand_bytes is None
        else np.nan_to_num(np.asarray(memory_demand_bytes, dtype=float), nan=0.0)
    )
    if memory is not None and memory.shape[0] != steps:
        raise UserInputError("HPA replay: CPU and memory demand series differ in length")
    count = len(candidates)
    if count == 0:
        return []

    # need[metric][step, candidate]: replicas needed to sit exactly at the target.
    needs: list[npt.NDArray[np.float64]] = []
    cpu_targets = np.array([c.target_cpu_utilization or np.nan for c in candidates])
    mem_targets = np.array([c.target_memory_utilization or np.nan for c in candidates])
    cpu_need = None
    if np.isfinite(cpu_targets).any():
        if cpu_request_cores is None or not cpu_request_cores > 0:
            raise UserInputError("HPA replay: a CPU target needs a positive per-pod CPU request")
        cpu_need = cpu[:, None] / (cpu_request_cores * cpu_targets[None, :] / 100.0)
        needs.append(cpu_need)
    mem_need = None
    if np.isfinite(mem_targets).any():
        if memory is None:
            raise UserInputError("HPA replay: a memory target needs a memory demand series")
        if memory_request_bytes is None or not memory_request_bytes > 0:
            raise UserInputError("HPA replay: a memory target needs a positive memory request")
        mem_need = memory[:, None] / (memory_request_bytes * mem_targets[None, :] / 100.0)
        needs.append(mem_need)
    # NaN need (candidate without this metric) must never win the max or count as saturation.
    needs = [np.where(np.isnan(n), -np.inf, n) for n in needs]
    ceil_needs = [np.ceil(n - _EPS) for n in needs]

    high = np.array([c.max_replicas for c in candidates], dtype=float)
    if count == 1:
        replicas = _recurrence_one(needs, ceil_needs, candidates[0], step_seconds)[:, None]
    else:
        replicas = _recurrence(needs, ceil_needs, candidates, step_seconds)

    step_hours = step_seconds / 3600.0
    window_hours = steps * step_hours
    at_max = replicas == high[None, :].astype(np.int64)
    over = np.zeros((steps, count), dtype=bool)
    for need in needs:
        over |= need > high[None, :] + _EPS
    saturated = at_max & over

    # Utilisation of the primary metric (CPU when targeted) at the replayed replica count.
    if cpu_need is not None:
        primary = cpu[:, None] / (replicas * float(cpu_request_cores or 1.0))
        if mem_need is not None and memory is not None:
            mem_only = ~np.isfinite(cpu_targets)
            mem_util = memory[:, None] / (replicas * float(memory_request_bytes or 1.0))
            primary = np.where(mem_only[None, :], mem_util, primary)
    else:
        assert memory is not None
        primary = memory[:, None] / (replicas * float(memory_request_bytes or 1.0))
    low_util = primary * 100.0 < utilisation_floor_percent

    results: list[HpaReplay] = []
    step_minutes = step_seconds / 60.0
    for index in range(count):
        column = replicas[:, index].copy()
        replica_hours = float(column.sum()) * step_hours
        monthly = (
            replica_hours / window_hours * HOURS_PER_MONTH * replica_hourly_usd
            if window_hours > 0
            else 0.0
        )
        results.append(
            HpaReplay(
                replicas=column,
                saturated=saturated[:, index].copy(),
                replica_hours=replica_hours,
                saturated_minutes=float(saturated[:, index].sum()) * step_minutes,
                low_utilisation_minutes=float(low_util[:, index].sum()) * step_minutes,
                scale_events=int(np.count_nonzero(np.diff(column))),
                monthly_cost_usd=monthly,
                window_hours=window_hours,
            )
        )
    return results


def _up_periods(settings: ReplaySettings, step_seconds: float) -> int:
    # Beyond ~64 periods nothing changes (doubling 64 times exceeds any max), so cap the loop.
    return min(64, max(1, int(step_seconds // settings.scale_up_period_seconds)))


def _window_steps(settings: ReplaySettings, step_seconds: float) -> int:
    """Steps (including the current one) whose raw proposal the scale-down window still sees."""
    return int(settings.scale_down_stabilization_seconds // step_seconds) + 1


def _recurrence(
    needs: list[npt.NDArray[np.float64]],
    ceil_needs: list[npt.NDArray[np.float64]],
    candidates: Sequence[ReplaySettings],
    step_seconds: float,
) -> npt.NDArray[np.int64]:
    """The HPA step by step, every candidate at once (columns). See the module docstring."""
    steps, count = needs[0].shape
    low = np.array([c.min_replicas for c in candidates], dtype=float)
    high = np.array([c.max_replicas for c in candidates], dtype=float)
    tolerance = np.array([c.tolerance for c in candidates])
    up_pods = np.array([c.scale_up_pods for c in candidates], dtype=float)
    up_factor = np.array([1.0 + c.scale_up_percent / 100.0 for c in candidates])
    periods_each = np.array([_up_periods(c, step_seconds) for c in candidates])
    up_periods = int(periods_each.max())
    window_steps = np.array([_window_steps(c, step_seconds) for c in candidates])
    depth = int(window_steps.max())
    # Rows not yet written hold -inf, so they never win the window max.
    history = np.full((depth, count), -np.inf)
    # visible[slot][row, candidate]: when the newest proposal is in `slot`, is `row` in the window?
    rows = np.arange(depth)
    visible = [((slot - rows) % depth)[:, None] < window_steps[None, :] for slot in range(depth)]

    replicas = np.empty((steps, count), dtype=np.int64)
    if steps == 0:
        return replicas
    first = ceil_needs[0][0]
    for ceil_need in ceil_needs[1:]:
        first = np.maximum(first, ceil_need[0])
    current = np.minimum(np.maximum(first, low), high)
    for t in range(steps):
        raw = np.full(count, -np.inf)
        for need, ceil_need in zip(needs, ceil_needs, strict=True):
            within = np.abs(need[t] / current - 1.0) <= tolerance
            raw = np.maximum(raw, np.where(within, current, ceil_need[t]))
        # Candidates with no finite proposal (all their metrics unset) keep their count.
        raw = np.where(np.isfinite(raw), raw, current)
        slot = t % depth
        history[slot] = raw
        stabilised = np.where(visible[slot], history, -np.inf).max(axis=0)
        target = np.where(raw > current, raw, np.minimum(current, stabilised))
        # Scale-up policy: max(pods, percent) per period, applied once per elapsed period.
        limit = current
        for period in range(up_periods):
            if (limit >= target).all():
                break  # usually after one or two periods: no need to grow further
            grown = np.maximum(limit + up_pods, np.ceil(limit * up_factor - _EPS))
            limit = np.where(period < periods_each, grown, limit)
        target = np.minimum(target, limit)
        current = np.minimum(np.maximum(target, low), high)
        replicas[t] = current
    return replicas


def _recurrence_one(
    needs: list[npt.NDArray[np.float64]],
    ceil_needs: list[npt.NDArray[np.float64]],
    settings: ReplaySettings,
    step_seconds: float,
) -> npt.NDArray[np.int64]:
    """:func:`_recurrence` for one candidate with Python floats: faster than one-wide numpy arrays,
    where numpy's per-call overhead is most of the work.

    Kept step for step identical to the vectorised version (a test replays both).
    """
    need_rows = [n[:, 0].tolist() for n in needs]
    ceil_rows = [c[:, 0].tolist() for c in ceil_needs]
    steps = len(need_rows[0])
    low, high = float(settings.min_replicas), float(settings.max_replicas)
    tolerance = settings.tolerance
    up_pods = float(settings.scale_up_pods)
    up_factor = 1.0 + settings.scale_up_percent / 100.0
    periods = _up_periods(settings, step_seconds)
    window = _window_steps(settings, step_seconds)
    out = np.empty(steps, dtype=np.int64)
    if steps == 0:
        return out
    history: list[float] = []
    current = min(max(max(row[0] for row in ceil_rows), low), high)
    for t in range(steps):
        raw = -math.inf
        for need_row, ceil_row in zip(need_rows, ceil_rows, strict=True):
            proposal = current if abs(need_row[t] / current - 1.0) <= tolerance else ceil_row[t]
            raw = max(raw, proposal)
        if not math.isfinite(raw):
            raw = current
        history.append(raw)
        if len(history) > window:
            del history[0]
        target = raw if raw > current else min(current, max(history))
        limit = current
        for _ in range(periods):
            if limit >= target:
                break
            limit = max(limit + up_pods, math.ceil(limit * up_factor - _EPS))
        current = min(max(min(target, limit), low), high)
        out[t] = int(current)
    return out
