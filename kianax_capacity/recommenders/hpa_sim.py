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
count) and runs compiled (numba), one candidate after another: a 14-day replay at 5 minutes
(4,032 steps) of 50 candidates takes ~17 ms in all.

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

import numba
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
    """The HPA step by step for every candidate (columns). See the module docstring.

    The steps are sequential (each depends on the previous replica count) and the candidates
    independent, so the loop runs compiled (:func:`_replay_steps`): as a numpy loop over the
    steps it was most of ``recommend``'s time on a large cluster (~35 us per step and HPA).
    """
    steps, count = needs[0].shape
    replicas = np.empty((steps, count), dtype=np.int64)
    if steps == 0:
        return replicas
    _replay_steps(
        np.ascontiguousarray(np.stack(needs)),
        np.ascontiguousarray(np.stack(ceil_needs)),
        np.array([c.min_replicas for c in candidates], dtype=np.float64),
        np.array([c.max_replicas for c in candidates], dtype=np.float64),
        np.array([c.tolerance for c in candidates], dtype=np.float64),
        np.array([c.scale_up_pods for c in candidates], dtype=np.float64),
        np.array([1.0 + c.scale_up_percent / 100.0 for c in candidates], dtype=np.float64),
        np.array([_up_periods(c, step_seconds) for c in candidates], dtype=np.int64),
        np.array([_window_steps(c, step_seconds) for c in candidates], dtype=np.int64),
        replicas,
    )
    return replicas


# The replica count never reaches 0 (min_replicas >= 1), so the loop never divides by zero.
@numba.njit(cache=True, nogil=True)
def _replay_steps(
    needs: npt.NDArray[np.float64],  # [metric, step, candidate]
    ceil_needs: npt.NDArray[np.float64],
    low: npt.NDArray[np.float64],
    high: npt.NDArray[np.float64],
    tolerance: npt.NDArray[np.float64],
    up_pods: npt.NDArray[np.float64],
    up_factor: npt.NDArray[np.float64],
    periods: npt.NDArray[np.int64],
    window_steps: npt.NDArray[np.int64],
    out: npt.NDArray[np.int64],  # [step, candidate], written
) -> None:
    metrics, steps, count = needs.shape
    history = np.empty(max(1, int(window_steps.max())))
    for c in range(count):
        window = window_steps[c]
        first = -np.inf
        for m in range(metrics):
            first = max(first, ceil_needs[m, 0, c])
        current = min(max(first, low[c]), high[c])
        for t in range(steps):
            raw = -np.inf
            for m in range(metrics):
                if abs(needs[m, t, c] / current - 1.0) <= tolerance[c]:
                    proposal = current
                else:
                    proposal = ceil_needs[m, t, c]
                raw = max(raw, proposal)
            # No finite proposal (every metric of this candidate unset): keep the count.
            if not np.isfinite(raw):
                raw = current
            # The scale-down window: the raw proposals of the last `window` steps, this one
            # included (a ring buffer; steps before the first one do not exist).
            history[t % window] = raw
            seen = raw
            for k in range(min(t + 1, window)):
                seen = max(seen, history[k])
            target = raw if raw > current else min(current, seen)
            # Scale-up policy: max(pods, percent) per period, once per elapsed period.
            limit = current
            for _ in range(periods[c]):
                if limit >= target:
                    break
                limit = max(limit + up_pods[c], np.ceil(limit * up_factor[c] - _EPS))
            current = min(max(min(target, limit), low[c]), high[c])
            out[t, c] = np.int64(current)
